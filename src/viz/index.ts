// Pictures: colour maps, SVG heatmaps / relevance strips / line plots, terminal colouring.
// Everything exported here is pure (no Node APIs) and runs in the browser viewer too;
// SVG → PNG rasterisation lives in src/io/svg-png.ts (Node only).
export * from './colormap.js';
export * from './scale.js';
export { heatmapSvg, axisLabels, niceStep } from './heatmap-svg.js';
export type { HeatmapPanel, HeatmapOptions } from './heatmap-svg.js';
export { relevanceStripSvg } from './relevance-svg.js';
export type { RelevanceStripOptions } from './relevance-svg.js';
export { curvesSvg } from './curves-svg.js';
export type { CurveSeries, CurvesOptions } from './curves-svg.js';
export { colorTokens, rgbToAnsi256 } from './terminal.js';
export type { ColorTokensOptions } from './terminal.js';
export { encodePng, pngDataUri, bytesToBase64, crc32, PNG_SIGNATURE } from './png-encoder.js';
export type { PngImage } from './png-encoder.js';
export { xmlEscape, visibleToken, tokenLabel, formatNumber } from './text.js';
