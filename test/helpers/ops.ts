/** One helper for op tests: gradient check in float64 with a readable failure message. */
import { expect } from 'vitest';
import { gradcheck, Random } from '../../src/core/index.js';
import type { GradcheckOptions, Tensor } from '../../src/core/index.js';

export function expectGradients(fn: (...inputs: Tensor[]) => Tensor, inputs: Tensor[], options: GradcheckOptions = {}): void {
  const result = gradcheck(fn, inputs, options);
  const detail = result.inputs.map((r) => `${r.name}: max |err| ${r.maxAbsError.toExponential(2)} (max |grad| ${r.maxAbsGrad.toExponential(2)})`).join('; ');
  expect(result.worst, detail).toBeLessThanOrEqual(1);
}

/** Random float64 tensor, N(0, std²), for gradient checks. */
export function randn(rng: Random, shape: number[], std = 1): Tensor {
  return rng.tensor(shape, 'float64', std);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** max|a − b| / max|b|: the fixtures' "rtol" criterion. */
export function relativeError(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  let scale = 0;
  for (let i = 0; i < ref.length; i++) scale = Math.max(scale, Math.abs(ref[i]));
  return maxAbsDiff(got, ref) / (scale || 1);
}
