/**
 * `saliency` — gradient magnitude on the token embeddings (Simonyan et al. 2014, for text as in Li et al. 2016):
 *
 *   relevance_j = ‖∂target/∂e_j‖₂.
 *
 * Non-negative. One forward and one backward pass (shared with the other gradient methods).
 */
import type { ExplainMethod } from '../types.js';

export const SALIENCY_RECIPE = 'relevance_j = ‖∂target/∂e_j‖₂ (L2 norm of the gradient on token j’s embedding)';

export const saliency: ExplainMethod = {
  name: 'saliency',
  description: 'the L2 norm of the gradient on each token embedding',
  recipe: SALIENCY_RECIPE,
  run(context, target) {
    const L = context.length;
    const H = context.model.config.hiddenSize;
    const { embeddingGrad } = context.gradients(target);
    const scores = new Float64Array(L);
    for (let j = 0; j < L; j++) {
      let acc = 0;
      for (let k = 0; k < H; k++) acc += embeddingGrad[j * H + k] ** 2;
      scores[j] = Math.sqrt(acc);
    }
    return { scores };
  },
};
