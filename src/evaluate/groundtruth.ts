/**
 * Ground-truth evaluation of explanations (explain-and-evaluate.md §3). Pure module.
 *
 * A model trained on a synthetic task (src/evaluate/tasks.ts, task registry of src/train)
 * answers at position t from known evidence positions. Protocol:
 *  1. draw N examples of the task from a seeded stream (independent of training batches);
 *  2. accuracy = share of examples whose top token at t is the label. A model below
 *     `minAccuracy` did not learn the task: it is reported as such and NOT explained (an
 *     explanation of a guess has no ground truth);
 *  3. on every correctly answered example, explain the label's logit at t with each method
 *     and score the relevance of the positions j < t against the evidence mask: the explained
 *     position t itself (the query token, an input of the answer but not evidence) and the
 *     positions after it are left out of every metric;
 *  4. per method: mean ± SE over those examples of the evidence mass (share of positive
 *     relevance on the evidence), the top-k hit rate (k = number of evidence positions) and
 *     the AUROC of relevance vs the evidence mask.
 * Chance levels (relevance independent of the evidence): evidence mass and top-k hit rate
 * |E| / t in expectation, AUROC 0.5.
 */
import * as F from '../core/index.js';
import { Random } from '../core/index.js';
import type { ExplainOptions } from '../explain/types.js';
import type { DecoderLM } from '../models/index.js';
import { foldSeed } from '../train/data.js';
import type { SyntheticTask, TaskSample } from '../train/data.js';
import { auroc, EvaluationError, evidenceMass, meanWithError, topKHitRate } from './metrics.js';
import type { MeanWithError } from './metrics.js';
import { explainSample, resolveMethods } from './runner.js';

/** The three ground-truth scores of one relevance vector (positions j < t only). */
export interface EvidenceScores {
  mass: number;
  topK: number;
  auroc: number;
}

/** Mask [t] of the evidence among positions 0 … t − 1. */
export function evidenceMask(evidence: readonly number[], target: number): boolean[] {
  const mask = new Array<boolean>(target).fill(false);
  for (const j of evidence) if (j >= 0 && j < target) mask[j] = true;
  return mask;
}

/** Scores relevance [L] against the evidence of an example whose answer is read at `target`. */
export function scoreEvidence(relevance: ArrayLike<number>, evidence: readonly number[], target: number): EvidenceScores {
  const mask = evidenceMask(evidence, target);
  if (!mask.includes(true)) throw new EvaluationError(`no evidence position before the target position ${target}`);
  const r = Array.from(relevance).slice(0, target);
  return { mass: evidenceMass(r, mask), topK: topKHitRate(r, mask), auroc: auroc(r, mask) };
}

/** A fixed, seeded set of task examples: example i comes from its own stream (seed, i). */
export function taskExamples(task: SyntheticTask, count: number, length: number, vocabSize: number, seed: number): TaskSample[] {
  return Array.from({ length: count }, (_, i) => task.generate(new Random(foldSeed(seed, 0x67740000 + i)), length, vocabSize));
}

/** Top token at each example's target position, in batches (no gradients). */
export function taskPredictions(model: DecoderLM, examples: readonly TaskSample[], batchSize = 64): Int32Array {
  const top = new Int32Array(examples.length);
  for (let first = 0; first < examples.length; first += batchSize) {
    const chunk = examples.slice(first, first + batchSize);
    const L = chunk[0].ids.length;
    if (chunk.some((e) => e.ids.length !== L)) throw new EvaluationError('task examples of different lengths');
    const ids = new Int32Array(chunk.length * L);
    chunk.forEach((e, b) => ids.set(e.ids, b * L));
    const logits = F.noGrad(() => model.forwardIds(ids, chunk.length, L)); // [B, L, V]
    const V = logits.shape[2];
    chunk.forEach((e, b) => {
      const row = logits.data.subarray((b * L + e.target) * V, (b * L + e.target + 1) * V);
      let arg = 0;
      for (let v = 1; v < V; v++) if (row[v] > row[arg]) arg = v;
      top[first + b] = arg;
    });
  }
  return top;
}

export interface GroundTruthOptions {
  methods: readonly string[];
  /** Examples drawn (default 200); explained: the correctly answered ones. */
  samples: number;
  /** Tokens per example (the length the model was trained on). */
  length: number;
  seed: number;
  /** Below this accuracy the model counts as not having learned the task (default 0.9). */
  minAccuracy?: number;
  explain: ExplainOptions;
  onProgress?: (done: number, total: number) => void;
}

export interface MethodEvidence {
  method: string;
  samples: number;
  mass: MeanWithError;
  topK: MeanWithError;
  auroc: MeanWithError;
}

