import { describe, expect, it } from 'vitest';
import * as F from '../../src/core/index.js';
import { Random, ShapeError, Tensor } from '../../src/core/index.js';
import { ssd, ssdStep } from '../../src/scans/ssd.js';
import { ssdReference } from '../../src/scans/ssd.reference.js';
import { expectGradients, relativeError } from '../helpers/ops.js';
import type { SsdShape } from '../../src/core/kernels/wasm/ssm-wasm.js';
import { SSD_NAMES, ssdInputs } from '../helpers/ssd.js';

/** Output and the gradient of Σ w ⊙ y for every input, w a fixed random weighting. */
function valueAndGradients(fn: (...inputs: Tensor[]) => Tensor, inputs: Tensor[]): { y: Tensor; grads: Float64Array[] } {
  const leaves = inputs.map((t) => new Tensor(t.data.slice(), t.shape).requireGrad());
  const y = fn(...leaves);
  const weights = new Random(99).tensor(y.shape, y.dtype).data;
  F.backward(y, weights);
  return { y, grads: leaves.map((t) => Float64Array.from(t.grad!)) };
}

function expectMatchesReference(sizes: SsdShape, chunkSize: number, rng: Random, rtol = 1e-12): void {
  const inputs = ssdInputs(rng, sizes);
  const fused = valueAndGradients((...a) => ssd(a[0], a[1], a[2], a[3], a[4], a[5], chunkSize), inputs);
  const reference = valueAndGradients((...a) => ssdReference(a[0], a[1], a[2], a[3], a[4], a[5]), inputs);
  expect(relativeError(fused.y.data, reference.y.data), 'y').toBeLessThan(rtol);
  SSD_NAMES.forEach((name, i) => expect(relativeError(fused.grads[i], reference.grads[i]), `d${name}`).toBeLessThan(rtol));
}

