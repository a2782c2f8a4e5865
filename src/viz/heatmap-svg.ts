// Heatmaps of implicit attention matrices as standalone SVG. Pure (no Node APIs): the same code
// renders figures in the CLI (`--out x.svg|png`), HTML reports and the browser viewer.
import { colormap, DEFAULT_DIVERGING, DEFAULT_SEQUENTIAL, MASK_RGB, MASK_RGB_DIVERGING, NAN_RGB, rgbToHex } from './colormap.js';
import type { ColormapName } from './colormap.js';
import { displayScale, matrixStats, mergeStats, niceTicks } from './scale.js';
import type { DisplayScaling, MatrixStats, ValueScale } from './scale.js';
import { pngDataUri } from './png-encoder.js';
import { fmt, formatNumber, tokenLabel, visibleToken, xmlEscape } from './text.js';
import { attrs, colorBar, colorBarWidth, FRAME, MUTED, svgOpen, text, textWidth } from './svg.js';

/** One matrix to draw. */
export interface HeatmapPanel {
  /**
   * Row-major values (`rows × cols`), a nested array (`values[row][col]`), or anything with
   * `data` and a 2-D `shape` (e.g. a Tensor of shape [L, L]).
   */
  values: ArrayLike<number> | ArrayLike<ArrayLike<number>> | { data: ArrayLike<number>; shape: readonly number[] };
  /** Number of rows (query positions t). Inferred for nested arrays, shaped inputs and square flat arrays. */
  rows?: number;
  /** Number of columns (source positions s). Default: `rows`. */
  cols?: number;
  /** Panel title, e.g. "layer 3 · paper · mean |H|". */
  title?: string;
  /** A second, smaller line under the title. */
  subtitle?: string;
  /** Token strings for both axes (overrides `HeatmapOptions.tokens`). */
  tokens?: readonly string[];
  /** Labels for the rows / columns separately (override `tokens`). */
  rowLabels?: readonly string[];
  colLabels?: readonly string[];
  /** Grey out the upper triangle (column > row). Default: `HeatmapOptions.causal`. */
  causal?: boolean;
}

export interface HeatmapOptions {
  /** The matrices: one panel or a grid of panels. */
  panels: HeatmapPanel | readonly HeatmapPanel[];
  /** Token strings for both axes of every panel (length L). Default: position numbers. */
  tokens?: readonly string[];
  /** Figure title and subtitle. */
  title?: string;
  subtitle?: string;
  /** Display scaling (default 'minmax-abs', the paper's figures). */
  scaling?: DisplayScaling;
  /**
   * One colour scale for all panels instead of one per panel ('minmax-abs' and 'signed').
   * 'raw' always shares. Default false.
   */
  shareScale?: boolean;
  /** Value range for 'raw' (default: min and max over all panels). */
  range?: readonly [number, number];
  /** Colour map (default viridis for sequential scalings, RdBu reversed for 'signed'). */
  colormap?: ColormapName;
  /** Upper triangle is future positions, drawn in neutral grey (default true). */
  causal?: boolean;
  /** Panels per row of the grid (default: n ≤ 3 → n, else ⌈√n⌉). */
  columns?: number;
  /** Side of each matrix in px (default: 22 px per cell, between 200 and 560 for one panel, 160–380 for a grid). */
  panelSize?: number;
  /** Base font size in px (default 11). */
  fontSize?: number;
  fontFamily?: string;
  /** 'rects': vector cells; 'image': embedded PNG; 'auto' (default): rects up to 128 × 128. */
  render?: 'auto' | 'rects' | 'image';
  /** Add a line "|H| ∈ [min, max]" under each panel title (default true). */
  showRange?: boolean;
  /** Per-cell hover tooltips (rects mode only; makes the file larger). Default false. */
  cellTooltips?: boolean;
  /** Show token/position labels (default true). */
  showLabels?: boolean;
  /** Background colour, or 'none' for transparent (default white). */
  background?: string;
  /** Longest token label, in characters (default 14). */
  maxLabelChars?: number;
}

interface Prepared {
  values: ArrayLike<number>;
  rows: number;
  cols: number;
  title?: string;
  subtitle?: string;
  rowLabels?: readonly string[];
  colLabels?: readonly string[];
  causal: boolean;
  stats: MatrixStats;
}

