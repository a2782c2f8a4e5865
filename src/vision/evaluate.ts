/**
 * Judging explanations of a vision classifier on the synthetic shapes, whose object masks
 * are exact (explain-and-evaluate.md §2 and §4), for every method of explain.ts plus two
 * reference rows (`mask`: the ground truth itself, patch-averaged — an upper bound; `random`
 * is a method):
 *
 * Segmentation test (as the official `imagenet_seg_eval.py` of the unified-attention code):
 *   R = the G×G patch map, bilinearly upsampled ×P to pixels (align_corners = False);
 *   prediction = R > mean(R);
 *   pixel accuracy = correct pixels / all pixels, over the whole set;
 *   IoU per class (object, background) = Σ intersection / Σ union over the set;  mIoU = their mean;
 *   mAP = mean over images of the average precision of the two-class score map [1 − R̂, R̂]
 *         against [1 − mask, mask] (the official `get_ap_scores`; R̂ = R min–max scaled per
 *         image, which the official code leaves commented out, so that 1 − R̂ is a score);
 *   AP(obj) = mean over images of the average precision of R against the mask alone.
 *   Average precision is sklearn's: Σ_k (recall_k − recall_{k−1})·precision_k over the
 *   distinct score thresholds, from the highest.
 *
 * Perturbation test (Chefer et al. 2021's positive/negative perturbation, on patches): the
 * patches are ordered by relevance (most relevant first for `positive`, least relevant first
 * for `negative`; ties by patch index); for k = 0, 0.1, …, 0.9 the first round(k·M) patches are
 * masked — their pixels set to 0 in normalised space, i.e. to the normalisation mean (grey) —
 * and the model re-run. Scores per step: accuracy against the true label, and the probability
 * of the explained (predicted) class divided by its unperturbed value. AUC = trapezoid over k
 * (k from 0 to 0.9, so an untouched score of 1 gives 0.9). Positive: lower is better;
 * negative: higher is better; ΔA^F = AUC_neg − AUC_pos (on the probability), higher is better.
 *
 * Everything runs on a fixed, seeded slice of the held-out stream (seed 2, images 0 … n−1).
 */
import * as F from '../core/index.js';
import { Tensor } from '../core/index.js';
import { curvesSvg } from '../viz/curves-svg.js';
import { shapesBatch, TEST_SEED } from './data.js';
import { explainVision, VISION_METHOD_NAMES, VisionExplainContext } from './explain.js';
import type { VisionMethod } from './explain.js';
import { minMax, upsampleBilinear } from './maps.js';
import { classify } from './model.js';
import type { VisionModel } from './model.js';
import { testAccuracy } from './train.js';

/** Methods `vision evaluate` runs by default: every explanation method and the ground-truth mask. */
export const VISION_EVAL_METHODS: readonly string[] = [...VISION_METHOD_NAMES, 'mask'];

export const PERTURBATION_STEPS = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

export interface EvaluationSettings {
  /** Images of the segmentation test (test images 0 … images − 1). */
  images: number;
  /** Images of the perturbation test (the first of those). */
  perturbationImages: number;
  /** Images of the plain accuracy. */
  accuracyImages: number;
  methods: string[];
  startLayer: number;
  /** Integrated-gradients nodes. */
  steps: number;
}

export interface MeanStderr {
  mean: number;
  stderr: number;
}

export interface SegmentationResult {
  pixelAccuracy: number;
  mIoU: number;
  iouObject: number;
  iouBackground: number;
  mAP: MeanStderr;
  apObject: MeanStderr;
}

export interface PerturbationCurve {
  /** Mean over images per step: accuracy and normalised probability. */
  accuracy: number[];
  probability: number[];
  accuracyAuc: MeanStderr;
  probabilityAuc: MeanStderr;
}

export interface MethodResult {
  segmentation: SegmentationResult;
  perturbation?: { positive: PerturbationCurve; negative: PerturbationCurve; deltaAF: MeanStderr };
  /** Mean seconds per image to compute the explanation. */
  secondsPerImage: number;
  /** Integrated gradients: |Σ relevance − (f(x) − f(0))| / |f(x) − f(0)|, median over images and pooled (Σ|error| / Σ|f(x) − f(0)|). */
  completeness?: { medianRelative: number; pooledRelative: number };
}

