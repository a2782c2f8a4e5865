/**
 * The Vision section of docs/results.md (src/cli/results-vision.ts, called by results-doc.ts):
 * tables, commands and reading from hand-made evaluation documents, and the whole document
 * rebuilt from the stored results in docs/results-data/ (vision-*.json recognised, copied back,
 * the rebuild reproducing itself).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildResults } from '../../src/cli/results-doc.js';
import { visionCommand, visionSection } from '../../src/cli/results-vision.js';
import type { EvaluationResults, MethodResult } from '../../src/vision/evaluate.js';
import { VISION_EVAL_METHODS } from '../../src/vision/evaluate.js';

const ms = (mean: number, stderr = 0.005) => ({ mean, stderr });
const curve = (auc: number) => ({ accuracy: [], probability: [], accuracyAuc: ms(auc), probabilityAuc: ms(auc) });

function method(miou: number, map: number, pos: number, neg: number): MethodResult {
  return {
    segmentation: { pixelAccuracy: miou + 0.2, mIoU: miou, iouObject: miou - 0.1, iouBackground: miou + 0.1, mAP: ms(map), apObject: ms(map - 0.2) },
    perturbation: { positive: curve(pos), negative: curve(neg), deltaAF: ms(neg - pos, 0.01) },
    secondsPerImage: 0.01,
  };
}

function doc(modelType: string, startLayer: number, methods: Record<string, MethodResult>): EvaluationResults {
  const names = Object.keys(methods);
  return {
    model: `models/vision/${modelType}`,
    modelType,
    parameters: 1234,
    data: { generator: 'synthetic shapes', seed: 2, images: 20, perturbationImages: 10, accuracyImages: 100 },
    settings: { images: 20, perturbationImages: 10, accuracyImages: 100, methods: names, startLayer, steps: 32 },
    perturbation: { masking: 'grey', steps: [0, 0.1], target: 'p', auc: 'trapezoid' },
    accuracy: 0.9,
    unperturbed: { accuracy: 0.9, probability: 0.8 },
    methods,
    codeVersion: '0.1.0+abc',
  };
}

describe('the Vision section of results.md', () => {
  it('tables both models side by side, bolds the best method (never the mask reference), reads the numbers', () => {
    const vim = doc('vim', 0, { raw: method(0.5, 0.9, 0.35, 0.75), 'grad-attn': method(0.6, 0.95, 0.3, 0.8), random: method(0.27, 0.5, 0.44, 0.43), mask: method(0.75, 0.99, 0.35, 0.84) });
    const mlla = doc('mlla', 0, { raw: method(0.48, 0.74, 0.3, 0.72), 'grad-attn': method(0.65, 0.97, 0.28, 0.77), random: method(0.27, 0.5, 0.36, 0.37), mask: method(0.75, 0.99, 0.38, 0.82) });
    const late = doc('vim', 2, { raw: method(0.57, 0.95, 0.33, 0.79), 'grad-attn': method(0.605, 0.95, 0.29, 0.8) });
    const figures: string[] = [];
    const { lines, reading } = visionSection(
      [{ name: 'vision-mlla', doc: mlla }, { name: 'vision-vim-start2', doc: late }, { name: 'vision-vim', doc: vim }],
      (name, svg) => {
        figures.push(name);
        expect(svg).toMatch(/^<svg /);
        return `figures/${name}.png`;
      },
      VISION_EVAL_METHODS,
    );
    const text = lines.join('\n');
    expect(text).toContain('## 3. Vision');
    expect(text).toContain('| method | Vision Mamba pixel acc ↑ | mIoU ↑ | mAP ↑ | MLLA pixel acc ↑ | mIoU ↑ | mAP ↑ |');
    expect(text).toContain('| grad-attn | **0.800** | **0.600** | **0.950 ± 0.005** | **0.850** | **0.650** | **0.970 ± 0.005** |');
    expect(text).toContain('| *mask (reference)* | 0.950 | 0.750 | 0.990 ± 0.005 |');
    expect(text).toContain('| grad-attn | **0.300 ± 0.005** | **0.800 ± 0.005** | **0.500 ± 0.010** |');
    expect(text).toContain('| raw | 0.500 → 0.570 | 0.900 → 0.950 | 0.400 → 0.460 |');
    // Vision Mamba first, then MLLA; commands as given (methods listed only when not all).
    expect(text.indexOf('iattn vision evaluate --model models/vision/vim --images 20')).toBeLessThan(text.indexOf('--model models/vision/mlla'));
    expect(text).toContain('iattn vision evaluate --model models/vision/vim --images 20 --perturbation-images 10 --accuracy-images 100 --methods raw,grad-attn --start-layer 2');
    expect(figures).toEqual(['vision-summary']);
    expect(text).toContain('![vision summary](figures/vision-summary.png)');
    const r = reading.join('\n');
    expect(r).toContain('Vision, Vision Mamba (held-out accuracy 90.0 %): segmentation mIoU ranking grad-attn 0.600 > raw 0.500; random 0.270');
    expect(r).toContain('more than two standard errors above random (0.500 ± 0.005): raw, grad-attn');
    expect(r).toContain('best ΔA^F grad-attn (0.500 ± 0.010)');
    expect(r).toContain('start layer 2 instead of 0: mIoU better for raw (+0.070), within ±0.01 for grad-attn, worse for none');
  });

  it('reconstructs the command of a run from its settings', () => {
    const d = doc('mlla', 0, {});
    d.settings = { ...d.settings, methods: [...VISION_EVAL_METHODS], steps: 64 };
    expect(visionCommand(d, VISION_EVAL_METHODS)).toBe('iattn vision evaluate --model models/vision/mlla --images 20 --perturbation-images 10 --accuracy-images 100 --steps 64');
  });

  it('is rebuilt from the stored results in docs/results-data (vision-*.json kept, the rebuild reproducing itself)', () => {
    const stored = fileURLToPath(new URL('../../docs/results-data/', import.meta.url));
    const docs = fs.mkdtempSync(path.join(os.tmpdir(), 'iattn-results-doc-'));
    try {
      const text = buildResults(stored, docs);
      expect(text).toContain('## 3. Vision: explanations of image classifiers');
      expect(text).toContain('## 4. Reading (derived from the numbers above)');
      expect(text).toMatch(/- Vision, Vision Mamba \(held-out accuracy \d+\.\d %\)/);
      for (const name of ['vision-vim', 'vision-vim-start2', 'vision-mlla', 'vision-mlla-start2']) {
        const copy = JSON.parse(fs.readFileSync(path.join(docs, 'results-data', `${name}.json`), 'utf8')) as EvaluationResults;
        expect(copy.modelType).toBe(name.split('-')[1]);
        expect(copy.curves).toBeUndefined();
      }
      expect(fs.existsSync(path.join(docs, 'figures', 'vision-summary.png'))).toBe(true);
      expect(buildResults(path.join(docs, 'results-data'), docs)).toBe(text);
    } finally {
      fs.rmSync(docs, { recursive: true, force: true });
    }
  });
});
