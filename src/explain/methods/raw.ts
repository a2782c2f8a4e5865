/**
 * `raw` — the implicit attention itself (official `generate_raw_attn`, text form):
 *
 *   a_ℓ[t,:] = channel aggregate (default mean of clamp(H^c[t,:], 0)) of row t of every
 *              channel's H in layer ℓ (formulation: `variant`, default paper);
 *   relevance = mean over mixer layers ℓ ≥ start_layer of minmax(a_ℓ[t,:]),
 *
 * min–max over the causal positions s ≤ t of each layer. Row mode only: O(C·L) per layer,
 * never an L×L matrix. Per-layer maps: the min–max-scaled rows.
 */
import { aggregatedRow } from '../attention-maps.js';
import type { ExplainMethod, LayerScores } from '../types.js';
import { minMaxInPlace } from '../vectors.js';

export const RAW_RECIPE =
  'relevance = mean over layers ℓ ≥ start_layer of minmax_{s≤t}(a_ℓ[t, :]), a_ℓ[t, :] = channel mean of clamp(H^c[t, :], 0) (row mode)';

export const raw: ExplainMethod = {
  name: 'raw',
  description: "the target row of each layer's implicit attention, min–max scaled and averaged over layers",
  recipe: RAW_RECIPE,
  run(context, target, options) {
    const t = target.position;
    const L = context.length;
    const layers: LayerScores[] = context.mixers(options.startLayer).map(({ layer, kind }) => {
      const row = aggregatedRow(context.decomposition(layer), t, options.variant, options.aggregation);
      return { layer, kind, scores: minMaxInPlace(row, t + 1) };
    });
    const scores = new Float64Array(L);
    for (const l of layers) for (let s = 0; s < L; s++) scores[s] += l.scores[s] / layers.length;
    return { scores, layers };
  },
};
