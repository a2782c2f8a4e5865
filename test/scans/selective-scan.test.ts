import { describe, expect, it } from 'vitest';
import * as F from '../../src/core/index.js';
import { Random, ShapeError, Tensor } from '../../src/core/index.js';
import type { DType } from '../../src/core/index.js';
import { selectiveScan, selectiveScanState, selectiveScanStep } from '../../src/scans/selective-scan.js';
import { selectiveScanReference } from '../../src/scans/selective-scan.reference.js';
import { expectGradients, randn, relativeError } from '../helpers/ops.js';

const NAMES = ['u', 'delta', 'A', 'Bm', 'Cm', 'Dskip'];

/** Realistic inputs: Δ > 0 (a softplus), A < 0 (−exp of A_log). */
function scanInputs(rng: Random, B: number, L: number, D: number, N: number, dtype: DType = 'float64'): Tensor[] {
  const cast = (t: Tensor) => F.cast(t, dtype);
  return [
    randn(rng, [B, L, D]),
    F.softplus(randn(rng, [B, L, D])),
    F.neg(F.exp(randn(rng, [D, N], 0.7))),
    randn(rng, [B, L, N]),
    randn(rng, [B, L, N]),
    randn(rng, [D]),
  ].map((t) => cast(t.detach()));
}

/** Output and the gradient of Σ w ⊙ y with respect to every input, for a fixed weighting w. */
function outputAndGradients(fn: typeof selectiveScan, inputs: Tensor[], weights: Float64Array) {
  const leaves = inputs.map((t) => new Tensor(t.data.slice(), t.shape).requireGrad());
  const y = fn(...(leaves as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]));
  F.backward(y, weights);
  return { y: y.data, grads: leaves.map((t) => t.grad!) };
}

describe('selectiveScan (fused) against the step-by-step reference', () => {
  for (const [B, L, D, N] of [
    [2, 7, 5, 3],
    [1, 13, 3, 4],
    [3, 1, 2, 1],
  ]) {
    it(`outputs and the gradient of every input agree, B=${B} L=${L} D=${D} N=${N}`, () => {
      const rng = new Random(B * 100 + L);
      const inputs = scanInputs(rng, B, L, D, N);
      const weights = randn(rng, [B, L, D]).data as Float64Array;
      const fused = outputAndGradients(selectiveScan, inputs, weights);
      const reference = outputAndGradients(selectiveScanReference, inputs, weights);
      expect(relativeError(fused.y, reference.y), 'y').toBeLessThan(1e-13);
      NAMES.forEach((name, i) => expect(relativeError(fused.grads[i], reference.grads[i]), `grad ${name}`).toBeLessThan(1e-12));
    });
  }

  it('gradients of all six inputs match finite differences (float64)', () => {
    const rng = new Random(7);
    expectGradients(selectiveScan, scanInputs(rng, 2, 7, 3, 4), { names: NAMES });
    expectGradients(selectiveScan, scanInputs(rng, 1, 13, 2, 3), { names: NAMES });
  });

  it('float32 agrees with float64 to float32 round-off', () => {
    const rng = new Random(11);
    const inputs64 = scanInputs(rng, 2, 31, 6, 5);
    const inputs32 = inputs64.map((t) => F.cast(t, 'float32'));
    const y64 = selectiveScan(...(inputs64 as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]));
    const y32 = selectiveScan(...(inputs32 as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]));
    expect(y32.dtype).toBe('float32');
    expect(relativeError(y32.data, y64.data)).toBeLessThan(1e-5);
  });

  it('L steps of selectiveScanStep equal one scan', () => {
    const [B, L, D, N] = [2, 9, 4, 3];
    const rng = new Random(5);
    const [u, delta, A, Bm, Cm, Dskip] = scanInputs(rng, B, L, D, N);
    const parallel = selectiveScan(u, delta, A, Bm, Cm, Dskip);
    const state = selectiveScanState(B, D, N);
    const at = (x: Tensor, t: number) => F.reshape(F.slice(x, 1, t, t + 1), [B, x.shape[2]]);
    for (let t = 0; t < L; t++) {
      const yt = selectiveScanStep(at(u, t), at(delta, t), A, at(Bm, t), at(Cm, t), Dskip, state);
      expect(relativeError(yt.data, at(parallel, t).data), `t = ${t}`).toBeLessThan(1e-14);
    }
  });

  it('stays finite on long sequences with large step sizes (no positive exponents)', () => {
    const [B, L, D, N] = [1, 4000, 2, 3];
    const rng = new Random(9);
    const [u, , A, Bm, Cm, Dskip] = scanInputs(rng, B, L, D, N);
    const delta = F.affine(rng.uniform([B, L, D], 0, 1, 'float64'), 60, 0); // Δ up to 60
    const weights = randn(rng, [B, L, D]).data as Float64Array;
    const { y, grads } = outputAndGradients(selectiveScan, [u, delta, A, Bm, Cm, Dskip], weights);
    expect(y.every(Number.isFinite)).toBe(true);
    grads.forEach((g, i) => expect(g.every(Number.isFinite), NAMES[i]).toBe(true));
  });

  it('a NaN in u poisons only its own channel from that step on', () => {
    const [B, L, D, N] = [1, 6, 3, 2];
    const [u, delta, A, Bm, Cm, Dskip] = scanInputs(new Random(2), B, L, D, N);
    u.data[2 * D + 1] = NaN; // t = 2, d = 1
    const y = selectiveScan(u, delta, A, Bm, Cm, Dskip).data;
    for (let t = 0; t < L; t++) {
      for (let d = 0; d < D; d++) expect(Number.isNaN(y[t * D + d]), `t=${t} d=${d}`).toBe(d === 1 && t >= 2);
    }
  });

  it('rejects mismatched shapes and dtypes, naming the argument', () => {
    const [u, delta, A, Bm, Cm, Dskip] = scanInputs(new Random(3), 1, 4, 3, 2);
    expect(() => selectiveScan(u, delta, A, Bm, Cm, Tensor.zeros([4], 'float64'))).toThrow(/selectiveScan: Dskip should have shape \[3\]/);
    expect(() => selectiveScan(u, delta, A, F.slice(Bm, 1, 0, 3), Cm, Dskip)).toThrow(ShapeError);
    expect(() => selectiveScan(u, F.cast(delta, 'float32'), A, Bm, Cm, Dskip)).toThrow(/mixed dtypes/);
    const step = (state: Float64Array) => selectiveScanStep(F.reshape(F.slice(u, 1, 0, 1), [1, 3]), F.reshape(F.slice(delta, 1, 0, 1), [1, 3]), A, F.reshape(F.slice(Bm, 1, 0, 1), [1, 2]), F.reshape(F.slice(Cm, 1, 0, 1), [1, 2]), Dskip, state);
    expect(() => step(new Float64Array(5))).toThrow(/state should hold \[1, 3, 2\]/);
  });
});
