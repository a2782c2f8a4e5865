/**
 * Validation perplexity, the protocol of `iattn perplexity`: split the ids into windows of
 * `seq` tokens; score tokens 1..seq−1 of each window given their prefix inside the window;
 * report the mean negative log-likelihood over all scored tokens.
 */
import { noGrad, ShapeError } from '../core/index.js';
import type { DecoderLM } from '../models/index.js';

export interface PerplexityResult {
  nll: number;
  ppl: number;
  tokens: number;
  windows: number;
}

export interface PerplexityOptions {
  /** Windows per forward pass. */
  batchSize?: number;
  onProgress?: (windowsDone: number, windowsTotal: number) => void;
}

export function perplexity(model: DecoderLM, ids: Int32Array, seq: number, options: PerplexityOptions = {}): PerplexityResult {
  if (!Number.isInteger(seq) || seq < 2) throw new ShapeError(`perplexity: --seq must be an integer ≥ 2, got ${seq}`);
  if (ids.length < 2) throw new ShapeError('perplexity: need at least 2 tokens');
  // A text shorter than one window is scored as a single shorter window.
  const length = Math.min(seq, ids.length);
  const windows = Math.floor(ids.length / length);
  const batchSize = options.batchSize ?? 8;
  let total = 0;
  for (let first = 0; first < windows; first += batchSize) {
    const batch = Math.min(batchSize, windows - first);
    const chunk = ids.subarray(first * length, (first + batch) * length);
    total += noGrad(() => windowNll(model, chunk, batch, length));
    options.onProgress?.(first + batch, windows);
  }
  const tokens = windows * (length - 1);
  const nll = total / tokens;
  return { nll, ppl: Math.exp(nll), tokens, windows };
}

/** Σ over windows and positions t < L−1 of −log p(ids[t+1] | ids[..t]). */
function windowNll(model: DecoderLM, ids: Int32Array, batch: number, length: number): number {
  const logits = model.forwardIds(ids, batch, length).data;
  const V = model.config.vocabSize;
  let sum = 0;
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < length - 1; t++) {
      const row = (b * length + t) * V;
      let m = -Infinity;
      for (let v = 0; v < V; v++) m = Math.max(m, logits[row + v]);
      let z = 0;
      for (let v = 0; v < V; v++) z += Math.exp(logits[row + v] - m);
      sum += m + Math.log(z) - logits[row + ids[b * length + t + 1]];
    }
  }
  return sum;
}
