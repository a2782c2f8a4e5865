// The single error type of the safetensors reader and writer. Pure module.

/**
 * Why a file or a request was rejected. Header rules are listed in the order the reference
 * implementation (huggingface/safetensors) checks them; see docs in safetensors-header.ts.
 */
export type SafetensorsErrorCode =
  | 'HEADER_TOO_SMALL'          // fewer than 8 bytes
  | 'HEADER_TOO_LARGE'          // header length N > 100,000,000
  | 'INVALID_HEADER_LENGTH'     // 8 + N beyond the end of the file
  | 'INVALID_HEADER_UTF8'       // header bytes are not UTF-8
  | 'INVALID_HEADER_JSON'       // header is not JSON of the safetensors schema
  | 'INVALID_OFFSET'            // tensors not contiguous from 0 (gap, overlap, end < start)
  | 'VALIDATION_OVERFLOW'       // element count × dtype bits overflows 64 bits
  | 'MISALIGNED_SLICE'          // tensor size is not a whole number of bytes
  | 'TENSOR_INVALID_INFO'       // data_offsets span ≠ shape × dtype size
  | 'INCOMPLETE_BUFFER'         // data does not end exactly at the end of the file
  | 'TENSOR_NOT_FOUND'          // no tensor of that name
  | 'UNSUPPORTED_DTYPE'         // valid dtype name this library does not decode or encode
  | 'WRONG_DTYPE'               // e.g. readInt on a float tensor
  | 'INT_OUT_OF_RANGE'          // integer does not fit int32 (readInt)
  | 'INVALID_TENSOR'            // writer: bad name, shape, data length or value
  | 'IO_ERROR'                  // the file could not be opened, read or written
  | 'CLOSED';                   // reader used after close()

export class SafetensorsError extends Error {
  override readonly name = 'SafetensorsError';

  constructor(
    readonly code: SafetensorsErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
