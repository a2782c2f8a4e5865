/**
 * Training the small vision classifiers on the synthetic shapes (data.ts), with the pieces of
 * src/train: AdamW (decoupled weight decay), linear warm-up + cosine schedule, global-norm
 * clipping. The loop (nanoGPT-style, one pass per step):
 *
 *   for s in 0 … steps − 1:
 *     batch ← training images s·B … s·B + B − 1 of the seed-1 stream (fresh images, a pure function of s)
 *     loss ← crossEntropy(model(batch));  backward;  clip(1.0);  AdamW.step(lr(s));  zeroGrad
 *   accuracy on the held-out seed-2 images at the end (and every evalEvery steps)
 *
 * Writing checkpoints and the training log is src/io/vision-training.ts (Node).
 *
 * Weight decay: matrices only, never the recurrence parameters (A_log, A_b_log, D, D_b), the
 * class token or the position embedding (Vim's `no_weight_decay`).
 */
import * as F from '../core/index.js';
import { backward, noGrad, zeroGrad } from '../core/index.js';
import type { Tensor } from '../core/index.js';
import { AdamW, clipGradNorm, decaysByDefault } from '../train/optimizer.js';
import { learningRate } from '../train/schedule.js';
import type { Schedule } from '../train/schedule.js';
import { SHAPE_CLASSES, shapesBatch, TEST_SEED, TRAIN_SEED } from './data.js';
import { classify } from './model.js';
import type { VisionModel } from './model.js';

export interface VisionTrainSettings {
  steps: number;
  batchSize: number;
  lr: number;
  warmup: number;
  weightDecay: number;
  clip: number;
  /** Held-out images for the accuracy. */
  evalImages: number;
  /** Evaluate every N steps (0: only at the end). */
  evalEvery: number;
  /** Save the checkpoint every N steps (0: only at the end; trainAndSave only). */
  saveEvery?: number;
  /** Index of the first training image (0; a continued run starts after the images its predecessor saw). */
  dataStart?: number;
  /** Stop after this many steps of the `steps`-step schedule (an interrupted run, reproducibly). */
  stopAfter?: number;
}

export const DEFAULT_TRAIN_SETTINGS: VisionTrainSettings = {
  steps: 1500,
  batchSize: 32,
  lr: 3e-3,
  warmup: 100,
  weightDecay: 0.05,
  clip: 1,
  evalImages: 500,
  evalEvery: 0,
};

const NO_DECAY = /(^|\.)(A_b_log|D_b|cls_token|pos_embed)$/;

export function decays(name: string, t: Tensor): boolean {
  return !NO_DECAY.test(name) && decaysByDefault(name, t);
}

export interface StepLog {
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
  seconds: number;
}

export interface AccuracyResult {
  accuracy: number;
  loss: number;
  count: number;
}

/** Accuracy and mean cross-entropy on test images 0 … count − 1 (no graph). */
export function testAccuracy(model: VisionModel, count: number, batchSize = 50, seed = TEST_SEED): AccuracyResult {
  return noGrad(() => {
    let correct = 0;
    let loss = 0;
    for (let start = 0; start < count; start += batchSize) {
      const n = Math.min(batchSize, count - start);
      const batch = shapesBatch(seed, start, n, model.image.imageSize, model.image, model.dtype);
      const logits = classify(model, batch.images);
      loss += F.crossEntropy(logits, batch.labels).item() * n;
      const K = logits.shape[1];
      for (let i = 0; i < n; i++) {
        let arg = 0;
        for (let k = 1; k < K; k++) if (logits.data[i * K + k] > logits.data[i * K + arg]) arg = k;
        if (arg === batch.labels[i]) correct++;
      }
    }
    return { accuracy: correct / count, loss: loss / count, count };
  });
}

export interface TrainHooks {
  onStep?(log: StepLog): void;
  /** After the update of step `step` (1-based). */
  afterStep?(step: number): void;
  onEval?(step: number, result: AccuracyResult): void;
}

/** Trains `model` in place; returns the final held-out accuracy. */
export function trainVision(model: VisionModel, settings: VisionTrainSettings, hooks: TrainHooks = {}): AccuracyResult {
  const params = [...model.parameters.values()];
  for (const p of params) p.requireGrad();
  const optimizer = new AdamW(model.parameters, { weightDecay: settings.weightDecay, beta2: 0.99, decays });
  const schedule: Schedule = { peak: settings.lr, floor: settings.lr / 20, warmup: settings.warmup, total: settings.steps };
  const started = performance.now();
  const end = Math.min(settings.steps, settings.stopAfter ?? settings.steps);
  for (let step = 0; step < end; step++) {
    const batch = shapesBatch(TRAIN_SEED, (settings.dataStart ?? 0) + step * settings.batchSize, settings.batchSize, model.image.imageSize, model.image, model.dtype);
    const lr = learningRate(schedule, step);
    const loss = F.crossEntropy(classify(model, batch.images), batch.labels);
    backward(loss);
    const gradNorm = clipGradNorm(params, settings.clip);
    optimizer.step(lr);
    zeroGrad(params);
    const value = loss.item();
    if (!Number.isFinite(value)) throw new Error(`vision training: the loss became ${value} at step ${step + 1}; try a lower --lr`);
    hooks.onStep?.({ step: step + 1, loss: value, lr, gradNorm, seconds: (performance.now() - started) / 1000 });
    hooks.afterStep?.(step + 1);
    if (settings.evalEvery > 0 && (step + 1) % settings.evalEvery === 0 && step + 1 < end) {
      hooks.onEval?.(step + 1, testAccuracy(model, settings.evalImages));
    }
  }
  for (const p of params) p.requiresGrad = false;
  const result = testAccuracy(model, settings.evalImages);
  hooks.onEval?.(end, result);
  return result;
}

/** The size of a shapes classifier. */
export interface ShapesModelSize {
  arch: 'vim' | 'mlla';
  width: number;
  layers: number;
  /** Vim: state size N. */
  state: number;
  /** MLLA: heads. */
  heads: number;
}

/** The config.json of a shapes classifier: 32×32 RGB images, 4×4 patches, the four shape classes. */
export function shapesModelConfig(spec: ShapesModelSize): Record<string, unknown> {
  const id2label = Object.fromEntries(SHAPE_CLASSES.map((l, i) => [String(i), l]));
  const common = { image_size: 32, patch_size: 4, hidden_size: spec.width, num_hidden_layers: spec.layers, id2label };
  return spec.arch === 'vim' ? { model_type: 'vim', ...common, state_size: spec.state } : { model_type: 'mlla', ...common, num_attention_heads: spec.heads };
}
