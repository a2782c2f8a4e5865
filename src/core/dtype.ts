/**
 * Element types and shape helpers shared by every op.
 *
 * Shape vocabulary used across the project (documented once, mapped to the papers' symbols):
 *   B batch, L sequence length (T in fla), H hidden size (d_model), D mixer channels (d_inner),
 *   N state size, K conv width, V vocabulary, R dt rank, Hd heads, P head dim.
 */

export type DType = 'float32' | 'float64';
export type FloatArray = Float32Array | Float64Array;

export function allocate(dtype: DType, size: number): FloatArray {
  return dtype === 'float64' ? new Float64Array(size) : new Float32Array(size);
}

export function dtypeOf(data: FloatArray): DType {
  return data instanceof Float64Array ? 'float64' : 'float32';
}

export function castArray(data: ArrayLike<number>, dtype: DType): FloatArray {
  return dtype === 'float64' ? Float64Array.from(data) : Float32Array.from(data);
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeString(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Resolves a possibly negative axis against a rank, naming the op in the error. */
export function normalizeAxis(axis: number, rank: number, op: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    throw new ShapeError(`${op}: axis ${axis} is out of range for a tensor of rank ${rank}`);
  }
  return a;
}

/** Splits a shape around an axis into [outer, n, inner] so kernels can work on any axis. */
export function aroundAxis(shape: readonly number[], axis: number): [number, number, number] {
  return [sizeOf(shape.slice(0, axis)), shape[axis], sizeOf(shape.slice(axis + 1))];
}

/** A shape mismatch or invalid argument detected before computing; names the op and both shapes. */
export class ShapeError extends Error {
  override name = 'ShapeError';
}
