/**
 * `unified-attr` — the official attribution of "Explaining Modern Gated-Linear RNNs via a
 * Unified Implicit Attention Formulation" (Zimerman, Ali & Wolf, ICLR 2025; official
 * `generate_mamba_attr` on `xai_vector`), with the target row standing for the CLS row:
 *
 *   v_ℓ = channel mean of clamp(H^c[t, :], 0)   (target row of the full H, variant `paper`);
 *   s_ℓ[j] = minmax_j max_k ReLU(∂target/∂h_ℓ[j, k]),  h_ℓ the residual stream entering block ℓ;
 *   w_ℓ = minmax(v_ℓ ⊙ s_ℓ);   A_ℓ = rownorm(𝟙·w_ℓᵀ + I);   R = A_last ⋯ A_start;   relevance = R[t, :].
 *
 * (Official Vim settings: 24 layers, start_layer 15, CLS row; for text the last position.)
 * The official code min–max scales the clamped rows jointly over channels before the mean
 * and does not rescale v ⊙ s; following the spec, w_ℓ is min–max scaled after the product,
 * which differs from it by one positive factor per layer (how much the identity weighs).
 * Row mode only: O(C·L) per layer; A_ℓ is never formed since r·A_ℓ = (Σ_i r_i/n_i)·w + r/n
 * with n_i = Σ_j |w_j + δ_ij|: O(L) per layer. Per-layer maps: w_ℓ.
 */
import { aggregatedRow } from '../attention-maps.js';
import { blockSensitivity, rollOutLayers } from '../rollout-layers.js';
import type { ExplainMethod } from '../types.js';
import { minMaxInPlace } from '../vectors.js';

export const UNIFIED_ATTR_RECIPE =
  'relevance = (A_last ⋯ A_start)[t, :], A_ℓ = rownorm(𝟙·w_ℓᵀ + I), w_ℓ = minmax(v_ℓ ⊙ s_ℓ), v_ℓ = channel mean of clamp(H_paper^c[t, :], 0), s_ℓ = minmax(max_k ReLU(∂target/∂h_ℓ))';

/** r·rownorm(𝟙·wᵀ + I) in O(L). */
export function timesBroadcastRow(r: Float64Array, w: Float64Array): Float64Array {
  const L = w.length;
  let sumAbs = 0;
  for (let j = 0; j < L; j++) sumAbs += Math.abs(w[j]);
  let weight = 0;
  const norms = new Float64Array(L);
  for (let i = 0; i < L; i++) {
    norms[i] = sumAbs - Math.abs(w[i]) + Math.abs(w[i] + 1); // Σ_j |w_j + δ_ij|
    weight += r[i] / norms[i];
  }
  return Float64Array.from(w, (wj, j) => weight * wj + r[j] / norms[j]);
}

export const unifiedAttr: ExplainMethod = {
  name: 'unified-attr',
  description: 'the unified implicit attention attribution (Zimerman et al. 2025): target rows weighted by block-input gradients, rolled out',
  recipe: UNIFIED_ATTR_RECIPE,
  run(context, target, options) {
    const t = target.position;
    return rollOutLayers(context, options, target, ({ layer }, r) => {
      const s = blockSensitivity(context, target, layer, 'unified-attr');
      const v = aggregatedRow(context.decomposition(layer), t, options.variant, options.aggregation);
      const w = minMaxInPlace(v.map((x, j) => x * s[j]), t + 1);
      return { scores: w, next: timesBroadcastRow(r, w) };
    });
  },
};