const RECT_LIMIT = 128 * 128;
const PALETTE_LEVELS = 254; // indices 0..253 colours, 254 mask grey, 255 NaN
const MASK_INDEX = 254;
const NAN_INDEX = 255;

function isShaped(v: unknown): v is { data: ArrayLike<number>; shape: readonly number[] } {
  return typeof v === 'object' && v !== null && 'data' in v && 'shape' in v;
}

function preparePanel(p: HeatmapPanel, index: number, opts: HeatmapOptions): Prepared {
  const where = `heatmap panel ${index}${p.title ? ` ('${p.title}')` : ''}`;
  let flat: ArrayLike<number>;
  let rows = p.rows;
  let cols = p.cols;
  const v = p.values;
  if (isShaped(v)) {
    const shape = v.shape.filter((d, i) => d !== 1 || i >= v.shape.length - 2);
    if (shape.length !== 2) throw new Error(`${where}: expected a 2-D matrix, got shape [${v.shape.join(', ')}]`);
    rows ??= shape[0];
    cols ??= shape[1];
    flat = v.data;
  } else if (v.length > 0 && typeof (v as ArrayLike<unknown>)[0] === 'object') {
    const nested = v as ArrayLike<ArrayLike<number>>;
    rows ??= nested.length;
    cols ??= nested[0]!.length;
    const out = new Float64Array(rows * cols);
    for (let i = 0; i < rows; i++) {
      const r = nested[i];
      if (!r || r.length !== cols) throw new Error(`${where}: row ${i} has ${r ? r.length : 0} values, expected ${cols}`);
      for (let j = 0; j < cols; j++) out[i * cols + j] = Number(r[j]);
    }
    flat = out;
  } else {
    flat = v as ArrayLike<number>;
    if (rows === undefined) {
      const n = Math.round(Math.sqrt(flat.length));
      if (n * n !== flat.length) throw new Error(`${where}: ${flat.length} values are not a square matrix; pass rows and cols`);
      rows = n;
    }
    cols ??= rows;
  }
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows! < 1 || cols! < 1) {
    throw new Error(`${where}: rows and cols must be positive integers, got ${rows}×${cols}`);
  }
  if (flat.length !== rows! * cols!) throw new Error(`${where}: ${flat.length} values, expected ${rows}×${cols} = ${rows! * cols!}`);
  const tokens = p.tokens ?? opts.tokens;
  const rowLabels = p.rowLabels ?? tokens;
  const colLabels = p.colLabels ?? tokens;
  if (rowLabels && rowLabels.length !== rows) throw new Error(`${where}: ${rowLabels.length} row labels for ${rows} rows`);
  if (colLabels && colLabels.length !== cols) throw new Error(`${where}: ${colLabels.length} column labels for ${cols} columns`);
  const causal = p.causal ?? opts.causal ?? true;
  return {
    values: flat, rows: rows!, cols: cols!, title: p.title, subtitle: p.subtitle, rowLabels, colLabels, causal,
    stats: matrixStats(flat, rows!, cols!, causal),
  };
}

const NICE_STEPS = [1, 2, 5];
/** Smallest "nice" integer step (1, 2, 5, 10, 20, 50, …) ≥ x. */
export function niceStep(x: number): number {
  if (x <= 1) return 1;
  for (let p = 1; ; p *= 10) {
    for (const m of NICE_STEPS) if (m * p >= x) return m * p;
  }
}

interface AxisLabels {
  fontSize: number;
  step: number;
  items: { index: number; text: string }[];
}

/**
 * Which labels to draw along an axis of `n` cells of size `cell` px: every one if they fit,
 * otherwise every `step`-th (a nice number) so neighbours never overlap; thinned labels carry
 * their position index.
 */
export function axisLabels(n: number, cell: number, labels: readonly string[] | undefined, baseFont: number, maxChars: number): AxisLabels {
  const minFont = Math.min(8, baseFont);
  // shrink the font (down to 8 px) when that lets every label fit; otherwise thin at full size
  const fontSize = cell / 1.2 >= minFont ? Math.min(baseFont, cell / 1.2) : baseFont;
  const step = niceStep(Math.ceil((fontSize * 1.2) / cell - 1e-9));
  const items: { index: number; text: string }[] = [];
  for (let i = 0; i < n; i += step) {
    let t: string;
    if (!labels) t = String(i);
    else if (step === 1) t = tokenLabel(labels[i]!, maxChars);
    else t = `${i} ${tokenLabel(labels[i]!, Math.min(maxChars, 10))}`;
    items.push({ index: i, text: t });
  }
  return { fontSize, step, items };
}

