// A small general line plot: one curve per series, axes with nice ticks, a legend. Pure.
// Used for perturbation curves (x: fraction of tokens perturbed, y: normalised score).
import { CATEGORICAL } from './colormap.js';
import { niceTicks } from './scale.js';
import { fmt, formatNumber, xmlEscape } from './text.js';
import { attrs, FRAME, INK, MUTED, svgOpen, text, textWidth, uniqueId } from './svg.js';

export interface CurveSeries {
  /** Legend entry, e.g. the method name (with its AUC, if wanted). */
  name: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  /** CSS colour (default: Tableau 10 in order). */
  color?: string;
  dashed?: boolean;
}

export interface CurvesOptions {
  /** Size of the whole picture in px (default 640 × 380). */
  width?: number;
  height?: number;
  title?: string;
  subtitle?: string;
  xLabel?: string;
  yLabel?: string;
  /** Axis ranges (default: the data's range, extended to nice numbers; y includes 0 when data is ≥ 0). */
  xDomain?: readonly [number, number];
  yDomain?: readonly [number, number];
  /** Legend to the right of the plot (default), inside its top-right corner, or none. */
  legend?: 'right' | 'inside' | 'none';
  /** Mark the data points (default true when every series has ≤ 30 points). */
  points?: boolean;
  /** Light grid lines at the ticks (default true). */
  grid?: boolean;
  fontSize?: number;
  fontFamily?: string;
  background?: string;
}

function niceDomain(lo: number, hi: number, count: number): [number, number] {
  if (hi === lo) { const d = lo === 0 ? 1 : Math.abs(lo) * 0.1; return [lo - d, hi + d]; }
  const t = niceTicks(lo, hi, count);
  const step = t.length > 1 ? t[1]! - t[0]! : hi - lo;
  return [Math.min(lo, Math.floor(lo / step + 1e-9) * step), Math.max(hi, Math.ceil(hi / step - 1e-9) * step)];
}

