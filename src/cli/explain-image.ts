/**
 * `iattn explain --image FILE.png` / `iattn vision explain` on disk: reads the PNG and the
 * checkpoint, explains with src/vision/explain-image.ts, and writes --out as a PNG (the SVG
 * rasterised by resvg) or an HTML page.
 */
import * as path from 'node:path';
import { writeFileAtomic } from '../io/node-file.js';
import { readPng } from '../io/png.js';
import { svgToPng } from '../io/svg-png.js';
import { loadVisionModel } from '../io/vision-checkpoint.js';
import { explainImage } from '../vision/explain-image.js';
import type { ImageExplainRequest } from '../vision/explain-image.js';
import { ImageError } from '../vision/image.js';

export interface ExplainImageRequest extends ImageExplainRequest {
  image: string;
  modelDir: string;
  /** .png or .html. */
  out?: string;
}

export interface ExplainImageResult {
  json: unknown;
  text: string;
}

export function explainImageFile(req: ExplainImageRequest): ExplainImageResult {
  const ext = req.out === undefined ? null : path.extname(req.out).toLowerCase();
  if (ext !== null && ext !== '.png' && ext !== '.html') throw new ImageError(`--out writes a .png or .html file, got '${req.out}'`);
  const model = loadVisionModel(req.modelDir);
  const raw = readPng(req.image);
  const report = explainImage(model, raw, req, { image: req.image, model: req.modelDir, caption: path.basename(req.image) });
  const lines = [...report.lines];
  if (req.out !== undefined) {
    if (ext === '.png') writeFileAtomic(req.out, svgToPng(report.svg(), { background: 'white' }));
    else writeFileAtomic(req.out, report.html());
    lines.push(`overlay written to ${req.out}`);
  }
  return { json: report.json, text: `${lines.join('\n')}\n` };
}