function defaultColumns(n: number): number {
  return n <= 3 ? n : Math.ceil(Math.sqrt(n));
}

/** Render one or several L×L matrices as an SVG document (a string). */
export function heatmapSvg(options: HeatmapOptions): string {
  const list = Array.isArray(options.panels) ? options.panels : [options.panels as HeatmapPanel];
  if (list.length === 0) throw new Error('heatmapSvg: no panels to draw');
  const panels = list.map((p, i) => preparePanel(p, i, options));
  const n = panels.length;
  const scaling: DisplayScaling = options.scaling ?? 'minmax-abs';
  const share = scaling === 'raw' || options.shareScale === true || n === 1;
  const merged = mergeStats(panels.map((p) => p.stats));
  const scales: ValueScale[] = panels.map((p) => displayScale(scaling, share ? merged : p.stats, options.range));
  const kind = scales[0]!.kind;
  const cmapName = options.colormap ?? (kind === 'diverging' ? DEFAULT_DIVERGING : DEFAULT_SEQUENTIAL);
  const cmap = colormap(cmapName);
  // u ∈ [0, 1] along the colour bar → a point of the colour map's own domain
  const toDomain = (u: number) => cmap.domain[0] + u * (cmap.domain[1] - cmap.domain[0]);
  const toU = (c: number) => (kind === 'diverging' ? (c + 1) / 2 : c);
  const lut = cmap.lut(PALETTE_LEVELS);
  const palette = new Uint8Array(256 * 3);
  palette.set(lut);
  const maskRgb = kind === 'diverging' ? MASK_RGB_DIVERGING : MASK_RGB;
  palette.set(maskRgb, MASK_INDEX * 3);
  palette.set(NAN_RGB, NAN_INDEX * 3);
  const paletteHex: string[] = [];
  for (let k = 0; k < 256; k++) paletteHex.push(rgbToHex([palette[3 * k]!, palette[3 * k + 1]!, palette[3 * k + 2]!]));
  const indexOf = (scale: ValueScale, v: number): number => {
    const c = scale.map(v);
    if (Number.isNaN(c)) return NAN_INDEX;
    const u = Math.max(0, Math.min(1, toU(c)));
    return Math.round(u * (PALETTE_LEVELS - 1));
  };

  // ---- layout -------------------------------------------------------------------------------
  const fs = options.fontSize ?? 11;
  const titleFs = Math.round(fs * 1.15 * 10) / 10;
  const maxChars = options.maxLabelChars ?? 14;
  const showLabels = options.showLabels ?? true;
  const showRange = options.showRange ?? true;
  const columns = Math.max(1, Math.min(n, Math.floor(options.columns ?? defaultColumns(n))));
  const gridRows = Math.ceil(n / columns);
  const maxDim = Math.max(...panels.map((p) => Math.max(p.rows, p.cols)));
  const panelSize = options.panelSize ?? (n === 1 ? clamp(maxDim * 22, 200, 560) : clamp(maxDim * 22, 160, 380));
  const margin = 16;
  const gapX = 28, gapY = 22;

  const layouts = panels.map((p) => {
    const cell = panelSize / Math.max(p.rows, p.cols);
    const rowAx = showLabels ? axisLabels(p.rows, cell, p.rowLabels, fs, maxChars) : undefined;
    const colAx = showLabels ? axisLabels(p.cols, cell, p.colLabels, fs, maxChars) : undefined;
    const rowW = rowAx ? Math.max(...rowAx.items.map((it) => textWidth(it.text, rowAx.fontSize))) + 6 : 0;
    const colH = colAx ? Math.max(...colAx.items.map((it) => textWidth(it.text, colAx.fontSize))) + 6 : 0;
    return { cell, rowAx, colAx, rowW, colH };
  });
  const rangeLine = (i: number): string | undefined => {
    if (!showRange) return undefined;
    const st = panels[i]!.stats;
    if (st.count === 0) return 'no finite values';
    const nf = st.nonFinite ? ` · ${st.nonFinite} non-finite` : '';
    if (scaling === 'minmax-abs') return `|H| ∈ [${formatNumber(st.minAbs)}, ${formatNumber(st.maxAbs)}]${nf}`;
    if (scaling === 'signed') return `H ∈ [${formatNumber(st.min)}, ${formatNumber(st.max)}]${nf}`;
    return `H ∈ [${formatNumber(st.min)}, ${formatNumber(st.max)}]${nf}`;
  };
  const headLines = panels.map((p, i) => {
    const lines: { text: string; bold: boolean }[] = [];
    if (p.title) lines.push({ text: p.title, bold: true });
    if (p.subtitle) lines.push({ text: p.subtitle, bold: false });
    const r = rangeLine(i);
    if (r) lines.push({ text: r, bold: false });
    return lines;
  });
  const headH = Math.max(...headLines.map((ls) => ls.reduce((a, l) => a + (l.bold ? titleFs : fs) * 1.35, 0)));
  const rowLabelW = Math.max(...layouts.map((l) => l.rowW));
  const colLabelH = Math.max(...layouts.map((l) => l.colH));
  const headW = Math.max(...headLines.map((ls) => Math.max(0, ...ls.map((l) => textWidth(l.text, l.bold ? titleFs : fs) * (l.bold ? 1.08 : 1)))));
  const cellW = Math.max(rowLabelW + panelSize, headW);
  const cellH = headH + (headH > 0 ? 4 : 0) + colLabelH + panelSize;

  const figTitleFs = Math.round(fs * 1.45);
  let top = margin;
  const titleParts: string[] = [];
  if (options.title) {
    titleParts.push(text(margin, top + figTitleFs, options.title, { 'font-size': figTitleFs, 'font-weight': 'bold' }));
    top += figTitleFs * 1.4;
  }
  if (options.subtitle) {
    titleParts.push(text(margin, top + fs * 1.1, options.subtitle, { 'font-size': fs * 1.1, fill: MUTED }));
    top += fs * 1.1 * 1.5;
  }
  if (titleParts.length) top += 6;

  // colour bar
  const perPanel = !share && n > 1;
  const cbTicks: { u: number; label: string }[] = [];
  const s0 = scales[0]!;
  let cbCaption: string;
  if (scaling === 'signed') {
    cbTicks.push({ u: 0, label: perPanel ? '−max|H|' : formatNumber(s0.lo) }, { u: 0.5, label: '0' }, { u: 1, label: perPanel ? '+max|H|' : formatNumber(s0.hi) });
    cbCaption = perPanel ? 'H ÷ max|H| of each panel' : 'H';
  } else if (scaling === 'minmax-abs') {
    cbTicks.push({ u: 0, label: perPanel ? 'min' : formatNumber(s0.lo) }, { u: 1, label: perPanel ? 'max' : formatNumber(s0.hi) });
    cbCaption = perPanel ? '|H|, min–max of each panel' : '|H|';
  } else {
    cbTicks.push({ u: 0, label: formatNumber(s0.lo) }, { u: 1, label: formatNumber(s0.hi) });
    if (s0.lo < 0 && s0.hi > 0) cbTicks.push({ u: -s0.lo / (s0.hi - s0.lo), label: '0' });
    cbCaption = 'H';
  }
  // intermediate ticks at nice values when the colour bar shows real numbers
  if (!perPanel && s0.hi > s0.lo) {
    const span = s0.hi - s0.lo;
    for (const v of niceTicks(s0.lo, s0.hi, 5)) {
      const u = (v - s0.lo) / span;
      if (cbTicks.some((t) => Math.abs(t.u - u) < 0.09)) continue;
      cbTicks.push({ u, label: formatNumber(v) });
    }
  }
  const cbThick = 12;
  const cbW = colorBarWidth(cbThick, cbTicks.map((t) => t.label), fs, true);
  const gridW = columns * cellW + (columns - 1) * gapX;
  const gridH = gridRows * cellH + (gridRows - 1) * gapY;
  const titleW = Math.max(
    options.title ? textWidth(options.title, figTitleFs) * 1.08 : 0,
    options.subtitle ? textWidth(options.subtitle, fs * 1.1) : 0,
  );
  const width = Math.max(margin * 2 + gridW + 24 + cbW, margin * 2 + titleW);
  const height = top + gridH + margin;

  const out: string[] = [];
  out.push(svgOpen(width, height, { fontFamily: options.fontFamily, fontSize: fs, background: options.background, title: options.title }));
  out.push(...titleParts);

  panels.forEach((p, i) => {
    const gx = margin + (i % columns) * (cellW + gapX);
    const gy = top + Math.floor(i / columns) * (cellH + gapY);
    const lay = layouts[i]!;
    const mx = gx + rowLabelW;
    const my = gy + headH + (headH > 0 ? 4 : 0) + colLabelH;
    const side = lay.cell;
    const w = p.cols * side, h = p.rows * side;
    out.push(`<g class="panel">`);
    // heading
    let ly = gy;
    for (const l of headLines[i]!) {
      const lfs = l.bold ? titleFs : fs;
      ly += lfs * 1.35;
      out.push(text(mx, ly - lfs * 0.3, l.text, l.bold ? { 'font-size': lfs, 'font-weight': 'bold' } : { 'font-size': lfs, fill: MUTED }));
    }
    // cells
    const scale = scales[i]!;
    const useRects = options.render === 'rects' || (options.render !== 'image' && p.rows * p.cols <= RECT_LIMIT);
    if (useRects) out.push(cellsAsRects(p, scale, indexOf, paletteHex, mx, my, side, options.cellTooltips === true));
    else out.push(cellsAsImage(p, scale, indexOf, palette, mx, my, side));
    out.push(`<rect${attrs({ x: mx, y: my, width: w, height: h, fill: 'none', stroke: FRAME, 'stroke-width': 0.75 })}/>`);
    // labels
    if (lay.rowAx) {
      const ax = lay.rowAx;
      out.push(`<g class="row-labels" text-anchor="end" font-size="${fmt(ax.fontSize)}">`);
      for (const it of ax.items) out.push(text(mx - 4, my + (it.index + 0.5) * side, it.text, { dy: '0.35em' }));
      out.push('</g>');
    }
    // axis captions in the corner between the two label columns, where there is room
    const capFs = fs * 0.9;
    const capQ = 'query t ↓', capS = 'source s →';
    if (lay.rowAx && lay.colAx && rowLabelW >= Math.max(textWidth(capQ, capFs), textWidth(capS, capFs)) + 8 && colLabelH >= capFs * 3) {
      out.push(`<g class="axis-captions" text-anchor="end" font-size="${fmt(capFs)}" fill="${MUTED}" font-style="italic">`);
      // keep clear of the first row label (centred on row 0) and the first column label
      const cy = Math.min(my - 6, my + side / 2 - ax0(lay.rowAx) * 0.6 - 3);
      const cx = Math.min(mx - 6, mx + side / 2 - ax0(lay.colAx) * 0.6 - 4);
      out.push(text(cx, cy - capFs * 1.35, capS), text(cx, cy, capQ));
      out.push('</g>');
    }
    if (lay.colAx) {
      const ax = lay.colAx;
      out.push(`<g class="col-labels" font-size="${fmt(ax.fontSize)}">`);
      for (const it of ax.items) {
        const x = mx + (it.index + 0.5) * side;
        out.push(text(0, 0, it.text, { transform: `translate(${fmt(x)} ${fmt(my - 4)}) rotate(-90)`, dy: '0.35em' }));
      }
      out.push('</g>');
    }
    out.push('</g>');
  });

  // colour bar, aligned with the first row of matrices
  const cbX = margin + gridW + 24;
  const firstMatrixTop = top + headH + (headH > 0 ? 4 : 0) + colLabelH;
  const cbLen = Math.min(panelSize, 320);
  out.push(colorBar({
    x: cbX, y: firstMatrixTop, thickness: cbThick, length: cbLen, orientation: 'vertical',
    colorAt: (u) => cmap.hex(toDomain(u)), ticks: cbTicks, caption: cbCaption, fontSize: fs,
  }));
  out.push('</svg>');
  return out.join('');
}

