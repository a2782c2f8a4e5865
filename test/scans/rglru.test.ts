import { describe, expect, it } from 'vitest';
import * as F from '../../src/core/index.js';
import { Random, Tensor } from '../../src/core/index.js';
import type { DType } from '../../src/core/index.js';
import { rglru, rglruCoefficients, rglruInitialState, rglruStep } from '../../src/scans/rglru.js';
import { rglruReference } from '../../src/scans/rglru.reference.js';
import { expectGradients, randn, relativeError } from '../helpers/ops.js';

const rng = new Random(7);

/** Log-decays in [lo, hi] (≤ 0) [B, L, W]. */
function logDecays(shape: number[], lo = -3, hi = -0.02, dtype: DType = 'float64'): Tensor {
  return rng.uniform(shape, lo, hi, dtype);
}

/** Gradients of Σ w ⊙ f(logA, x) with respect to both inputs, for fixed random weights w. */
function gradients(f: (logA: Tensor, x: Tensor) => Tensor, logA: Tensor, x: Tensor, weights: Tensor) {
  const l = new Tensor(logA.data.slice(), logA.shape).requireGrad();
  const xi = new Tensor(x.data.slice(), x.shape).requireGrad();
  const out = f(l, xi);
  F.backward(out, weights.data);
  // A scan of length 1 never reads ℓ, so the reference leaves its gradient empty.
  return { out: out.data, logA: l.grad ?? new Float64Array(l.size), x: xi.grad! };
}

describe('rglru fused scan', () => {
  for (const [B, L, W] of [
    [2, 7, 5],
    [1, 13, 3],
    [3, 1, 4],
  ]) {
    it(`matches the step-by-step reference on outputs and on the gradient of logA and x (B=${B}, L=${L}, W=${W})`, () => {
      const logA = logDecays([B, L, W]);
      const x = randn(rng, [B, L, W]);
      const weights = randn(rng, [B, L, W]);
      const fused = gradients(rglru, logA, x, weights);
      const reference = gradients(rglruReference, logA, x, weights);
      expect(relativeError(fused.out, reference.out), 'h').toBeLessThan(1e-12);
      expect(relativeError(fused.logA, reference.logA), 'grad logA').toBeLessThan(1e-12);
      expect(relativeError(fused.x, reference.x), 'grad x').toBeLessThan(1e-12);
    });
  }

  it('backward passes finite differences in float64 (L = 13)', () => {
    expectGradients(rglru, [logDecays([2, 13, 3]), randn(rng, [2, 13, 3])], { names: ['logA', 'x'] });
  });

  it('ignores the log-decay at t = 0 (reset: h_0 = x_0, no gradient into ℓ_0)', () => {
    const logA = logDecays([1, 5, 2]).requireGrad();
    const x = randn(rng, [1, 5, 2]);
    const h = rglru(logA, x);
    expect(Array.from(h.data.subarray(0, 2))).toEqual(Array.from(x.data.subarray(0, 2)));
    F.backward(h);
    expect(Array.from(logA.grad!.subarray(0, 2))).toEqual([0, 0]);
  });

  it('float32 agrees with float64 within float32 precision', () => {
    const logA = logDecays([2, 50, 8]);
    const x = randn(rng, [2, 50, 8]);
    const h64 = rglru(logA, x);
    const h32 = rglru(F.cast(logA, 'float32'), F.cast(x, 'float32'));
    expect(h32.dtype).toBe('float32');
    expect(relativeError(h32.data, h64.data)).toBeLessThan(1e-5);
  });

  it('stays finite and accurate for decays near 1 over long sequences (float32)', () => {
    const L = 4096;
    const logA = new Tensor(new Float32Array(L).fill(-1e-9), [1, L, 1]).requireGrad();
    const x = new Tensor(new Float32Array(L).fill(1), [1, L, 1]);
    const h = rglru(logA, x);
    // m = sqrt(1 − e^{−2e−9}) ≈ 4.47e−5 is resolved although a rounds to 1 in float32.
    const { m } = rglruCoefficients(logA);
    expect(m.data[1]).toBeCloseTo(Math.sqrt(2e-9), 9);
    // h is stored in float32 at every step: expect float32 rounding accumulated over L steps.
    expect(h.data[L - 1]).toBeCloseTo(1 + (L - 1) * Math.sqrt(2e-9), 3);
    F.backward(h);
    expect(logA.grad!.every(Number.isFinite)).toBe(true);
  });

  it('bounds dm/dℓ like HF (the square-root derivative is clipped at 1000)', () => {
    const logA = new Tensor(Float64Array.from([0, -1e-12]), [1, 2, 1]).requireGrad();
    const x = new Tensor(Float64Array.from([0, 1]), [1, 2, 1]);
    F.backward(rglru(logA, x));
    // ∂h_1/∂ℓ_1 = a h_0 + x dm/dℓ with h_0 = 0 and dm/dℓ = −2a² / max(2m, 1e−3) ≈ −2000.
    expect(logA.grad![1]).toBeCloseTo(-2000, 3);
  });

  it('propagates NaN from the input', () => {
    const x = randn(rng, [1, 4, 2]);
    x.data[2] = NaN;
    const h = rglru(logDecays([1, 4, 2]), x);
    expect(Number.isNaN(h.data[6])).toBe(true);
    expect(Number.isNaN(h.data[7])).toBe(false);
  });

  it('coefficients apply the reset: a_0 = 0, m_0 = 1, m = sqrt(1 − a²)', () => {
    const logA = logDecays([2, 6, 3]);
    const { a, m } = rglruCoefficients(logA);
    for (let i = 0; i < a.size; i++) {
      const t = Math.floor(i / 3) % 6;
      expect(a.data[i]).toBeCloseTo(t === 0 ? 0 : Math.exp(logA.data[i]), 14);
      expect(m.data[i]).toBeCloseTo(Math.sqrt(1 - a.data[i] ** 2), 12);
    }
  });

  it('step-by-step equals the parallel scan', () => {
    const [B, L, W] = [2, 9, 4];
    const logA = logDecays([B, L, W]);
    const x = randn(rng, [B, L, W]);
    const parallel = rglru(logA, x);
    const state = rglruInitialState(B, W, 'float64');
    for (let t = 0; t < L; t++) {
      const h = rglruStep(F.reshape(F.slice(logA, 1, t, t + 1), [B, W]), F.reshape(F.slice(x, 1, t, t + 1), [B, W]), state);
      const expected = F.reshape(F.slice(parallel, 1, t, t + 1), [B, W]);
      expect(relativeError(h.data, expected.data)).toBeLessThan(1e-14);
    }
  });

  it('names the op and the argument on shape errors', () => {
    expect(() => rglru(randn(rng, [1, 3, 2]), randn(rng, [1, 3, 4]))).toThrow(/rglru: x should have shape \[1, 3, 2\]/);
    expect(() => rglru(randn(rng, [3, 2]), randn(rng, [3, 2]))).toThrow(/rglru: logA should have rank 3/);
  });
});
