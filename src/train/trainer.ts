/**
 * The training loop, nanoGPT-style: one function, one pass per step.
 *
 *   for s in step … total − 1:
 *     batch ← data.batch(s)                    (a pure function of (seed, s))
 *     loss ← crossEntropy(forward(batch))      (LM head, or classifier head at the last token)
 *     backward(loss); n ← clipGradNorm(1.0); AdamW.step(lr(s)); zeroGrad
 *     every evalEvery steps and at the end: validation NLL (and accuracy) on held-out data
 *     every saveEvery steps and at the end: HF checkpoint + optimizer + trainer state (atomic)
 *
 * A run saved at step s and resumed continues exactly as if never stopped: weights are saved
 * in the compute dtype, the AdamW moments in float64, the schedule is a function of s, and
 * the data RNG is counter-based. Logs go to train_log.jsonl (one JSON object per line).
 */
import * as F from '../core/index.js';
import { backward, noGrad, zeroGrad } from '../core/index.js';
import type { DType, Tensor } from '../core/index.js';
import type { DecoderLM } from '../models/index.js';
import { TrainingError, TrainLog, loadTrainingCheckpoint, readTrainerState, saveTrainingCheckpoint } from '../io/training-checkpoint.js';
import { ClassifierHead, classifierConfig, classifierLogits } from './classifier.js';
import { IGNORE, foldSeed } from './data.js';
import type { Batch, DataSource } from './data.js';
import { AdamW, clipGradNorm } from './optimizer.js';
import { checkSchedule, defaultWarmup, learningRate } from './schedule.js';
import type { Schedule } from './schedule.js';

/** Hyperparameters of a run, with defaults from `trainSettings`. */
export interface TrainSettings {
  /** Total optimisation steps (also the cosine schedule's horizon). */
  steps: number;
  /** B, sequences per step. */
  batchSize: number;
  /** Peak learning rate (3e-3: tiny models). */
  lr: number;
  /** Floor of the cosine decay (lr / 10). */
  minLr: number;
  /** Linear warm-up steps (10 % of steps, at most 200). */
  warmup: number;
  /** AdamW decoupled weight decay (0.1), applied as `decaysByDefault` says. */
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Global gradient-norm clip (1.0; Infinity: off). */
  clip: number;
  /** Seed of the data stream (the model and head are initialised from seeds derived by the caller). */
  seed: number;
  /** Evaluate every N steps (0: only at the end). */
  evalEvery: number;
  /** Validation batches per evaluation (8). */
  evalBatches: number;
  /** Save every N steps (0: only at the end). */
  saveEvery: number;
  /** Compute dtype of the model. */
  dtype: DType;
}

export function trainSettings(partial: Partial<TrainSettings> & { steps: number }): TrainSettings {
  const lr = partial.lr ?? 3e-3;
  const s: TrainSettings = {
    batchSize: 8,
    lr,
    minLr: lr / 10,
    warmup: defaultWarmup(partial.steps),
    weightDecay: 0.1,
    beta1: 0.9,
    beta2: 0.95,
    eps: 1e-8,
    clip: 1.0,
    seed: 0,
    evalEvery: 0,
    evalBatches: 8,
    saveEvery: 0,
    dtype: 'float32',
    ...Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)),
  } as TrainSettings;
  checkSchedule(scheduleOf(s));
  for (const key of ['steps', 'batchSize', 'evalBatches'] as const) {
    if (!Number.isInteger(s[key]) || s[key] <= 0) throw new TrainingError(`${key} should be a positive integer, got ${s[key]}`);
  }
  for (const key of ['evalEvery', 'saveEvery'] as const) {
    if (!Number.isInteger(s[key]) || s[key] < 0) throw new TrainingError(`${key} should be a non-negative integer, got ${s[key]}`);
  }
  if (!(s.clip > 0)) throw new TrainingError(`clip should be positive (Infinity: no clipping), got ${s.clip}`);
  return s;
}

export function scheduleOf(s: TrainSettings): Schedule {
  return { peak: s.lr, floor: s.minLr, warmup: s.warmup, total: s.steps };
}

