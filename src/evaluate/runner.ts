/**
 * Running the explanation methods over a sample set and the perturbation test on each
 * sample. Pure module (no Node APIs): models and samples in, results out.
 *
 * Each sample gets one ExplainContext (shared forward/backward work), the target resolved
 * there (default: the model's own top token or class at the explained position), and every
 * method run with the same options; the `random` baseline gets a different seed per sample
 * (seed ⊕ sample index), so its rankings are independent across samples.
 */
import { ExplainContext } from '../explain/context.js';
import { explain, getMethod } from '../explain/registry.js';
import { ExplainError } from '../explain/types.js';
import type { ExplainOptions, ResolvedTarget } from '../explain/types.js';
import { MemoryBudgetError } from '../implicit/extract.js';
import type { DecoderLM } from '../models/index.js';
import { foldSeed } from '../train/data.js';
import { EvaluationError, meanWithError } from './metrics.js';
import type { MeanWithError } from './metrics.js';
import { FRACTIONS, modelScorer, perturbSample, summarise } from './perturbation.js';
import type { MethodSummary, Perturbation, PerturbationSample, SampleOutcome } from './perturbation.js';

/** Every method's relevance for one input, and what failed. */
export interface SampleExplanations {
  target: ResolvedTarget;
  relevance: Map<string, Float64Array>;
  /** Method → why it could not run on this input. */
  failures: Map<string, string>;
  /** Integrated gradients' |completeness error| / |f(x) − f(0)|, when it ran. */
  igRelativeCompleteness?: number;
}

/** Method names checked against the registry (aliases resolved), duplicates removed. */
export function resolveMethods(names: readonly string[]): string[] {
  if (names.length === 0) throw new EvaluationError('no explanation methods given');
  return [...new Set(names.map((n) => getMethod(n).name))];
}

/** Runs `methods` on one input; a method failing with an ExplainError (unsupported layer, too large) is recorded, not thrown. */
export function explainSample(model: DecoderLM, ids: Int32Array, methods: readonly string[], options: ExplainOptions, sampleIndex: number): SampleExplanations {
  const context = new ExplainContext(model, ids);
  const target = context.target(options.target);
  const relevance = new Map<string, Float64Array>();
  const failures = new Map<string, string>();
  let igRelativeCompleteness: number | undefined;
  for (const name of methods) {
    try {
      const e = explain(context, name, { ...options, target: { position: target.position, token: target.token }, seed: foldSeed(options.seed ?? 0, sampleIndex) });
      relevance.set(name, e.scores);
      if (e.metadata.relativeCompletenessError !== undefined) igRelativeCompleteness = e.metadata.relativeCompletenessError;
    } catch (error) {
      if (!(error instanceof ExplainError || error instanceof MemoryBudgetError)) throw error;
      failures.set(name, error.message);
    }
  }
  return { target, relevance, failures, ...(igRelativeCompleteness === undefined ? {} : { igRelativeCompleteness }) };
}

/** One input of the perturbation test (the target is resolved by the model). */
export interface EvaluationInput {
  ids: Int32Array;
  /** Explained position t. */
  position: number;
  /** The true next token or class (for accuracy), if known. */
  label?: number;
}

export interface PerturbationRunOptions {
  methods: readonly string[];
  perturbation: Perturbation;
  /** Protect the explained position (next-token targets). */
  protectTarget: boolean;
  /** Seed of tie-breaking and of the random baseline. */
  seed: number;
  /** Options every method gets (variant, start layer, aggregation, IG steps). */
  explain: ExplainOptions;
  /** Perturbed sequences per forward pass (default 20). */
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface PerturbationRun {
  fractions: number[];
  summaries: MethodSummary[];
  /** The unperturbed model on the sample: p_0 of the explained target, and accuracy against the labels. */
  unperturbed: { probability: MeanWithError; accuracy: number | null };
  /** Method → the first failure message and how many samples failed. */
  failures: Record<string, { samples: number; message: string }>;
  /** Integrated gradients' relative completeness error over the samples. */
  igRelativeCompleteness: MeanWithError | null;
  /** Per-sample outcomes (curves of every method). */
  outcomes: Array<SampleOutcome & { target: number; length: number }>;
  /** Distinct perturbed inputs run through the model. */
  forwards: number;
  seconds: { explain: number; perturb: number };
}

/** The perturbation test of `methods` on every input (the model may be a classifier wrapped by `classifierAsLM`). */
export function runPerturbation(model: DecoderLM, inputs: readonly EvaluationInput[], options: PerturbationRunOptions): PerturbationRun {
  if (inputs.length === 0) throw new EvaluationError('no samples to evaluate');
  const methods = resolveMethods(options.methods);
  const scorer = modelScorer(model, options.batchSize ?? 20);
  const outcomes: PerturbationRun['outcomes'] = [];
  const failures: PerturbationRun['failures'] = {};
  const ig: number[] = [];
  let explainMs = 0;
  let perturbMs = 0;
  let forwards = 0;
  inputs.forEach((input, i) => {
    options.onProgress?.(i, inputs.length);
    let started = performance.now();
    const ex = explainSample(model, input.ids, methods, { ...options.explain, target: { position: input.position }, seed: options.seed }, i);
    explainMs += performance.now() - started;
    for (const [name, message] of ex.failures) {
      failures[name] ??= { samples: 0, message };
      failures[name].samples++;
    }
    if (ex.igRelativeCompleteness !== undefined) ig.push(ex.igRelativeCompleteness);
    started = performance.now();
    const sample: PerturbationSample = { ids: input.ids, position: input.position, target: ex.target.token, ...(input.label === undefined ? {} : { label: input.label }) };
    const outcome = perturbSample(sample, ex.relevance, scorer, { perturbation: options.perturbation, protectTarget: options.protectTarget, seed: foldSeed(options.seed, i) });
    perturbMs += performance.now() - started;
    forwards += outcome.forwards;
    outcomes.push({ ...outcome, target: ex.target.token, length: input.ids.length });
  });
  options.onProgress?.(inputs.length, inputs.length);
  const withLabel = outcomes.filter((o) => o.baseCorrect !== undefined);
  return {
    fractions: [...FRACTIONS],
    summaries: summarise(outcomes, methods),
    unperturbed: {
      probability: meanWithError(outcomes.map((o) => o.baseProbability)),
      accuracy: withLabel.length === 0 ? null : withLabel.filter((o) => o.baseCorrect).length / withLabel.length,
    },
    failures,
    igRelativeCompleteness: ig.length === 0 ? null : meanWithError(ig),
    outcomes,
    forwards,
    seconds: { explain: explainMs / 1000, perturb: perturbMs / 1000 },
  };
}
