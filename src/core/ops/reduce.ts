/** Reductions over one axis: sum, mean, max; and cumulative sum. */
import { allocate, aroundAxis, normalizeAxis } from '../dtype.js';
import { record, Tensor } from '../tensor.js';
import { reshape } from './shape.js';

function reducedShape(shape: readonly number[], axis: number, keepDims: boolean): number[] {
  return keepDims ? shape.map((d, i) => (i === axis ? 1 : d)) : shape.filter((_, i) => i !== axis);
}

/** Σ over `axis` (all elements when axis is undefined), times `factor` (1 for sum, 1/n for mean). */
function scaledSum(op: string, x: Tensor, axis: number | undefined, keepDims: boolean, mean: boolean): Tensor {
  if (axis === undefined) return scaledSum(op, reshape(x, [x.size]), 0, false, mean);
  const a = normalizeAxis(axis, x.rank, op);
  const [outer, n, inner] = aroundAxis(x.shape, a);
  const factor = mean ? 1 / n : 1;
  const xd = x.data;
  const out = allocate(x.dtype, outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < n; k++) {
      const src = (o * n + k) * inner;
      for (let i = 0; i < inner; i++) out[o * inner + i] += xd[src + i];
    }
  }
  if (factor !== 1) for (let i = 0; i < out.length; i++) out[i] *= factor;
  return record(op, [x], out, reducedShape(x.shape, a, keepDims), (g, gradIn) => {
    const gx = gradIn(0);
    if (gx === null) return;
    for (let o = 0; o < outer; o++) {
      for (let k = 0; k < n; k++) {
        const dst = (o * n + k) * inner;
        for (let i = 0; i < inner; i++) gx[dst + i] += factor * g[o * inner + i];
      }
    }
  });
}

export function sum(x: Tensor, axis?: number, keepDims = false): Tensor {
  return scaledSum('sum', x, axis, keepDims, false);
}

export function mean(x: Tensor, axis?: number, keepDims = false): Tensor {
  return scaledSum('mean', x, axis, keepDims, true);
}

/** Maximum over `axis`; the gradient flows to the first maximal element. */
export function max(x: Tensor, axis: number, keepDims = false): Tensor {
  const a = normalizeAxis(axis, x.rank, 'max');
  const [outer, n, inner] = aroundAxis(x.shape, a);
  const xd = x.data;
  const out = allocate(x.dtype, outer * inner);
  const argmax = new Int32Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let best = -Infinity;
      let at = 0;
      for (let k = 0; k < n; k++) {
        const v = xd[(o * n + k) * inner + i];
        if (v > best || Number.isNaN(v)) {
          best = v;
          at = k;
          if (Number.isNaN(v)) break;
        }
      }
      out[o * inner + i] = best;
      argmax[o * inner + i] = at;
    }
  }
  return record('max', [x], out, reducedShape(x.shape, a, keepDims), (g, gradIn) => {
    const gx = gradIn(0);
    if (gx === null) return;
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) gx[(o * n + argmax[o * inner + i]) * inner + i] += g[o * inner + i];
    }
  });
}

/** Inclusive cumulative sum along `axis`; its gradient is the reversed cumulative sum. */
export function cumsum(x: Tensor, axis: number): Tensor {
  const a = normalizeAxis(axis, x.rank, 'cumsum');
  const [outer, n, inner] = aroundAxis(x.shape, a);
  const xd = x.data;
  const out = allocate(x.dtype, x.size);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let acc = 0;
      for (let k = 0; k < n; k++) {
        const idx = (o * n + k) * inner + i;
        acc += xd[idx];
        out[idx] = acc;
      }
    }
  }
  return record('cumsum', [x], out, x.shape, (g, gradIn) => {
    const gx = gradIn(0);
    if (gx === null) return;
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        let acc = 0;
        for (let k = n - 1; k >= 0; k--) {
          const idx = (o * n + k) * inner + i;
          acc += g[idx];
          gx[idx] += acc;
        }
      }
    }
  });
}