/** A training run in progress: what the loop updates and what a checkpoint saves. */
export interface Run {
  model: DecoderLM;
  /** The classifier head when the data's objective is `classify`. */
  head: ClassifierHead | null;
  optimizer: AdamW;
  data: DataSource;
  settings: TrainSettings;
  /** Steps completed. */
  step: number;
  /** config.json written with every checkpoint. */
  config: Record<string, unknown>;
  /** Folder for checkpoints and train_log.jsonl; null: keep everything in memory. */
  outDir: string | null;
  /** tokenizer.json copied into every checkpoint. */
  tokenizerPath?: string;
  /** Where the run was resumed from (null: fresh). */
  resumedAt: number | null;
  /** The checkpoint whose weights initialised the model (`iattn train --init`), if any. */
  initFrom?: string;
}

export interface StartOptions {
  model: DecoderLM;
  data: DataSource;
  settings: TrainSettings;
  outDir?: string | null;
  tokenizerPath?: string;
  /** Extra config.json keys (e.g. token ids); the family's own keys win. */
  configExtras?: Record<string, unknown>;
  /** The checkpoint the model's weights come from (recorded in trainer_state.json). */
  initFrom?: string;
}

/** Every trainable tensor of the run by checkpoint name (tied weights once), marked requiresGrad. */
function trainables(model: DecoderLM, head: ClassifierHead | null): Map<string, Tensor> {
  const params = new Map(model.parameters);
  if (head !== null) for (const [k, v] of head.parameters()) params.set(k, v);
  for (const p of params.values()) p.requireGrad();
  return params;
}

function adamW(model: DecoderLM, head: ClassifierHead | null, s: TrainSettings): AdamW {
  return new AdamW(trainables(model, head), { beta1: s.beta1, beta2: s.beta2, eps: s.eps, weightDecay: s.weightDecay });
}

function checkFits(model: DecoderLM, data: DataSource): void {
  if (data.vocabSize > model.config.vocabSize) {
    throw new TrainingError(`the data uses a vocabulary of ${data.vocabSize} tokens, the model has ${model.config.vocabSize}`);
  }
}

/** A fresh run: a classifier head is added (seeded from settings.seed) when the data classifies. */
export function startRun(o: StartOptions): Run {
  const { model, data, settings } = o;
  if (model.dtype !== settings.dtype) throw new TrainingError(`the model is ${model.dtype} but settings.dtype is ${settings.dtype}`);
  checkFits(model, data);
  const labels = data.labels;
  const head = data.objective === 'classify' ? ClassifierHead.init(labels!.length, model.config.hiddenSize, foldSeed(settings.seed, 0x636c73), settings.dtype) : null;
  const base = { ...o.configExtras, ...model.hfConfig };
  return {
    model,
    head,
    optimizer: adamW(model, head, settings),
    data,
    settings,
    step: 0,
    config: head === null ? base : classifierConfig(base, labels!),
    outDir: o.outDir ?? null,
    tokenizerPath: o.tokenizerPath,
    resumedAt: null,
    ...(o.initFrom === undefined ? {} : { initFrom: o.initFrom }),
  };
}

/** What may change when a run is resumed: the total steps (and with them the schedule's horizon) and the eval/save cadence. */
export type ResumeOverrides = Partial<Pick<TrainSettings, 'steps' | 'evalEvery' | 'saveEvery' | 'evalBatches'>>;

/**
 * Continues the run saved in `outDir`. `data` must be the source the run was trained on
 * (same name, objective, sequence length and vocabulary; its seed comes from the saved state).
 */