export interface GroundTruthRun {
  task: string;
  accuracy: number;
  examples: number;
  /** accuracy ≥ minAccuracy: only then are methods scored. */
  learned: boolean;
  minAccuracy: number;
  /** Correctly answered examples that were explained. */
  explained: number;
  /** Evidence positions per example and positions scored (t), averaged: the chance levels follow from them. */
  evidencePerExample: number;
  positionsScored: number;
  methods: MethodEvidence[];
  failures: Record<string, { samples: number; message: string }>;
  igRelativeCompleteness: MeanWithError | null;
  /** Evidence recall among the top x·t positions, x = 0, 0.1, …, 1, per method (mean over examples): the plot. */
  recallCurves: Record<string, number[]>;
  seconds: number;
}

export const RECALL_FRACTIONS: readonly number[] = Array.from({ length: 11 }, (_, i) => i / 10);

/** Expected share of the evidence among the top ⌈x·n⌉ positions (ties by expectation), for each x. */
export function evidenceRecallCurve(relevance: ArrayLike<number>, mask: readonly boolean[], fractions: readonly number[] = RECALL_FRACTIONS): number[] {
  const n = mask.length;
  return fractions.map((x) => {
    const k = Math.ceil(x * n - 1e-9);
    if (k === 0) return 0;
    const positives = mask.filter(Boolean).length;
    return (topKHitRate(relevance, mask, k) * k) / positives;
  });
}

export function runGroundTruth(model: DecoderLM, task: SyntheticTask, options: GroundTruthOptions): GroundTruthRun {
  const started = performance.now();
  const methods = resolveMethods(options.methods);
  if (!Number.isInteger(options.samples) || options.samples < 1) throw new EvaluationError(`samples should be a positive integer, got ${options.samples}`);
  const minAccuracy = options.minAccuracy ?? 0.9;
  const examples = taskExamples(task, options.samples, options.length, model.config.vocabSize, options.seed);
  const predictions = taskPredictions(model, examples);
  const correct = examples.filter((e, i) => predictions[i] === e.label);
  const accuracy = correct.length / examples.length;
  const learned = accuracy >= minAccuracy;
  const scores = new Map<string, EvidenceScores[]>(methods.map((m) => [m, []]));
  const curves = new Map<string, number[][]>(methods.map((m) => [m, []]));
  const failures: GroundTruthRun['failures'] = {};
  const ig: number[] = [];
  let evidenceCount = 0;
  let positions = 0;
  const explained = learned ? correct : [];
  explained.forEach((e, i) => {
    options.onProgress?.(i, explained.length);
    const ex = explainSample(model, e.ids, methods, { ...options.explain, target: { position: e.target, token: e.label }, seed: options.seed }, i);
    for (const [name, message] of ex.failures) {
      failures[name] ??= { samples: 0, message };
      failures[name].samples++;
    }
    if (ex.igRelativeCompleteness !== undefined) ig.push(ex.igRelativeCompleteness);
    const mask = evidenceMask(e.evidence, e.target);
    evidenceCount += mask.filter(Boolean).length;
    positions += e.target;
    for (const [name, r] of ex.relevance) {
      scores.get(name)!.push(scoreEvidence(r, e.evidence, e.target));
      curves.get(name)!.push(evidenceRecallCurve(Array.from(r).slice(0, e.target), mask));
    }
  });
  options.onProgress?.(explained.length, explained.length);
  const summaries: MethodEvidence[] = [];
  for (const method of methods) {
    const s = scores.get(method)!;
    if (s.length === 0) continue;
    summaries.push({
      method,
      samples: s.length,
      mass: meanWithError(s.map((x) => x.mass)),
      topK: meanWithError(s.map((x) => x.topK)),
      auroc: meanWithError(s.map((x) => x.auroc)),
    });
  }
  const recallCurves: Record<string, number[]> = {};
  for (const [method, list] of curves) {
    if (list.length > 0) recallCurves[method] = RECALL_FRACTIONS.map((_, k) => list.reduce((a, c) => a + c[k], 0) / list.length);
  }
  return {
    task: task.name,
    accuracy,
    examples: examples.length,
    learned,
    minAccuracy,
    explained: explained.length,
    evidencePerExample: explained.length === 0 ? NaN : evidenceCount / explained.length,
    positionsScored: explained.length === 0 ? NaN : positions / explained.length,
    methods: summaries,
    failures,
    igRelativeCompleteness: ig.length === 0 ? null : meanWithError(ig),
    recallCurves,
    seconds: (performance.now() - started) / 1000,
  };
}
