// Small shared pieces of SVG output. Pure.
import { xmlEscape, fmt, estimateTextWidthEm } from './text.js';

/**
 * Default font stacks: the platform UI font, then fonts found on most Linux machines. Names are
 * unquoted on purpose: resvg (our PNG renderer) fails to match a quoted name that follows
 * ", " in a list, and does not resolve the generic 'monospace' reliably.
 */
export const FONT_FAMILY = 'system-ui, -apple-system, Segoe UI, Roboto, Helvetica Neue, Arial, DejaVu Sans, Liberation Sans, sans-serif';
export const MONO_FONT_FAMILY = 'ui-monospace, SFMono-Regular, Menlo, Consolas, DejaVu Sans Mono, Liberation Mono, monospace';

/** Make a CSS font-family list safe for resvg: no whitespace between a comma and a quoted name. */
export function normaliseFontFamily(family: string): string {
  return family.replace(/,\s+(?=['"])/g, ',');
}

export const INK = '#222222';
export const MUTED = '#666666';
export const FRAME = '#9a9a9a';

/** Build an attribute string from a record; values are XML-escaped, undefined/false skipped. */
export function attrs(a: Record<string, string | number | boolean | undefined>): string {
  let s = '';
  for (const [k, v] of Object.entries(a)) {
    if (v === undefined || v === false) continue;
    s += ` ${k}="${xmlEscape(typeof v === 'number' ? fmt(v) : String(v))}"`;
  }
  return s;
}

/** A `<text>` element with escaped content. */
export function text(x: number, y: number, content: string, a: Record<string, string | number | boolean | undefined> = {}): string {
  return `<text${attrs({ x, y, ...a })}>${xmlEscape(content)}</text>`;
}

/** Open the root element (with a white background unless `background` is 'none'). */
export function svgOpen(width: number, height: number, opts: { fontFamily?: string; fontSize?: number; background?: string; title?: string } = {}): string {
  const w = Math.ceil(width), h = Math.ceil(height);
  let s = `<svg xmlns="http://www.w3.org/2000/svg"${attrs({
    width: w, height: h, viewBox: `0 0 ${w} ${h}`,
    'font-family': normaliseFontFamily(opts.fontFamily ?? FONT_FAMILY),
    'font-size': opts.fontSize ?? 12,
    fill: INK,
  })}>`;
  if (opts.title) s += `<title>${xmlEscape(opts.title)}</title>`;
  const bg = opts.background ?? '#ffffff';
  if (bg !== 'none') s += `<rect${attrs({ width: w, height: h, fill: bg })}/>`;
  return s;
}

export function textWidth(s: string, fontSize: number): number {
  return estimateTextWidthEm(s) * fontSize;
}

let idCounter = 0;
/**
 * A fresh id for gradients and clip paths, so several SVGs can be inlined in one HTML page.
 * Deterministic within a process (a counter), so output is reproducible.
 */
export function uniqueId(prefix: string): string {
  idCounter = (idCounter + 1) % 1e9;
  return `${prefix}-${idCounter.toString(36)}`;
}

export interface ColorBarSpec {
  x: number;
  y: number;
  /** Thickness across the bar and its length along it. */
  thickness: number;
  length: number;
  orientation: 'vertical' | 'horizontal';
  /** Colour at position u ∈ [0, 1] along the bar (0 = bottom / left). */
  colorAt: (u: number) => string;
  /** Tick labels at positions u ∈ [0, 1]. */
  ticks: { u: number; label: string }[];
  caption?: string;
  fontSize: number;
  idPrefix?: string;
}

/** A colour bar drawn as a linear gradient with tick labels (right of / below the bar). */
export function colorBar(spec: ColorBarSpec): string {
  const id = uniqueId(spec.idPrefix ?? 'iattn-cbar');
  const vertical = spec.orientation === 'vertical';
  const n = 24;
  let stops = '';
  for (let k = 0; k <= n; k++) {
    const u = k / n;
    stops += `<stop offset="${fmt(u)}" stop-color="${spec.colorAt(u)}"/>`;
  }
  const grad = vertical
    ? `<linearGradient id="${id}" x1="0" y1="1" x2="0" y2="0">${stops}</linearGradient>`
    : `<linearGradient id="${id}" x1="0" y1="0" x2="1" y2="0">${stops}</linearGradient>`;
  const w = vertical ? spec.thickness : spec.length;
  const h = vertical ? spec.length : spec.thickness;
  let s = `<g class="colorbar"><defs>${grad}</defs>`;
  s += `<rect${attrs({ x: spec.x, y: spec.y, width: w, height: h, fill: `url(#${id})`, stroke: FRAME, 'stroke-width': 0.75 })}/>`;
  const fs = spec.fontSize;
  for (const t of spec.ticks) {
    if (vertical) {
      const ty = spec.y + (1 - t.u) * spec.length;
      s += `<line${attrs({ x1: spec.x + w, y1: ty, x2: spec.x + w + 3, y2: ty, stroke: MUTED, 'stroke-width': 0.75 })}/>`;
      s += text(spec.x + w + 5, ty, t.label, { dy: '0.35em', 'font-size': fs });
    } else {
      const tx = spec.x + t.u * spec.length;
      const anchor = t.u <= 0.001 ? 'start' : t.u >= 0.999 ? 'end' : 'middle';
      s += `<line${attrs({ x1: tx, y1: spec.y + h, x2: tx, y2: spec.y + h + 3, stroke: MUTED, 'stroke-width': 0.75 })}/>`;
      s += text(tx, spec.y + h + 4 + fs, t.label, { 'text-anchor': anchor, 'font-size': fs });
    }
  }
  if (spec.caption) {
    if (vertical) {
      // caption rotated along the right side, after the tick labels
      const maxLabel = Math.max(0, ...spec.ticks.map((t) => textWidth(t.label, fs)));
      const cx = spec.x + w + 9 + maxLabel + fs * 0.6;
      const cy = spec.y + spec.length / 2;
      s += text(0, 0, spec.caption, { transform: `translate(${fmt(cx)} ${fmt(cy)}) rotate(90)`, 'text-anchor': 'middle', 'font-size': fs, fill: MUTED });
    } else {
      s += text(spec.x + spec.length / 2, spec.y - 5, spec.caption, { 'text-anchor': 'middle', 'font-size': fs, fill: MUTED });
    }
  }
  return s + '</g>';
}

/** Width taken by a vertical colour bar with its labels and caption. */
export function colorBarWidth(thickness: number, tickLabels: string[], fontSize: number, caption: boolean): number {
  const maxLabel = Math.max(0, ...tickLabels.map((l) => textWidth(l, fontSize)));
  return thickness + 9 + maxLabel + (caption ? fontSize * 1.6 : 0);
}
