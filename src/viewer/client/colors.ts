/**
 * Colours of the viewer, from the project's colour maps (src/viz/colormap.ts): relevance on a
 * light sequential map (orange; diverging blue–red when a method gives signed scores),
 * attention matrices on viridis (diverging for signed reductions), and a display curve
 * (linear, square root or logarithmic) to bring out small weights next to a strong diagonal.
 */
import { colormap, contrastText, MASK_RGB, rgbToHex } from '../../viz/colormap.ts';
import type { RGB } from '../../viz/colormap.ts';

export type Curve = 'linear' | 'sqrt' | 'log';

const LUT_SIZE = 256;
const luts = new Map<string, Uint8Array>();

function lut(name: 'viridis' | 'oranges' | 'rdbu'): Uint8Array {
  let table = luts.get(name);
  if (table === undefined) {
    table = colormap(name).lut(LUT_SIZE);
    luts.set(name, table);
  }
  return table;
}

export const MASK: RGB = MASK_RGB;

/** How values map to colours: a LUT over [0, 1] (sequential) or [-1, 1] (diverging), a scale and a curve. */
export interface ColorScale {
  signed: boolean;
  /** Values are divided by this before the curve (the largest |value|). */
  scale: number;
  curve: Curve;
  table: Uint8Array;
}

export function shape(x: number, curve: Curve): number {
  const a = Math.min(1, Math.abs(x));
  const y = curve === 'sqrt' ? Math.sqrt(a) : curve === 'log' ? Math.log1p(99 * a) / Math.log(100) : a;
  return x < 0 ? -y : y;
}

/** A scale for values in [min, max]: sequential from 0 when none is negative, diverging around 0 otherwise. */
export function matrixScale(min: number, max: number, curve: Curve): ColorScale {
  const signed = min < 0;
  const scale = Math.max(Math.abs(min), Math.abs(max)) || 1;
  return { signed, scale, curve, table: lut(signed ? 'rdbu' : 'viridis') };
}

/** A scale for relevance scores: orange from 0 to the largest score; blue–red around 0 for signed scores. */
export function relevanceScale(scores: ArrayLike<number>, upTo: number): ColorScale {
  let lo = 0;
  let hi = 0;
  for (let i = 0; i <= upTo && i < scores.length; i++) {
    const v = scores[i];
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const signed = lo < 0;
  return { signed, scale: Math.max(-lo, hi) || 1, curve: 'linear', table: lut(signed ? 'rdbu' : 'oranges') };
}

/** Writes the colour of `v` into out[at..at+2] (NaN: the mask colour). */
export function colorInto(scale: ColorScale, v: number, out: Uint8ClampedArray, at: number): void {
  if (!Number.isFinite(v)) {
    out[at] = MASK[0];
    out[at + 1] = MASK[1];
    out[at + 2] = MASK[2];
    return;
  }
  const y = shape(v / scale.scale, scale.curve); // [-1, 1]
  const k = Math.round((scale.signed ? (y + 1) / 2 : Math.max(0, y)) * (LUT_SIZE - 1));
  out[at] = scale.table[3 * k];
  out[at + 1] = scale.table[3 * k + 1];
  out[at + 2] = scale.table[3 * k + 2];
}

export function colorOf(scale: ColorScale, v: number): RGB {
  const px = new Uint8ClampedArray(3);
  colorInto(scale, v, px, 0);
  return [px[0], px[1], px[2]];
}

export function cssColor(rgb: RGB): string {
  return rgbToHex(rgb);
}

/** Black or white text on `rgb`. */
export function textOn(rgb: RGB): string {
  return rgbToHex(contrastText(rgb));
}

/** A CSS linear-gradient of the scale (with its curve) from its lowest to its highest value, for colour bars. */
export function gradientCss(scale: ColorScale): string {
  const stops: string[] = [];
  for (let i = 0; i <= 10; i++) {
    const x = scale.signed ? -1 + (2 * i) / 10 : i / 10;
    stops.push(rgbToHex(colorOf({ ...scale, scale: 1 }, x)));
  }
  return `linear-gradient(to right, ${stops.join(', ')})`;
}
