/**
 * Pictures of implicit attention for `iattn attention --out FILE.svg|.png`: one heatmap panel
 * per layer (full matrices), or one layers × tokens panel for a query row.
 */
import { CliError } from './errors.js';
import type { Extraction } from '../implicit/extract.js';
import type { HeatmapPanel } from '../viz/heatmap-svg.js';
import { heatmapSvg } from '../viz/heatmap-svg.js';
import { svgToPng } from '../io/svg-png.js';

export interface LayerPicture {
  layer: number;
  mixer: string;
  extraction: Extraction;
}

export interface PictureOptions {
  variant: string;
  reduce: string;
  row: number | undefined;
  format: 'svg' | 'png';
  model: string;
}

const MAX_PANELS = 48;

export function renderAttentionImage(layers: LayerPicture[], tokens: string[], options: PictureOptions): string | Uint8Array {
  const svg = options.row === undefined ? matrixFigure(layers, tokens, options) : rowFigure(layers, tokens, options);
  return options.format === 'svg' ? svg : svgToPng(svg);
}

function describe(options: PictureOptions): string {
  const reduce = { none: 'per channel', mean: 'channel mean', 'mean-abs': 'mean |H|', 'head-mean': 'head mean' }[options.reduce] ?? options.reduce;
  return `${options.variant} · ${reduce}`;
}

/** One panel per layer (and per channel/head when not reduced). */
export function matrixFigure(layers: LayerPicture[], tokens: string[], options: PictureOptions): string {
  const L = tokens.length;
  const panels: HeatmapPanel[] = [];
  for (const { layer, mixer, extraction } of layers) {
    const count = extraction.data.length / (L * L);
    for (let m = 0; m < count; m++) {
      const suffix = count > 1 ? ` · ${options.reduce === 'head-mean' ? 'head' : 'channel'} ${m}` : '';
      panels.push({ values: extraction.data.subarray(m * L * L, (m + 1) * L * L), rows: L, cols: L, title: `layer ${layer} · ${mixer}${suffix}` });
    }
  }
  if (panels.length > MAX_PANELS) {
    throw new CliError(`${panels.length} panels are too many for one picture; use --reduce mean-abs, --channel, or --layer N`);
  }
  return heatmapSvg({ panels, tokens, title: `Implicit attention — ${options.model}`, subtitle: describe(options) });
}

/** Rows = layers (or channels), columns = source tokens, for one query position. */
function rowFigure(layers: LayerPicture[], tokens: string[], options: PictureOptions): string {
  const L = tokens.length;
  const rows: Float64Array[] = [];
  const rowLabels: string[] = [];
  for (const { layer, extraction } of layers) {
    const count = extraction.data.length / L;
    for (let m = 0; m < count; m++) {
      rows.push(Float64Array.from(extraction.data.subarray(m * L, (m + 1) * L)));
      rowLabels.push(count > 1 ? `L${layer} c${m}` : `layer ${layer}`);
    }
  }
  if (rows.length > 512) throw new CliError(`${rows.length} rows are too many for one picture; use --reduce mean-abs or --channel`);
  const values = new Float64Array(rows.length * L);
  rows.forEach((r, i) => values.set(r, i * L));
  const t = options.row!;
  return heatmapSvg({
    panels: { values, rows: rows.length, cols: L, rowLabels, colLabels: tokens, causal: false, title: `query ${t} ${JSON.stringify(tokens[t])}` },
    title: `Implicit attention of one query row — ${options.model}`,
    subtitle: describe(options),
  });
}
