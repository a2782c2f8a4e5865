// Random-access byte sources: the only thing the safetensors parser reads from.
// Pure module (no Node APIs), so it also works in a browser on an ArrayBuffer.

/** Random-access, read-only bytes (a file, a buffer, a remote blob with range reads). */
export interface ByteSource {
  /** Total length in bytes. */
  readonly size: number;
  /**
   * Returns `length` bytes starting at `offset`. The result may share memory with the source:
   * callers must not modify it. Throws RangeError outside [0, size].
   */
  read(offset: number, length: number): Uint8Array;
  /** Releases the underlying resource (file handle); later reads throw. */
  close?(): void;
}

/** Throws a RangeError unless [offset, offset + length) lies inside [0, size]. */
export function checkRange(size: number, offset: number, length: number): void {
  const ok =
    Number.isSafeInteger(offset) && Number.isSafeInteger(length) &&
    offset >= 0 && length >= 0 && offset + length <= size;
  if (!ok) throw new RangeError(`read of ${length} bytes at offset ${offset} is outside 0..${size}`);
}

/** A ByteSource over bytes already in memory; reads are zero-copy subarrays. */
export function memorySource(bytes: Uint8Array | ArrayBuffer): ByteSource {
  const data = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  return {
    size: data.byteLength,
    read(offset: number, length: number): Uint8Array {
      checkRange(data.byteLength, offset, length);
      return data.subarray(offset, offset + length);
    },
  };
}

/** A DataView over exactly the bytes of `bytes` (works at any, even unaligned, offset). */
export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
