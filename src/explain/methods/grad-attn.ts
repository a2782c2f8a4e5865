/**
 * `grad-attn` — the Chefer et al. (2021) rule ("Transformer Interpretability Beyond
 * Attention Visualization", Eq. 13–14 / "Generic Attention-model Explainability") on the
 * implicit attention, with the *exact* gradient of the target with respect to H:
 *
 *   pre_out^c = H^c v^c (+ bias)  ⇒  ∂target/∂H^c[t, s] = g_t^c · v_s^c,  g = ∂target/∂pre_out;
 *   (∇H ⊙ H)^c[t, s] = g_t^c · H^c[t, s] · v_s^c;
 *   Ā_ℓ = channel mean of clamp((∇H ⊙ H)^c, 0);   R ← R + Ā_ℓ·R over layers in order from R = I;
 *   relevance = R[t, :]  (= e_tᵀ (I + Ā_last) ⋯ (I + Ā_start)).
 *
 * g comes from the backward pass: ∂target/∂mixer_out (retained on the traced
 * `mixer_out.ℓ.KIND`) pulled back through the mixer's linear output projection, a
 * vector–Jacobian product of `projectOutput`. Real attention heads enter the same way
 * (∂target/∂A_h[t, s] = Σ_p g[t, h, p] V[s, h, p]). Streamed over channels and over layers
 * from the last down. Per-layer maps: Ā_ℓ[t, :].
 */
import * as F from '../../core/index.js';
import { Tensor } from '../../core/index.js';
import type { FloatArray } from '../../core/index.js';
import { gradientWeightedMap, preOutputOf } from '../attention-maps.js';
import { rollOutLayers } from '../rollout-layers.js';
import { ExplainError } from '../types.js';
import type { ExplainMethod } from '../types.js';
import { rowOf, rowTimesMatrix } from '../vectors.js';

export const GRAD_ATTN_RECIPE =
  'relevance = (R ← R + Ā_ℓ·R from R = I over layers ≥ start_layer)[t, :], Ā_ℓ = channel mean of clamp(g_t^c·H^c[t, s]·v_s^c, 0), g = ∂target/∂pre_out';

/**
 * ∂target/∂pre_out = Jᵀ·seed for the linear map y = project(pre_out): a leaf copy of
 * `preOut` [1, L, C] requiring grad, y = project(leaf), backward(y, seed = ∂target/∂y).
 */
export function pullBack(project: (preOut: Tensor) => Tensor, preOut: Tensor, seed: FloatArray): FloatArray {
  const leaf = new Tensor(preOut.data.slice(), preOut.shape).requireGrad();
  const y = project(leaf);
  if (y.size !== seed.length) {
    throw new ExplainError(`grad-attn: the output projection gives ${y.size} values [${y.shape.join(', ')}] but the traced mixer output has ${seed.length}`);
  }
  if (!y.requiresGrad) throw new ExplainError('grad-attn: the output projection does not depend on its input');
  F.backward(y, F.dtypeOf(seed) === y.dtype ? seed : F.castArray(seed, y.dtype));
  return leaf.grad ?? F.allocate(leaf.dtype, leaf.size);
}

export const gradAttn: ExplainMethod = {
  name: 'grad-attn',
  description: "Chefer's gradient × attention rule on the implicit attention, with the exact gradient g_t·v_s on H",
  recipe: GRAD_ATTN_RECIPE,
  run(context, target, options) {
    const L = context.length;
    const pass = context.gradients(target);
    return rollOutLayers(context, options, target, ({ layer, kind }, r) => {
      const d = context.decomposition(layer);
      const { preOut, projectOutput } = preOutputOf(d);
      const gradOut = pass.mixerOut.get(layer);
      if (gradOut === undefined) throw new ExplainError(`grad-attn: no gradient for the output of the ${kind} mixer of layer ${layer}`);
      const bar = gradientWeightedMap(d, pullBack(projectOutput, preOut, gradOut), options.variant, options.aggregation);
      const rBar = rowTimesMatrix(r, bar, L);
      return { scores: rowOf(bar, target.position, L), next: r.map((x, j) => x + rBar[j]) };
    });
  },
};
