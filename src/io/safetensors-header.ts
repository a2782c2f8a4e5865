// Parsing and validation of a safetensors header. Pure module.
//
// Layout: 8-byte little-endian u64 N, N bytes of UTF-8 JSON, then the data buffer. The checks
// follow the reference implementation (huggingface/safetensors `read_metadata`) in its order,
// one error code per rule, so that a file is accepted here iff the reference accepts it.
import { viewOf, type ByteSource } from './bytes.js';
import { DTYPE_BITS, isStDType, type StDType } from './dtypes.js';
import { SafetensorsError } from './safetensors-error.js';
import { JsonNumber, JsonSyntaxError, parseStrictJson, type JsonObject, type JsonValue } from './strict-json.js';

/** Largest header the reference accepts (bytes). */
export const MAX_HEADER_LENGTH = 100_000_000;
const METADATA_KEY = '__metadata__';
const U64_MAX = 2n ** 64n - 1n;

/** Where a tensor lives. `byteOffset` is relative to the start of the data buffer. */
export interface TensorInfo {
  dtype: StDType;
  shape: number[];
  byteOffset: number;
  byteLength: number;
}

export interface Header {
  /** Absolute file offset of the data buffer (8 + N). */
  dataStart: number;
  metadata: Record<string, string> | null;
  tensors: Map<string, TensorInfo>;
}

const invalidJson = (message: string): SafetensorsError =>
  new SafetensorsError('INVALID_HEADER_JSON', `invalid safetensors header: ${message}`);

/** Reads and fully validates the header of `source`; reads only the first 8 + N bytes. */
export function readHeader(source: ByteSource): Header {
  const headerLength = readHeaderLength(source);
  const text = decodeUtf8(source.read(8, headerLength));
  const { metadata, tensors } = parseSchema(text);
  const dataLength = validateLayout(tensors);
  // Rule 7: the data buffer must end exactly at the end of the file (no truncation, no tail).
  if (8 + headerLength + dataLength !== source.size) {
    throw new SafetensorsError(
      'INCOMPLETE_BUFFER',
      `incomplete buffer: header and tensors need ${8 + headerLength + dataLength} bytes, file has ${source.size}`,
    );
  }
  return { dataStart: 8 + headerLength, metadata, tensors };
}

/** Rules 1–3: the u64 header length, read as a BigInt so huge values cannot lose precision. */
function readHeaderLength(source: ByteSource): number {
  if (source.size < 8) {
    throw new SafetensorsError('HEADER_TOO_SMALL', `header too small: file has ${source.size} bytes, fewer than 8`);
  }
  const n = viewOf(source.read(0, 8)).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_LENGTH)) {
    throw new SafetensorsError('HEADER_TOO_LARGE', `header too large: ${n} bytes, limit ${MAX_HEADER_LENGTH}`);
  }
  if (8n + n > BigInt(source.size)) {
    throw new SafetensorsError(
      'INVALID_HEADER_LENGTH',
      `invalid header length: ${n} bytes of header do not fit in a ${source.size}-byte file`,
    );
  }
  return Number(n);
}

/** Rule 4: the header must be UTF-8 (a byte-order mark is kept, and then fails as JSON). */
function decodeUtf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (cause) {
    throw new SafetensorsError('INVALID_HEADER_UTF8', 'invalid header: not valid UTF-8', { cause });
  }
}

/** Rule 5: the JSON schema. Leading/trailing whitespace is JSON whitespace, so accepted. */
function parseSchema(text: string): Pick<Header, 'metadata' | 'tensors'> {
  const root = parseJson(text);
  if (!(root instanceof Map)) throw invalidJson('the top level is not a JSON object');
  let metadata: Record<string, string> | null = null;
  const tensors = new Map<string, TensorInfo>();
  for (const [name, value] of root) {
    if (name === METADATA_KEY) metadata = parseMetadata(value);
    else tensors.set(name, parseTensorEntry(name, value));
  }
  return { metadata, tensors };
}

function parseJson(text: string): JsonValue {
  try {
    return parseStrictJson(text);
  } catch (error) {
    if (error instanceof JsonSyntaxError) throw invalidJson(error.message);
    throw error;
  }
}

