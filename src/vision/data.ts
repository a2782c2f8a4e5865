/**
 * Synthetic shapes: small RGB images of one object (circle, square, triangle or cross) on a
 * cluttered background, with the object's exact pixel mask — ground truth for the
 * segmentation test of explanations (explain-and-evaluate.md §4). Pure TypeScript; image i
 * of a set seeded `seed` is a pure function of (seed, i), so a "data set" is just a seed and
 * a count, and any image can be regenerated alone.
 *
 * Recipe of one S×S image (pixel values in [0, 1], channel-major [3, S, S]):
 *  1. background: a linear gradient between two random colours, in a random direction;
 *  2. distractor texture: 4–7 one-pixel line segments and 6–12 dots of random colours, plus
 *     a striped patch (random period and orientation) over a random quarter of the image;
 *  3. the object: its class shape at a random centre (fully inside), radius r ∈ [S/6, S/3.5],
 *     rotation ±20°, a random colour at least 0.35 away (RGB distance) from the background
 *     under it, drawn over everything; mask = the pixels whose centre lies inside the shape;
 *  4. Gaussian pixel noise (σ = 0.05) everywhere, clamped to [0, 1].
 * The mask is exact: the object is drawn without anti-aliasing, on top of the clutter.
 */
import { Random, Tensor } from '../core/index.js';
import { foldSeed } from '../train/data.js';

export const SHAPE_CLASSES = ['circle', 'square', 'triangle', 'cross'] as const;
export type ShapeClass = (typeof SHAPE_CLASSES)[number];

export interface ShapeImage {
  /** [3, S, S] in [0, 1]. */
  pixels: Float32Array;
  /** [S, S], 1 on the object. */
  mask: Uint8Array;
  label: number;
  size: number;
}

/** Seeds of the project's fixed splits. */
export const TRAIN_SEED = 1;
export const TEST_SEED = 2;

type RGB = [number, number, number];

/** Image `index` of the set seeded `seed`. */
export function shapeImage(seed: number, index: number, size = 32): ShapeImage {
  const rng = new Random(foldSeed(seed, index));
  const label = rng.int(SHAPE_CLASSES.length);
  const pixels = new Float32Array(3 * size * size);
  const put = (x: number, y: number, c: RGB): void => {
    if (x < 0 || y < 0 || x >= size || y >= size) return;
    for (let ch = 0; ch < 3; ch++) pixels[(ch * size + y) * size + x] = c[ch];
  };
  // 1. background gradient
  const c0 = randomColor(rng);
  const c1 = randomColor(rng);
  const angle = rng.next() * 2 * Math.PI;
  const [ux, uy] = [Math.cos(angle), Math.sin(angle)];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const a = 0.5 + ((x - size / 2) * ux + (y - size / 2) * uy) / size;
      put(x, y, mix(c0, c1, Math.min(1, Math.max(0, a))));
    }
  }
  // 2. distractors: stripes over a quarter, lines, dots
  const stripe = randomColor(rng);
  const [sx, sy] = [rng.int(size / 2), rng.int(size / 2)];
  const period = 2 + rng.int(3);
  const diagonal = rng.next() < 0.5;
  for (let y = sy; y < sy + size / 2; y++) {
    for (let x = sx; x < sx + size / 2; x++) {
      if ((diagonal ? x + y : x) % period === 0) put(x, y, mix(pixelAt(pixels, size, x, y), stripe, 0.4));
    }
  }
  const lines = 4 + rng.int(4);
  for (let i = 0; i < lines; i++) {
    const c = randomColor(rng);
    const [x0, y0] = [rng.next() * size, rng.next() * size];
    const theta = rng.next() * 2 * Math.PI;
    const length = size * (0.2 + 0.4 * rng.next());
    for (let s = 0; s <= length; s += 0.5) put(Math.floor(x0 + s * Math.cos(theta)), Math.floor(y0 + s * Math.sin(theta)), c);
  }
  const dots = 6 + rng.int(7);
  for (let i = 0; i < dots; i++) {
    const c = randomColor(rng);
    const [x, y] = [rng.int(size), rng.int(size)];
    put(x, y, c);
    if (rng.next() < 0.5) put(x + 1, y, c);
  }
  // 3. the object
  const r = size / 5 + rng.next() * (size / 3.2 - size / 5);
  const margin = Math.ceil(r) + 1;
  const cx = margin + rng.next() * (size - 2 * margin);
  const cy = margin + rng.next() * (size - 2 * margin);
  const rotation = ((rng.next() * 2 - 1) * 10 * Math.PI) / 180;
  const inside = shapeTest(SHAPE_CLASSES[label], r, rotation);
  const mask = new Uint8Array(size * size);
  let under: RGB = [0, 0, 0];
  let count = 0;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (inside(x + 0.5 - cx, y + 0.5 - cy)) {
        mask[y * size + x] = 1;
        const p = pixelAt(pixels, size, x, y);
        under = [under[0] + p[0], under[1] + p[1], under[2] + p[2]];
        count++;
      }
    }
  }
  const mean: RGB = [under[0] / count, under[1] / count, under[2] / count];
  let color = randomColor(rng);
  for (let tries = 0; tries < 50 && distance(color, mean) < 0.35; tries++) color = randomColor(rng);
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) if (mask[y * size + x]) put(x, y, color);
  // 4. noise
  for (let i = 0; i < pixels.length; i++) pixels[i] = Math.min(1, Math.max(0, pixels[i] + 0.05 * rng.normal()));
  return { pixels, mask, label, size };
}