export interface EvaluationResults {
  model: string;
  modelType: string;
  parameters: number;
  data: { generator: string; seed: number; images: number; perturbationImages: number; accuracyImages: number };
  settings: EvaluationSettings;
  perturbation: { masking: string; steps: number[]; target: string; auc: string };
  accuracy: number;
  /** Unperturbed numbers on the perturbation images: accuracy and mean probability of the predicted class. */
  unperturbed: { accuracy: number; probability: number };
  methods: Record<string, MethodResult>;
  codeVersion: string;
  /** SVG plots (not in results.json): perturbation curves. */
  curves?: Record<string, string>;
}

/** sklearn's average_precision_score for binary labels; 0 without positives (as the official nan_to_num). */
export function averagePrecision(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
  let positives = 0;
  for (let i = 0; i < n; i++) if (labels[i]) positives++;
  if (positives === 0) return 0;
  let [tp, fp, ap, lastRecall] = [0, 0, 0, 0];
  for (let i = 0; i < n; ) {
    const score = scores[order[i]];
    for (; i < n && scores[order[i]] === score; i++) {
      if (labels[order[i]]) tp++;
      else fp++;
    }
    const recall = tp / positives;
    ap += (recall - lastRecall) * (tp / (tp + fp));
    lastRecall = recall;
  }
  return ap;
}

/** Running sums of the segmentation test over a set of images. */
export class SegmentationMeter {
  private correct = 0;
  private pixels = 0;
  private readonly inter = [0, 0];
  private readonly union = [0, 0];
  private readonly aps: number[] = [];
  private readonly objectAps: number[] = [];

  /** One image: patch map [G·G], its mask [S·S], S = G·P. */
  add(patchMap: ArrayLike<number>, mask: Uint8Array, grid: number, patch: number): void {
    const R = upsampleBilinear(patchMap, grid, patch);
    let mean = 0;
    for (const v of R) mean += v / R.length;
    for (let i = 0; i < R.length; i++) {
      const pred = R[i] > mean ? 1 : 0;
      const truth = mask[i];
      if (pred === truth) this.correct++;
      for (const cls of [0, 1]) {
        const [p, t] = [pred === cls, truth === cls];
        if (p && t) this.inter[cls]++;
        if (p || t) this.union[cls]++;
      }
    }
    this.pixels += R.length;
    const scaled = minMax(R);
    const twoClass = new Float64Array(2 * R.length);
    const twoLabels = new Uint8Array(2 * R.length);
    for (let i = 0; i < R.length; i++) {
      twoClass[i] = 1 - scaled[i];
      twoLabels[i] = 1 - mask[i];
      twoClass[R.length + i] = scaled[i];
      twoLabels[R.length + i] = mask[i];
    }
    this.aps.push(averagePrecision(twoClass, twoLabels));
    this.objectAps.push(averagePrecision(R, mask));
  }

  result(): SegmentationResult {
    const iou = [0, 1].map((c) => this.inter[c] / Math.max(this.union[c], 1));
    return {
      pixelAccuracy: this.correct / this.pixels,
      mIoU: (iou[0] + iou[1]) / 2,
      iouObject: iou[1],
      iouBackground: iou[0],
      mAP: meanStderr(this.aps),
      apObject: meanStderr(this.objectAps),
    };
  }
}

export function meanStderr(xs: readonly number[]): MeanStderr {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / Math.max(n, 1);
  const variance = n > 1 ? xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1) : 0;
  return { mean, stderr: Math.sqrt(variance / Math.max(n, 1)) };
}

/** Trapezoid rule over the perturbation steps. */
export function trapezoid(ys: readonly number[], xs: readonly number[] = PERTURBATION_STEPS): number {
  let area = 0;
  for (let i = 1; i < ys.length; i++) area += ((ys[i] + ys[i - 1]) / 2) * (xs[i] - xs[i - 1]);
  return area;
}

/**
 * The perturbed copies of one normalised image [1, C, S, S]: for each direction (positive,
 * negative) and step k, the first round(k·M) patches of the order masked to 0.
 * Returns [2·steps, C, S, S] (positive steps first).
 */
