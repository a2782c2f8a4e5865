/**
 * Explaining a classifier's class logit with the unchanged explanation methods. Pure module.
 *
 * A classifier (src/train/classifier.ts) reads a linear head on the final-norm hidden state
 * of the LAST token: logits = W·h_{L−1} + b [C]. `classifierAsLM` returns the same backbone
 * as a DecoderLM whose "logits" [B, L, C] are that head applied at every position,
 *
 *   logits[b, t, c] = W_c · final_norm(h)[b, t] + b_c,
 *
 * so row L − 1 is exactly the classifier's output, and an explanation target
 * {position: L − 1, token: c} is the class logit c. Everything else (embeddings, layers,
 * traces, decompositions, gradients) is the backbone's own: ExplainContext, every method and
 * the perturbation scorer work on it as on a language model. (The backbone's LM head never runs.)
 */
import * as F from '../core/index.js';
import type { Tensor } from '../core/index.js';
import type { DecoderLM } from '../models/index.js';
import type { ClassifierHead } from '../train/classifier.js';
import { EvaluationError } from './metrics.js';

export function classifierAsLM(model: DecoderLM, head: ClassifierHead): DecoderLM {
  const H = model.config.hiddenSize;
  if (head.weight.shape[1] !== H) throw new EvaluationError(`the classifier head reads ${head.weight.shape[1]} features but the model's hidden size is ${H}`);
  // Inherits every method and field of `model`; only the head changes (forward, forwardAt and
  // forwardIds go through it).
  const wrapped = Object.create(model) as DecoderLM;
  Object.defineProperty(wrapped, 'head', {
    value: (normed: Tensor): Tensor => F.linear(normed, head.weight, head.bias), // [..., C]
  });
  return wrapped;
}