describe('ssd: chunked state-space duality scan', () => {
  const rng = new Random(7);

  it('matches the plain recurrence on outputs and every input gradient (L = 7, one chunk)', () => {
    expectMatchesReference({ B: 2, L: 7, Hd: 4, P: 3, G: 2, N: 5 }, 256, rng);
  });

  it('matches the plain recurrence across chunk boundaries (L = 13; chunks 1, 3, 4, 13)', () => {
    for (const chunk of [1, 3, 4, 13]) expectMatchesReference({ B: 2, L: 13, Hd: 4, P: 3, G: 2, N: 5 }, chunk, rng);
  });

  it('matches with one group for all heads and with one head per group', () => {
    expectMatchesReference({ B: 1, L: 11, Hd: 3, P: 2, G: 1, N: 4 }, 4, rng);
    expectMatchesReference({ B: 1, L: 9, Hd: 2, P: 5, G: 2, N: 3 }, 2, rng);
  });

  it('gradients of every input pass finite differences (float64, 3 chunks)', () => {
    const inputs = ssdInputs(rng, { B: 2, L: 7, Hd: 4, P: 2, G: 2, N: 3 });
    expectGradients((x, dt, A, Bm, Cm, D) => ssd(x, dt, A, Bm, Cm, D, 3), inputs, { names: [...SSD_NAMES] });
  });

  it('stays finite and exact over long sequences with strong decay (no positive exponent)', () => {
    // A·Σdt reaches about −6000 over the sequence: a naive exp(−cumsum) would overflow.
    const sizes = { B: 1, L: 300, Hd: 2, P: 2, G: 1, N: 3 };
    const inputs = ssdInputs(rng, sizes, 'float64', 20);
    const fused = valueAndGradients((...a) => ssd(a[0], a[1], a[2], a[3], a[4], a[5], 64), inputs);
    const reference = valueAndGradients((...a) => ssdReference(a[0], a[1], a[2], a[3], a[4], a[5]), inputs);
    expect(fused.y.data.every(Number.isFinite)).toBe(true);
    expect(relativeError(fused.y.data, reference.y.data)).toBeLessThan(1e-12);
    SSD_NAMES.forEach((name, i) => {
      expect(fused.grads[i].every(Number.isFinite), `d${name} finite`).toBe(true);
      expect(relativeError(fused.grads[i], reference.grads[i]), `d${name}`).toBeLessThan(1e-11);
    });
  });

  it('is causal even for non-finite inputs: a NaN at step s reaches outputs t ≥ s only', () => {
    const sizes = { B: 1, L: 13, Hd: 2, P: 3, G: 1, N: 4 };
    const [x, dt, A, Bm, Cm, D] = ssdInputs(rng, sizes);
    const clean = F.noGrad(() => ssd(x, dt, A, Bm, Cm, D, 8));
    const s = 6;
    const poisoned = [x, Bm].map((t) => new Tensor(t.data.slice(), t.shape));
    poisoned[0].data[s * 2 * 3] = NaN; // x[0, s, 0, 0]
    poisoned[1].data[s * 4 + 1] = Infinity; // Bm[0, s, 0, 1]
    const y = F.noGrad(() => ssd(poisoned[0], dt, A, poisoned[1], Cm, D, 8));
    const row = 2 * 3; // one time step of y
    expect(Array.from(y.data.subarray(0, s * row))).toEqual(Array.from(clean.data.subarray(0, s * row)));
    expect(Number.isNaN(y.data[s * row])).toBe(true);
    expect(Number.isNaN(y.data[(sizes.L - 1) * row])).toBe(true);
  });

  it('float32 agrees with float64', () => {
    const sizes = { B: 2, L: 37, Hd: 4, P: 8, G: 2, N: 6 };
    const inputs = ssdInputs(rng, sizes);
    const y64 = F.noGrad(() => ssd(inputs[0], inputs[1], inputs[2], inputs[3], inputs[4], inputs[5], 16));
    const f32 = inputs.map((t) => F.cast(t, 'float32'));
    const y32 = F.noGrad(() => ssd(f32[0], f32[1], f32[2], f32[3], f32[4], f32[5], 16));
    expect(y32.dtype).toBe('float32');
    expect(relativeError(y32.data, y64.data)).toBeLessThan(1e-5);
  });

  it('the step form, token by token from a zero state, equals the parallel scan', () => {
    const sizes = { B: 2, L: 9, Hd: 4, P: 3, G: 2, N: 5 };
    const [x, dt, A, Bm, Cm, D] = ssdInputs(rng, sizes);
    const parallel = F.noGrad(() => ssd(x, dt, A, Bm, Cm, D, 4));
    const state = Tensor.zeros([2, 4, 3, 5], 'float64');
    const at = (t: Tensor, s: number) => F.reshape(F.slice(t, 1, s, s + 1), [t.shape[0], ...t.shape.slice(2)]);
    const steps = F.noGrad(() =>
      Array.from({ length: sizes.L }, (_, s) => F.reshape(ssdStep(at(x, s), at(dt, s), A, at(Bm, s), at(Cm, s), D, state), [2, 1, 4, 3])),
    );
    expect(relativeError(F.concat(steps, 1).data, parallel.data)).toBeLessThan(1e-13);
  });

  it('names the argument on shape errors', () => {
    const [x, dt, A, Bm, Cm, D] = ssdInputs(rng, { B: 1, L: 5, Hd: 4, P: 2, G: 2, N: 3 });
    expect(() => ssd(x, dt, A, Bm, F.slice(Cm, 3, 0, 2), D)).toThrow(/Cm should have shape \[1, 5, 2, 3\]/);
    expect(() => ssd(x, dt, F.slice(A, 0, 0, 3), Bm, Cm, D)).toThrow(ShapeError);
    expect(() => ssd(x, dt, A, Bm, Cm, D, 0)).toThrow(/chunk size/);
  });
});