export function perturbedImages(image: Tensor, patchScores: ArrayLike<number>, grid: number, patch: number, steps = PERTURBATION_STEPS): Tensor {
  const [, C, S] = image.shape;
  const M = grid * grid;
  const byIndex = Array.from({ length: M }, (_, m) => m);
  const positive = [...byIndex].sort((a, b) => patchScores[b] - patchScores[a] || a - b);
  const negative = [...byIndex].sort((a, b) => patchScores[a] - patchScores[b] || a - b);
  const count = 2 * steps.length;
  const size = C * S * S;
  const out = F.allocate(image.dtype, count * size);
  [positive, negative].forEach((order, dir) => {
    steps.forEach((k, i) => {
      const o = (dir * steps.length + i) * size;
      out.set(image.data, o);
      for (const m of order.slice(0, Math.round(k * M))) {
        const [gi, gj] = [Math.floor(m / grid), m % grid];
        for (let c = 0; c < C; c++) for (let y = 0; y < patch; y++) for (let x = 0; x < patch; x++) out[o + (c * S + gi * patch + y) * S + gj * patch + x] = 0;
      }
    });
  });
  return new Tensor(out, [count, C, S, S]);
}

/** Softmax probabilities of rows of logits [B, K]. */
function softmaxRows(logits: Tensor): Float64Array {
  const [B, K] = logits.shape;
  const out = new Float64Array(B * K);
  for (let b = 0; b < B; b++) {
    let m = -Infinity;
    for (let k = 0; k < K; k++) m = Math.max(m, logits.data[b * K + k]);
    let z = 0;
    for (let k = 0; k < K; k++) z += Math.exp(logits.data[b * K + k] - m);
    for (let k = 0; k < K; k++) out[b * K + k] = Math.exp(logits.data[b * K + k] - m) / z;
  }
  return out;
}

/** The ground truth as a patch map: the object's share of each patch's pixels. */
export function maskPatchMap(mask: Uint8Array, grid: number, patch: number): Float64Array {
  const S = grid * patch;
  const out = new Float64Array(grid * grid);
  for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) out[Math.floor(y / patch) * grid + Math.floor(x / patch)] += mask[y * S + x] / (patch * patch);
  return out;
}

interface PerturbationSums {
  accuracy: number[][];
  probability: number[][];
}

/** What the caller records about the run: the code version (src/io/provenance.ts in the CLI) and progress lines. */
export interface EvaluationContext {
  /** Recorded as `codeVersion` (e.g. `0.1.0+d7a20c50c8e7`; default `unknown`). */
  codeVersion?: string;
  /** Receives one line per stage. */
  progress?: (line: string) => void;
}

