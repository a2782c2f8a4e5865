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
import type { ExplainMethod, LayerScores } from '../types.js';
import { rowOf, rowTimesMatrix, rownormWithIdentity, unitRow } from '../vectors.js';

export const ROLLOUT_RECIPE = 'relevance = (A_last ⋯ A_start)[t, :], A_ℓ = rownorm(a_ℓ + I), a_ℓ = channel mean of clamp(H^c, 0) (full L×L)';

export const rollout: ExplainMethod = {
  name: 'rollout',
  description: 'attention rollout: product over layers of the row-normalised implicit attention plus identity',
  recipe: ROLLOUT_RECIPE,
  run(context, target, options) {
    const t = target.position;
    const L = context.length;
    const mixers = context.mixers(options.startLayer);
    const layers: LayerScores[] = new Array(mixers.length);
    let r = unitRow(t, L);
    for (let i = mixers.length - 1; i >= 0; i--) {
      const { layer, kind } = mixers[i];
      const a = aggregatedMatrix(context.decomposition(layer), options.variant, options.aggregation);
      layers[i] = { layer, kind, scores: rowOf(a, t, L) };
      r = rowTimesMatrix(r, rownormWithIdentity(a, L), L);
    }
    return { scores: r, layers };
  },
};
