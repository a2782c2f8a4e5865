/**
 * Pictures of an image model: the input image, a patch map laid over it, the ground-truth
 * mask, and the mask's outline. A map tints each P×P patch of a lightened grey copy of the
 * image with its value's colour from the same scales as the text views — orange for
 * relevance, blue–red when signed, viridis for attention — with an opacity that grows with
 * |value| (relevance: irrelevant patches leave the image visible) or a fixed one (attention).
 * Pixels are drawn at their own resolution and scaled up without smoothing, so one patch is
 * one visible block, as the hover read-out names it.
 */
import type { ColorScale } from './colors.ts';
import { colorInto, shape } from './colors.ts';
import { sizeCanvas } from './heatmap.ts';

/** Bytes of a base64 string. */
export function bytesOf(base64: string): Uint8Array {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** A file's bytes as base64 (chunked, so large files do not overflow the argument list). */
export function base64Of(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** The image on screen: S×S RGB pixels [S, S, 3], a G×G patch grid. */
export interface ImageData3 {
  rgb: Uint8Array;
  size: number;
  grid: number;
}

/** How opaque a map is over the image: growing with |value| up to 0.85, or a fixed opacity. */
export type Opacity = 'value' | number;

const MAX_ALPHA = 0.85;

/** An S×S offscreen canvas: the image with the patch map `values` [G·G] over it (no map: the image alone, in colour). */
function compose(img: ImageData3, values: ArrayLike<number> | null, scale: ColorScale | null, opacity: Opacity): HTMLCanvasElement {
  const { rgb, size: S, grid: G } = img;
  const P = S / G;
  const canvas = document.createElement('canvas');
  canvas.width = S;
  canvas.height = S;
  const ctx = canvas.getContext('2d')!;
  const out = ctx.createImageData(S, S);
  const px = out.data;
  const colour = new Uint8ClampedArray(3);
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      const i = y * S + x;
      if (values === null || scale === null) {
        for (let c = 0; c < 3; c++) px[4 * i + c] = rgb[3 * i + c];
        px[4 * i + 3] = 255;
        continue;
      }
      // Under a map the image is a light grey copy, so the map's colours read on any image.
      const grey = 110 + 0.55 * (0.299 * rgb[3 * i] + 0.587 * rgb[3 * i + 1] + 0.114 * rgb[3 * i + 2]);
      let alpha = 0;
      const v = values[Math.floor(y / P) * G + Math.floor(x / P)];
      if (Number.isFinite(v)) {
        colorInto(scale, v, colour, 0);
        alpha = opacity === 'value' ? MAX_ALPHA * Math.abs(shape(v / scale.scale, scale.curve)) : opacity;
      }
      for (let c = 0; c < 3; c++) px[4 * i + c] = Math.round((1 - alpha) * grey + alpha * colour[c]);
      px[4 * i + 3] = 255;
    }
  }
  ctx.putImageData(out, 0, 0);
  return canvas;
}

/** Draws the image (with a map over it, when given) at `side` CSS pixels; `mask` [S·S] adds the object's outline. */
export function drawImageMap(
  canvas: HTMLCanvasElement,
  img: ImageData3,
  side: number,
  values: ArrayLike<number> | null,
  scale: ColorScale | null,
  options: { mask?: Uint8Array | null; opacity?: Opacity } = {},
): void {
  const ctx = sizeCanvas(canvas, side, side);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(compose(img, values, scale, options.opacity ?? 'value'), 0, 0, side, side);
  const mask = options.mask ?? null;
  if (mask !== null) outline(ctx, mask, img.size, side);
  canvas.dataset.side = String(side);
  canvas.dataset.grid = String(img.grid);
}

/** The ground-truth mask: the object white, the background dark grey. */
export function drawMask(canvas: HTMLCanvasElement, mask: Uint8Array, size: number, side: number): void {
  const offscreen = document.createElement('canvas');
  offscreen.width = size;
  offscreen.height = size;
  const octx = offscreen.getContext('2d')!;
  const out = octx.createImageData(size, size);
  for (let i = 0; i < size * size; i++) {
    const v = mask[i] ? 255 : 52;
    out.data[4 * i] = v;
    out.data[4 * i + 1] = v;
    out.data[4 * i + 2] = v;
    out.data[4 * i + 3] = 255;
  }
  octx.putImageData(out, 0, 0);
  const ctx = sizeCanvas(canvas, side, side);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(offscreen, 0, 0, side, side);
}

/** The boundary between object and background pixels, as thin lines. */
function outline(ctx: CanvasRenderingContext2D, mask: Uint8Array, S: number, side: number): void {
  const k = side / S;
  ctx.save();
  ctx.strokeStyle = 'rgba(255, 255, 255, 0.95)';
  ctx.lineWidth = 1.5;
  ctx.setLineDash([3, 2]);
  ctx.beginPath();
  const segment = (x0: number, y0: number, x1: number, y1: number) => {
    ctx.moveTo(x0 * k, y0 * k);
    ctx.lineTo(x1 * k, y1 * k);
  };
  const on = (x: number, y: number) => x >= 0 && y >= 0 && x < S && y < S && mask[y * S + x] === 1;
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      if (!on(x, y)) continue;
      if (!on(x - 1, y)) segment(x, y, x, y + 1);
      if (!on(x + 1, y)) segment(x + 1, y, x + 1, y + 1);
      if (!on(x, y - 1)) segment(x, y, x + 1, y);
      if (!on(x, y + 1)) segment(x, y + 1, x + 1, y + 1);
    }
  }
  ctx.stroke();
  ctx.restore();
}

/**
 * What a map is drawn as: a signed map as it is (blue–red around 0, scaled by its largest
 * |value|); a non-negative one min–max scaled to [0, 1] (the common offset of some recipes
 * would otherwise wash every patch out), with `lo`/`hi` the values the colour bar's ends stand for.
 */
export function displayMap(values: readonly number[], sequential: ColorScale, diverging: ColorScale): { values: ArrayLike<number>; scale: ColorScale; lo: number; hi: number } {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!Number.isFinite(lo)) return { values, scale: sequential, lo: 0, hi: 0 };
  if (lo < 0) {
    const m = Math.max(-lo, hi) || 1;
    return { values, scale: { ...diverging, scale: m }, lo: -m, hi: m };
  }
  const range = hi - lo;
  return { values: values.map((v) => (range > 0 ? (v - lo) / range : 0)), scale: { ...sequential, scale: 1 }, lo, hi };
}

/** The patch (row i, column j) under CSS pixel (x, y) of a map drawn at `side` pixels, or null outside. */
export function hitPatch(side: number, grid: number, x: number, y: number): { i: number; j: number } | null {
  if (x < 0 || y < 0 || x >= side || y >= side) return null;
  return { i: Math.min(grid - 1, Math.floor((y / side) * grid)), j: Math.min(grid - 1, Math.floor((x / side) * grid)) };
}
