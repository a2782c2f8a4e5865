// safetensors for Node: everything from the pure modules, plus reading files on demand
// (`SafetensorsReader.open`) and atomic writes (`writeSafetensors`).
import { memorySource } from './bytes.js';
import { fileSource, ioError, writeFileAtomic } from './node-file.js';
import { SafetensorsReader as BaseReader } from './safetensors-reader.js';
import { serializeSafetensors, type TensorsToWrite } from './safetensors-writer.js';

export type { ByteSource } from './bytes.js';
export { memorySource } from './bytes.js';
export { DTYPE_BITS, isStDType, isSupportedDType, type RawArray, type StDType, type SupportedDType } from './dtypes.js';
export { SafetensorsError, type SafetensorsErrorCode } from './safetensors-error.js';
export { MAX_HEADER_LENGTH, type TensorInfo } from './safetensors-header.js';
export type { FloatKind, RawTensor } from './safetensors-reader.js';
export { serializeSafetensors, type TensorToWrite, type TensorsToWrite } from './safetensors-writer.js';
export { fileSource } from './node-file.js';

export class SafetensorsReader extends BaseReader {
  /** Opens a file: reads and validates the header now, each tensor when it is asked for. */
  static open(path: string): SafetensorsReader {
    return new SafetensorsReader(fileSource(path));
  }

  static override fromBytes(bytes: Uint8Array | ArrayBuffer): SafetensorsReader {
    return new SafetensorsReader(memorySource(bytes));
  }
}

/** Writes a safetensors file atomically (temporary file + rename). */
export function writeSafetensors(path: string, tensors: TensorsToWrite, metadata?: Record<string, string>): void {
  const bytes = serializeSafetensors(tensors, metadata);
  try {
    writeFileAtomic(path, bytes);
  } catch (cause) {
    throw ioError(`cannot write ${path}`, cause);
  }
}
