// Serialising tensors to safetensors bytes. Pure module.
import { viewOf } from './bytes.js';
import { codecOf, isSupportedDType, type Codec, type StDType } from './dtypes.js';
import { SafetensorsError } from './safetensors-error.js';

/** A tensor to write: row-major values, converted to `dtype` (floats rounded to nearest even). */
export interface TensorToWrite {
  dtype: StDType;
  shape: number[];
  data: ArrayLike<number> | ArrayLike<bigint>;
}

export type TensorsToWrite = Record<string, TensorToWrite>;

/** A checked tensor with its place in the data buffer. */
interface Placed {
  name: string;
  tensor: TensorToWrite;
  codec: Codec;
  byteLength: number;
  offset: number;
}

const METADATA_KEY = '__metadata__';

const invalid = (message: string): SafetensorsError => new SafetensorsError('INVALID_TENSOR', message);

function checkTensor(name: string, tensor: TensorToWrite): Placed {
  const where = `tensor ${JSON.stringify(name)}`;
  if (name === METADATA_KEY) throw invalid(`"${METADATA_KEY}" is reserved and cannot name a tensor`);
  if (!isSupportedDType(tensor.dtype)) {
    throw new SafetensorsError('UNSUPPORTED_DTYPE', `unsupported dtype ${tensor.dtype} for ${where}`);
  }
  if (!tensor.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw invalid(`${where}: shape [${tensor.shape}] must hold non-negative integers`);
  }
  const count = tensor.shape.reduce((a, b) => a * b, 1);
  if (tensor.data.length !== count) {
    throw invalid(`${where}: shape [${tensor.shape}] needs ${count} values, data has ${tensor.data.length}`);
  }
  const codec = codecOf(tensor.dtype);
  return { name, tensor, codec, byteLength: count * codec.bytes, offset: 0 };
}

/**
 * Checks every tensor and lays them out contiguously in the reference writer's order: larger
 * dtypes first, then by name. With the header padded to 8 bytes, every tensor is then
 * aligned to its element size within the file.
 */
function layout(tensors: TensorsToWrite): Placed[] {
  const placed = Object.entries(tensors).map(([name, tensor]) => checkTensor(name, tensor));
  placed.sort((a, b) => b.codec.bytes - a.codec.bytes || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let offset = 0;
  for (const p of placed) {
    p.offset = offset;
    offset += p.byteLength;
  }
  return placed;
}

/** Header JSON, built by hand so that a tensor named "__proto__" stays an ordinary key. */
function headerJson(placed: Placed[], metadata: Record<string, string> | undefined): string {
  const parts: string[] = [];
  if (metadata) parts.push(`${JSON.stringify(METADATA_KEY)}:${metadataJson(metadata)}`);
  for (const { name, tensor, offset, byteLength } of placed) {
    const entry = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, offset + byteLength] };
    parts.push(`${JSON.stringify(name)}:${JSON.stringify(entry)}`);
  }
  return `{${parts.join(',')}}`;
}

function metadataJson(metadata: Record<string, string>): string {
  const entries = Object.entries(metadata);
  for (const [key, value] of entries) {
    if (typeof value !== 'string') throw invalid(`metadata ${JSON.stringify(key)} must be a string`);
  }
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`;
}

/** Encodes one tensor's values into `view` starting at byte `start`. */
function writeData(view: DataView, start: number, { name, tensor, codec }: Placed): void {
  for (let i = 0; i < tensor.data.length; i++) {
    const value = tensor.data[i];
    if (!codec.set(view, start + i * codec.bytes, value)) {
      throw invalid(`tensor ${JSON.stringify(name)}: element ${i} (${value}) is not representable as ${tensor.dtype}`);
    }
  }
}

/** The complete safetensors file for `tensors`; the header is padded with spaces to a multiple of 8. */
export function serializeSafetensors(tensors: TensorsToWrite, metadata?: Record<string, string>): Uint8Array {
  const placed = layout(tensors);
  const json = new TextEncoder().encode(headerJson(placed, metadata));
  const headerLength = Math.ceil(json.length / 8) * 8;
  const dataStart = 8 + headerLength;
  const dataLength = placed.reduce((sum, p) => sum + p.byteLength, 0);
  const file = new Uint8Array(dataStart + dataLength);
  const view = viewOf(file);
  view.setBigUint64(0, BigInt(headerLength), true);
  file.set(json, 8);
  file.fill(0x20, 8 + json.length, dataStart); // spaces: JSON whitespace
  for (const p of placed) writeData(view, dataStart + p.offset, p);
  return file;
}
