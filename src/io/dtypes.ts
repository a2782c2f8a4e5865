// safetensors dtypes: names, sizes, and per-element codecs for the ones this library reads
// and writes. Pure module. All data is little-endian; DataView handles any alignment.
import { bf16ToNumber, f16ToNumber, numberToBf16, numberToF16 } from './half.js';

/** Every dtype name the reference implementation accepts (exact, uppercase), with its bit size. */
export const DTYPE_BITS = {
  BOOL: 8, U8: 8, I8: 8, I16: 16, U16: 16, I32: 32, U32: 32, I64: 64, U64: 64,
  F16: 16, BF16: 16, F32: 32, F64: 64, C64: 64,
  F8_E5M2: 8, F8_E4M3: 8, F8_E8M0: 8, F8_E4M3FNUZ: 8, F8_E5M2FNUZ: 8,
  F4: 4, F6_E2M3: 6, F6_E3M2: 6,
} as const;

/** A safetensors dtype name. */
export type StDType = keyof typeof DTYPE_BITS;

export function isStDType(name: string): name is StDType {
  return Object.hasOwn(DTYPE_BITS, name);
}

/** Typed array returned by raw reads; F16/BF16 come back as their raw Uint16 bit patterns. */
export type RawArray =
  | Float64Array | Float32Array | BigInt64Array | BigUint64Array | Int32Array | Uint32Array
  | Int16Array | Uint16Array | Int8Array | Uint8Array;

/** How one element of a dtype is read and written. */
export interface Codec {
  readonly bytes: number;
  /** True for integer and BOOL dtypes (what `readInt` accepts). */
  readonly integer: boolean;
  /** The element at `offset` as a number (64-bit integers beyond 2^53 are rounded). */
  get(view: DataView, offset: number): number;
  /** Writes `value` at `offset`; returns false (writing nothing) if the dtype cannot hold it. */
  set(view: DataView, offset: number, value: number | bigint): boolean;
  /** All `n` elements in the dtype's natural typed array. */
  raw(view: DataView, n: number): RawArray;
}

type NumberArray = Exclude<RawArray, BigInt64Array | BigUint64Array>;

function fillNumbers<A extends NumberArray>(out: A, bytes: number, view: DataView, get: Codec['get']): A {
  for (let i = 0; i < out.length; i++) out[i] = get(view, i * bytes);
  return out;
}

function floatCodec(
  bytes: number,
  get: Codec['get'],
  put: (view: DataView, offset: number, x: number) => void,
  make: (n: number) => NumberArray,
): Codec {
  return {
    bytes, integer: false, get,
    set: (view, offset, value) => (put(view, offset, Number(value)), true),
    raw: (view, n) => fillNumbers(make(n), bytes, view, get),
  };
}

/** 16-bit float: `get` decodes, `raw` keeps the bit patterns. */
function halfCodec(decode: (bits: number) => number, encode: (x: number) => number): Codec {
  const bits = (view: DataView, offset: number): number => view.getUint16(offset, true);
  return {
    bytes: 2, integer: false,
    get: (view, offset) => decode(bits(view, offset)),
    set: (view, offset, value) => (view.setUint16(offset, encode(Number(value)), true), true),
    raw: (view, n) => fillNumbers(new Uint16Array(n), 2, view, bits),
  };
}

/** Integers of at most 32 bits: values must be integers within [min, max]. */
function smallIntCodec(
  bytes: number, min: number, max: number,
  get: Codec['get'],
  put: (view: DataView, offset: number, x: number) => void,
  make: (n: number) => NumberArray,
): Codec {
  return {
    bytes, integer: true, get,
    set(view, offset, value) {
      const x = Number(value);
      if (!Number.isInteger(x) || x < min || x > max) return false;
      put(view, offset, x);
      return true;
    },
    raw: (view, n) => fillNumbers(make(n), bytes, view, get),
  };
}

/** 64-bit integers: read as BigInt; numbers written must be integers in range. */
function bigIntCodec(signed: boolean): Codec {
  const min = signed ? -(2n ** 63n) : 0n;
  const max = signed ? 2n ** 63n - 1n : 2n ** 64n - 1n;
  const getBig = (view: DataView, offset: number): bigint =>
    signed ? view.getBigInt64(offset, true) : view.getBigUint64(offset, true);
  return {
    bytes: 8, integer: true,
    get: (view, offset) => Number(getBig(view, offset)),
    set(view, offset, value) {
      if (typeof value === 'number' && !Number.isInteger(value)) return false;
      const x = BigInt(value);
      if (x < min || x > max) return false;
      if (signed) view.setBigInt64(offset, x, true);
      else view.setBigUint64(offset, x, true);
      return true;
    },
    raw(view, n) {
      const out = signed ? new BigInt64Array(n) : new BigUint64Array(n);
      for (let i = 0; i < n; i++) out[i] = getBig(view, i * 8);
      return out;
    },
  };
}

/** BOOL is one byte; any non-zero byte reads as true (1), any non-zero value writes 1. */
const boolCodec: Codec = {
  bytes: 1, integer: true,
  get: (view, offset) => (view.getUint8(offset) === 0 ? 0 : 1),
  set: (view, offset, value) => (view.setUint8(offset, value === 0 || value === 0n ? 0 : 1), true),
  raw: (view, n) => fillNumbers(new Uint8Array(n), 1, view, boolCodec.get),
};

const CODECS = {
  F64: floatCodec(8, (v, o) => v.getFloat64(o, true), (v, o, x) => v.setFloat64(o, x, true), (n) => new Float64Array(n)),
  F32: floatCodec(4, (v, o) => v.getFloat32(o, true), (v, o, x) => v.setFloat32(o, x, true), (n) => new Float32Array(n)),
  F16: halfCodec(f16ToNumber, numberToF16),
  BF16: halfCodec(bf16ToNumber, numberToBf16),
  I64: bigIntCodec(true),
  U64: bigIntCodec(false),
  I32: smallIntCodec(4, -(2 ** 31), 2 ** 31 - 1, (v, o) => v.getInt32(o, true), (v, o, x) => v.setInt32(o, x, true), (n) => new Int32Array(n)),
  U32: smallIntCodec(4, 0, 2 ** 32 - 1, (v, o) => v.getUint32(o, true), (v, o, x) => v.setUint32(o, x, true), (n) => new Uint32Array(n)),
  I16: smallIntCodec(2, -(2 ** 15), 2 ** 15 - 1, (v, o) => v.getInt16(o, true), (v, o, x) => v.setInt16(o, x, true), (n) => new Int16Array(n)),
  U16: smallIntCodec(2, 0, 2 ** 16 - 1, (v, o) => v.getUint16(o, true), (v, o, x) => v.setUint16(o, x, true), (n) => new Uint16Array(n)),
  I8: smallIntCodec(1, -(2 ** 7), 2 ** 7 - 1, (v, o) => v.getInt8(o), (v, o, x) => v.setInt8(o, x), (n) => new Int8Array(n)),
  U8: smallIntCodec(1, 0, 2 ** 8 - 1, (v, o) => v.getUint8(o), (v, o, x) => v.setUint8(o, x), (n) => new Uint8Array(n)),
  BOOL: boolCodec,
} satisfies Partial<Record<StDType, Codec>>;

/** A dtype this library can read and write. */
export type SupportedDType = keyof typeof CODECS;

export function isSupportedDType(dtype: string): dtype is SupportedDType {
  return Object.hasOwn(CODECS, dtype);
}

export function codecOf(dtype: SupportedDType): Codec {
  return CODECS[dtype];
}
