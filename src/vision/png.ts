/**
 * PNG files for the vision commands (Node): reading any PNG through the maintained `pngjs`
 * package (8/16-bit, grey, palette, alpha, interlaced — decoded to 8-bit RGBA), resizing to a
 * model's input size, and writing [3, H, W] pixel planes with the project's own encoder.
 */
import * as fs from 'node:fs';
import { PNG } from 'pngjs';
import { writeFileAtomic } from '../io/node-file.js';
import { encodePng } from '../viz/png-encoder.js';

/** An RGB image as channel planes [3, H, W] in [0, 1]. */
export interface RgbImage {
  width: number;
  height: number;
  pixels: Float32Array;
}

export class ImageError extends Error {
  override name = 'ImageError';
}

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

/**
 * Resizes to size×size by area averaging (each output pixel the mean of a 4×4 grid of
 * bilinear samples inside its footprint): exact for the same size, smooth for other sizes.
 * Non-square images are stretched.
 */
export function resizeTo(img: RgbImage, size: number): Float32Array {
  if (img.width === size && img.height === size) return img.pixels.slice();
  const out = new Float32Array(3 * size * size);
  const plane = img.width * img.height;
  const sample = (c: number, x: number, y: number): number => {
    const fx = Math.min(Math.max(x - 0.5, 0), img.width - 1);
    const fy = Math.min(Math.max(y - 0.5, 0), img.height - 1);
    const [x0, y0] = [Math.floor(fx), Math.floor(fy)];
    const [x1, y1] = [Math.min(x0 + 1, img.width - 1), Math.min(y0 + 1, img.height - 1)];
    const [ax, ay] = [fx - x0, fy - y0];
    const at = (xx: number, yy: number) => img.pixels[c * plane + yy * img.width + xx];
    return (1 - ay) * ((1 - ax) * at(x0, y0) + ax * at(x1, y0)) + ay * ((1 - ax) * at(x0, y1) + ax * at(x1, y1));
  };
  const sub = 4;
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        let acc = 0;
        for (let j = 0; j < sub; j++) {
          for (let i = 0; i < sub; i++) {
            acc += sample(c, ((x + (i + 0.5) / sub) * img.width) / size, ((y + (j + 0.5) / sub) * img.height) / size);
          }
        }
        out[(c * size + y) * size + x] = acc / (sub * sub);
      }
    }
  }
  return out;
}

/** [3, H, W] planes in [0, 1] → PNG bytes (8-bit RGB). */
export function encodeRgbPng(pixels: Float32Array, width: number, height: number): Uint8Array {
  const plane = width * height;
  const data = new Uint8Array(3 * plane);
  for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) data[3 * i + c] = Math.round(255 * Math.min(1, Math.max(0, pixels[c * plane + i])));
  return encodePng({ width, height, data, colorType: 'rgb' });
}

export function writePng(file: string, pixels: Float32Array, width: number, height: number): void {
  writeFileAtomic(file, encodeRgbPng(pixels, width, height));
}
