// Colour scales for heatmaps and token relevance. Pure (no Node APIs): also runs in the viewer.
import {
  interpolateViridis, interpolateMagma, interpolateInferno, interpolatePlasma, interpolateCividis,
  interpolateTurbo, interpolateBlues, interpolateReds, interpolateOranges, interpolateYlOrRd,
  interpolateGreys, interpolateRdBu, interpolatePuOr, interpolatePiYG, interpolateBrBG,
  schemeTableau10,
} from 'd3-scale-chromatic';

export type RGB = [number, number, number];

export type SequentialName =
  | 'viridis' | 'magma' | 'inferno' | 'plasma' | 'cividis' | 'turbo'
  | 'blues' | 'reds' | 'oranges' | 'ylorrd' | 'greys';
/** Diverging maps, oriented so that negative values are cool (blue/purple/…) and positive warm. */
export type DivergingName = 'rdbu' | 'puor' | 'piyg' | 'brbg';
export type ColormapName = SequentialName | DivergingName;

/** A colour scale over a fixed numeric domain: [0, 1] (sequential) or [-1, 1] (diverging). */
export interface Colormap {
  readonly name: ColormapName;
  readonly kind: 'sequential' | 'diverging';
  readonly domain: readonly [number, number];
  /** Colour of `v` (clamped to the domain; NaN gives `nanColor`). */
  rgb(v: number): RGB;
  /** Same as `rgb`, as '#rrggbb'. */
  hex(v: number): string;
  /**
   * `n` colours evenly spaced over the domain, packed as r,g,b bytes (length 3n): a lookup
   * table for rasterising large matrices. Entry k is the colour of domain[0] + k/(n-1)·span.
   */
  lut(n?: number): Uint8Array;
}

/** Colour used for NaN / non-finite values. */
export const NAN_RGB: RGB = [255, 0, 255];
/** Neutral light grey for cells that are not part of the data (future positions). */
export const MASK_RGB: RGB = [228, 228, 228];
/** The same, a little darker, for diverging maps (whose centre is near white). */
export const MASK_RGB_DIVERGING: RGB = [212, 212, 212];

/** Default sequential map for |H| and for relevance in [0, 1]. */
export const DEFAULT_SEQUENTIAL: SequentialName = 'viridis';
/** Default diverging map for signed values in [-1, 1] (RdBu reversed: blue < 0 < red). */
export const DEFAULT_DIVERGING: DivergingName = 'rdbu';
/**
 * Default map for token relevance shown as a background behind text: light for low relevance,
 * so unimportant tokens stay readable and important ones stand out.
 */
export const DEFAULT_RELEVANCE: SequentialName = 'oranges';

const SEQUENTIAL: Record<SequentialName, (t: number) => string> = {
  viridis: interpolateViridis,
  magma: interpolateMagma,
  inferno: interpolateInferno,
  plasma: interpolatePlasma,
  cividis: interpolateCividis,
  turbo: interpolateTurbo,
  blues: interpolateBlues,
  reds: interpolateReds,
  oranges: interpolateOranges,
  ylorrd: interpolateYlOrRd,
  greys: interpolateGreys,
};

// d3's diverging maps run warm (t=0) → cool (t=1); we reverse them so -1 is cool and +1 warm.
const DIVERGING: Record<DivergingName, (t: number) => string> = {
  rdbu: interpolateRdBu,
  puor: interpolatePuOr,
  piyg: interpolatePiYG,
  brbg: interpolateBrBG,
};

export function isSequentialName(name: string): name is SequentialName {
  return Object.prototype.hasOwnProperty.call(SEQUENTIAL, name);
}
export function isDivergingName(name: string): name is DivergingName {
  return Object.prototype.hasOwnProperty.call(DIVERGING, name);
}
export const SEQUENTIAL_NAMES = Object.keys(SEQUENTIAL) as SequentialName[];
export const DIVERGING_NAMES = Object.keys(DIVERGING) as DivergingName[];

