/**
 * One image through a vision classifier, pure (`iattn explain --image` / `iattn vision
 * explain`; reading the PNG and writing --out is src/cli/explain-image.ts): the predicted
 * class, each method's patch map as a terminal block, the JSON document, and an overlay of
 * every map over the image (final map and per-layer maps) as SVG or a self-contained HTML page.
 */
import { bytesToBase64 } from '../viz/png-encoder.js';
import { xmlEscape } from '../viz/text.js';
import { normalise } from './data.js';
import { explainVision, VISION_RECIPES, VisionExplainContext } from './explain.js';
import type { VisionExplanation, VisionMethod } from './explain.js';
import { encodeRgbPng, ImageError, resizeTo } from './image.js';
import type { RgbImage } from './image.js';
import { minMax, overlay, upsampleBilinear } from './maps.js';
import type { VisionModel } from './model.js';

export interface ImageExplainRequest {
  methods: VisionMethod[];
  startLayer: number;
  steps: number;
  /** Class name or index; default the predicted class. */
  target?: string;
}

/** What an image's explanation is shown as; the pictures are built on demand. */
export interface ImageExplainReport {
  json: unknown;
  /** Terminal lines (prediction, class probabilities, each method's map as characters). */
  lines: string[];
  /** Every method's map over the image, and each layer's (SVG). */
  svg(): string;
  /** The SVG with the recipes, as a self-contained page. */
  html(): string;
}

/**
 * Explains `raw` (any size; resized to the model input) with each method of `req`. `names`
 * are only shown: the image's and the model's names.
 */
export function explainImage(model: VisionModel, raw: RgbImage, req: ImageExplainRequest, names: { image: string; model: string; caption?: string }): ImageExplainReport {
  const { imageSize: S } = model.image;
  const pixels = resizeTo(raw, S);
  const input = normalise(pixels, 1, S, model.image, model.dtype);
  const context = new VisionExplainContext(model, input);
  const labels = model.image.labels;
  const label = parseClass(req.target, labels);
  const explanations = req.methods.map((m) => explainVision(context, m, { startLayer: req.startLayer, steps: req.steps, ...(label === undefined ? {} : { label }) }));
  const target = context.target(label);
  const G = model.grid;
  const probs = labels.map((_, k) => context.target(k).probability);
  const lines = [
    `predicted: ${labels[target.predicted]} (p = ${target.predictedProbability.toFixed(3)})` +
      (target.label === target.predicted ? '' : `; explaining ${labels[target.label]} (p = ${target.probability.toFixed(3)})`),
    `classes: ${labels.map((l, k) => `${l} ${probs[k].toFixed(3)}`).join(', ')}`,
    `image ${names.image} (${raw.width}×${raw.height} → ${S}×${S}), ${model.modelType} ${names.model}, ${G}×${G} patches; relevance per patch (darkest = most relevant):`,
    ...asciiMaps(explanations, G),
  ];
  const json = {
    image: names.image,
    model: names.model,
    modelType: model.modelType,
    imageSize: [raw.width, raw.height],
    grid: G,
    predicted: { index: target.predicted, name: labels[target.predicted], probability: target.predictedProbability },
    target: { index: target.label, name: labels[target.label], probability: target.probability, logit: target.logit },
    probabilities: Object.fromEntries(labels.map((l, k) => [l, probs[k]])),
    methods: Object.fromEntries(
      explanations.map((e) => [
        e.method,
        {
          recipe: VISION_RECIPES[e.method],
          patchScores: toGrid(e.patchScores, G),
          ...(e.layers === undefined ? {} : { layers: e.layers.map((l) => ({ layer: l.layer, patchScores: toGrid(l.scores, G) })) }),
          ...(e.completenessError === undefined ? {} : { completenessError: e.completenessError }),
          elapsedMs: e.elapsedMs,
        },
      ]),
    ),
  };
  const svg = () => overlaySvg(model, pixels, explanations, `${model.modelType}: ${labels[target.label]} (p = ${target.probability.toFixed(3)})`, names.caption ?? names.image);
  return { json, lines, svg, html: () => htmlPage(svg(), explanations, labels[target.label]) };
}

