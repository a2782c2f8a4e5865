/**
 * Broadcasting elementwise arithmetic (NumPy rules). Gradients of broadcast inputs are
 * summed back over the broadcast axes.
 */
import { allocate, sameShape, shapeString, ShapeError, sizeOf } from '../dtype.js';
import type { FloatArray } from '../dtype.js';
import { commonDType, record, Tensor } from '../tensor.js';

export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(`${op}: shapes ${shapeString(a)} and ${shapeString(b)} do not broadcast`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

/**
 * For each element of `outShape`, the flat index of the element of `inShape` it reads.
 * Returns null when the two shapes are equal (identity).
 */
function sourceIndex(outShape: readonly number[], inShape: readonly number[]): Int32Array | null {
  if (sameShape(outShape, inShape)) return null;
  const rank = outShape.length;
  const padded = [...new Array(rank - inShape.length).fill(1), ...inShape];
  const strides = new Array<number>(rank);
  let s = 1;
  for (let i = rank - 1; i >= 0; i--) {
    strides[i] = padded[i] === 1 ? 0 : s;
    s *= padded[i];
  }
  const n = sizeOf(outShape);
  const index = new Int32Array(n);
  const counter = new Array<number>(rank).fill(0);
  let src = 0;
  for (let i = 0; i < n; i++) {
    index[i] = src;
    for (let d = rank - 1; d >= 0; d--) {
      counter[d]++;
      src += strides[d];
      if (counter[d] < outShape[d]) break;
      src -= strides[d] * counter[d];
      counter[d] = 0;
    }
  }
  return index;
}

interface BinaryRule {
  f: (a: number, b: number) => number;
  /** ∂out/∂a and ∂out/∂b given the inputs. */
  da: (a: number, b: number) => number;
  db: (a: number, b: number) => number;
}

const rules = {
  add: { f: (a, b) => a + b, da: () => 1, db: () => 1 },
  sub: { f: (a, b) => a - b, da: () => 1, db: () => -1 },
  mul: { f: (a, b) => a * b, da: (_a, b) => b, db: (a) => a },
  div: { f: (a, b) => a / b, da: (_a, b) => 1 / b, db: (a, b) => -a / (b * b) },
} satisfies Record<string, BinaryRule>;

function binary(op: keyof typeof rules, a: Tensor, b: Tensor): Tensor {
  const dtype = commonDType(op, a, b);
  const { f, da, db } = rules[op] as BinaryRule;
  const shape = broadcastShapes(op, a.shape, b.shape);
  const ia = sourceIndex(shape, a.shape);
  const ib = sourceIndex(shape, b.shape);
  const ad = a.data;
  const bd = b.data;
  const out = allocate(dtype, sizeOf(shape));
  if (ia === null && ib === null) {
    for (let i = 0; i < out.length; i++) out[i] = f(ad[i], bd[i]);
  } else {
    for (let i = 0; i < out.length; i++) out[i] = f(ad[ia === null ? i : ia[i]], bd[ib === null ? i : ib[i]]);
  }
  return record(op, [a, b], out, shape, (g, gradIn) => {
    accumulate(gradIn(0), g, ia, ib, ad, bd, da, true);
    accumulate(gradIn(1), g, ia, ib, ad, bd, db, false);
  });
}

function accumulate(
  target: FloatArray | null,
  g: FloatArray,
  ia: Int32Array | null,
  ib: Int32Array | null,
  ad: FloatArray,
  bd: FloatArray,
  partial: (a: number, b: number) => number,
  forA: boolean,
): void {
  if (target === null) return;
  const own = forA ? ia : ib;
  for (let i = 0; i < g.length; i++) {
    const ja = ia === null ? i : ia[i];
    const jb = ib === null ? i : ib[i];
    target[own === null ? i : own[i]] += g[i] * partial(ad[ja], bd[jb]);
  }
}

export const add = (a: Tensor, b: Tensor) => binary('add', a, b);
export const sub = (a: Tensor, b: Tensor) => binary('sub', a, b);
export const mul = (a: Tensor, b: Tensor) => binary('mul', a, b);
export const div = (a: Tensor, b: Tensor) => binary('div', a, b);
