/**
 * Weights kept in their stored 16-bit dtype (bfloat16 or float16), for inference with half the
 * weight memory: load with `weights: 'stored'` (src/io/load-model.ts, `--weights stored`).
 *
 * A StoredWeight is a Tensor whose values are the 16-bit bit patterns of the checkpoint. The
 * matrix products of linear layers (F.linear forward and its input gradient) read the bits
 * directly: the WASM GEMM copies them into its memory (a copy it makes of float32 weights too,
 * here of half the bytes) and widens them with SIMD (`widen16` in assembly/gemm.ts) into the
 * operand it packs; the JS reference decodes into a temporary. The bench section `weights`
 * measures the speed and peak memory of a forward with both settings.
 * Embedding lookups decode only the rows they gather (copyElements). Any other use of `.data`
 * decodes the whole tensor once, keeps the float copy and drops the bits — from then on it is
 * an ordinary tensor, so code that does not know about stored weights stays correct.
 *
 * Both formats widen exactly to float32 and float64, so a model with stored weights computes
 * the same numbers as one loaded with decoded weights. Stored weights are read-only: they
 * cannot require gradients (load decoded weights to train).
 */
import { allocate, sizeOf } from './dtype.js';
import type { DType, FloatArray } from './dtype.js';
import { isShared, sharedFloatArray } from './parallel.js';
import { Tensor } from './tensor.js';

export type HalfFormat = 'bf16' | 'f16';

/** A row-major matrix of 16-bit floats: their bit patterns and the format. */
export interface HalfArray {
  readonly format: HalfFormat;
  readonly bits: Uint16Array;
}

/** What the GEMM kernels accept as their B operand. */
export type GemmOperand = FloatArray | HalfArray;

export function isHalfArray(x: GemmOperand): x is HalfArray {
  return !ArrayBuffer.isView(x);
}

/** Value of a float16 bit pattern (IEEE binary16: 1 sign, 5 exponent, 10 mantissa bits). */
function f16Value(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1024 + mantissa) * 2 ** (exponent - 25);
}

const tables: Partial<Record<HalfFormat, Float32Array>> = {};

/** All 65536 values of a format as float32 (exact), built on first use (256 KiB). */
export function halfTable(format: HalfFormat): Float32Array {
  let table = tables[format];
  if (table === undefined) {
    table = new Float32Array(65536);
    if (format === 'bf16') {
      const words = new Uint32Array(table.buffer);
      for (let b = 0; b < 65536; b++) words[b] = b << 16; // bfloat16 is the top half of a float32
    } else {
      for (let b = 0; b < 65536; b++) table[b] = f16Value(b);
    }
    tables[format] = table;
  }
  return table;
}

/**
 * dst[at + i] = value of src.bits[off + i] for i < n. `words`, when given, is a Uint32Array
 * over the same memory as a Float32Array dst (bfloat16 then widens by a shift, no table).
 */
export function decodeHalf(src: HalfArray, off: number, dst: FloatArray, at: number, n: number, words?: Uint32Array): void {
  const bits = src.bits;
  if (src.format === 'bf16' && words !== undefined) {
    for (let i = 0; i < n; i++) words[at + i] = bits[off + i] << 16;
    return;
  }
  const table = halfTable(src.format);
  for (let i = 0; i < n; i++) dst[at + i] = table[bits[off + i]];
}

const PLACEHOLDER = new Float32Array(0);

/** A Tensor over 16-bit weights; see the header. */
export class StoredWeight extends Tensor {
  private half: HalfArray | null;
  private readonly computeDType: DType;

  /** `half.bits` holds sizeOf(shape) values; `dtype` is the compute dtype of the model. */
  constructor(half: HalfArray, shape: readonly number[], dtype: DType) {
    super(PLACEHOLDER, [0]);
    if (half.bits.length !== sizeOf(shape)) throw new Error(`StoredWeight: ${half.bits.length} values for shape [${shape.join(', ')}]`);
    this.half = half;
    this.computeDType = dtype;
    // Tensor's `shape` and `data` are plain fields; here shape is the real one and data decodes
    // on first read (then becomes a plain field again).
    Object.defineProperty(this, 'shape', { value: Object.freeze([...shape]), enumerable: true, configurable: true, writable: false });
    Object.defineProperty(this, 'data', { get: () => this.decodeAll(), enumerable: true, configurable: true });
  }

  override get dtype(): DType {
    return this.computeDType;
  }

  override get size(): number {
    return sizeOf(this.shape);
  }

  /** The 16-bit values, or null once decoded. */
  get stored(): HalfArray | null {
    return this.half;
  }

  /** Bytes of weight data held now (2 per value while stored). */
  get residentBytes(): number {
    return this.half !== null ? this.half.bits.byteLength : this.data.byteLength;
  }

  override requireGrad(): this {
    throw new Error(`a weight kept in its stored dtype (${this.half?.format ?? 'decoded'}) is read-only: load the model with decoded weights to differentiate with respect to weights`);
  }

  private decodeAll(): FloatArray {
    const half = this.half!;
    const out = isShared(half.bits) ? sharedFloatArray(this.computeDType, half.bits.length) : allocate(this.computeDType, half.bits.length);
    decodeHalf(half, 0, out, 0, out.length, out instanceof Float32Array ? new Uint32Array(out.buffer, out.byteOffset, out.length) : undefined);
    Object.defineProperty(this, 'data', { value: out, enumerable: true, configurable: true, writable: false });
    this.half = null;
    return out;
  }
}

/** The B operand of a GEMM for `t`: its 16-bit values while it is a stored weight, else its data. */
export function gemmOperand(t: Tensor): GemmOperand {
  return t instanceof StoredWeight && t.stored !== null ? t.stored : t.data;
}

/** out[at + i] = t's element start + i, for i < count, without decoding all of a stored weight. */
export function copyElements(t: Tensor, start: number, count: number, out: FloatArray, at: number): void {
  const half = t instanceof StoredWeight ? t.stored : null;
  if (half !== null) decodeHalf(half, start, out, at, count);
  else out.set(t.data.subarray(start, start + count), at);
}