function parseClass(value: string | undefined, labels: readonly string[]): number | undefined {
  if (value === undefined) return undefined;
  const byName = labels.indexOf(value);
  if (byName >= 0) return byName;
  const n = Number(value);
  if (Number.isInteger(n) && n >= 0 && n < labels.length && value.trim() !== '') return n;
  throw new ImageError(`--target '${value}' is not a class of this model (${labels.map((l, i) => `${i} ${l}`).join(', ')})`);
}

function toGrid(scores: Float64Array, G: number): number[][] {
  return Array.from({ length: G }, (_, i) => Array.from(scores.subarray(i * G, (i + 1) * G)));
}

const RAMP = ' .:-=+*#%@';

/** Each method's G×G map as characters (min–max per map), several maps side by side. */
function asciiMaps(explanations: VisionExplanation[], G: number): string[] {
  const perRow = 4;
  const lines: string[] = [];
  const width = 2 * G + 2;
  for (let start = 0; start < explanations.length; start += perRow) {
    const group = explanations.slice(start, start + perRow);
    lines.push(group.map((e) => e.method.slice(0, width - 1).padEnd(width)).join(''));
    const maps = group.map((e) => minMax(e.patchScores));
    for (let i = 0; i < G; i++) {
      lines.push(
        maps
          .map((m) => {
            let row = '';
            for (let j = 0; j < G; j++) row += RAMP[Math.min(RAMP.length - 1, Math.floor(m[i * G + j] * RAMP.length))].repeat(2);
            return `${row}  `;
          })
          .join(''),
      );
    }
  }
  return lines;
}

function dataUri(pixels: Float32Array, size: number): string {
  return `data:image/png;base64,${bytesToBase64(encodeRgbPng(pixels, size, size))}`;
}

/**
 * One row per method: its final map over the image, then each layer's map; the input image
 * first. Maps are bilinearly upsampled to pixels and min–max scaled (inferno colour map).
 */
function overlaySvg(model: VisionModel, pixels: Float32Array, explanations: VisionExplanation[], title: string, caption: string): string {
  const S = model.image.imageSize;
  const P = model.image.patchSize;
  const G = model.grid;
  const big = 160;
  const small = 96;
  const pad = 12;
  const labelWidth = 170;
  const maxLayers = Math.max(0, ...explanations.map((e) => e.layers?.length ?? 0));
  const width = labelWidth + big + pad + maxLayers * (small + pad) + pad;
  const rowHeight = big + 24;
  const height = 44 + big + 28 + explanations.length * rowHeight;
  const img = (x: number, y: number, w: number, uri: string) =>
    `<image x="${x}" y="${y}" width="${w}" height="${w}" href="${uri}" image-rendering="optimizeSpeed" style="image-rendering:pixelated"/>`;
  const text = (x: number, y: number, s: string, size = 12, weight = 'normal') => `<text x="${x}" y="${y}" font-size="${size}" font-weight="${weight}" font-family="DejaVu Sans, sans-serif">${xmlEscape(s)}</text>`;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    text(pad, 22, title, 15, 'bold'),
    text(pad, 40, `${caption} · ${G}×${G} patches · maps min–max scaled, bilinear upsampling`, 11),
    text(pad, 44 + big / 2, 'input', 13),
    img(labelWidth, 48, big, dataUri(pixels, S)),
  ];
  explanations.forEach((e, r) => {
    const y = 44 + big + 28 + r * rowHeight;
    parts.push(text(pad, y + big / 2, e.method, 13, 'bold'));
    parts.push(img(labelWidth, y, big, dataUri(overlay(pixels, minMax(upsampleBilinear(e.patchScores, G, P)), S), S)));
    (e.layers ?? []).forEach((l, j) => {
      const x = labelWidth + big + pad + j * (small + pad);
      parts.push(text(x, y - 4, `layer ${l.layer}`, 10));
      parts.push(img(x, y, small, dataUri(overlay(pixels, minMax(upsampleBilinear(l.scores, G, P)), S), S)));
    });
  });
  parts.push('</svg>');
  return parts.join('\n');
}

function htmlPage(svg: string, explanations: VisionExplanation[], target: string): string {
  const recipes = explanations.map((e) => `<li><b>${xmlEscape(e.method)}</b>: ${xmlEscape(VISION_RECIPES[e.method])}</li>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Explanation: ${xmlEscape(target)}</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222} svg{max-width:100%;height:auto} li{margin:4px 0}</style></head>
<body>
${svg}
<h3>Recipes</h3>
<ul>
${recipes}
</ul>
</body></html>
`;
}