/** Runs the whole evaluation. */
export function evaluateVision(model: VisionModel, modelDir: string, settings: EvaluationSettings, run: EvaluationContext = {}): EvaluationResults {
  const { progress } = run;
  const { imageSize: S, patchSize: P } = model.image;
  const G = S / P;
  const accuracy = testAccuracy(model, settings.accuracyImages).accuracy;
  progress?.(`held-out accuracy ${(100 * accuracy).toFixed(1)} % on ${settings.accuracyImages} images`);
  const data = shapesBatch(TEST_SEED, 0, settings.images, S, model.image, model.dtype);
  const meters = new Map(settings.methods.map((m) => [m, new SegmentationMeter()]));
  const seconds = new Map(settings.methods.map((m) => [m, 0]));
  const completeness: { error: number; gap: number }[] = [];
  const pert = new Map<string, { pos: PerturbationSums; neg: PerturbationSums }>(
    settings.methods.map((m) => [m, { pos: { accuracy: [], probability: [] }, neg: { accuracy: [], probability: [] } }]),
  );
  const unperturbed = { accuracy: 0, probability: 0 };
  const size = 3 * S * S;
  const started = performance.now();
  for (let i = 0; i < settings.images; i++) {
    const image = new Tensor(data.images.data.slice(i * size, (i + 1) * size), [1, 3, S, S]);
    const mask = data.masks.subarray(i * S * S, (i + 1) * S * S);
    const context = new VisionExplainContext(model, image);
    const target = context.target();
    const perturb = i < settings.perturbationImages;
    if (perturb) {
      unperturbed.accuracy += (target.predicted === data.labels[i] ? 1 : 0) / settings.perturbationImages;
      unperturbed.probability += target.predictedProbability / settings.perturbationImages;
    }
    for (const method of settings.methods) {
      const t0 = performance.now();
      let map: Float64Array;
      if (method === 'mask') map = maskPatchMap(mask, G, P);
      else {
        const e = explainVision(context, method as VisionMethod, { startLayer: settings.startLayer, steps: settings.steps });
        map = e.patchScores;
        if (e.completenessError !== undefined) {
          completeness.push({ error: Math.abs(e.completenessError), gap: Math.abs(map.reduce((a, b) => a + b, 0) - e.completenessError) });
        }
      }
      seconds.set(method, seconds.get(method)! + (performance.now() - t0) / 1000);
      meters.get(method)!.add(map, mask, G, P);
      if (perturb) {
        const probs = softmaxRows(F.noGrad(() => classify(model, perturbedImages(image, map, G, P))));
        const K = model.image.labels.length;
        const n = PERTURBATION_STEPS.length;
        const sums = pert.get(method)!;
        [sums.pos, sums.neg].forEach((dir, d) => {
          const acc: number[] = [];
          const prob: number[] = [];
          for (let k = 0; k < n; k++) {
            const row = probs.subarray((d * n + k) * K, (d * n + k + 1) * K);
            let arg = 0;
            for (let c = 1; c < K; c++) if (row[c] > row[arg]) arg = c;
            acc.push(arg === data.labels[i] ? 1 : 0);
            prob.push(row[target.predicted] / target.predictedProbability);
          }
          dir.accuracy.push(acc);
          dir.probability.push(prob);
        });
      }
    }
    if ((i + 1) % 10 === 0 || i + 1 === settings.images) {
      const elapsed = (performance.now() - started) / 1000;
      progress?.(`explained ${i + 1}/${settings.images} images (${elapsed.toFixed(0)} s, ~${((elapsed / (i + 1)) * (settings.images - i - 1)).toFixed(0)} s left)`);
    }
  }
  const methods: Record<string, MethodResult> = {};
  for (const method of settings.methods) {
    const result: MethodResult = { segmentation: meters.get(method)!.result(), secondsPerImage: seconds.get(method)! / settings.images };
    if (settings.perturbationImages > 0) {
      const { pos, neg } = pert.get(method)!;
      const curve = (sums: PerturbationSums): PerturbationCurve => ({
        accuracy: PERTURBATION_STEPS.map((_, k) => sums.accuracy.reduce((a, r) => a + r[k], 0) / sums.accuracy.length),
        probability: PERTURBATION_STEPS.map((_, k) => sums.probability.reduce((a, r) => a + r[k], 0) / sums.probability.length),
        accuracyAuc: meanStderr(sums.accuracy.map((r) => trapezoid(r))),
        probabilityAuc: meanStderr(sums.probability.map((r) => trapezoid(r))),
      });
      result.perturbation = {
        positive: curve(pos),
        negative: curve(neg),
        deltaAF: meanStderr(neg.probability.map((r, i) => trapezoid(r) - trapezoid(pos.probability[i]))),
      };
    }
    if (method === 'integrated-gradients' && completeness.length > 0) {
      const ratios = completeness.map((c) => c.error / Math.max(c.gap, 1e-12)).sort((a, b) => a - b);
      const sum = (key: 'error' | 'gap') => completeness.reduce((a, c) => a + c[key], 0);
      result.completeness = { medianRelative: ratios[Math.floor(ratios.length / 2)], pooledRelative: sum('error') / sum('gap') };
    }
    methods[method] = result;
  }
  let parameters = 0;
  for (const t of model.parameters.values()) parameters += t.size;
  const results: EvaluationResults = {
    model: modelDir,
    modelType: model.modelType,
    parameters,
    data: { generator: 'synthetic shapes (src/vision/data.ts)', seed: TEST_SEED, images: settings.images, perturbationImages: settings.perturbationImages, accuracyImages: settings.accuracyImages },
    settings,
    perturbation: {
      masking: 'patch pixels set to 0 after normalisation (the per-channel mean, grey)',
      steps: PERTURBATION_STEPS,
      target: 'accuracy vs the true label; probability of the predicted class / its unperturbed value',
      auc: 'trapezoid over k = 0 … 0.9',
    },
    accuracy,
    unperturbed,
    methods,
    codeVersion: run.codeVersion ?? 'unknown',
  };
  if (settings.perturbationImages > 0) results.curves = perturbationSvgs(results);
  return results;
}

