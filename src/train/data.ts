/**
 * Seeded training data (pure module: token ids in, batches out; src/train/datasets.ts reads
 * the corpus files). Three kinds of source share one interface:
 *  (a) language modelling: random windows of L + 1 tokens of a token stream; ids are the first
 *      L, targets the last L (next-token prediction at every position);
 *  (b) passage classification: a passage of L tokens from one of several token streams
 *      (books); the label is the stream's index, read by a classifier head at the last token;
 *  (c) synthetic tasks (`task:NAME`): a generator of (ids, target position, label, evidence);
 *      the label is a token the LM head must predict at the target position.
 *
 * Reproducibility: the random numbers of training batch s come from `stepRandom(seed, s)`, a
 * counter-based stream, so batch s is a pure function of (seed, s) and the data RNG state of
 * a run is just its step number — resuming at step s continues exactly.
 * Shapes: B batch, L sequence length, V vocabulary.
 */
import { Random, ShapeError } from '../core/index.js';

/** What the model is trained to do: predict tokens with the LM head, or labels with a classifier head. */
export type Objective = 'next-token' | 'classify';

/** Target that does not count in the loss (crossEntropy's ignoreIndex). */
export const IGNORE = -100;

export interface Batch {
  /** Token ids [B, L], row-major. */
  ids: Int32Array;
  batch: number;
  length: number;
  /** next-token: [B·L] the token to predict at each position, IGNORE where unscored; classify: [B] labels. */
  targets: Int32Array;
}

export interface DataSource {
  /** The --data spec it came from: austen, austen-classify, task:NAME, or a test name. */
  readonly name: string;
  readonly objective: Objective;
  /** L, tokens per sequence. */
  readonly length: number;
  /** Every id (and next-token target) lies in [0, vocabSize). */
  readonly vocabSize: number;
  /** Class names (classify only), index = label. */
  readonly labels?: readonly string[];
  /** Training batch number `step` of `size` sequences: a pure function of (seed, step, size). */
  batch(step: number, size: number): Batch;
  /** The fixed held-out set: up to `count` batches of `size` (the last may be smaller). */
  validation(size: number, count: number): Batch[];
}

