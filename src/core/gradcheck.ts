/**
 * Gradient checking by central finite differences in float64: the test every op's backward
 * (primitive or fused) must pass. Compares ∂(Σ w ⊙ f(inputs))/∂input from `backward` with
 * (f(x + h) − f(x − h)) / 2h, using a fixed random weighting w so every output element counts.
 */
import { allocate } from './dtype.js';
import { Random } from './random.js';
import { backward, noGrad, Tensor } from './tensor.js';

export interface GradcheckResult {
  /** Largest |analytic − numeric| / (atol + rtol·|numeric|) over all checked elements; ≤ 1 passes. */
  worst: number;
  /** Per input: the largest absolute error and the name given. */
  inputs: { name: string; maxAbsError: number; maxAbsGrad: number }[];
  ok: boolean;
}

export interface GradcheckOptions {
  h?: number;
  rtol?: number;
  atol?: number;
  seed?: number;
  names?: string[];
  /** Check at most this many elements per input (chosen at random); default all. */
  maxElements?: number;
}

export function gradcheck(fn: (...inputs: Tensor[]) => Tensor, inputs: Tensor[], options: GradcheckOptions = {}): GradcheckResult {
  const { h = 1e-6, rtol = 1e-5, atol = 1e-7, seed = 1, maxElements = Infinity } = options;
  for (const x of inputs) {
    if (x.dtype !== 'float64') throw new Error('gradcheck: inputs must be float64');
    x.grad = null;
    x.requiresGrad = true;
  }
  const rng = new Random(seed);
  const out = fn(...inputs);
  const weights = allocate('float64', out.size);
  for (let i = 0; i < weights.length; i++) weights[i] = rng.normal();
  const objective = (): number => {
    const y = noGrad(() => fn(...inputs));
    let s = 0;
    for (let i = 0; i < y.size; i++) s += weights[i] * y.data[i];
    return s;
  };
  backward(out, weights);
  let worst = 0;
  const report = inputs.map((x, k) => {
    const analytic = x.grad ?? allocate('float64', x.size);
    let maxAbsError = 0;
    let maxAbsGrad = 0;
    const indices = pickIndices(x.size, maxElements, rng);
    for (const i of indices) {
      const saved = x.data[i];
      x.data[i] = saved + h;
      const plus = objective();
      x.data[i] = saved - h;
      const minus = objective();
      x.data[i] = saved;
      const numeric = (plus - minus) / (2 * h);
      const err = Math.abs(analytic[i] - numeric);
      maxAbsError = Math.max(maxAbsError, err);
      maxAbsGrad = Math.max(maxAbsGrad, Math.abs(numeric));
      worst = Math.max(worst, err / (atol + rtol * Math.abs(numeric)));
    }
    return { name: options.names?.[k] ?? `input ${k}`, maxAbsError, maxAbsGrad };
  });
  return { worst, inputs: report, ok: worst <= 1 };
}

function pickIndices(size: number, max: number, rng: Random): number[] {
  const all = Array.from({ length: size }, (_, i) => i);
  return size <= max ? all : rng.shuffle(all).slice(0, max);
}
