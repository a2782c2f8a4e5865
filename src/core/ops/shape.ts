/** Shape ops: reshape, permute/transpose, slice, concat, split. Data is copied except by reshape. */
import { allocate, aroundAxis, normalizeAxis, shapeString, ShapeError, sizeOf } from '../dtype.js';
import { commonDType, record, Tensor } from '../tensor.js';

/** Same data, new shape; one dimension may be -1 (inferred). */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const known = shape.filter((d) => d !== -1);
  const inferred = shape.length - known.length;
  if (inferred > 1) throw new ShapeError(`reshape: at most one -1 allowed, got ${shapeString(shape)}`);
  const resolved = inferred === 1 ? shape.map((d) => (d === -1 ? x.size / sizeOf(known) : d)) : [...shape];
  if (sizeOf(resolved) !== x.size || resolved.some((d) => !Number.isInteger(d))) {
    throw new ShapeError(`reshape: cannot view ${shapeString(x.shape)} (${x.size} elements) as ${shapeString(shape)}`);
  }
  return record('reshape', [x], x.data, resolved, (g, gradIn) => {
    const gx = gradIn(0);
    if (gx !== null) for (let i = 0; i < gx.length; i++) gx[i] += g[i];
  });
}

function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

/** Reorders axes: output axis i is input axis `order[i]`. */
export function permute(x: Tensor, order: readonly number[]): Tensor {
  if (order.length !== x.rank || [...order].sort().some((v, i) => v !== i)) {
    throw new ShapeError(`permute: ${shapeString(order)} is not a permutation of the ${x.rank} axes of ${shapeString(x.shape)}`);
  }
  const shape = order.map((a) => x.shape[a]);
  const inStrides = stridesOf(x.shape);
  const srcStride = order.map((a) => inStrides[a]);
  // Gather index: output flat index → input flat index.
  const index = new Int32Array(x.size);
  const counter = new Array<number>(shape.length).fill(0);
  let src = 0;
  for (let i = 0; i < index.length; i++) {
    index[i] = src;
    for (let d = shape.length - 1; d >= 0; d--) {
      counter[d]++;
      src += srcStride[d];
      if (counter[d] < shape[d]) break;
      src -= srcStride[d] * counter[d];
      counter[d] = 0;
    }
  }
  const xd = x.data;
  const out = allocate(x.dtype, x.size);
  for (let i = 0; i < out.length; i++) out[i] = xd[index[i]];
  return record('permute', [x], out, shape, (g, gradIn) => {
    const gx = gradIn(0);
    if (gx !== null) for (let i = 0; i < g.length; i++) gx[index[i]] += g[i];
  });
}

/** Swaps two axes. */
export function transpose(x: Tensor, a: number, b: number): Tensor {
  const order = x.shape.map((_, i) => i);
  const i = normalizeAxis(a, x.rank, 'transpose');
  const j = normalizeAxis(b, x.rank, 'transpose');
  [order[i], order[j]] = [order[j], order[i]];
  return permute(x, order);
}

/** Elements [start, end) along `axis`. */
export function slice(x: Tensor, axis: number, start: number, end: number): Tensor {
  const a = normalizeAxis(axis, x.rank, 'slice');
  const [outer, n, inner] = aroundAxis(x.shape, a);
  if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= n)) {
    throw new ShapeError(`slice: range [${start}, ${end}) is outside axis ${a} of length ${n}`);
  }
  const m = end - start;
  const xd = x.data;
  const out = allocate(x.dtype, outer * m * inner);
  for (let o = 0; o < outer; o++) out.set(xd.subarray((o * n + start) * inner, (o * n + end) * inner), o * m * inner);
  const shape = x.shape.map((d, i) => (i === a ? m : d));
  return record('slice', [x], out, shape, (g, gradIn) => {
    const gx = gradIn(0);
    if (gx === null) return;
    for (let o = 0; o < outer; o++) {
      const dst = (o * n + start) * inner;
      const src = o * m * inner;
      for (let i = 0; i < m * inner; i++) gx[dst + i] += g[src + i];
    }
  });
}

/** Splits along `axis` into consecutive pieces of the given sizes. */
export function split(x: Tensor, sizes: readonly number[], axis: number): Tensor[] {
  const a = normalizeAxis(axis, x.rank, 'split');
  const total = sizes.reduce((s, v) => s + v, 0);
  if (total !== x.shape[a]) throw new ShapeError(`split: sizes ${shapeString(sizes)} sum to ${total}, axis ${a} of ${shapeString(x.shape)} has ${x.shape[a]}`);
  let start = 0;
  return sizes.map((size) => {
    const piece = slice(x, a, start, start + size);
    start += size;
    return piece;
  });
}

/** Joins tensors along `axis`; all other dimensions must agree. */
export function concat(tensors: readonly Tensor[], axis: number): Tensor {
  if (tensors.length === 0) throw new ShapeError('concat: nothing to concatenate');
  const dtype = commonDType('concat', ...tensors);
  const first = tensors[0];
  const a = normalizeAxis(axis, first.rank, 'concat');
  for (const t of tensors) {
    if (t.rank !== first.rank || t.shape.some((d, i) => i !== a && d !== first.shape[i])) {
      throw new ShapeError(`concat: ${shapeString(t.shape)} does not match ${shapeString(first.shape)} outside axis ${a}`);
    }
  }
  const lengths = tensors.map((t) => t.shape[a]);
  const n = lengths.reduce((s, v) => s + v, 0);
  const [outer, , inner] = aroundAxis(first.shape, a);
  const out = allocate(dtype, outer * n * inner);
  let offset = 0;
  tensors.forEach((t, j) => {
    const m = lengths[j];
    for (let o = 0; o < outer; o++) out.set(t.data.subarray(o * m * inner, (o + 1) * m * inner), (o * n + offset) * inner);
    offset += m;
  });
  const shape = first.shape.map((d, i) => (i === a ? n : d));
  return record('concat', tensors, out, shape, (g, gradIn) => {
    let off = 0;
    tensors.forEach((_, j) => {
      const m = lengths[j];
      const gt = gradIn(j);
      if (gt !== null) {
        for (let o = 0; o < outer; o++) {
          const src = (o * n + off) * inner;
          const dst = o * m * inner;
          for (let i = 0; i < m * inner; i++) gt[dst + i] += g[src + i];
        }
      }
      off += m;
    });
  });
}
