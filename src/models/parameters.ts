/**
 * Where a model's parameters come from. A family declares each parameter once, by its
 * Hugging Face name, shape and initialiser; a `ParameterSource` either reads it from a
 * checkpoint (checking the shape) or initialises it for training from scratch.
 */
import { allocate, shapeString, sizeOf, Tensor, Random } from '../core/index.js';
import type { DType } from '../core/index.js';
import { parallelThreads, sharedFloatArray, sharedUint16Array } from '../core/parallel.js';
import { StoredWeight } from '../core/stored-weight.js';
import type { HalfArray } from '../core/stored-weight.js';

export type Init =
  | { kind: 'normal'; std: number }
  | { kind: 'uniform'; lo: number; hi: number }
  | { kind: 'constant'; value: number }
  /** Element-wise formula of the flat index (e.g. Mamba's A_log = log(1..N)). */
  | { kind: 'formula'; at: (index: number) => number };

export const normal = (std: number): Init => ({ kind: 'normal', std });
export const constant = (value: number): Init => ({ kind: 'constant', value });
export const zeros: Init = constant(0);
export const ones: Init = constant(1);

/** A weight that is missing or has the wrong shape; the message names the tensor. */
export class WeightError extends Error {
  override name = 'WeightError';
}

export interface ParameterSource {
  readonly dtype: DType;
  /** Whether an optional tensor (a bias, an untied head) is present. */
  has(name: string): boolean;
  take(name: string, shape: readonly number[], init: Init): Tensor;
}

/** What a checkpoint reader must offer (see src/io/checkpoint.ts). */
export interface TensorStore {
  has(name: string): boolean;
  /** Shape, and the stored dtype ('F32', 'BF16', …) where the store knows it. */
  info(name: string): { shape: number[]; dtype?: string };
  /** The tensor as `dtype`, into `out` when given (an array of that dtype and size). */
  readFloat(name: string, dtype: DType, out?: Float32Array | Float64Array): Float32Array | Float64Array;
  /** The tensor's 16-bit values (into `out` when given) when it is stored as BF16 or F16, else null. */
  readHalf?(name: string, out?: Uint16Array): HalfArray | null;
}

/**
 * How loaded weights are held: 'decoded' (float32/float64 copies, the default) or 'stored'
 * (BF16/F16 matrices stay 16-bit, widened inside the GEMM: src/core/stored-weight.ts).
 */
export type WeightStorage = 'decoded' | 'stored';

export class StoreSource implements ParameterSource {
  constructor(
    private readonly store: TensorStore,
    readonly dtype: DType,
    private readonly weights: WeightStorage = 'decoded',
  ) {}

  has(name: string): boolean {
    return this.store.has(name);
  }

  take(name: string, shape: readonly number[]): Tensor {
    if (!this.store.has(name)) throw new WeightError(`missing tensor '${name}' (expected shape ${shapeString(shape)})`);
    const { shape: found, dtype: stored } = this.store.info(name);
    if (sizeOf(found) !== sizeOf(shape) || !sameDims(found, shape)) {
      throw new WeightError(`tensor '${name}' has shape ${shapeString(found)}, expected ${shapeString(shape)}`);
    }
    // Matrices may stay 16-bit; weights are read straight into shared memory when worker threads
    // will read them (the GEMM then hands them to the workers without a copy).
    const shared = parallelThreads() > 1;
    const n = sizeOf(shape);
    if (this.weights === 'stored' && shape.length === 2 && this.store.readHalf !== undefined && (stored === 'BF16' || stored === 'F16')) {
      const half = this.store.readHalf(name, shared ? sharedUint16Array(n) : undefined)!;
      return new StoredWeight(half, shape, this.dtype);
    }
    return new Tensor(this.store.readFloat(name, this.dtype, shared ? sharedFloatArray(this.dtype, n) : undefined), shape);
  }
}

function sameDims(found: readonly number[], expected: readonly number[]): boolean {
  return found.length === expected.length && found.every((d, i) => d === expected[i]);
}

/** Fresh parameters from their initialisers, seeded. */
export class InitSource implements ParameterSource {
  private readonly rng: Random;

  constructor(
    seed: number,
    readonly dtype: DType,
  ) {
    this.rng = new Random(seed);
  }

  has(): boolean {
    return true;
  }

  take(_name: string, shape: readonly number[], init: Init): Tensor {
    // On shared memory when worker threads will read it (see StoreSource).
    const data = parallelThreads() > 1 ? sharedFloatArray(this.dtype, sizeOf(shape)) : allocate(this.dtype, sizeOf(shape));
    for (let i = 0; i < data.length; i++) {
      switch (init.kind) {
        case 'normal':
          data[i] = init.std * this.rng.normal();
          break;
        case 'uniform':
          data[i] = init.lo + (init.hi - init.lo) * this.rng.next();
          break;
        case 'constant':
          data[i] = init.value;
          break;
        case 'formula':
          data[i] = init.at(i);
          break;
      }
    }
    return new Tensor(data, shape);
  }
}

/**
 * Wraps a source and remembers every parameter taken, keyed by its Hugging Face name, so a
 * model can list, train and save its parameters without a second declaration.
 */
export class ParameterRegistry {
  readonly tensors = new Map<string, Tensor>();

  constructor(readonly source: ParameterSource) {}

  get dtype(): DType {
    return this.source.dtype;
  }

  has(name: string): boolean {
    return this.source.has(name);
  }

  take(name: string, shape: readonly number[], init: Init): Tensor {
    const t = this.source.take(name, shape, init);
    this.tensors.set(name, t);
    return t;
  }

  /** A parameter that exists only when `present` (e.g. `use_bias`). */
  optional(present: boolean, name: string, shape: readonly number[], init: Init): Tensor | null {
    return present ? this.take(name, shape, init) : null;
  }
}

/**
 * Initial step-size biases of selective SSMs (Mamba's dt_proj.bias, Mamba2's dt_bias):
 * softplus⁻¹(Δ₀) with Δ₀ log-spaced over [min, max] across the `count` channels or heads,
 * floored at `floor` — the deterministic counterpart of mamba_ssm's log-uniform draw.
 * softplus⁻¹(Δ) = Δ + log(−expm1(−Δ)).
 */
export function timeStepBiasInit(count: number, min: number, max: number, floor: number): Init {
  const lo = Math.log(min);
  const hi = Math.log(max);
  return {
    kind: 'formula',
    at: (i) => {
      const dt = Math.max(Math.exp(lo + ((i + 0.5) / count) * (hi - lo)), floor);
      return dt + Math.log(-Math.expm1(-dt));
    },
  };
}
