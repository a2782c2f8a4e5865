/**
 * `hidden-attr` — Mamba-Attribution of "The Hidden Attention of Mamba Models" (Ali, Zimerman
 * & Wolf 2024; official `generate_mamba_attr`), on the S6-only matrices by default:
 *
 *   M_ℓ = channel mean of minmax(clamp(S6^c, 0)), one min and max over all channels (variant `hidden`);
 *   s_ℓ[j] = minmax_j max_k ReLU(∂target/∂h_ℓ[j, k]),  h_ℓ the residual stream entering block ℓ;
 *   F_ℓ[i, j] = M_ℓ[i, j] · s_ℓ[j];   A_ℓ = rownorm(F_ℓ + I);   R = A_last ⋯ A_start;   relevance = R[t, :].
 *
 * Streamed over channels (one L×L buffer) and over layers from the last down. Mamba2's
 * `hidden` matrices are its per-head cores; RWKV's its WKV softmax. Per-layer maps: F_ℓ[t, :].
 */
import { jointlyScaledMean } from '../attention-maps.js';
import { blockSensitivity, rollOutLayers } from '../rollout-layers.js';
import type { ExplainMethod } from '../types.js';
import { rowOf, rowTimesMatrix, rownormWithIdentity } from '../vectors.js';

export const HIDDEN_ATTR_RECIPE =
  'relevance = (A_last ⋯ A_start)[t, :], A_ℓ = rownorm(M_ℓ·diag(s_ℓ) + I), M_ℓ = channel mean of minmax(clamp(S6^c, 0)), s_ℓ = minmax(max_k ReLU(∂target/∂h_ℓ))';

export const hiddenAttr: ExplainMethod = {
  name: 'hidden-attr',
  description: 'Mamba-Attribution (Ali et al. 2024): S6-only hidden attention weighted by block-input gradients, rolled out',
  recipe: HIDDEN_ATTR_RECIPE,
  defaultVariant: 'hidden',
  run(context, target, options) {
    const L = context.length;
    return rollOutLayers(context, options, target, ({ layer }, r) => {
      const s = blockSensitivity(context, target, layer, 'hidden-attr');
      const fused = jointlyScaledMean(context.decomposition(layer), options.variant, options.aggregation);
      for (let row = 0; row < L; row++) for (let j = 0; j < L; j++) fused[row * L + j] *= s[j];
      return { scores: rowOf(fused, target.position, L), next: rowTimesMatrix(r, rownormWithIdentity(fused, L), L) };
    });
  },
};
