/**
 * `grad-input` — gradient × input on the token embeddings (Shrikumar et al. 2016; Denil et al. 2014):
 *
 *   relevance_j = Σ_k ∂target/∂e_j[k] · e_j[k],   e_j the raw embedding of token j.
 *
 * Signed. One forward and one backward pass (shared with the other gradient methods).
 */
import type { ExplainMethod } from '../types.js';

export const GRAD_INPUT_RECIPE = 'relevance_j = Σ_k ∂target/∂e_j[k] · e_j[k] over the token embedding e_j';

export const gradInput: ExplainMethod = {
  name: 'grad-input',
  description: 'gradient × input, summed over the embedding dimensions',
  recipe: GRAD_INPUT_RECIPE,
  run(context, target) {
    const L = context.length;
    const H = context.model.config.hiddenSize;
    const { embeddings, embeddingGrad } = context.gradients(target);
    const scores = new Float64Array(L);
    for (let j = 0; j < L; j++) for (let k = 0; k < H; k++) scores[j] += embeddingGrad[j * H + k] * embeddings[j * H + k];
    return { scores };
  },
};
