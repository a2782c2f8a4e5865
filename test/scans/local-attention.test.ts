import { describe, expect, it } from 'vitest';
import * as F from '../../src/core/index.js';
import { Random, Tensor } from '../../src/core/index.js';
import { kvCache, localAttention, localAttentionStep, localAttentionWeights, rotary } from '../../src/scans/local-attention.js';
import { expectGradients, randn, relativeError } from '../helpers/ops.js';

const rng = new Random(11);

/**
 * Plain reference of `localAttention` from primitive ops: dense scores q kᵀ / √E per query
 * head, an additive −∞ mask outside t − window < s ≤ t, softmax, p v. Returns the output
 * [B, L, Hq, E] and the probabilities [B, Hq, L, L].
 */
function localAttentionReference(q: Tensor, k: Tensor, v: Tensor, window: number): { out: Tensor; p: Tensor } {
  const [, L, Hq, E] = q.shape;
  const Hkv = k.shape[2];
  const perQueryHead = (t: Tensor) => F.concat(Array.from({ length: Hq }, (_, h) => F.slice(t, 2, Math.floor(h / (Hq / Hkv)), Math.floor(h / (Hq / Hkv)) + 1)), 2); // [B, L, Hq, E]
  const qh = F.permute(q, [0, 2, 1, 3]); // [B, Hq, L, E]
  const kT = F.permute(perQueryHead(k), [0, 2, 3, 1]); // [B, Hq, E, L]
  const vh = F.permute(perQueryHead(v), [0, 2, 1, 3]); // [B, Hq, L, E]
  const mask = Tensor.from(
    Array.from({ length: L * L }, (_, i) => {
      const [t, s] = [Math.floor(i / L), i % L];
      return s <= t && s > t - window ? 0 : -Infinity;
    }),
    [L, L],
    q.dtype,
  );
  const p = F.softmax(F.add(F.scale(F.matmul(qh, kT), 1 / Math.sqrt(E)), mask));
  return { out: F.permute(F.matmul(p, vh), [0, 2, 1, 3]), p };
}

/** Plain reference of `rotary`: HF's q·cos + rotate_half(q)·sin on the first 2·half dims. */
function rotaryReference(x: Tensor, invFreq: Float64Array, start: number): Tensor {
  const [, L, , E] = x.shape;
  const half = invFreq.length;
  const table = (f: (a: number) => number) =>
    Tensor.from(Array.from({ length: L * half }, (_, i) => f((start + Math.floor(i / half)) * invFreq[i % half])), [L, 1, half], x.dtype); // [L, 1, half]
  const [cos, sin] = [table(Math.cos), table(Math.sin)];
  const [x1, x2, pass] = F.split(x, [half, half, E - 2 * half], 3);
  const y1 = F.sub(F.mul(x1, cos), F.mul(x2, sin));
  const y2 = F.add(F.mul(x2, cos), F.mul(x1, sin));
  return F.concat(E > 2 * half ? [y1, y2, pass] : [y1, y2], 3);
}

function gradientsOf(f: (...xs: Tensor[]) => Tensor, inputs: Tensor[], weights: Tensor): { out: Float64Array; grads: Float64Array[] } {
  const leaves = inputs.map((x) => new Tensor(x.data.slice(), x.shape).requireGrad());
  const out = f(...leaves);
  F.backward(out, weights.data);
  return { out: out.data as Float64Array, grads: leaves.map((l) => l.grad as Float64Array) };
}

