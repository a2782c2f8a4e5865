// Grouped horizontal bars: one row per category (e.g. a method), one bar per series (e.g. a
// model) in each row, optional ± error whiskers, several panels (metrics) side by side sharing
// the row labels, and a legend. Pure. Used for the vision summary figure of docs/results.md.
import { CATEGORICAL } from './colormap.js';
import { niceTicks } from './scale.js';
import { formatNumber, xmlEscape } from './text.js';
import { attrs, FRAME, INK, MUTED, svgOpen, text, textWidth } from './svg.js';

export interface BarPanel {
  /** The panel's heading, e.g. "mIoU ↑". */
  title: string;
  /** values[s][c]: series s, category c (NaN: no bar). */
  values: number[][];
  /** Optional ± half-widths of whiskers, same shape as values. */
  errors?: number[][];
  /** Axis range (default: from min(0, data) to the data's maximum, extended to nice numbers). */
  domain?: readonly [number, number];
}

export interface BarsOptions {
  categories: readonly string[];
  series: readonly { name: string; color?: string }[];
  panels: readonly BarPanel[];
  title?: string;
  subtitle?: string;
  /** Width of one panel's plot area in px (default 260). */
  panelWidth?: number;
  /** Height of one bar in px (default 7). */
  barHeight?: number;
  fontSize?: number;
}

export function barsSvg(o: BarsOptions): string {
  const fs = o.fontSize ?? 12;
  const barH = o.barHeight ?? 7;
  const panelW = o.panelWidth ?? 260;
  const S = o.series.length;
  const rowH = S * barH + 8;
  const margin = 14;
  let top = margin;
  const head: string[] = [];
  if (o.title) {
    head.push(text(margin, top + fs * 1.25, o.title, { 'font-size': Math.round(fs * 1.25), 'font-weight': 'bold' }));
    top += fs * 1.25 * 1.45;
  }
  if (o.subtitle) {
    head.push(text(margin, top + fs, o.subtitle, { fill: MUTED }));
    top += fs * 1.5;
  }
  const legendY = top + fs;
  top += fs * 2.2;
  const panelTitleH = fs * 1.6;
  const labelW = Math.max(...o.categories.map((c) => textWidth(c, fs)), 20) + 10;
  const gap = 26;
  const plotTop = top + panelTitleH;
  const plotH = o.categories.length * rowH;
  const width = margin + labelW + o.panels.length * (panelW + gap) - gap + margin;
  const height = plotTop + plotH + fs * 1.8 + margin;
  const color = (s: number) => o.series[s]!.color ?? CATEGORICAL[s % CATEGORICAL.length]!;
  const out: string[] = [svgOpen(width, height, { fontSize: fs, title: o.title })];
  out.push(...head);
  // legend
  let lx = margin;
  o.series.forEach((s, i) => {
    out.push(`<rect${attrs({ x: lx, y: legendY - fs * 0.75, width: 12, height: fs * 0.8, fill: color(i) })}/>`);
    out.push(text(lx + 17, legendY, s.name));
    lx += 17 + textWidth(s.name, fs) + 22;
  });
  // row labels
  o.categories.forEach((c, k) => out.push(text(margin + labelW - 8, plotTop + k * rowH + rowH / 2, c, { 'text-anchor': 'end', dy: '0.35em' })));
  o.panels.forEach((p, pi) => {
    const left = margin + labelW + pi * (panelW + gap);
    const finite = p.values.flatMap((row, s) => row.flatMap((v, c) => (Number.isFinite(v) ? [v - (p.errors?.[s]?.[c] ?? 0), v + (p.errors?.[s]?.[c] ?? 0)] : [])));
    const lo0 = Math.min(0, ...finite);
    const hi0 = Math.max(0, ...finite);
    const ticks = niceTicks(lo0, hi0 > lo0 ? hi0 : lo0 + 1, 4);
    const step = ticks.length > 1 ? ticks[1]! - ticks[0]! : 1;
    const dom: [number, number] = p.domain ? [p.domain[0], p.domain[1]] : [Math.floor(lo0 / step + 1e-9) * step, Math.ceil(hi0 / step - 1e-9) * step || step];
    const x = (v: number) => left + ((v - dom[0]) / (dom[1] - dom[0])) * panelW;
    out.push(text(left, top + fs, p.title, { 'font-weight': 'bold' }));
    out.push(`<g font-size="${(fs * 0.9).toFixed(1)}" fill="${MUTED}">`);
    for (const t of niceTicks(dom[0], dom[1], 4)) {
      out.push(`<line${attrs({ x1: x(t), y1: plotTop, x2: x(t), y2: plotTop + plotH, stroke: '#e6e6e6', 'stroke-width': 1 })}/>`);
      out.push(text(x(t), plotTop + plotH + fs * 1.2, formatNumber(t), { 'text-anchor': 'middle' }));
    }
    out.push('</g>');
    if (dom[0] < 0) out.push(`<line${attrs({ x1: x(0), y1: plotTop, x2: x(0), y2: plotTop + plotH, stroke: '#8a8a8a', 'stroke-width': 1 })}/>`);
    o.categories.forEach((c, k) => {
      for (let s = 0; s < S; s++) {
        const v = p.values[s]?.[k];
        if (v === undefined || !Number.isFinite(v)) continue;
        const y = plotTop + k * rowH + 4 + s * barH;
        const [a, b] = [x(Math.min(0, v)), x(Math.max(0, v))];
        out.push(`<rect${attrs({ x: a, y, width: Math.max(b - a, 0.5), height: barH - 1, fill: color(s) })}><title>${xmlEscape(`${o.series[s]!.name} · ${c}: ${formatNumber(v)}`)}</title></rect>`);
        const e = p.errors?.[s]?.[k];
        if (e !== undefined && Number.isFinite(e) && e > 0) {
          const cy = y + (barH - 1) / 2;
          out.push(`<line${attrs({ x1: x(v - e), y1: cy, x2: x(v + e), y2: cy, stroke: INK, 'stroke-width': 1 })}/>`);
        }
      }
    });
    out.push(`<rect${attrs({ x: left, y: plotTop, width: panelW, height: plotH, fill: 'none', stroke: FRAME, 'stroke-width': 1 })}/>`);
  });
  out.push('</svg>');
  return out.join('');
}
