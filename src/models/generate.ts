/**
 * Recurrent generation: the prompt is fed token by token through each layer's state
 * (constant memory per token), then tokens are sampled one at a time.
 */
import { Random, ShapeError } from '../core/index.js';
import type { DecoderLM } from './model.js';

export interface GenerateOptions {
  maxTokens: number;
  /** 0 = greedy (argmax); otherwise softmax(logits / temperature) sampling. */
  temperature: number;
  seed: number;
  /** Stop after producing this token (e.g. end-of-text). */
  stopToken?: number;
  onToken?: (id: number) => void;
}

export function generate(model: DecoderLM, prompt: Int32Array, options: GenerateOptions): number[] {
  if (prompt.length === 0) throw new ShapeError('generate: the prompt is empty');
  if (!(options.temperature >= 0)) throw new ShapeError(`generate: temperature must be ≥ 0, got ${options.temperature}`);
  const rng = new Random(options.seed);
  const state = model.initialState(1);
  let logits = new Float64Array(0);
  for (const id of prompt) logits = Float64Array.from(model.step(Int32Array.of(id), state).data);
  const out: number[] = [];
  for (let i = 0; i < options.maxTokens; i++) {
    const next = sample(logits, options.temperature, rng);
    out.push(next);
    options.onToken?.(next);
    if (next === options.stopToken) break;
    logits = Float64Array.from(model.step(Int32Array.of(next), state).data);
  }
  return out;
}

function sample(logits: Float64Array, temperature: number, rng: Random): number {
  let best = 0;
  for (let v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
  if (temperature === 0) return best;
  const weights = logits.map((l) => Math.exp((l - logits[best]) / temperature));
  let r = rng.next() * weights.reduce((a, b) => a + b, 0);
  for (let v = 0; v < weights.length; v++) {
    r -= weights[v];
    if (r <= 0) return v;
  }
  return best;
}