/** Render line plots as an SVG document. */
export function curvesSvg(series: readonly CurveSeries[], options: CurvesOptions = {}): string {
  series.forEach((s, i) => {
    if (s.x.length !== s.y.length) throw new Error(`curvesSvg: series ${i} ('${s.name}') has ${s.x.length} x values but ${s.y.length} y values`);
  });
  const W = options.width ?? 640, H = options.height ?? 380;
  const fs = options.fontSize ?? 12;
  const xs: number[] = [], ys: number[] = [];
  for (const s of series) {
    for (let i = 0; i < s.x.length; i++) {
      if (Number.isFinite(s.x[i]) && Number.isFinite(s.y[i])) { xs.push(s.x[i]!); ys.push(s.y[i]!); }
    }
  }
  const dataX: [number, number] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  const dataY: [number, number] = ys.length ? [Math.min(...ys), Math.max(...ys)] : [0, 1];
  if (dataY[0] > 0 && dataY[0] < 0.5 * dataY[1]) dataY[0] = 0;
  const xDom = options.xDomain ? [...options.xDomain] as [number, number] : niceDomain(dataX[0], dataX[1], 6);
  const yDom = options.yDomain ? [...options.yDomain] as [number, number] : niceDomain(dataY[0], dataY[1], 5);
  for (const [name, d] of [['xDomain', xDom], ['yDomain', yDom]] as const) {
    if (!(Number.isFinite(d[0]) && Number.isFinite(d[1]) && d[1] > d[0])) throw new Error(`curvesSvg: ${name} must be two finite numbers lo < hi, got [${d[0]}, ${d[1]}]`);
  }
  const xTicks = niceTicks(xDom[0], xDom[1], 6);
  const yTicks = niceTicks(yDom[0], yDom[1], 5);

  // layout
  const margin = 14;
  let top = margin;
  const head: string[] = [];
  if (options.title) { head.push(text(margin, top + fs * 1.25, options.title, { 'font-size': Math.round(fs * 1.25), 'font-weight': 'bold' })); top += fs * 1.25 * 1.45; }
  if (options.subtitle) { head.push(text(margin, top + fs, options.subtitle, { fill: MUTED })); top += fs * 1.5; }
  top += head.length ? 10 : 4;
  const legendMode = options.legend ?? 'right';
  const legendEntryW = Math.max(0, ...series.map((s) => textWidth(s.name, fs))) + 34;
  const legendRight = legendMode === 'right' && series.length > 0 ? legendEntryW + 12 : 0;
  const yTickW = Math.max(...yTicks.map((t) => textWidth(formatNumber(t), fs * 0.92)), 10);
  const left = margin + (options.yLabel ? fs * 1.6 : 0) + yTickW + 8;
  const bottomSpace = fs * 1.6 + (options.xLabel ? fs * 1.7 : 0) + margin * 0.5;
  const plotW = Math.max(60, W - left - margin - legendRight);
  const plotH = Math.max(60, H - top - bottomSpace);
  const px = (v: number) => left + ((v - xDom[0]) / (xDom[1] - xDom[0])) * plotW;
  const py = (v: number) => top + plotH - ((v - yDom[0]) / (yDom[1] - yDom[0])) * plotH;
  const height = top + plotH + bottomSpace;
  const width = left + plotW + legendRight + margin;

  const out: string[] = [svgOpen(width, height, { fontFamily: options.fontFamily, fontSize: fs, background: options.background, title: options.title })];
  out.push(...head);
  const grid = options.grid ?? true;
  // grid and ticks
  out.push(`<g class="axes" font-size="${fmt(fs * 0.92)}" fill="${MUTED}">`);
  for (const t of yTicks) {
    const y = py(t);
    if (grid) out.push(`<line${attrs({ x1: left, y1: y, x2: left + plotW, y2: y, stroke: '#e6e6e6', 'stroke-width': 1 })}/>`);
    out.push(text(left - 6, y, formatNumber(t), { dy: '0.35em', 'text-anchor': 'end' }));
  }
  for (const t of xTicks) {
    const x = px(t);
    if (grid) out.push(`<line${attrs({ x1: x, y1: top, x2: x, y2: top + plotH, stroke: '#e6e6e6', 'stroke-width': 1 })}/>`);
    out.push(text(x, top + plotH + fs * 1.25, formatNumber(t), { 'text-anchor': 'middle' }));
  }
  if (yDom[0] < 0 && yDom[1] > 0) out.push(`<line${attrs({ x1: left, y1: py(0), x2: left + plotW, y2: py(0), stroke: '#b0b0b0', 'stroke-width': 1 })}/>`);
  out.push(`<rect${attrs({ x: left, y: top, width: plotW, height: plotH, fill: 'none', stroke: FRAME, 'stroke-width': 1 })}/>`);
  out.push('</g>');
  if (options.xLabel) out.push(text(left + plotW / 2, top + plotH + fs * 1.6 + fs * 1.3, options.xLabel, { 'text-anchor': 'middle', fill: INK }));
  if (options.yLabel) {
    out.push(text(0, 0, options.yLabel, { transform: `translate(${fmt(margin + fs * 0.8)} ${fmt(top + plotH / 2)}) rotate(-90)`, 'text-anchor': 'middle', dy: '0.35em' }));
  }

  // curves, clipped to the plot area
  const clip = uniqueId('iattn-clip');
  out.push(`<defs><clipPath id="${clip}"><rect${attrs({ x: left, y: top, width: plotW, height: plotH })}/></clipPath></defs>`);
  const showPoints = options.points ?? series.every((s) => s.x.length <= 30);
  const colorOf = (i: number) => series[i]!.color ?? CATEGORICAL[i % CATEGORICAL.length]!;
  out.push(`<g class="curves" clip-path="url(#${clip})" fill="none" stroke-width="2" stroke-linejoin="round" stroke-linecap="round">`);
  series.forEach((s, i) => {
    const color = colorOf(i);
    let d = '';
    let pen = false;
    const pts: string[] = [];
    for (let k = 0; k < s.x.length; k++) {
      const xv = s.x[k]!, yv = s.y[k]!;
      if (!Number.isFinite(xv) || !Number.isFinite(yv)) { pen = false; continue; }
      d += `${pen ? 'L' : 'M'}${fmt(px(xv))} ${fmt(py(yv))}`;
      pen = true;
      if (showPoints) pts.push(`<circle${attrs({ cx: px(xv), cy: py(yv), r: 2.6, fill: color, stroke: 'none' })}/>`);
    }
    out.push(`<g class="series"><title>${xmlEscape(s.name)}</title>`);
    if (d) out.push(`<path${attrs({ d, stroke: color, 'stroke-dasharray': s.dashed ? '6 4' : undefined })}/>`);
    out.push(...pts, '</g>');
  });
  out.push('</g>');

  // legend
  if (legendMode !== 'none' && series.length > 0) {
    const rowH = fs * 1.5;
    const lx = legendMode === 'right' ? left + plotW + 14 : left + plotW - legendEntryW - 8;
    const ly = legendMode === 'right' ? top + 4 : top + 8;
    out.push('<g class="legend">');
    if (legendMode === 'inside') {
      out.push(`<rect${attrs({ x: lx - 6, y: ly - 4, width: legendEntryW + 4, height: rowH * series.length + 6, fill: '#ffffff', 'fill-opacity': 0.85, stroke: '#dddddd' })}/>`);
    }
    series.forEach((s, i) => {
      const y = ly + rowH * i + rowH / 2;
      out.push(`<line${attrs({ x1: lx, y1: y, x2: lx + 22, y2: y, stroke: colorOf(i), 'stroke-width': 2.5, 'stroke-dasharray': s.dashed ? '6 4' : undefined })}/>`);
      out.push(text(lx + 28, y, s.name, { dy: '0.35em' }));
    });
    out.push('</g>');
  }
  out.push('</svg>');
  return out.join('');
}