/** `__metadata__` is null or an object of string values (never a tensor entry). */
function parseMetadata(value: JsonValue): Record<string, string> | null {
  if (value === null) return null;
  if (value instanceof Map && [...value.values()].every((v) => typeof v === 'string')) {
    return Object.fromEntries(value) as Record<string, string>; // fromEntries defines own keys, "__proto__" included
  }
  if (value instanceof Map && value.has('data_offsets')) {
    throw invalidJson(`"${METADATA_KEY}" is reserved and cannot name a tensor`);
  }
  throw invalidJson(`"${METADATA_KEY}" must be null or an object of string values`);
}

function parseTensorEntry(name: string, value: JsonValue): TensorInfo {
  const where = `tensor ${JSON.stringify(name)}`;
  if (!(value instanceof Map)) throw invalidJson(`${where}: entry is not an object`);
  // Unknown fields are tolerated, as in the reference.
  const dtype = requireField(value, 'dtype', where);
  if (typeof dtype !== 'string') throw invalidJson(`${where}: dtype must be a string such as "F32"`);
  if (!isStDType(dtype)) {
    throw invalidJson(`${where}: unknown dtype ${JSON.stringify(dtype)} (names are exact and uppercase, e.g. "F32")`);
  }
  const shape = indexArray(requireField(value, 'shape', where));
  if (shape === null) throw invalidJson(`${where}: shape must be an array of non-negative integers`);
  const offsets = indexArray(requireField(value, 'data_offsets', where));
  if (offsets === null || offsets.length !== 2) {
    throw invalidJson(`${where}: data_offsets must be [start, end], two non-negative integers`);
  }
  const [start, end] = offsets as [number, number];
  // The span may be negative here; validateLayout rejects it with the reference's error.
  return { dtype, shape, byteOffset: start, byteLength: end - start };
}

function requireField(entry: JsonObject, field: string, where: string): JsonValue {
  const value = entry.get(field);
  if (value === undefined) throw invalidJson(`${where}: missing "${field}"`);
  return value;
}

/** The array as non-negative safe integers written without fraction or exponent, else null. */
function indexArray(value: JsonValue): number[] | null {
  if (!Array.isArray(value)) return null;
  const result: number[] = [];
  for (const item of value) {
    const index = item instanceof JsonNumber ? item.asIndex() : null;
    if (index === null) return null;
    result.push(index);
  }
  return result;
}

/**
 * Rule 6, per tensor in (start, end) order: contiguous from 0 without gaps or overlaps, then
 * the size checks. Returns the end of the last tensor (the data buffer length).
 */
function validateLayout(tensors: Map<string, TensorInfo>): number {
  const sorted = [...tensors].sort(
    ([, a], [, b]) => a.byteOffset - b.byteOffset || a.byteLength - b.byteLength,
  );
  let position = 0;
  for (const [name, info] of sorted) {
    const where = `tensor ${JSON.stringify(name)}`;
    if (info.byteOffset !== position || info.byteLength < 0) {
      const end = info.byteOffset + info.byteLength;
      throw new SafetensorsError(
        'INVALID_OFFSET',
        `invalid offset for ${where}: data_offsets [${info.byteOffset}, ${end}], expected to start at ${position} (tensors must be contiguous, end ≥ start)`,
      );
    }
    position += info.byteLength;
    checkByteLength(where, info);
  }
  return position;
}

/** Element count × dtype bits, with the reference's 64-bit overflow and whole-byte checks. */
function checkByteLength(where: string, info: TensorInfo): void {
  let bits = 1n;
  for (const dim of [...info.shape, DTYPE_BITS[info.dtype]]) {
    bits *= BigInt(dim);
    if (bits > U64_MAX) {
      throw new SafetensorsError('VALIDATION_OVERFLOW', `${where}: shape [${info.shape}] overflows 64-bit size arithmetic`);
    }
  }
  if (bits % 8n !== 0n) {
    throw new SafetensorsError('MISALIGNED_SLICE', `${where}: ${bits} bits of ${info.dtype} is not a whole number of bytes`);
  }
  if (BigInt(info.byteLength) !== bits / 8n) {
    throw new SafetensorsError(
      'TENSOR_INVALID_INFO',
      `${where}: data_offsets span ${info.byteLength} bytes, but ${info.dtype} [${info.shape}] needs ${bits / 8n}`,
    );
  }
}