export function resumeRun(outDir: string, data: DataSource, overrides: ResumeOverrides = {}, tokenizerPath?: string): Run {
  const saved = readSettings(outDir);
  const loaded = loadTrainingCheckpoint(outDir, saved.dtype);
  const { state } = loaded;
  const want = state.data;
  if (data.name !== want.name || data.objective !== want.objective || data.length !== want.length || data.vocabSize !== want.vocab_size) {
    throw new TrainingError(
      `cannot resume: the run in ${outDir} trained on ${want.name} (${want.objective}, seq ${want.length}, vocab ${want.vocab_size}), not ${data.name} (${data.objective}, seq ${data.length}, vocab ${data.vocabSize})`,
    );
  }
  if ((data.objective === 'classify') !== (loaded.head !== null)) throw new TrainingError(`cannot resume: ${outDir} ${loaded.head ? 'has' : 'lacks'} a classifier head but the data objective is ${data.objective}`);
  const settings = trainSettings({ ...saved, ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) });
  if (settings.steps < state.global_step) throw new TrainingError(`cannot resume: ${outDir} is already at step ${state.global_step}, past --steps ${settings.steps}`);
  checkFits(loaded.model, data);
  const optimizer = adamW(loaded.model, loaded.head, settings);
  optimizer.loadState(loaded.optimizer);
  return {
    model: loaded.model,
    head: loaded.head,
    optimizer,
    data,
    settings,
    step: state.global_step,
    config: loaded.config,
    outDir,
    tokenizerPath: tokenizerPath ?? loaded.tokenizerPath ?? undefined,
    resumedAt: state.global_step,
    ...(state.init_from === undefined ? {} : { initFrom: state.init_from }),
  };
}

/** The settings saved in `outDir` (to rebuild the data source before resuming). */
export function readSettings(outDir: string): TrainSettings {
  const saved = readTrainerState(outDir).settings as unknown as TrainSettings;
  // JSON has no Infinity: "no clipping" is saved as null.
  return { ...saved, clip: (saved.clip as number | null) ?? Infinity };
}

/** Mean loss of one batch as a scalar tensor (with graph when gradients are enabled). */
export function batchLoss(model: DecoderLM, head: ClassifierHead | null, batch: Batch): Tensor {
  const { ids, batch: B, length: L, targets } = batch;
  if (head !== null) return F.crossEntropy(classifierLogits(model, head, ids, B, L), targets, IGNORE);
  const logits = model.forwardIds(ids, B, L); // [B, L, V]
  return F.crossEntropy(F.reshape(logits, [B * L, model.config.vocabSize]), targets, IGNORE); // [B·L, V]
}

export interface EvalResult {
  /** Mean negative log-likelihood (nats) of the scored targets. */
  nll: number;
  /** Fraction of scored targets predicted by argmax. */
  accuracy: number;
  /** Targets scored. */
  count: number;
}

/** Validation NLL and accuracy over `batches` (no graph). */
export function evaluate(model: DecoderLM, head: ClassifierHead | null, batches: readonly Batch[]): EvalResult {
  return noGrad(() => {
    let nll = 0;
    let correct = 0;
    let count = 0;
    for (const batch of batches) {
      const { ids, batch: B, length: L, targets } = batch;
      const logits = head !== null ? classifierLogits(model, head, ids, B, L) : model.forwardIds(ids, B, L);
      const C = logits.shape[logits.rank - 1];
      const rows = logits.size / C;
      const d = logits.data;
      for (let r = 0; r < rows; r++) {
        const t = targets[r];
        if (t === IGNORE) continue;
        let m = -Infinity;
        let arg = 0;
        for (let c = 0; c < C; c++) {
          if (d[r * C + c] > m) {
            m = d[r * C + c];
            arg = c;
          }
        }
        let z = 0;
        for (let c = 0; c < C; c++) z += Math.exp(d[r * C + c] - m);
        nll += m + Math.log(z) - d[r * C + t];
        correct += arg === t ? 1 : 0;
        count++;
      }
    }
    return { nll: count === 0 ? NaN : nll / count, accuracy: count === 0 ? NaN : correct / count, count };
  });
}

export interface StepLog {
  step: number;
  loss: number;
  lr: number;
  grad_norm: number;
  tokens_per_s: number;
  elapsed_s: number;
}

export interface EvalLog {
  step: number;
  val_nll: number;
  val_accuracy: number;
  val_count: number;
}

export interface TrainHooks {
  onStep?(log: StepLog, total: number): void;
  onEval?(log: EvalLog): void;
  onSave?(step: number, dir: string): void;
}

