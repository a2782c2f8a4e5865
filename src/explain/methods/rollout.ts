/**
 * `rollout` — attention rollout (Abnar & Zuidema 2020) on the implicit attention, as the
 * official `compute_rollout_attention`:
 *
 *   a_ℓ = channel aggregate of the full H^c (default mean of clamp(H^c, 0)), L×L;
 *   A_ℓ = rownorm(a_ℓ + I);   R = A_last ⋯ A_start;   relevance = R[t, :].
 *
 * Streamed one layer at a time from the last layer down as a row vector
 * (r ← e_tᵀ, r ← r·A_ℓ), so only one L×L map is alive. Per-layer maps: a_ℓ[t, :].
 */
import { aggregatedMatrix } from '../attention-maps.js';
import { rollOutLayers } from '../rollout-layers.js';
import type { ExplainMethod } from '../types.js';
import { rowOf, rowTimesMatrix, rownormWithIdentity } from '../vectors.js';

export const ROLLOUT_RECIPE = 'relevance = (A_last ⋯ A_start)[t, :], A_ℓ = rownorm(a_ℓ + I), a_ℓ = channel mean of clamp(H^c, 0) (full L×L)';

export const rollout: ExplainMethod = {
  name: 'rollout',
  description: 'attention rollout: product over layers of the row-normalised implicit attention plus identity',
  recipe: ROLLOUT_RECIPE,
  run(context, target, options) {
    const L = context.length;
    return rollOutLayers(context, options, target, ({ layer }, r) => {
      const a = aggregatedMatrix(context.decomposition(layer), options.variant, options.aggregation);
      return { scores: rowOf(a, target.position, L), next: rowTimesMatrix(r, rownormWithIdentity(a, L), L) };
    });
  },
};