function perturbationSvgs(results: EvaluationResults): Record<string, string> {
  const out: Record<string, string> = {};
  for (const dir of ['positive', 'negative'] as const) {
    const series = Object.entries(results.methods)
      .filter(([, r]) => r.perturbation !== undefined)
      .map(([name, r]) => ({ name: `${name} (${r.perturbation![dir].probabilityAuc.mean.toFixed(3)})`, x: PERTURBATION_STEPS, y: r.perturbation![dir].probability, dashed: name === 'mask' || name === 'random' }));
    out[`perturbation-${dir}`] = curvesSvg(series, {
      title: `${results.modelType}: ${dir} perturbation (${dir === 'positive' ? 'most' : 'least'} relevant patches first)`,
      subtitle: `${results.data.perturbationImages} held-out images · legend: AUC of the normalised probability`,
      xLabel: 'fraction of patches masked',
      yLabel: 'probability / unperturbed',
    });
  }
  return out;
}

const f3 = (x: number) => x.toFixed(3);
const ms = (x: MeanStderr) => `${f3(x.mean)} ± ${f3(x.stderr)}`;

/** The Markdown tables of a run. */
export function evaluationMarkdown(r: EvaluationResults): string {
  const lines: string[] = [];
  lines.push(`### ${r.modelType} (${r.model}), ${r.parameters} parameters`);
  lines.push('');
  lines.push(`Held-out accuracy ${(100 * r.accuracy).toFixed(1)} % on ${r.data.accuracyImages} images. Segmentation test on ${r.data.images} held-out images (seed ${r.data.seed}), start layer ${r.settings.startLayer}.`);
  lines.push('');
  lines.push('| method | pixel acc | mIoU | IoU obj | mAP | AP(obj) | s/image |');
  lines.push('| --- | --- | --- | --- | --- | --- | --- |');
  for (const [name, m] of Object.entries(r.methods)) {
    const s = m.segmentation;
    lines.push(`| ${name} | ${f3(s.pixelAccuracy)} | ${f3(s.mIoU)} | ${f3(s.iouObject)} | ${ms(s.mAP)} | ${ms(s.apObject)} | ${m.secondsPerImage.toFixed(3)} |`);
  }
  if (r.data.perturbationImages > 0) {
    lines.push('');
    lines.push(
      `Perturbation test on ${r.data.perturbationImages} images (unperturbed: accuracy ${f3(r.unperturbed.accuracy)}, mean probability of the predicted class ${f3(r.unperturbed.probability)}); ` +
        'AUC over k = 0 … 0.9 (max 0.9); positive: lower is better, negative: higher is better.',
    );
    lines.push('');
    lines.push('| method | pos AUC (prob) | neg AUC (prob) | ΔA^F | pos AUC (acc) | neg AUC (acc) |');
    lines.push('| --- | --- | --- | --- | --- | --- |');
    for (const [name, m] of Object.entries(r.methods)) {
      const p = m.perturbation;
      if (p === undefined) continue;
      lines.push(`| ${name} | ${ms(p.positive.probabilityAuc)} | ${ms(p.negative.probabilityAuc)} | ${ms(p.deltaAF)} | ${f3(p.positive.accuracyAuc.mean)} | ${f3(p.negative.accuracyAuc.mean)} |`);
    }
  }
  const ig = r.methods['integrated-gradients']?.completeness;
  if (ig !== undefined) {
    lines.push('');
    lines.push(
      `Integrated gradients (${r.settings.steps} Gauss–Legendre nodes): completeness error |Σ relevance − (f(x) − f(0))| relative to |f(x) − f(0)|, ` +
        `median over images ${ig.medianRelative.toExponential(2)}, pooled (Σ|error| / Σ|f(x) − f(0)|) ${ig.pooledRelative.toExponential(2)}.`,
    );
  }
  lines.push('');
  lines.push(`Code version ${r.codeVersion}.`);
  return `${lines.join('\n')}\n`;
}
