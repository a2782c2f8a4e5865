/**
 * Images for the vision models, pure: an RGB image as channel planes, resizing to a model's
 * input size, encoding [3, H, W] planes as PNG with the project's own encoder, and reading
 * a PNG's declared size from its header (without decoding it). Reading PNG files lives in
 * src/io/png.ts (Node: pngjs and the file system).
 */
import { encodePng, PNG_SIGNATURE } from '../viz/png-encoder.js';

/** An RGB image as channel planes [3, H, W] in [0, 1]. */
export interface RgbImage {
  width: number;
  height: number;
  pixels: Float32Array;
}

/** A bad image or image request (unreadable, not a PNG, too large, an unknown class); the message is for the user. */
export class ImageError extends Error {
  override name = 'ImageError';
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

/** [3, H, W] planes in [0, 1] → 8-bit RGB interleaved [H, W, 3]. */
export function rgbBytes(pixels: Float32Array, width: number, height: number): Uint8Array {
  const plane = width * height;
  const data = new Uint8Array(3 * plane);
  for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) data[3 * i + c] = Math.round(255 * Math.min(1, Math.max(0, pixels[c * plane + i])));
  return data;
}

/** [3, H, W] planes in [0, 1] → PNG bytes (8-bit RGB). */
export function encodeRgbPng(pixels: Float32Array, width: number, height: number): Uint8Array {
  return encodePng({ width, height, data: rgbBytes(pixels, width, height), colorType: 'rgb' });
}

/**
 * Width and height a PNG declares in its IHDR chunk (the first chunk, bytes 8 … 32), read
 * without decoding anything — so a size limit can refuse a huge image before it is inflated.
 */
export function pngDimensions(bytes: Uint8Array): { width: number; height: number } {
  const isPng = bytes.length >= 24 && PNG_SIGNATURE.every((b, i) => bytes[i] === b);
  if (!isPng) throw new ImageError('not a PNG image (the file does not start with the PNG signature)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunk = String.fromCharCode(...bytes.subarray(12, 16));
  if (chunk !== 'IHDR') throw new ImageError('not a readable PNG image (its first chunk is not IHDR)');
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  if (width === 0 || height === 0) throw new ImageError(`not a readable PNG image (it declares ${width}×${height} pixels)`);
  return { width, height };
}
