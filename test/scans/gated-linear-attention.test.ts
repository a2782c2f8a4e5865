import { describe, expect, it } from 'vitest';
import * as F from '../../src/core/index.js';
import { Random, ShapeError, Tensor } from '../../src/core/index.js';
import { gatedLinearAttention, gatedLinearAttentionStep } from '../../src/scans/gated-linear-attention.js';
import { gatedLinearAttentionReference } from '../../src/scans/gated-linear-attention.reference.js';
import { expectGradients, randn, relativeError } from '../helpers/ops.js';

const NAMES = ['q', 'k', 'v', 'logDecay'] as const;

interface Sizes {
  B: number;
  L: number;
  H: number;
  K: number;
  V: number;
}

/** Random inputs; γ = logsigmoid(z)/16 as GLA's gates (times `decayScale` for stronger decay). */
function makeInputs(rng: Random, { B, L, H, K, V }: Sizes, decayScale = 1): Tensor[] {
  const logDecay = F.noGrad(() => F.scale(F.logSigmoid(randn(rng, [B, L, H, K], 2)), decayScale / 16));
  return [randn(rng, [B, L, H, K]), randn(rng, [B, L, H, K]), randn(rng, [B, L, H, V]), logDecay];
}

/** Output and the gradient of Σ w ⊙ o for every input, w a fixed random weighting. */
function valueAndGradients(fn: (...inputs: Tensor[]) => Tensor, inputs: Tensor[]): { y: Tensor; grads: Float64Array[] } {
  const leaves = inputs.map((t) => new Tensor(t.data.slice(), t.shape).requireGrad());
  const y = fn(...leaves);
  F.backward(y, new Random(99).tensor(y.shape, y.dtype).data);
  return { y, grads: leaves.map((t) => Float64Array.from(t.grad!)) };
}

function expectMatchesReference(inputs: Tensor[], chunkSize: number, rtol = 1e-12): void {
  const fused = valueAndGradients((q, k, v, g) => gatedLinearAttention(q, k, v, g, chunkSize), inputs);
  const reference = valueAndGradients((q, k, v, g) => gatedLinearAttentionReference(q, k, v, g), inputs);
  expect(fused.y.data.every(Number.isFinite), 'o finite').toBe(true);
  expect(relativeError(fused.y.data, reference.y.data), `o (chunk ${chunkSize})`).toBeLessThan(rtol);
  NAMES.forEach((name, i) => {
    expect(fused.grads[i].every(Number.isFinite), `d${name} finite`).toBe(true);
    expect(relativeError(fused.grads[i], reference.grads[i]), `d${name} (chunk ${chunkSize})`).toBeLessThan(rtol);
  });
}

describe('gatedLinearAttention: chunked gated linear attention', () => {
  const rng = new Random(11);

  it('matches the plain recurrence on outputs and every input gradient (L = 13; chunks 1, 4, 5, 13, 64)', () => {
    const inputs = makeInputs(rng, { B: 2, L: 13, H: 3, K: 4, V: 5 });
    for (const chunk of [1, 4, 5, 13, 64]) expectMatchesReference(inputs, chunk);
  });

  it('matches with one head, one key dim and one value dim', () => {
    expectMatchesReference(makeInputs(rng, { B: 1, L: 9, H: 1, K: 1, V: 1 }), 4);
  });

  it('matches with a constant per-head decay (RetNet) and no decay gradient wanted', () => {
    const { B, L, H, K, V } = { B: 2, L: 11, H: 2, K: 4, V: 3 };
    const logDecay = Tensor.from(Array.from({ length: B * L * H * K }, (_, i) => Math.log1p(-(2 ** (-5 - (Math.floor(i / K) % H))))), [B, L, H, K], 'float64');
    const [q, k, v] = makeInputs(rng, { B, L, H, K, V });
    const leaves = [q, k, v].map((t) => new Tensor(t.data.slice(), t.shape).requireGrad());
    const o = gatedLinearAttention(leaves[0], leaves[1], leaves[2], logDecay, 4);
    F.backward(o);
    const refLeaves = [q, k, v].map((t) => new Tensor(t.data.slice(), t.shape).requireGrad());
    const ref = gatedLinearAttentionReference(refLeaves[0], refLeaves[1], refLeaves[2], logDecay);
    F.backward(ref);
    expect(relativeError(o.data, ref.data)).toBeLessThan(1e-12);
    leaves.forEach((t, i) => expect(relativeError(t.grad!, refLeaves[i].grad!), NAMES[i]).toBeLessThan(1e-12));
  });

  it('gradients of every input pass finite differences (float64, 3 chunks)', () => {
    const inputs = makeInputs(rng, { B: 2, L: 7, H: 2, K: 3, V: 2 });
    expectGradients((q, k, v, g) => gatedLinearAttention(q, k, v, g, 3), inputs, { names: [...NAMES] });
  });

  it('stays finite and exact over long sequences with strong decay (no positive exponent)', () => {
    // Σγ reaches about −1000 per key dim over the sequence: a naive exp(−b_s) would overflow.
    const inputs = makeInputs(rng, { B: 1, L: 300, H: 1, K: 3, V: 2 }, 80);
    expectMatchesReference(inputs, 64, 1e-11);
  });

  it('float32 agrees with float64', () => {
    const inputs = makeInputs(rng, { B: 2, L: 37, H: 2, K: 6, V: 5 });
    const y64 = F.noGrad(() => gatedLinearAttention(inputs[0], inputs[1], inputs[2], inputs[3], 16));
    const f32 = inputs.map((t) => F.cast(t, 'float32'));
    const y32 = F.noGrad(() => gatedLinearAttention(f32[0], f32[1], f32[2], f32[3], 16));
    expect(y32.dtype).toBe('float32');
    expect(relativeError(y32.data, y64.data)).toBeLessThan(1e-5);
  });

  it('the step form, token by token from a zero state, equals the parallel form', () => {
    const { B, L, H, K, V } = { B: 2, L: 9, H: 3, K: 4, V: 5 };
    const [q, k, v, g] = makeInputs(rng, { B, L, H, K, V });
    const parallel = F.noGrad(() => gatedLinearAttention(q, k, v, g, 4));
    const state = Tensor.zeros([B, H, K, V], 'float64');
    const at = (t: Tensor, s: number) => F.reshape(F.slice(t, 1, s, s + 1), [B, H, t.shape[3]]);
    const steps = F.noGrad(() => Array.from({ length: L }, (_, s) => F.reshape(gatedLinearAttentionStep(at(q, s), at(k, s), at(v, s), at(g, s), state), [B, 1, H, V])));
    expect(relativeError(F.concat(steps, 1).data, parallel.data)).toBeLessThan(1e-13);
  });

  it('names the argument on shape errors', () => {
    const [q, k, v, g] = makeInputs(rng, { B: 1, L: 5, H: 2, K: 3, V: 2 });
    expect(() => gatedLinearAttention(q, k, v, F.slice(g, 3, 0, 2))).toThrow(/logDecay should have shape \[1, 5, 2, 3\]/);
    expect(() => gatedLinearAttention(q, F.slice(k, 1, 0, 4), v, g)).toThrow(ShapeError);
    expect(() => gatedLinearAttention(q, k, v, g, 0)).toThrow(/chunk size/);
  });
});