/** Parse '#rgb', '#rrggbb' or 'rgb(r, g, b)' into [r, g, b] bytes. */
export function parseColor(css: string): RGB {
  const s = css.trim();
  let m = /^#([0-9a-f]{6})$/i.exec(s);
  if (m) {
    const n = parseInt(m[1]!, 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  }
  m = /^#([0-9a-f]{3})$/i.exec(s);
  if (m) {
    const h = m[1]!;
    return [0, 1, 2].map((i) => parseInt(h[i]! + h[i]!, 16)) as RGB;
  }
  m = /^rgba?\(\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)/i.exec(s);
  if (m) return [clampByte(+m[1]!), clampByte(+m[2]!), clampByte(+m[3]!)];
  throw new Error(`cannot parse colour '${css}'`);
}

function clampByte(v: number): number {
  return Math.max(0, Math.min(255, Math.round(v)));
}

/** [r, g, b] → '#rrggbb'. */
export function rgbToHex(rgb: readonly number[]): string {
  return '#' + [0, 1, 2].map((i) => clampByte(rgb[i] ?? 0).toString(16).padStart(2, '0')).join('');
}

/** WCAG relative luminance of an sRGB colour, in [0, 1]. */
export function relativeLuminance(rgb: readonly number[]): number {
  const lin = (c: number) => {
    const s = c / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(rgb[0]!) + 0.7152 * lin(rgb[1]!) + 0.0722 * lin(rgb[2]!);
}

/** Black or white, whichever contrasts more with the background `rgb`. */
export function contrastText(rgb: readonly number[]): RGB {
  const L = relativeLuminance(rgb);
  // contrast with black: (L+0.05)/0.05; with white: 1.05/(L+0.05). Equal at L ≈ 0.179.
  return L > 0.179 ? [0, 0, 0] : [255, 255, 255];
}

function makeColormap(name: ColormapName, kind: 'sequential' | 'diverging', f: (t: number) => string): Colormap {
  const domain: readonly [number, number] = kind === 'sequential' ? [0, 1] : [-1, 1];
  const toT = kind === 'sequential'
    ? (v: number) => Math.max(0, Math.min(1, v))
    : (v: number) => 1 - (Math.max(-1, Math.min(1, v)) + 1) / 2;
  const rgb = (v: number): RGB => (Number.isNaN(v) ? [...NAN_RGB] as RGB : parseColor(f(toT(v))));
  return {
    name,
    kind,
    domain,
    rgb,
    hex: (v: number) => rgbToHex(rgb(v)),
    lut(n = 256): Uint8Array {
      if (!Number.isInteger(n) || n < 2) throw new Error(`colormap lut size must be an integer ≥ 2, got ${n}`);
      const out = new Uint8Array(3 * n);
      for (let k = 0; k < n; k++) {
        const c = rgb(domain[0] + ((domain[1] - domain[0]) * k) / (n - 1));
        out[3 * k] = c[0]; out[3 * k + 1] = c[1]; out[3 * k + 2] = c[2];
      }
      return out;
    },
  };
}

const cache = new Map<string, Colormap>();

/** A colour map by name (sequential names give domain [0,1], diverging names [-1,1]). */
export function colormap(name: ColormapName): Colormap {
  let c = cache.get(name);
  if (c) return c;
  if (isSequentialName(name)) c = makeColormap(name, 'sequential', SEQUENTIAL[name]);
  else if (isDivergingName(name)) c = makeColormap(name, 'diverging', DIVERGING[name]);
  else throw new Error(`unknown colour map '${String(name)}' (known: ${[...SEQUENTIAL_NAMES, ...DIVERGING_NAMES].join(', ')})`);
  cache.set(name, c);
  return c;
}

/** Sequential map over [0, 1] (default viridis). */
export function sequential(name: SequentialName = DEFAULT_SEQUENTIAL): Colormap {
  return colormap(name);
}

/** Diverging map over [-1, 1], symmetric around 0 (default RdBu reversed). */
export function diverging(name: DivergingName = DEFAULT_DIVERGING): Colormap {
  return colormap(name);
}

/** Colour of t ∈ [0, 1] on the sequential map, as [r, g, b]. */
export function sequentialRgb(t: number, name: SequentialName = DEFAULT_SEQUENTIAL): RGB {
  return colormap(name).rgb(t);
}
/** Colour of t ∈ [0, 1] on the sequential map, as '#rrggbb'. */
export function sequentialHex(t: number, name: SequentialName = DEFAULT_SEQUENTIAL): string {
  return colormap(name).hex(t);
}
/** Colour of v ∈ [-1, 1] on the diverging map, as [r, g, b]. */
export function divergingRgb(v: number, name: DivergingName = DEFAULT_DIVERGING): RGB {
  return colormap(name).rgb(v);
}
/** Colour of v ∈ [-1, 1] on the diverging map, as '#rrggbb'. */
export function divergingHex(v: number, name: DivergingName = DEFAULT_DIVERGING): string {
  return colormap(name).hex(v);
}

/** Categorical colours for line plots (Tableau 10). */
export const CATEGORICAL: readonly string[] = [...schemeTableau10];