describe('localAttention fused op', () => {
  const cases: Array<[string, number[], number, number]> = [
    // name, [B, L, Hq, E], Hkv, window
    ['MQA, window 3, L = 7', [2, 7, 3, 4], 1, 3],
    ['GQA, window 5, L = 13', [1, 13, 4, 3], 2, 5],
    ['MHA, window ≥ L (plain causal)', [2, 5, 2, 2], 2, 9],
    ['window 1 (each token sees itself)', [1, 6, 2, 3], 1, 1],
  ];
  for (const [name, [B, L, Hq, E], Hkv, window] of cases) {
    it(`matches the dense masked-softmax reference on outputs and on the gradient of q, k, v (${name})`, () => {
      const inputs = [randn(rng, [B, L, Hq, E]), randn(rng, [B, L, Hkv, E]), randn(rng, [B, L, Hkv, E])];
      const weights = randn(rng, [B, L, Hq, E]);
      const fused = gradientsOf((q, k, v) => localAttention(q, k, v, window), inputs, weights);
      const reference = gradientsOf((q, k, v) => localAttentionReference(q, k, v, window).out, inputs, weights);
      expect(relativeError(fused.out, reference.out), 'out').toBeLessThan(1e-12);
      ['q', 'k', 'v'].forEach((input, i) => expect(relativeError(fused.grads[i], reference.grads[i]), `grad ${input}`).toBeLessThan(1e-12));
      const p = localAttentionWeights(inputs[0], inputs[1], inputs[2], window);
      expect(relativeError(p.data, F.noGrad(() => localAttentionReference(inputs[0], inputs[1], inputs[2], window).p).data), 'weights').toBeLessThan(1e-12);
      const inference = F.noGrad(() => localAttention(inputs[0], inputs[1], inputs[2], window));
      expect(relativeError(inference.data, fused.out), 'without grad').toBe(0);
    });
  }

  it('steps over the ring-buffer cache equal the parallel op, past the window (L = 9, window 4, GQA)', () => {
    const [B, L, Hq, Hkv, E, window] = [2, 9, 4, 2, 3, 4];
    const [q, k, v] = [randn(rng, [B, L, Hq, E]), randn(rng, [B, L, Hkv, E]), randn(rng, [B, L, Hkv, E])];
    const parallel = localAttention(q, k, v, window);
    const cache = kvCache(B, window, Hkv, E, 'float64');
    for (let t = 0; t < L; t++) {
      const row = (x: Tensor) => F.slice(x, 1, t, t + 1);
      const stepped = localAttentionStep(row(q), row(k), row(v), cache, window);
      expect(relativeError(stepped.data, row(parallel).data)).toBeLessThan(1e-14);
    }
  });

  it('backward passes finite differences in float64 (L = 7, GQA, window 4)', () => {
    expectGradients((q, k, v) => localAttention(q, k, v, 4), [randn(rng, [2, 7, 4, 3]), randn(rng, [2, 7, 2, 3]), randn(rng, [2, 7, 2, 3])], { names: ['q', 'k', 'v'] });
  });

  it('is stable for large scores (max-subtracted softmax)', () => {
    const q = randn(rng, [1, 5, 1, 2], 1e3);
    const k = randn(rng, [1, 5, 1, 2], 1e3);
    const out = localAttention(q, k, randn(rng, [1, 5, 1, 2]), 3);
    expect(out.data.every(Number.isFinite)).toBe(true);
  });

  it('names the op and the argument on bad shapes', () => {
    expect(() => localAttention(randn(rng, [1, 4, 3, 2]), randn(rng, [1, 4, 2, 2]), randn(rng, [1, 4, 2, 2]), 2)).toThrow(/localAttention: 3 query heads are not a multiple of 2/);
    expect(() => localAttention(randn(rng, [1, 4, 2, 2]), randn(rng, [1, 4, 1, 2]), randn(rng, [1, 3, 1, 2]), 2)).toThrow(/localAttention: v should have shape \[1, 4, 1, 2\]/);
    expect(() => localAttention(randn(rng, [1, 4, 2, 2]), randn(rng, [1, 4, 1, 2]), randn(rng, [1, 4, 1, 2]), 0)).toThrow(/window/);
  });
});

describe('rotary position embedding', () => {
  const invFreq = Float64Array.from([1, 0.1, 0.01]);

  it('matches the rotate-half reference on the first dims, passing the rest through, from any start position', () => {
    const x = randn(rng, [2, 7, 3, 9]);
    const weights = randn(rng, [2, 7, 3, 9]);
    const fused = gradientsOf((t) => rotary(t, invFreq, 5), [x], weights);
    const reference = gradientsOf((t) => rotaryReference(t, invFreq, 5), [x], weights);
    expect(relativeError(fused.out, reference.out), 'out').toBeLessThan(1e-14);
    expect(relativeError(fused.grads[0], reference.grads[0]), 'grad x').toBeLessThan(1e-14);
  });

  it('backward passes finite differences in float64', () => {
    expectGradients((t) => rotary(t, invFreq, 0), [randn(rng, [1, 5, 2, 6])]);
  });

  it('a token rotated at position p equals row p of a sequence rotated from 0', () => {
    const x = randn(rng, [1, 6, 2, 6]);
    const whole = rotary(x, invFreq, 0);
    const one = rotary(F.slice(x, 1, 4, 5), invFreq, 4);
    expect(relativeError(one.data, F.slice(whole, 1, 4, 5).data)).toBeLessThan(1e-15);
  });
});