function ax0(ax: AxisLabels): number {
  return ax.fontSize;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, v));
}

/** Vector cells: one path per colour made of horizontal runs, in cell units under a scale transform. */
function cellsAsRects(
  p: Prepared, scale: ValueScale, indexOf: (s: ValueScale, v: number) => number, paletteHex: string[],
  x: number, y: number, cell: number, tooltips: boolean,
): string {
  const transform = `translate(${fmt(x)} ${fmt(y)}) scale(${+cell.toFixed(4)})`;
  if (tooltips) {
    let s = `<g class="cells" transform="${transform}" shape-rendering="crispEdges">`;
    for (let i = 0; i < p.rows; i++) {
      const end = p.causal ? Math.min(p.cols, i + 1) : p.cols;
      for (let j = 0; j < end; j++) {
        const v = p.values[i * p.cols + j]!;
        const tip = `t=${i}${p.rowLabels ? ` “${visibleToken(p.rowLabels[i]!)}”` : ''} ← s=${j}${p.colLabels ? ` “${visibleToken(p.colLabels[j]!)}”` : ''}: ${formatNumber(v, 4)}`;
        s += `<rect x="${j}" y="${i}" width="1" height="1" fill="${paletteHex[indexOf(scale, v)]}"><title>${xmlEscape(tip)}</title></rect>`;
      }
    }
    return s + maskPath(p, paletteHex[MASK_INDEX]!) + '</g>';
  }
  const byColor = new Map<number, string[]>();
  for (let i = 0; i < p.rows; i++) {
    const end = p.causal ? Math.min(p.cols, i + 1) : p.cols;
    let j = 0;
    while (j < end) {
      const k = indexOf(scale, p.values[i * p.cols + j]!);
      let e = j + 1;
      while (e < end && indexOf(scale, p.values[i * p.cols + e]!) === k) e++;
      let list = byColor.get(k);
      if (!list) byColor.set(k, (list = []));
      list.push(`M${j} ${i}h${e - j}v1h${j - e}z`);
      j = e;
    }
  }
  let s = `<g class="cells" transform="${transform}" shape-rendering="crispEdges">`;
  for (const [k, segs] of byColor) s += `<path fill="${paletteHex[k]}" d="${segs.join('')}"/>`;
  return s + maskPath(p, paletteHex[MASK_INDEX]!) + '</g>';
}

