import { describe, expect, it } from 'vitest';
import * as F from '../../src/core/index.js';
import { Random, Tensor } from '../../src/core/index.js';
import { hgrnInitialState, hgrnScan, hgrnStep } from '../../src/scans/hgrn.js';
import { hgrnScanReference } from '../../src/scans/hgrn.reference.js';
import { expectGradients, randn, relativeError } from '../helpers/ops.js';

const rng = new Random(17);
const NAMES = ['logDecay', 'x', 'initialState'] as const;

/** Log forget gates logsigmoid(z) (≤ 0) [B, L, E], z ~ N(0, 2²) as HGRN's gates. */
function logDecays(shape: number[]): Tensor {
  return F.noGrad(() => F.logSigmoid(randn(rng, shape, 2)));
}

/** Output and the gradient of Σ w ⊙ h for every input (w fixed, random), each by name. */
function valueAndGradients(fn: (...inputs: Tensor[]) => Tensor, inputs: Tensor[]): { h: Tensor; grads: Float64Array[] } {
  const leaves = inputs.map((t) => new Tensor(t.data.slice(), t.shape).requireGrad());
  const h = fn(...leaves);
  F.backward(h, new Random(99).tensor(h.shape, h.dtype).data);
  return { h, grads: leaves.map((t) => Float64Array.from(t.grad ?? new Float64Array(t.size))) };
}

describe('hgrnScan: fused element-wise gated recurrence', () => {
  for (const [B, L, E] of [
    [2, 13, 5],
    [1, 63, 3],
    [3, 1, 4],
    [1, 7, 1],
  ]) {
    for (const withState of [false, true]) {
      it(`matches the step-by-step reference on h and on the gradient of every input (B=${B}, L=${L}, E=${E}${withState ? ', initial state' : ''})`, () => {
        const inputs = [logDecays([B, L, E]), randn(rng, [B, L, E]), ...(withState ? [randn(rng, [B, E])] : [])];
        const call = (f: typeof hgrnScan) => (l: Tensor, x: Tensor, h0?: Tensor) => f(l, x, h0 ?? null);
        const fused = valueAndGradients(call(hgrnScan), inputs);
        const reference = valueAndGradients(call(hgrnScanReference), inputs);
        expect(relativeError(fused.h.data, reference.h.data), 'h').toBeLessThan(1e-13);
        fused.grads.forEach((g, i) => {
          expect(g.every(Number.isFinite), `d${NAMES[i]} finite`).toBe(true);
          expect(relativeError(g, reference.grads[i]), `d${NAMES[i]}`).toBeLessThan(1e-13);
        });
      });
    }
  }

  it('backward passes finite differences in float64 (logDecay, x, initialState)', () => {
    expectGradients(hgrnScan, [logDecays([2, 9, 3]), randn(rng, [2, 9, 3]), randn(rng, [2, 3])], { names: [...NAMES] });
    expectGradients((l, x) => hgrnScan(l, x), [logDecays([1, 11, 2]), randn(rng, [1, 11, 2])], { names: ['logDecay', 'x'] });
  });

  it('h_t = λ_t h_{t−1} + x_t by hand', () => {
    const logDecay = Tensor.from([Math.log(0.5), Math.log(0.25), 0], [1, 3, 1], 'float64');
    const x = Tensor.from([1, 2, 3], [1, 3, 1], 'float64');
    expect(Array.from(hgrnScan(logDecay, x, Tensor.from([4], [1, 1], 'float64')).data)).toEqual([0.5 * 4 + 1, 0.25 * 3 + 2, 2.75 + 3]);
  });

  it('stays finite over long sequences with gates near 0 and near 1 (float32)', () => {
    const L = 5000;
    const logDecay = new Tensor(Float32Array.from({ length: 2 * L }, (_, i) => (i % 2 === 0 ? -1e-7 : -80)), [1, L, 2]).requireGrad();
    const x = new Tensor(new Float32Array(2 * L).fill(1), [1, L, 2]);
    const h = hgrnScan(logDecay, x);
    expect(h.data.every(Number.isFinite)).toBe(true);
    // channel 1 forgets at once (λ = e^−80): h = x; channel 0 accumulates Σ λ^k ≈ L (1 − L·1e−7/2)
    expect(h.data[2 * L - 1]).toBe(1);
    expect(h.data[2 * L - 2]).toBeCloseTo(L * (1 - ((L - 1) * 1e-7) / 2), 0);
    F.backward(h);
    expect(logDecay.grad!.every(Number.isFinite)).toBe(true);
  });

  it('float32 agrees with float64', () => {
    const logDecay = logDecays([2, 40, 6]);
    const x = randn(rng, [2, 40, 6]);
    const h32 = hgrnScan(F.cast(logDecay, 'float32'), F.cast(x, 'float32'));
    expect(h32.dtype).toBe('float32');
    expect(relativeError(h32.data, hgrnScan(logDecay, x).data)).toBeLessThan(1e-5);
  });

  it('propagates NaN from the input forward in time only, in its own channel', () => {
    const x = randn(rng, [1, 4, 2]);
    x.data[2] = NaN; // t = 1, channel 0
    const h = hgrnScan(logDecays([1, 4, 2]), x);
    expect([0, 1, 3, 5, 7].map((i) => Number.isNaN(h.data[i]))).toEqual([false, false, false, false, false]);
    expect([2, 4, 6].map((i) => Number.isNaN(h.data[i]))).toEqual([true, true, true]);
  });

  it('step-by-step from an initial state equals the parallel scan', () => {
    const [B, L, E] = [2, 9, 4];
    const logDecay = logDecays([B, L, E]);
    const x = randn(rng, [B, L, E]);
    const h0 = randn(rng, [B, E]);
    const parallel = hgrnScan(logDecay, x, h0);
    const at = (t: Tensor, s: number) => F.reshape(F.slice(t, 1, s, s + 1), [B, E]);
    for (const [start, state] of [
      [null, hgrnInitialState(B, E, 'float64')],
      [h0, new Tensor(h0.data.slice(), [B, E])],
    ] as const) {
      const reference = start === null ? hgrnScan(logDecay, x) : parallel;
      const steps = Array.from({ length: L }, (_, t) => F.reshape(hgrnStep(at(logDecay, t), at(x, t), state), [B, 1, E]));
      expect(relativeError(F.concat(steps, 1).data, reference.data)).toBeLessThan(1e-14);
      expect(relativeError(state.data, at(reference, L - 1).data), 'final state').toBeLessThan(1e-14);
    }
  });

  it('names the op and the argument on shape and dtype errors', () => {
    expect(() => hgrnScan(randn(rng, [1, 3, 2]), randn(rng, [1, 3, 4]))).toThrow(/hgrnScan: x should have shape \[1, 3, 2\]/);
    expect(() => hgrnScan(randn(rng, [3, 2]), randn(rng, [3, 2]))).toThrow(/hgrnScan: logDecay should have rank 3/);
    expect(() => hgrnScan(randn(rng, [1, 3, 2]), randn(rng, [1, 3, 2]), randn(rng, [2, 2]))).toThrow(/hgrnScan: initialState should have shape \[1, 2\]/);
    expect(() => hgrnScan(randn(rng, [1, 3, 2]), F.cast(randn(rng, [1, 3, 2]), 'float32'))).toThrow(/hgrnScan: mixed dtypes/);
    expect(() => hgrnStep(randn(rng, [2, 3]), randn(rng, [2, 3]), hgrnInitialState(2, 4, 'float64'))).toThrow(/hgrnStep: state should have shape \[2, 3\]/);
  });
});
