// Node-only file helpers: a ByteSource over a file (positional reads, nothing loaded up
// front) and atomic file writes.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkRange, type ByteSource } from './bytes.js';
import { SafetensorsError } from './safetensors-error.js';

/** A SafetensorsError for a failed file operation; ByteSource readers expect only those. */
export const ioError = (what: string, cause: unknown): SafetensorsError =>
  new SafetensorsError('IO_ERROR', `${what}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });

/** Opens `file` for random-access reads; close() releases the descriptor. */
export function fileSource(file: string): ByteSource {
  const opened = openForReading(file);
  let fd: number | null = opened.fd;
  return {
    size: opened.size,
    read(offset: number, length: number): Uint8Array {
      checkRange(opened.size, offset, length);
      if (fd === null) throw new SafetensorsError('CLOSED', `${file} is closed`);
      return readFully(fd, file, offset, length);
    },
    close(): void {
      if (fd !== null) fs.closeSync(fd);
      fd = null;
    },
  };
}

function openForReading(file: string): { fd: number; size: number } {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    return { fd, size: fs.fstatSync(fd).size };
  } catch (cause) {
    if (fd !== undefined) fs.closeSync(fd);
    throw ioError(`cannot open ${file}`, cause);
  }
}

/** readSync may return fewer bytes than asked; loop until done (0 bytes = file shrank). */
function readFully(fd: number, file: string, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    let n: number;
    try {
      n = fs.readSync(fd, out, done, length - done, offset + done);
    } catch (cause) {
      throw ioError(`cannot read ${file}`, cause);
    }
    if (n === 0) throw ioError(`cannot read ${file}`, `file ended at byte ${offset + done}`);
    done += n;
  }
  return out;
}

/** A unique temporary name next to `file` (same directory, so rename stays atomic). */
export function temporarySibling(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/**
 * Writes `data` to `file` atomically: a temporary file in the same directory is written,
 * flushed to disk and renamed over `file`, so readers see the old file or the new one,
 * never a half-written one. Throws Node's own error (the temporary file removed).
 */
export function writeFileAtomic(file: string, data: Uint8Array | string): void {
  const temporary = temporarySibling(file);
  try {
    const fd = fs.openSync(temporary, 'w');
    try {
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temporary, file);
  } catch (error) {
    fs.rmSync(temporary, { force: true });
    throw error;
  }
}
