// Training checkpoints (Node): the Hugging Face folder (config.json + model.safetensors +
// tokenizer.json, via src/io/checkpoint.ts) plus what resuming needs beside it:
//   optimizer.safetensors  AdamW moments `exp_avg.NAME`, `exp_avg_sq.NAME` (F64, parameter
//                          shapes; metadata: per-parameter step counts)
//   trainer_state.json     global step, settings, data description, RNG state, and the
//                          SHA-256 of both safetensors files, so a resume from files of
//                          different saves (an interrupted save) is refused
//   reference_logits.safetensors  a few ids and this implementation's logits for them, for
//                          scripts/check-from-pretrained.py (src/io/reference-logits.ts)
// Every file is written atomically; trainer_state.json last.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Tensor } from '../core/index.js';
import type { DType } from '../core/index.js';
import { openCheckpoint, WEIGHTS_FILE, writeCheckpoint } from './checkpoint.js';
import type { Checkpoint } from './checkpoint.js';
import type { TensorsToWrite } from './safetensors.js';
import { SafetensorsReader, serializeSafetensors } from './safetensors.js';
import { writeFileAtomic } from './node-file.js';
import { writeReferenceLogits } from './reference-logits.js';
import { modelFromStore } from '../models/index.js';
import type { DecoderLM } from '../models/index.js';
import { CLASSIFIER_BIAS, CLASSIFIER_WEIGHT, ClassifierHead, labelsOf } from '../train/classifier.js';
import type { AdamWState } from '../train/optimizer.js';

export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const STATE_FILE = 'trainer_state.json';
export const LOG_FILE = 'train_log.jsonl';
const STATE_FORMAT = 'implicit-attention-trainer';

/** A problem with a training run's inputs or saved state (one line for the CLI). */
export class TrainingError extends Error {
  override name = 'TrainingError';
}

/** trainer_state.json. */
export interface TrainerStateFile {
  format: typeof STATE_FORMAT;
  version: 1;
  /** Optimisation steps completed. */
  global_step: number;
  /** The run's settings (see TrainSettings in trainer.ts). */
  settings: Record<string, unknown>;
  /** The data source: name, objective, sequence length, vocabulary, labels. */
  data: { name: string; objective: string; length: number; vocab_size: number; labels?: string[] };
  /** The data RNG is counter-based: batch s draws from stream (seed, s); its state is the next step. */
  rng: { kind: 'counter'; seed: number; next_step: number };
  /** SHA-256 of the files saved with this state. */
  files: Record<string, string>;
  /** The latest evaluation, if any. */
  last_eval?: Record<string, number>;
  /** The checkpoint whose weights initialised the model (`iattn train --init`), if any. */
  init_from?: string;
}

export interface SavedRun {
  model: DecoderLM;
  head: ClassifierHead | null;
  /** config.json contents. */
  config: Record<string, unknown>;
  optimizer: AdamWState;
}

function safetensorsDtype(t: Tensor): 'F32' | 'F64' {
  return t.dtype === 'float64' ? 'F64' : 'F32';
}

/** The model's tensors (and the head's) under their checkpoint names, stored in the compute dtype. */
export function weightsToWrite(model: DecoderLM, head: ClassifierHead | null): TensorsToWrite {
  const out: TensorsToWrite = {};
  const all = head === null ? model.parameters : new Map([...model.parameters, ...head.parameters()]);
  for (const [name, t] of all) out[name] = { dtype: safetensorsDtype(t), shape: [...t.shape], data: t.data };
  return out;
}

const sha256 = (bytes: Uint8Array | string): string => createHash('sha256').update(bytes).digest('hex');

/**
 * Writes the HF checkpoint (atomic per file, config.json last), then optimizer.safetensors,
 * then trainer_state.json naming both files' hashes.
 */
export function saveTrainingCheckpoint(
  dir: string,
  run: { model: DecoderLM; head: ClassifierHead | null; config: Record<string, unknown>; tokenizerPath?: string },
  optimizer: AdamWState,
  state: Omit<TrainerStateFile, 'format' | 'version' | 'files'>,
): void {
  writeCheckpoint(dir, run.config, weightsToWrite(run.model, run.head), run.tokenizerPath);
  writeReferenceLogits(dir, run.model, run.head, run.tokenizerPath ?? null);
  const moments: TensorsToWrite = {};
  for (const [key, m] of optimizer.moments) moments[key] = { dtype: 'F64', shape: [...m.shape], data: m.data };
  const optimizerBytes = serializeSafetensors(moments, { format: 'pt', steps: JSON.stringify(optimizer.steps) });
  writeFileAtomic(path.join(dir, OPTIMIZER_FILE), optimizerBytes);
  const files = { [WEIGHTS_FILE]: sha256(fs.readFileSync(path.join(dir, WEIGHTS_FILE))), [OPTIMIZER_FILE]: sha256(optimizerBytes) };
  const full: TrainerStateFile = { format: STATE_FORMAT, version: 1, ...state, files };
  writeFileAtomic(path.join(dir, STATE_FILE), `${JSON.stringify(full, null, 2)}\n`);
}