export interface TrainResult {
  /** Steps completed (the run's step after this call). */
  step: number;
  /** Training loss of every step run in this call, in order. */
  losses: number[];
  /** The last evaluation (null if none ran). */
  lastEval: EvalLog | null;
  /** Training tokens per second over this call (forward, backward and update; eval and saving excluded). */
  tokensPerSecond: number;
  /** Wall time of this call, seconds. */
  seconds: number;
}

export interface TrainOptions {
  hooks?: TrainHooks;
  /** Stop after this many completed steps even if the run is longer (an interruption: tests, benchmarks). */
  stopAt?: number;
}

/** Runs the loop from `run.step` to `settings.steps` (or `stopAt`), evaluating, logging and saving. */
export function train(run: Run, options: TrainOptions = {}): TrainResult {
  const { model, head, optimizer, data, settings: s } = run;
  const params = [...trainables(model, head).values()];
  const schedule = scheduleOf(s);
  const validation = data.validation(s.batchSize, s.evalBatches);
  const log = run.outDir === null ? null : new TrainLog(run.outDir, run.resumedAt);
  const end = Math.min(s.steps, options.stopAt ?? s.steps);
  const started = performance.now();
  let trainMs = 0;
  let tokens = 0;
  const losses: number[] = [];
  let lastEval: EvalLog | null = null;
  let lastEvalStep = -1;
  const runEval = (): EvalLog => {
    const r = evaluate(model, head, validation);
    lastEval = { step: run.step, val_nll: r.nll, val_accuracy: r.accuracy, val_count: r.count };
    lastEvalStep = run.step;
    log?.write({ ...lastEval });
    options.hooks?.onEval?.(lastEval);
    return lastEval;
  };
  for (let step = run.step; step < end; step++) {
    const t0 = performance.now();
    const batch = data.batch(step, s.batchSize);
    const lr = learningRate(schedule, step);
    const loss = batchLoss(model, head, batch);
    backward(loss);
    const gradNorm = clipGradNorm(params, s.clip);
    optimizer.step(lr);
    zeroGrad(params);
    const ms = performance.now() - t0;
    trainMs += ms;
    tokens += batch.batch * batch.length;
    run.step = step + 1;
    const value = loss.item();
    if (!Number.isFinite(value)) throw new TrainingError(`the loss became ${value} at step ${run.step}; try a lower --lr`);
    losses.push(value);
    const entry: StepLog = {
      step: run.step,
      loss: value,
      lr,
      grad_norm: gradNorm,
      tokens_per_s: (batch.batch * batch.length) / (ms / 1000),
      elapsed_s: (performance.now() - started) / 1000,
    };
    log?.write({ ...entry });
    options.hooks?.onStep?.(entry, s.steps);
    const last = run.step === s.steps;
    if ((s.evalEvery > 0 && run.step % s.evalEvery === 0) || last) runEval();
    if (run.outDir !== null && ((s.saveEvery > 0 && run.step % s.saveEvery === 0) || last)) save(run, lastEval);
  }
  // A run that was already complete still reports its evaluation.
  if (lastEvalStep !== run.step && run.step === s.steps) runEval();
  return { step: run.step, losses, lastEval, tokensPerSecond: trainMs > 0 ? tokens / (trainMs / 1000) : 0, seconds: (performance.now() - started) / 1000 };
}

/** Writes the run's checkpoint, optimizer and trainer state into its outDir. */
export function save(run: Run, lastEval: EvalLog | null = null): void {
  if (run.outDir === null) throw new TrainingError('save: the run has no output folder');
  const { data, settings } = run;
  saveTrainingCheckpoint(run.outDir, run, run.optimizer.state(), {
    global_step: run.step,
    settings: { ...settings },
    data: { name: data.name, objective: data.objective, length: data.length, vocab_size: data.vocabSize, ...(data.labels ? { labels: [...data.labels] } : {}) },
    rng: { kind: 'counter', seed: settings.seed, next_step: run.step },
    ...(run.initFrom === undefined ? {} : { init_from: run.initFrom }),
    ...(lastEval === null ? {} : { last_eval: { ...lastEval } }),
  });
}
