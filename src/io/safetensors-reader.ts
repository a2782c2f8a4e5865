// Reading tensors out of a safetensors file, on demand, from any ByteSource. Pure module;
// the Node entry point (safetensors.ts) adds `SafetensorsReader.open(path)`.
import { memorySource, viewOf, type ByteSource } from './bytes.js';
import { codecOf, isSupportedDType, type Codec, type RawArray, type StDType } from './dtypes.js';
import { SafetensorsError } from './safetensors-error.js';
import { readHeader, type Header, type TensorInfo } from './safetensors-header.js';

export type FloatKind = 'float32' | 'float64';

/** A tensor in its stored dtype (F16/BF16 as raw Uint16 bit patterns, BOOL as 0/1 bytes). */
export interface RawTensor {
  dtype: StDType;
  shape: number[];
  data: RawArray;
}

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/**
 * A validated safetensors file. Construction reads and checks only the header; each read
 * method fetches and decodes one tensor's bytes. Every failure is a SafetensorsError.
 */
export class SafetensorsReader {
  readonly metadata: Record<string, string> | null;
  private readonly header: Header;
  private closed = false;

  protected constructor(private readonly source: ByteSource) {
    try {
      this.header = readHeader(source);
    } catch (error) {
      source.close?.(); // a rejected file must not keep its descriptor open
      throw error;
    }
    this.metadata = this.header.metadata;
  }

  /** A reader over a complete file already in memory (zero-copy). */
  static fromBytes(bytes: Uint8Array | ArrayBuffer): SafetensorsReader {
    return new SafetensorsReader(memorySource(bytes));
  }

  /** A reader over any random-access source; the reader closes it on close() or on a bad header. */
  static fromSource(source: ByteSource): SafetensorsReader {
    return new SafetensorsReader(source);
  }

  /** Tensor names, sorted (as the reference's `keys()`). */
  keys(): string[] {
    return [...this.header.tensors.keys()].sort();
  }

  has(name: string): boolean {
    return this.header.tensors.has(name);
  }

  info(name: string): TensorInfo {
    const info = this.header.tensors.get(name);
    if (!info) throw new SafetensorsError('TENSOR_NOT_FOUND', `no tensor named ${JSON.stringify(name)}`);
    return { ...info, shape: [...info.shape] };
  }

  /**
   * The tensor converted to float32 or float64 (from any supported dtype, BOOL as 0/1), into
   * `out` when given (an array of that dtype and the tensor's size, e.g. on shared memory).
   */
  readFloat(name: string, dtype: 'float32', out?: Float32Array): Float32Array;
  readFloat(name: string, dtype: 'float64', out?: Float64Array): Float64Array;
  readFloat(name: string, dtype: FloatKind, out?: Float32Array | Float64Array): Float32Array | Float64Array;
  readFloat(name: string, dtype: FloatKind, into?: Float32Array | Float64Array): Float32Array | Float64Array {
    const { codec, view, count } = this.load(name);
    if (into !== undefined && (into.length !== count || (into instanceof Float64Array) !== (dtype === 'float64'))) {
      throw new SafetensorsError('INVALID_TENSOR', `readFloat(${JSON.stringify(name)}): the output array does not hold ${count} ${dtype} values`);
    }
    const out = into ?? (dtype === 'float32' ? new Float32Array(count) : new Float64Array(count));
    for (let i = 0; i < count; i++) out[i] = codec.get(view, i * codec.bytes);
    return out;
  }

  /** An integer (or BOOL) tensor as int32, e.g. token ids; every value must fit in int32. */
  readInt(name: string): Int32Array {
    const { codec, view, count, info } = this.load(name);
    if (!codec.integer) {
      throw new SafetensorsError('WRONG_DTYPE', `tensor ${JSON.stringify(name)} has dtype ${info.dtype}, expected an integer dtype`);
    }
    const out = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      const value = codec.get(view, i * codec.bytes);
      if (value < INT32_MIN || value > INT32_MAX) {
        throw new SafetensorsError('INT_OUT_OF_RANGE', `tensor ${JSON.stringify(name)}: element ${i} (${value}) does not fit in int32`);
      }
      out[i] = value;
    }
    return out;
  }

  /**
   * The bit patterns of an F16 or BF16 tensor, into `out` when given (Uint16Array of its size):
   * one copy from the file's bytes, no per-element decoding on little-endian hosts.
   */
  readHalfBits(name: string, out?: Uint16Array): Uint16Array {
    const { view, count, info } = this.load(name);
    if (info.dtype !== 'F16' && info.dtype !== 'BF16') {
      throw new SafetensorsError('WRONG_DTYPE', `tensor ${JSON.stringify(name)} has dtype ${info.dtype}, expected F16 or BF16`);
    }
    if (out !== undefined && out.length !== count) {
      throw new SafetensorsError('INVALID_TENSOR', `readHalfBits(${JSON.stringify(name)}): the output array does not hold ${count} values`);
    }
    const bits = out ?? new Uint16Array(count);
    if (LITTLE_ENDIAN && view.byteOffset % 2 === 0) bits.set(new Uint16Array(view.buffer, view.byteOffset, count));
    else for (let i = 0; i < count; i++) bits[i] = view.getUint16(2 * i, true);
    return bits;
  }

  /** The tensor in its stored dtype, without conversion. */
  readRaw(name: string): RawTensor {
    const { codec, view, count, info } = this.load(name);
    return { dtype: info.dtype, shape: info.shape, data: codec.raw(view, count) };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.source.close?.();
  }

  /** Fetches a tensor's bytes and its codec; element count follows from the validated size. */
  private load(name: string): { info: TensorInfo; codec: Codec; view: DataView; count: number } {
    if (this.closed) throw new SafetensorsError('CLOSED', `cannot read ${JSON.stringify(name)}: the reader is closed`);
    const info = this.info(name);
    if (!isSupportedDType(info.dtype)) {
      throw new SafetensorsError('UNSUPPORTED_DTYPE', `unsupported dtype ${info.dtype} for tensor ${JSON.stringify(name)}`);
    }
    const codec = codecOf(info.dtype);
    const bytes = this.source.read(this.header.dataStart + info.byteOffset, info.byteLength);
    return { info, codec, view: viewOf(bytes), count: info.byteLength / codec.bytes };
  }
}