/** Inside-test of a class shape of "radius" r, rotated, in coordinates relative to its centre. */
function shapeTest(shape: ShapeClass, r: number, rotation: number): (dx: number, dy: number) => boolean {
  const [c, s] = [Math.cos(rotation), Math.sin(rotation)];
  const local = (dx: number, dy: number): [number, number] => [c * dx + s * dy, -s * dx + c * dy];
  switch (shape) {
    case 'circle':
      return (dx, dy) => dx * dx + dy * dy <= r * r;
    case 'square': {
      const half = 0.85 * r;
      return (dx, dy) => {
        const [x, y] = local(dx, dy);
        return Math.abs(x) <= half && Math.abs(y) <= half;
      };
    }
    case 'triangle': {
      // Equilateral, pointing up, circumradius 1.15 r: inside all three edges' half-planes.
      const R = 1.15 * r;
      const vertices = [0, 1, 2].map((k) => [R * Math.sin((2 * Math.PI * k) / 3), -R * Math.cos((2 * Math.PI * k) / 3)]);
      return (dx, dy) => {
        const [x, y] = local(dx, dy);
        return [0, 1, 2].every((k) => {
          const [ax, ay] = vertices[k];
          const [bx, by] = vertices[(k + 1) % 3];
          return (bx - ax) * (y - ay) - (by - ay) * (x - ax) >= 0;
        });
      };
    }
    case 'cross': {
      const arm = 0.32 * r;
      return (dx, dy) => {
        const [x, y] = local(dx, dy);
        return (Math.abs(x) <= arm && Math.abs(y) <= r) || (Math.abs(y) <= arm && Math.abs(x) <= r);
      };
    }
  }
}

function randomColor(rng: Random): RGB {
  return [rng.next(), rng.next(), rng.next()];
}

function mix(a: RGB, b: RGB, t: number): RGB {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

function distance(a: RGB, b: RGB): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
}

function pixelAt(pixels: Float32Array, size: number, x: number, y: number): RGB {
  return [pixels[y * size + x], pixels[(size + y) * size + x], pixels[(2 * size + y) * size + x]];
}

/** A batch of images of one set, normalised for a model: (x − mean) / std per channel. */
export interface ShapesBatch {
  /** [B, 3, S, S], normalised. */
  images: Tensor;
  labels: Int32Array;
  /** [B, S, S]. */
  masks: Uint8Array;
  /** The raw [0, 1] pixels [B, 3, S, S] (for pictures). */
  pixels: Float32Array;
}

export interface Normalisation {
  imageMean: number[];
  imageStd: number[];
}

/** Normalises [B, 3, S, S] pixels in [0, 1] into a model input of `dtype`. */
export function normalise(pixels: Float32Array, batch: number, size: number, norm: Normalisation, dtype: 'float32' | 'float64' = 'float32'): Tensor {
  const channels = norm.imageMean.length;
  const out = dtype === 'float64' ? new Float64Array(pixels.length) : new Float32Array(pixels.length);
  const plane = size * size;
  for (let b = 0; b < batch; b++) {
    for (let c = 0; c < channels; c++) {
      const o = (b * channels + c) * plane;
      for (let i = 0; i < plane; i++) out[o + i] = (pixels[o + i] - norm.imageMean[c]) / norm.imageStd[c];
    }
  }
  return new Tensor(out, [batch, channels, size, size]);
}

/** Images start … start + count − 1 of the set seeded `seed`. */
export function shapesBatch(seed: number, start: number, count: number, size: number, norm: Normalisation, dtype: 'float32' | 'float64' = 'float32'): ShapesBatch {
  const pixels = new Float32Array(count * 3 * size * size);
  const masks = new Uint8Array(count * size * size);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const img = shapeImage(seed, start + i, size);
    pixels.set(img.pixels, i * 3 * size * size);
    masks.set(img.mask, i * size * size);
    labels[i] = img.label;
  }
  return { images: normalise(pixels, count, size, norm, dtype), labels, masks, pixels };
}
