import { describe, expect, it } from 'vitest';
import * as F from '../../src/core/index.js';
import { Random, ShapeError, Tensor } from '../../src/core/index.js';
import type { DType } from '../../src/core/index.js';
import { wkv, wkvState, wkvStep } from '../../src/scans/wkv.js';
import { wkvReference } from '../../src/scans/wkv.reference.js';
import { expectGradients, randn, relativeError } from '../helpers/ops.js';

const NAMES = ['w', 'u', 'k', 'v'];
type WkvInputs = [Tensor, Tensor, Tensor, Tensor];

/** w, u [C]; k, v [B, L, C]; k scaled by `keyStd`, w spread over decays e^w from ~e^-2 to ~e^2. */
function wkvInputs(rng: Random, B: number, L: number, C: number, keyStd = 1, dtype: DType = 'float64'): WkvInputs {
  const inputs = [randn(rng, [C]), randn(rng, [C]), randn(rng, [B, L, C], keyStd), randn(rng, [B, L, C])];
  return inputs.map((t) => F.cast(t, dtype)) as WkvInputs;
}

/** Output and the gradient of Σ weights ⊙ y with respect to every input. */
function outputAndGradients(fn: typeof wkv, inputs: WkvInputs, weights: Float64Array) {
  const leaves = inputs.map((t) => new Tensor(t.data.slice(), t.shape).requireGrad()) as WkvInputs;
  const y = fn(...leaves);
  F.backward(y, weights);
  // A leaf the graph never reaches (w when L = 1) has a zero gradient.
  return { y: y.data, grads: leaves.map((t) => t.grad ?? new Float64Array(t.size)) };
}

function expectFusedMatchesReference(inputs: WkvInputs, rng: Random, rtol: number): void {
  const weights = randn(rng, [...inputs[2].shape]).data as Float64Array;
  const fused = outputAndGradients(wkv, inputs, weights);
  const reference = outputAndGradients(wkvReference, inputs, weights);
  expect(relativeError(fused.y, reference.y), 'y').toBeLessThan(rtol);
  NAMES.forEach((name, i) => {
    expect(fused.grads[i].every(Number.isFinite), `grad ${name} finite`).toBe(true);
    expect(relativeError(fused.grads[i], reference.grads[i]), `grad ${name}`).toBeLessThan(rtol);
  });
}

describe('wkv (fused) against the softmax reference', () => {
  for (const [B, L, C] of [
    [2, 7, 5],
    [1, 13, 3],
    [3, 1, 2],
  ]) {
    it(`outputs and the gradient of every input agree, B=${B} L=${L} C=${C}`, () => {
      const rng = new Random(B * 100 + L);
      expectFusedMatchesReference(wkvInputs(rng, B, L, C), rng, 1e-12);
    });
  }

  it('gradients of all four inputs match finite differences (float64)', () => {
    const rng = new Random(7);
    expectGradients(wkv, wkvInputs(rng, 2, 7, 3), { names: NAMES });
    expectGradients(wkv, wkvInputs(rng, 1, 13, 2, 4), { names: NAMES });
  });

  it('is stable for long inputs with large keys and extreme decays (k ~ ±60, L = 500)', () => {
    const rng = new Random(3);
    const [w, u, k, v] = wkvInputs(rng, 1, 500, 4, 30);
    w.data.set([-8, -1, 1, 4]); // decays e^w from 3e-4 (almost none) to 55 per step
    for (let i = 0; i < k.size; i++) k.data[i] = Math.max(-60, Math.min(60, k.data[i]));
    expect(Math.max(...k.data.map(Math.abs))).toBe(60);
    expectFusedMatchesReference([w, u, k, v], rng, 1e-10);
    const y32 = wkv(...([w, u, k, v].map((t) => F.cast(t, 'float32')) as WkvInputs));
    expect(relativeError(y32.data, wkv(w, u, k, v).data)).toBeLessThan(1e-6);
  });

  it('float32 agrees with float64 to float32 round-off', () => {
    const rng = new Random(11);
    const inputs64 = wkvInputs(rng, 2, 31, 6);
    const y32 = wkv(...(inputs64.map((t) => F.cast(t, 'float32')) as WkvInputs));
    expect(y32.dtype).toBe('float32');
    expect(relativeError(y32.data, wkv(...inputs64).data)).toBeLessThan(1e-6);
  });

  it('wkvStep token by token, and in chunks, equals one scan', () => {
    const [B, L, C] = [2, 9, 4];
    const rng = new Random(5);
    const [w, u, k, v] = wkvInputs(rng, B, L, C);
    const parallel = wkv(w, u, k, v);
    const tokens = wkvState(B, C);
    for (let t = 0; t < L; t++) {
      const yt = wkvStep(w, u, F.slice(k, 1, t, t + 1), F.slice(v, 1, t, t + 1), tokens);
      expect(relativeError(yt.data, F.slice(parallel, 1, t, t + 1).data), `t = ${t}`).toBeLessThan(1e-14);
    }
    const chunks = wkvState(B, C);
    const first = wkvStep(w, u, F.slice(k, 1, 0, 4), F.slice(v, 1, 0, 4), chunks);
    const rest = wkvStep(w, u, F.slice(k, 1, 4, L), F.slice(v, 1, 4, L), chunks);
    expect(relativeError(F.concat([first, rest], 1).data, parallel.data)).toBeLessThan(1e-14);
  });

  it('propagates NaN forward in time only', () => {
    const rng = new Random(13);
    const [w, u, k, v] = wkvInputs(rng, 1, 6, 2);
    v.data[3 * 2] = NaN; // token 3, channel 0
    const y = wkv(w, u, k, v).data;
    expect([0, 1, 2, 3, 4, 5].map((t) => Number.isNaN(y[t * 2]))).toEqual([false, false, false, true, true, true]);
    expect([0, 1, 2, 3, 4, 5].some((t) => Number.isNaN(y[t * 2 + 1]))).toBe(false);
  });

  it('names the argument when shapes disagree', () => {
    const rng = new Random(1);
    const [w, u, k, v] = wkvInputs(rng, 1, 4, 3);
    expect(() => wkv(w, u, k, F.slice(v, 2, 0, 2))).toThrow(ShapeError);
    expect(() => wkv(F.slice(w, 0, 0, 2), u, k, v)).toThrow(/wkv: w should have shape \[3\]/);
    expect(() => wkvStep(w, u, k, v, wkvState(2, 3))).toThrow(/wkvStep: state.numerator/);
  });
});