/** The upper triangle (column > row) as one staircase path in the neutral mask colour. */
function maskPath(p: Prepared, maskHex: string): string {
  if (!p.causal || p.cols < 2) return '';
  const lastRow = Math.min(p.rows - 1, p.cols - 2);
  let d = 'M1 0';
  for (let i = 0; i <= lastRow; i++) d += i < lastRow ? `V${i + 1}H${i + 2}` : `V${i + 1}`;
  d += `H${p.cols}V0Z`;
  return `<path class="future" fill="${maskHex}" d="${d}"/>`;
}

/** Raster cells: an indexed-colour PNG embedded as a data URI, drawn with nearest-neighbour scaling. */
function cellsAsImage(
  p: Prepared, scale: ValueScale, indexOf: (s: ValueScale, v: number) => number, palette: Uint8Array,
  x: number, y: number, cell: number,
): string {
  // Integer upscaling so that renderers which ignore image-rendering still show sharp cells.
  const k = Math.max(1, Math.min(Math.floor(cell), Math.floor(2048 / Math.max(p.rows, p.cols))));
  const W = p.cols * k, H = p.rows * k;
  const data = new Uint8Array(W * H);
  const row = new Uint8Array(W);
  for (let i = 0; i < p.rows; i++) {
    for (let j = 0; j < p.cols; j++) {
      const idx = p.causal && j > i ? MASK_INDEX : indexOf(scale, p.values[i * p.cols + j]!);
      row.fill(idx, j * k, (j + 1) * k);
    }
    for (let r = 0; r < k; r++) data.set(row, (i * k + r) * W);
  }
  const uri = pngDataUri({ width: W, height: H, data, colorType: 'indexed', palette });
  return `<image${attrs({
    x, y, width: p.cols * cell, height: p.rows * cell, preserveAspectRatio: 'none',
    'image-rendering': 'optimizeSpeed', style: 'image-rendering:pixelated',
  })} href="${uri}"/>`;
}
