/**
 * PNG files for the vision commands and the viewer (Node): decoding any PNG through the
 * maintained `pngjs` package (8/16-bit, grey, palette, alpha, interlaced — decoded to 8-bit
 * RGBA, alpha composited over white) into the planes of src/vision/image.ts, and reading and
 * writing PNG files.
 */
import * as fs from 'node:fs';
import { PNG } from 'pngjs';
import { encodeRgbPng, ImageError } from '../vision/image.js';
import type { RgbImage } from '../vision/image.js';
import { writeFileAtomic } from './node-file.js';

/** Decodes PNG bytes; alpha is composited over white. */
export function decodePng(bytes: Uint8Array): RgbImage {
  let png: { width: number; height: number; data: Uint8Array };
  try {
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (error) {
    throw new ImageError(`not a readable PNG image (${(error as Error).message})`);
  }
  const { width, height, data } = png;
  const plane = width * height;
  const pixels = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    const alpha = data[4 * i + 3] / 255;
    for (let c = 0; c < 3; c++) pixels[c * plane + i] = (data[4 * i + c] / 255) * alpha + (1 - alpha);
  }
  return { width, height, pixels };
}

export function readPng(file: string): RgbImage {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch {
    throw new ImageError(`cannot read image file ${file}`);
  }
  try {
    return decodePng(bytes);
  } catch (error) {
    throw new ImageError(`${file}: ${(error as Error).message}`);
  }
}

/** Writes [3, H, W] planes in [0, 1] as an 8-bit RGB PNG file. */
export function writePng(file: string, pixels: Float32Array, width: number, height: number): void {
  writeFileAtomic(file, encodeRgbPng(pixels, width, height));
}