/** A 32-bit hash of (seed, counter) (murmur3's finaliser over a golden-ratio mix). */
export function foldSeed(seed: number, counter: number): number {
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(counter >>> 0, 0x85ebca6b) ^ Math.floor(counter / 2 ** 32)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The random stream of training step `step` of a run seeded `seed`. */
export function stepRandom(seed: number, step: number): Random {
  return new Random(foldSeed(seed, step));
}

/** Held-out sets draw from their own stream, disjoint from every training step's. */
const VALIDATION_STREAM = 0xffffffff;

function checkLength(op: string, length: number): void {
  if (!Number.isInteger(length) || length < 1) throw new ShapeError(`${op}: sequence length should be a positive integer, got ${length}`);
}

function checkIds(op: string, name: string, ids: Int32Array, vocabSize: number): void {
  for (let i = 0; i < ids.length; i++) {
    if (!(ids[i] >= 0 && ids[i] < vocabSize)) throw new ShapeError(`${op}: ${name} token ${ids[i]} at ${i} is outside the vocabulary [0, ${vocabSize})`);
  }
}

function chunk<T>(items: T[], size: number, count: number): T[][] {
  const batches: T[][] = [];
  for (let i = 0; i < items.length && batches.length < count; i += size) batches.push(items.slice(i, i + size));
  return batches;
}

// ---------------------------------------------------------------------------------------
// (a) Language modelling

export interface LanguageModelData {
  name: string;
  /** Training token stream. */
  train: Int32Array;
  /** Validation token stream (held out). */
  validation: Int32Array;
  vocabSize: number;
  /** L. */
  length: number;
  seed: number;
}

/**
 * Next-token windows. Training: B windows of L + 1 tokens at uniform random offsets of the
 * training stream. Validation: consecutive windows at offsets 0, L, 2L, … of the validation
 * stream (each scores L tokens, so every validation token but the first is scored once).
 */
export function languageModelSource(d: LanguageModelData): DataSource {
  const op = 'languageModelSource';
  checkLength(op, d.length);
  const L = d.length;
  if (d.train.length < L + 1) throw new ShapeError(`${op}: the training stream has ${d.train.length} tokens, fewer than one window of ${L + 1}`);
  if (d.validation.length < L + 1) throw new ShapeError(`${op}: the validation stream has ${d.validation.length} tokens, fewer than one window of ${L + 1}`);
  checkIds(op, 'training', d.train, d.vocabSize);
  checkIds(op, 'validation', d.validation, d.vocabSize);
  const windows = (stream: Int32Array, starts: number[]): Batch => {
    const B = starts.length;
    const ids = new Int32Array(B * L);
    const targets = new Int32Array(B * L);
    starts.forEach((s, b) => {
      ids.set(stream.subarray(s, s + L), b * L);
      targets.set(stream.subarray(s + 1, s + L + 1), b * L);
    });
    return { ids, targets, batch: B, length: L };
  };
  return {
    name: d.name,
    objective: 'next-token',
    length: L,
    vocabSize: d.vocabSize,
    batch(step, size) {
      const rng = stepRandom(d.seed, step);
      return windows(d.train, Array.from({ length: size }, () => rng.int(d.train.length - L)));
    },
    validation(size, count) {
      const available = Math.floor((d.validation.length - 1) / L);
      const starts = Array.from({ length: Math.min(available, size * count) }, (_, i) => i * L);
      return chunk(starts, size, count).map((s) => windows(d.validation, s));
    },
  };
}

// ---------------------------------------------------------------------------------------
// (b) Passage classification

export interface LabelledStream {
  /** Class name (e.g. the book). */
  label: string;
  train: Int32Array;
  validation: Int32Array;
}

export interface ClassificationData {
  name: string;
  /** One stream per class; label = index. */
  classes: LabelledStream[];
  vocabSize: number;
  /** L, tokens per passage. */
  length: number;
  seed: number;
}

/**
 * "Which stream is this passage from?" Training: each sequence picks a class uniformly (so
 * batches are balanced in expectation), then a passage of L tokens at a uniform offset of
 * that class's training tokens. Validation: consecutive passages of each class's validation
 * tokens, taken round-robin over the classes (class 0, 1, …, 0, 1, …) so every prefix of the
 * set is balanced, as many per class as the smallest class allows.
 */
export function classificationSource(d: ClassificationData): DataSource {
  const op = 'classificationSource';
  checkLength(op, d.length);
  const L = d.length;
  if (d.classes.length < 2) throw new ShapeError(`${op}: need at least 2 classes, got ${d.classes.length}`);
  for (const c of d.classes) {
    if (c.train.length < L) throw new ShapeError(`${op}: class '${c.label}' has ${c.train.length} training tokens, fewer than one passage of ${L}`);
    if (c.validation.length < L) throw new ShapeError(`${op}: class '${c.label}' has ${c.validation.length} validation tokens, fewer than one passage of ${L}`);
    checkIds(op, `${c.label} training`, c.train, d.vocabSize);
    checkIds(op, `${c.label} validation`, c.validation, d.vocabSize);
  }
  const passages = (picks: Array<[label: number, stream: Int32Array, start: number]>): Batch => {
    const ids = new Int32Array(picks.length * L);
    const targets = new Int32Array(picks.length);
    picks.forEach(([label, stream, start], b) => {
      ids.set(stream.subarray(start, start + L), b * L);
      targets[b] = label;
    });
    return { ids, targets, batch: picks.length, length: L };
  };
  return {
    name: d.name,
    objective: 'classify',
    length: L,
    vocabSize: d.vocabSize,
    labels: d.classes.map((c) => c.label),
    batch(step, size) {
      const rng = stepRandom(d.seed, step);
      return passages(
        Array.from({ length: size }, () => {
          const label = rng.int(d.classes.length);
          const stream = d.classes[label].train;
          return [label, stream, rng.int(stream.length - L + 1)] as [number, Int32Array, number];
        }),
      );
    },
    validation(size, count) {
      const perClass = Math.min(...d.classes.map((c) => Math.floor(c.validation.length / L)));
      const picks: Array<[number, Int32Array, number]> = [];
      for (let k = 0; k < perClass && picks.length < size * count; k++) {
        d.classes.forEach((c, label) => picks.push([label, c.validation, k * L]));
      }
      return chunk(picks.slice(0, size * count), size, count).map(passages);
    },
  };
}

// ---------------------------------------------------------------------------------------
// (c) Synthetic tasks

/** One generated example. */
export interface TaskSample {
  /** Token ids [L]. */
  ids: Int32Array;
  /** Position whose next-token prediction is scored (usually L − 1). */
  target: number;
  /** The token the model must predict there. */
  label: number;
  /** Positions that hold the evidence for the answer (ground truth for explanations). */
  evidence: number[];
}

export interface SyntheticTask {
  /** The NAME of `task:NAME`. */
  readonly name: string;
  readonly description: string;
  /** Smallest vocabulary that sequences of `length` need; smaller is an error. */
  minVocab(length: number): number;
  /** Draws one example of `length` tokens with ids in [0, vocabSize). */
  generate(rng: Random, length: number, vocabSize: number): TaskSample;
}

const tasks = new Map<string, SyntheticTask>();

/** Adds a task; `task:NAME` then selects it (the evaluation issue adds its tasks here). */
export function registerTask(task: SyntheticTask): void {
  tasks.set(task.name, task);
}

export function taskNames(): string[] {
  return [...tasks.keys()].sort();
}

export function getTask(name: string): SyntheticTask {
  const task = tasks.get(name);
  if (task === undefined) throw new ShapeError(`unknown task '${name}'; available: ${taskNames().map((n) => `task:${n}`).join(', ')}`);
  return task;
}

export interface TaskData {
  task: SyntheticTask;
  vocabSize: number;
  length: number;
  seed: number;
  /** Size of the fixed validation set in sequences (default 256). */
  validationSize?: number;
}

/**
 * Batches of task examples trained with the LM head: targets are IGNORE everywhere except at
 * each example's target position, which holds its label. The validation set is drawn once
 * from a stream no training step uses.
 */
export function taskSource(d: TaskData): DataSource {
  checkLength('taskSource', d.length);
  const need = d.task.minVocab(d.length);
  if (d.vocabSize < need) throw new ShapeError(`task:${d.task.name}: sequences of ${d.length} tokens need a vocabulary of at least ${need}, the model has ${d.vocabSize}`);
  const L = d.length;
  const examples = (rng: Random, size: number): Batch => {
    const ids = new Int32Array(size * L);
    const targets = new Int32Array(size * L).fill(IGNORE);
    for (let b = 0; b < size; b++) {
      const s = d.task.generate(rng, L, d.vocabSize);
      if (s.ids.length !== L || !(s.target >= 0 && s.target < L)) throw new ShapeError(`task:${d.task.name}: generated ${s.ids.length} ids with target ${s.target}, expected ${L} ids`);
      ids.set(s.ids, b * L);
      targets[b * L + s.target] = s.label;
    }
    return { ids, targets, batch: size, length: L };
  };
  let held: Batch | null = null;
  return {
    name: `task:${d.task.name}`,
    objective: 'next-token',
    length: L,
    vocabSize: d.vocabSize,
    batch: (step, size) => examples(stepRandom(d.seed, step), size),
    validation(size, count) {
      held ??= examples(stepRandom(d.seed, VALIDATION_STREAM), d.validationSize ?? 256);
      const rows = Array.from({ length: Math.min(held.batch, size * count) }, (_, b) => b);
      return chunk(rows, size, count).map((r) => ({
        ids: held!.ids.slice(r[0] * L, (r[r.length - 1] + 1) * L),
        targets: held!.targets.slice(r[0] * L, (r[r.length - 1] + 1) * L),
        batch: r.length,
        length: L,
      }));
    },
  };
}

/**
 * Associative recall (Zoology's MQAR with one query; Arora et al. 2023 §3): n key–value
 * pairs, then one of the keys again; the model must answer with that key's value.
 *   ids = [pad] k₁ v₁ k₂ v₂ … kₙ vₙ q      n = ⌊(L − 1) / 2⌋, q = k_j for a random j
 *   target = L − 1, label = v_j, evidence = [position of k_j, position of v_j]
 * Keys are distinct within a sequence. Keys come from ids [1, 1 + A), values from
 * [1 + A, 1 + 2A), A = min(⌊(V − 1) / 2⌋, max(n, 64)); id 0 pads odd lengths at the front.
 */
export const associativeRecall: SyntheticTask = {
  name: 'assoc-recall',
  description: 'associative recall: key-value pairs, then a key; predict its value',
  minVocab(length) {
    return 1 + 2 * Math.max(1, Math.floor((length - 1) / 2));
  },
  generate(rng, length, vocabSize) {
    const n = Math.floor((length - 1) / 2);
    if (n < 1) throw new ShapeError(`task:assoc-recall: needs at least 3 tokens per sequence, got ${length}`);
    const A = Math.min(Math.floor((vocabSize - 1) / 2), Math.max(n, 64));
    const keys = rng.shuffle(Array.from({ length: A }, (_, i) => 1 + i)).slice(0, n);
    const ids = new Int32Array(length);
    const offset = length - (2 * n + 1); // 0 or 1 leading pad
    const values = keys.map(() => 1 + A + rng.int(A));
    keys.forEach((k, i) => {
      ids[offset + 2 * i] = k;
      ids[offset + 2 * i + 1] = values[i];
    });
    const j = rng.int(n);
    ids[length - 1] = keys[j];
    return { ids, target: length - 1, label: values[j], evidence: [offset + 2 * j, offset + 2 * j + 1] };
  },
};

registerTask(associativeRecall);