/** Reads and checks trainer_state.json of `dir`. */
export function readTrainerState(dir: string): TrainerStateFile {
  const file = path.join(dir, STATE_FILE);
  if (!fs.existsSync(file)) throw new TrainingError(`cannot resume: ${dir} has no ${STATE_FILE} (was it written by iattn train?)`);
  let state: TrainerStateFile;
  try {
    state = JSON.parse(fs.readFileSync(file, 'utf8')) as TrainerStateFile;
  } catch (error) {
    throw new TrainingError(`cannot resume: ${file} is not valid JSON (${(error as Error).message})`);
  }
  if (state?.format !== STATE_FORMAT || state.version !== 1 || !Number.isInteger(state.global_step)) {
    throw new TrainingError(`cannot resume: ${file} is not a version-1 ${STATE_FORMAT} state`);
  }
  for (const [name, hash] of Object.entries(state.files ?? {})) {
    const target = path.join(dir, name);
    if (!fs.existsSync(target)) throw new TrainingError(`cannot resume: ${target} is missing`);
    if (sha256(fs.readFileSync(target)) !== hash) {
      throw new TrainingError(`cannot resume: ${target} does not belong to the state of step ${state.global_step} (an interrupted save?)`);
    }
  }
  return state;
}

/** The classifier head (`classifier.weight` [C, H], `classifier.bias` [C]) of an open checkpoint, or null without one. */
export function readClassifierHead(checkpoint: Checkpoint, dtype: DType): ClassifierHead | null {
  if (!checkpoint.has(CLASSIFIER_WEIGHT)) return null;
  const [C, H] = checkpoint.info(CLASSIFIER_WEIGHT).shape;
  if (!checkpoint.has(CLASSIFIER_BIAS)) throw new TrainingError(`${checkpoint.dir} has ${CLASSIFIER_WEIGHT} but no ${CLASSIFIER_BIAS}`);
  return new ClassifierHead(new Tensor(checkpoint.readFloat(CLASSIFIER_WEIGHT, dtype), [C, H]), new Tensor(checkpoint.readFloat(CLASSIFIER_BIAS, dtype), [C]));
}

/** Model (and classifier head, when the checkpoint has one) from a checkpoint folder. */
export function loadTrainedModel(dir: string, dtype: DType = 'float32'): { model: DecoderLM; head: ClassifierHead | null; config: Record<string, unknown>; labels: string[] | null; tokenizerPath: string | null } {
  const checkpoint = openCheckpoint(dir);
  try {
    const model = modelFromStore(checkpoint.config, checkpoint, dtype);
    const head = readClassifierHead(checkpoint, dtype);
    return { model, head, config: checkpoint.config, labels: labelsOf(checkpoint.config), tokenizerPath: checkpoint.tokenizerPath };
  } finally {
    checkpoint.close();
  }
}

/** Everything a resume needs from `dir`: state, model, head, config and optimizer moments. */
export function loadTrainingCheckpoint(dir: string, dtype: DType): SavedRun & { state: TrainerStateFile; tokenizerPath: string | null } {
  const state = readTrainerState(dir);
  const { model, head, config, tokenizerPath } = loadTrainedModel(dir, dtype);
  const reader = SafetensorsReader.open(path.join(dir, OPTIMIZER_FILE));
  try {
    const moments = new Map<string, { shape: readonly number[]; data: Float64Array }>();
    for (const key of reader.keys()) moments.set(key, { shape: reader.info(key).shape, data: reader.readFloat(key, 'float64') });
    const steps = JSON.parse(reader.metadata?.steps ?? '{}') as Record<string, number>;
    return { state, model, head, config, optimizer: { moments, steps }, tokenizerPath };
  } finally {
    reader.close();
  }
}

/** Appends JSON lines to train_log.jsonl; on resume, first drops lines past the resumed step. */
export class TrainLog {
  private readonly file: string;

  constructor(dir: string, resumedAt: number | null) {
    this.file = path.join(dir, LOG_FILE);
    fs.mkdirSync(dir, { recursive: true });
    if (resumedAt === null) {
      fs.writeFileSync(this.file, '');
    } else if (fs.existsSync(this.file)) {
      const kept = fs
        .readFileSync(this.file, 'utf8')
        .split('\n')
        .filter((line) => {
          try {
            return (JSON.parse(line) as { step: number }).step <= resumedAt;
          } catch {
            return false; // a line cut short by an interruption
          }
        });
      fs.writeFileSync(this.file, kept.map((l) => `${l}\n`).join(''));
    }
  }

  write(entry: Record<string, unknown>): void {
    fs.appendFileSync(this.file, `${JSON.stringify(entry)}\n`);
  }
}
