/**
 * Contiguous row-major tensors over Float32Array / Float64Array, and the autograd tape.
 *
 * Every op computes its output eagerly from typed arrays and, when any input requires a
 * gradient, records a graph node: its name, its parents and a backward closure. The
 * backward closure receives the output gradient and *accumulates* (`+=`) into the gradient
 * buffers of its parents, as in micrograd and llm.c. Fused kernels (the recurrent scans)
 * register themselves through the same `record` call with a hand-written backward.
 */
import { allocate, castArray, dtypeOf, sameShape, shapeString, ShapeError, sizeOf } from './dtype.js';
import type { DType, FloatArray } from './dtype.js';

/**
 * Backward rule of one op. `gradOut` has the output's shape; `gradIn(i)` returns the
 * zero-initialised accumulation buffer of parent i, or null when parent i needs no gradient.
 */
export type BackwardFn = (gradOut: FloatArray, gradIn: (i: number) => FloatArray | null) => void;

export interface GraphNode {
  readonly op: string;
  readonly parents: readonly Tensor[];
  readonly backward: BackwardFn;
}

export class Tensor {
  readonly data: FloatArray;
  readonly shape: readonly number[];
  /** True for parameters and inputs we differentiate with respect to, and for every tensor computed from them. */
  requiresGrad = false;
  /** The gradient after `backward`, for leaves that require grad and tensors that called `retainGrad`. */
  grad: FloatArray | null = null;
  node: GraphNode | null = null;
  private retains = false;

  constructor(data: FloatArray, shape: readonly number[]) {
    if (data.length !== sizeOf(shape)) {
      throw new ShapeError(`Tensor: data has ${data.length} elements but shape ${shapeString(shape)} needs ${sizeOf(shape)}`);
    }
    if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new ShapeError(`Tensor: invalid shape ${shapeString(shape)}`);
    this.data = data;
    this.shape = Object.freeze([...shape]);
  }

  get dtype(): DType {
    return dtypeOf(this.data);
  }

  get size(): number {
    return this.data.length;
  }

  get rank(): number {
    return this.shape.length;
  }

  /** Marks a leaf as something to differentiate with respect to; returns itself. */
  requireGrad(): this {
    this.requiresGrad = true;
    return this;
  }

  /** Keeps this (non-leaf) tensor's gradient in `.grad` after `backward`. */
  retainGrad(): this {
    this.retains = true;
    return this;
  }

  get keepsGrad(): boolean {
    return this.retains || (this.requiresGrad && this.node === null);
  }

  item(): number {
    if (this.size !== 1) throw new ShapeError(`item: tensor of shape ${shapeString(this.shape)} is not a single value`);
    return this.data[0];
  }

  /** A copy without graph history. */
  detach(): Tensor {
    return new Tensor(this.data, this.shape);
  }

  static zeros(shape: readonly number[], dtype: DType = 'float32'): Tensor {
    return new Tensor(allocate(dtype, sizeOf(shape)), shape);
  }

  static full(shape: readonly number[], value: number, dtype: DType = 'float32'): Tensor {
    return new Tensor(allocate(dtype, sizeOf(shape)).fill(value), shape);
  }

  static from(values: ArrayLike<number>, shape: readonly number[], dtype: DType = 'float32'): Tensor {
    return new Tensor(castArray(values, dtype), shape);
  }

  static scalar(value: number, dtype: DType = 'float32'): Tensor {
    return Tensor.from([value], [], dtype);
  }
}

let gradEnabled = true;

/** Runs `fn` without recording any graph (inference, evaluation, implicit-attention extraction). */
export function noGrad<T>(fn: () => T): T {
  const previous = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = previous;
  }
}

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/**
 * Wraps an op's output data in a tensor and records the graph node when needed. This is the
 * one way to register an op, primitive or fused, with its backward rule.
 */
export function record(op: string, parents: readonly Tensor[], data: FloatArray, shape: readonly number[], backward: BackwardFn): Tensor {
  const out = new Tensor(data, shape);
  if (gradEnabled && parents.some((p) => p.requiresGrad)) {
    out.requiresGrad = true;
    out.node = { op, parents, backward };
  }
  return out;
}

/** Checks that all tensors share one dtype and returns it; names the op on mismatch. */
export function commonDType(op: string, ...tensors: Tensor[]): DType {
  const dtype = tensors[0].dtype;
  for (const t of tensors) {
    if (t.dtype !== dtype) throw new ShapeError(`${op}: mixed dtypes ${dtype} and ${t.dtype}; cast first`);
  }
  return dtype;
}

export function expectShape(op: string, name: string, t: Tensor, shape: readonly number[]): void {
  if (!sameShape(t.shape, shape)) {
    throw new ShapeError(`${op}: ${name} should have shape ${shapeString(shape)}, got ${shapeString(t.shape)}`);
  }
}

export function expectRank(op: string, name: string, t: Tensor, rank: number): void {
  if (t.rank !== rank) throw new ShapeError(`${op}: ${name} should have rank ${rank}, got shape ${shapeString(t.shape)}`);
}

/** Graph nodes reachable from `root`, parents before children. */
function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  const stack: Array<[Tensor, number]> = [[root, 0]];
  visited.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const [t, next] = top;
    const parents = t.node?.parents ?? [];
    if (next < parents.length) {
      top[1]++;
      const p = parents[next];
      if (p.requiresGrad && !visited.has(p)) {
        visited.add(p);
        stack.push([p, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order;
}

/**
 * Reverse-mode differentiation of `root` (seeded with ones, or `seed` of root's shape).
 * Gradients are *accumulated* into `.grad` of the leaves and retained tensors, so call
 * `zeroGrad` between optimisation steps. Intermediate buffers are freed as soon as used.
 */
export function backward(root: Tensor, seed?: FloatArray): void {
  if (!root.requiresGrad) throw new ShapeError('backward: the tensor does not depend on anything that requires grad');
  const grads = new Map<Tensor, FloatArray>();
  const initial = seed ?? allocate(root.dtype, root.size).fill(1);
  if (initial.length !== root.size) throw new ShapeError(`backward: seed has ${initial.length} elements, output has ${root.size}`);
  grads.set(root, initial);
  const order = topologicalOrder(root);
  for (let i = order.length - 1; i >= 0; i--) {
    const t = order[i];
    const g = grads.get(t);
    if (g === undefined) continue;
    if (t.keepsGrad) accumulateInto(t, g);
    const node = t.node;
    if (node === null) continue;
    grads.delete(t);
    node.backward(g, (j) => {
      const p = node.parents[j];
      if (!p.requiresGrad) return null;
      let buf = grads.get(p);
      if (buf === undefined) {
        buf = allocate(p.dtype, p.size);
        grads.set(p, buf);
      }
      return buf;
    });
  }
}

function accumulateInto(t: Tensor, g: FloatArray): void {
  if (t.grad === null) {
    t.grad = allocate(t.dtype, t.size);
  }
  const out = t.grad;
  for (let i = 0; i < out.length; i++) out[i] += g[i];
}

export function zeroGrad(tensors: Iterable<Tensor>): void {
  for (const t of tensors) t.grad = null;
}
