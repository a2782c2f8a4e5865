/**
 * Patch-level relevance maps as images: bilinear upsampling of a G×G map to S×S pixels
 * (PyTorch's F.interpolate(mode='bilinear', align_corners=False), as the official
 * segmentation test upsamples the 14×14 Vim map by 16), min–max scaling, and colour overlays.
 */
import { sequentialRgb } from '../viz/colormap.js';
import type { SequentialName } from '../viz/colormap.js';

/** [G·G] → [S·S] with S = G·factor, align_corners = False (edge-clamped source coordinates). */
export function upsampleBilinear(map: ArrayLike<number>, grid: number, factor: number): Float64Array {
  const S = grid * factor;
  const out = new Float64Array(S * S);
  const coord = (o: number) => Math.max((o + 0.5) / factor - 0.5, 0);
  for (let y = 0; y < S; y++) {
    const fy = coord(y);
    const y0 = Math.min(Math.floor(fy), grid - 1);
    const y1 = Math.min(y0 + 1, grid - 1);
    const ay = fy - y0;
    for (let x = 0; x < S; x++) {
      const fx = coord(x);
      const x0 = Math.min(Math.floor(fx), grid - 1);
      const x1 = Math.min(x0 + 1, grid - 1);
      const ax = fx - x0;
      out[y * S + x] =
        (1 - ay) * ((1 - ax) * map[y0 * grid + x0] + ax * map[y0 * grid + x1]) + ay * ((1 - ax) * map[y1 * grid + x0] + ax * map[y1 * grid + x1]);
    }
  }
  return out;
}

/** (x − min) / (max − min) into a copy; a constant map becomes all zeros. */
export function minMax(values: ArrayLike<number>): Float64Array {
  let [lo, hi] = [Infinity, -Infinity];
  for (let i = 0; i < values.length; i++) {
    if (values[i] < lo) lo = values[i];
    if (values[i] > hi) hi = values[i];
  }
  const range = hi - lo;
  return Float64Array.from(values as ArrayLike<number>, (v) => (range > 0 ? (v - lo) / range : 0));
}

/** A [0, 1] map (S×S) as [3, S, S] colour planes. */
export function colorize(map: ArrayLike<number>, size: number, colormap: SequentialName = 'inferno'): Float32Array {
  const plane = size * size;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    const rgb = sequentialRgb(map[i], colormap);
    for (let c = 0; c < 3; c++) out[c * plane + i] = rgb[c] / 255;
  }
  return out;
}

/** image·(1 − α) + colour(map)·α, per pixel, planes [3, S, S]. */
export function overlay(image: Float32Array, map: ArrayLike<number>, size: number, alpha = 0.55, colormap: SequentialName = 'inferno'): Float32Array {
  const colors = colorize(map, size, colormap);
  return Float32Array.from(image, (v, i) => (1 - alpha) * v + alpha * colors[i]);
}
