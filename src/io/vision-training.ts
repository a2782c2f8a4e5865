/**
 * `iattn vision train` on disk (Node): initialises (or continues from a checkpoint), trains
 * with src/vision/train.ts and writes the checkpoint folder — config.json with a `training`
 * record, model.safetensors, and train_log.jsonl (one JSON line per step and per evaluation).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initVisionModel } from '../vision/checkpoint.js';
import { shapesModelConfig, trainVision } from '../vision/train.js';
import type { ShapesModelSize, VisionTrainSettings } from '../vision/train.js';
import { loadVisionModel, saveVisionModel } from './vision-checkpoint.js';

/** What `iattn vision train` asks for: the architecture, its size and the run settings. */
export interface TrainSpec extends ShapesModelSize {
  out: string;
  seed: number;
  settings: VisionTrainSettings;
  /** Continue from this checkpoint's weights (and its architecture) instead of a fresh initialisation. */
  init?: string;
  /** Progress lines (stderr in the CLI); none when absent. */
  progress?: (line: string) => void;
}

export interface TrainSummary {
  arch: string;
  out: string;
  steps: number;
  batch: number;
  seed: number;
  parameters: number;
  test_accuracy: number;
  test_loss: number;
  test_images: number;
  seconds: number;
}

/**
 * Initialises (seeded), trains and saves a shapes classifier into `spec.out`: config.json
 * (with a `training` record), model.safetensors and train_log.jsonl (one JSON line per step
 * and per evaluation).
 */
export function trainAndSave(spec: TrainSpec): TrainSummary {
  const model = spec.init === undefined ? initVisionModel(shapesModelConfig(spec), spec.seed) : loadVisionModel(spec.init);
  const previous = spec.init === undefined ? null : readTraining(spec.init);
  fs.mkdirSync(spec.out, { recursive: true });
  const logFile = path.join(spec.out, 'train_log.jsonl');
  fs.writeFileSync(logFile, '');
  const log = (entry: Record<string, unknown>) => fs.appendFileSync(logFile, `${JSON.stringify(entry)}\n`);
  const { progress } = spec;
  // A continued run draws the training images after those its predecessor used.
  const seen = previous === null ? 0 : ((previous.dataStart ?? 0) + (previous.completed_steps ?? 0) * (previous.batchSize ?? 0));
  const settings: VisionTrainSettings = { ...spec.settings, dataStart: spec.settings.dataStart ?? seen };
  const started = performance.now();
  const result = trainVision(model, settings, {
    onStep(entry) {
      log({ ...entry });
      if (entry.step % 25 === 0 || entry.step === settings.steps) {
        progress?.(`step ${entry.step}/${settings.steps}  loss ${entry.loss.toFixed(4)}  lr ${entry.lr.toExponential(2)}  ${entry.seconds.toFixed(0)} s`);
      }
    },
    onEval(step, r) {
      log({ step, test_accuracy: r.accuracy, test_loss: r.loss, test_images: r.count });
      progress?.(`step ${step}: held-out accuracy ${(100 * r.accuracy).toFixed(1)} % on ${r.count} images (loss ${r.loss.toFixed(4)})`);
    },
    afterStep(step) {
      // An intermediate checkpoint (its config.json records the step), replaced by the final one.
      if (settings.saveEvery && step % settings.saveEvery === 0 && step < Math.min(settings.steps, settings.stopAfter ?? settings.steps)) saveVisionModel(spec.out, model, { training: { ...settings, seed: spec.seed, completed_steps: step } });
    },
  });
  let parameters = 0;
  for (const t of model.parameters.values()) parameters += t.size;
  const training = {
    ...settings,
    seed: spec.seed,
    completed_steps: Math.min(settings.steps, settings.stopAfter ?? settings.steps),
    data: 'synthetic shapes: training stream seed 1, held-out seed 2',
    test_accuracy: result.accuracy,
    test_images: result.count,
    ...(spec.init === undefined ? {} : { continued_from: { dir: spec.init, training: previous } }),
  };
  saveVisionModel(spec.out, model, { training });
  return {
    arch: model.modelType,
    out: spec.out,
    steps: settings.steps,
    batch: settings.batchSize,
    seed: spec.seed,
    parameters,
    test_accuracy: result.accuracy,
    test_loss: result.loss,
    test_images: result.count,
    seconds: (performance.now() - started) / 1000,
  };
}

interface TrainingRecord {
  dataStart?: number;
  completed_steps?: number;
  batchSize?: number;
}

/** The `training` record of a checkpoint's config.json, if any. */
function readTraining(dir: string): TrainingRecord | null {
  try {
    return (JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as { training?: TrainingRecord }).training ?? null;
  } catch {
    return null;
  }
}
