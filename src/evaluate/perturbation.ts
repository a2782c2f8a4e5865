/**
 * Faithfulness by perturbation (explain-and-evaluate.md §2). Pure module: no Node APIs.
 *
 * For one input of n tokens whose output at position t is explained by relevance r [n]:
 *   eligible   E = the positions that may be perturbed (`perturbablePositions`): every j < t,
 *              plus t itself only when the target is not protected; positions after t never
 *              (a causal model's output at t cannot depend on them). Next-token targets protect
 *              t — the token at the explained position, whose next token is predicted, is never
 *              perturbed; classifier targets (the class logit read at the last token) do not.
 *   order      E sorted by relevance, most relevant first (ties in a seeded random order);
 *   curves     for k ∈ K = {0, 0.1, …, 0.9}: perturb c_k = round(k·|E|) positions —
 *              MoRF (positive): the first c_k of the order;  LeRF (negative): the last c_k —
 *              re-run the model and score s_k = p_k(target) / p_0(target), the probability of
 *              the originally explained token (or class) normalised by its unperturbed value;
 *   AUC        trapezoid over k of s_k (so a flat curve at 1 has AUC 0.9);
 *              MoRF: lower is better; LeRF: higher is better; ΔA^F = AUC(LeRF) − AUC(MoRF)
 *              (MambaLRP, Jafari et al. 2024): higher is better.
 * Perturbation kinds: `replace` puts a neutral id at each perturbed position (length kept);
 * `delete` removes the perturbed tokens (the natural choice for recurrent models, which have
 * no positions); the output is then read at the explained token's new index.
 *
 * Efficiency: every input of a sample (all fractions × both orders × all methods, duplicates
 * removed) goes to the scorer in one call; the scorer batches them (B = 20 by default) by length.
 */
import * as F from '../core/index.js';
import { Random } from '../core/index.js';
import type { DecoderLM } from '../models/index.js';
import { EvaluationError, meanWithError, trapezoidAuc } from './metrics.js';
import type { MeanWithError } from './metrics.js';

/** k = 0, 0.1, …, 0.9: the fractions of eligible positions perturbed (10 steps). */
export const FRACTIONS: readonly number[] = Array.from({ length: 10 }, (_, i) => i / 10);

export const PERTURBATION_KINDS = ['replace', 'delete'] as const;
export type PerturbationKind = (typeof PERTURBATION_KINDS)[number];

export interface Perturbation {
  kind: PerturbationKind;
  /** The id put in place of a perturbed token (`replace` only). */
  neutralId?: number;
}

/** An input of the model and the index whose output is scored. */
export interface ModelInput {
  /** Token ids [n']. */
  ids: Int32Array;
  /** Position of the output read (the explained position after perturbation). */
  position: number;
}

/** The positions that may be perturbed: j < t, and t itself unless protected (never j > t). */
export function perturbablePositions(length: number, target: number, protectTarget: boolean): number[] {
  if (!Number.isInteger(target) || target < 0 || target >= length) throw new EvaluationError(`target position ${target} is outside the input [0, ${length})`);
  return Array.from({ length: protectTarget ? target : target + 1 }, (_, j) => j);
}

/**
 * The eligible positions, most relevant first. Ties are ordered by a seeded random
 * permutation, so that no method gains from the order of positions; the same seed gives the
 * same order. LeRF is this order reversed.
 */
export function relevanceOrder(scores: ArrayLike<number>, eligible: readonly number[], seed: number): number[] {
  for (const j of eligible) {
    if (!(j >= 0 && j < scores.length)) throw new EvaluationError(`relevanceOrder: position ${j} is outside the ${scores.length} scores`);
    if (Number.isNaN(scores[j])) throw new EvaluationError(`relevanceOrder: relevance at position ${j} is NaN`);
  }
  const rng = new Random(seed);
  const tieBreak = new Map(eligible.map((j) => [j, rng.next()]));
  return [...eligible].sort((a, b) => scores[b] - scores[a] || tieBreak.get(a)! - tieBreak.get(b)!);
}

/** c_k = round(k·m), the number of positions perturbed at fraction k of m eligible ones. */
export function perturbedCount(fraction: number, eligible: number): number {
  return Math.round(fraction * eligible + 1e-9);
}

/**
 * The input with `positions` perturbed, and where the explained output is read:
 * - replace: ids[j] ← neutralId for j in positions; the position stays t;
 * - delete: the tokens at `positions` are removed; the position becomes t − #{deleted j ≤ t}
 *   (the explained token's new index, or the index of the last kept token before it when it
 *   was itself deleted).
 */
export function applyPerturbation(ids: Int32Array, position: number, positions: readonly number[], perturbation: Perturbation): ModelInput {
  const chosen = new Set(positions);
  for (const j of chosen) if (!(Number.isInteger(j) && j >= 0 && j < ids.length)) throw new EvaluationError(`applyPerturbation: position ${j} is outside the input [0, ${ids.length})`);
  if (perturbation.kind === 'replace') {
    const neutral = perturbation.neutralId;
    if (neutral === undefined || !Number.isInteger(neutral) || neutral < 0) throw new EvaluationError('applyPerturbation: replace needs a neutral token id ≥ 0');
    const out = ids.slice();
    for (const j of chosen) out[j] = neutral;
    return { ids: out, position };
  }
  if (perturbation.kind !== 'delete') throw new EvaluationError(`unknown perturbation kind '${String(perturbation.kind)}'; kinds: ${PERTURBATION_KINDS.join(', ')}`);
  const kept = ids.filter((_, j) => !chosen.has(j));
  let removed = 0;
  for (const j of chosen) if (j <= position) removed++;
  const at = position - removed;
  if (at < 0 || kept.length === 0) throw new EvaluationError('applyPerturbation: deleting every token up to the explained position leaves nothing to score');
  return { ids: kept, position: at };
}

/** MoRF and LeRF inputs for each fraction, from the eligible positions in relevance order (most relevant first). */
export function curveInputs(ids: Int32Array, position: number, order: readonly number[], perturbation: Perturbation, fractions: readonly number[] = FRACTIONS): { morf: ModelInput[]; lerf: ModelInput[] } {
  const m = order.length;
  const morf: ModelInput[] = [];
  const lerf: ModelInput[] = [];
  for (const k of fractions) {
    const c = perturbedCount(k, m);
    morf.push(applyPerturbation(ids, position, order.slice(0, c), perturbation));
    lerf.push(applyPerturbation(ids, position, order.slice(m - c), perturbation));
  }
  return { morf, lerf };
}

/** What a scorer returns for each input: the softmax probability of the asked index and the argmax. */
export interface Scored {
  probability: Float64Array;
  top: Int32Array;
}

/** Scores a list of inputs at their positions for one output index (token or class). */
export type Scorer = (inputs: readonly ModelInput[], index: number) => Scored;

/**
 * A scorer over a model whose head gives C outputs (an LM: C = V; a classifier wrapped by
 * `classifierAsLM`: C = classes): softmax of the logits at `position` (`forwardAt`: the head
 * runs on that row only). Inputs are grouped by length and run in batches of `batchSize`
 * (no gradients).
 */
export function modelScorer(model: DecoderLM, batchSize = 20): Scorer {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new EvaluationError(`batch size should be a positive integer, got ${batchSize}`);
  return (inputs, index) => {
    const probability = new Float64Array(inputs.length);
    const top = new Int32Array(inputs.length);
    const byLength = new Map<number, number[]>();
    inputs.forEach((input, i) => {
      const list = byLength.get(input.ids.length) ?? [];
      list.push(i);
      byLength.set(input.ids.length, list);
    });
    for (const [L, members] of byLength) {
      for (let first = 0; first < members.length; first += batchSize) {
        const chunk = members.slice(first, first + batchSize);
        const B = chunk.length;
        const ids = new Int32Array(B * L);
        chunk.forEach((i, b) => ids.set(inputs[i].ids, b * L));
        const logits = F.noGrad(() => model.forwardAt(model.embed(ids, B, L), chunk.map((i) => inputs[i].position))); // [B, C]
        const C = logits.shape[1];
        if (!(index >= 0 && index < C)) throw new EvaluationError(`scored index ${index} is outside the model's ${C} outputs`);
        chunk.forEach((i, b) => {
          const row = logits.data.subarray(b * C, (b + 1) * C);
          let m = -Infinity;
          let arg = 0;
          for (let c = 0; c < C; c++) if (row[c] > m) [m, arg] = [row[c], c];
          let z = 0;
          for (let c = 0; c < C; c++) z += Math.exp(row[c] - m);
          probability[i] = Math.exp(row[index] - m) / z;
          top[i] = arg;
        });
      }
    }
    return { probability, top };
  };
}

/** One evaluated input: its ids, the explained position, the explained index, and (if known) the true answer. */
export interface PerturbationSample {
  ids: Int32Array;
  /** Explained position t. */
  position: number;
  /** Explained output: the token (LM) or class (classifier) whose probability is tracked. */
  target: number;
  /** The true next token or class, for accuracy (optional). */
  label?: number;
}

export interface PerturbationSettings {
  perturbation: Perturbation;
  /** Protect the explained position (next-token targets: true; classifier targets: false). */
  protectTarget: boolean;
  /** Seed of the tie-breaking order. */
  seed: number;
  fractions?: readonly number[];
}

/** One method's curves on one sample. */
export interface SampleCurves {
  /** s_k for MoRF (positive) and LeRF (negative) perturbation, k in `fractions`. */
  morf: number[];
  lerf: number[];
  aucMorf: number;
  aucLerf: number;
  deltaAF: number;
  /** Whether the argmax equals the label at each k (only with a label). */
  morfCorrect?: boolean[];
  lerfCorrect?: boolean[];
}

export interface SampleOutcome {
  /** p_0: the unperturbed probability of the target. */
  baseProbability: number;
  /** The unperturbed argmax equals the label (only with a label). */
  baseCorrect?: boolean;
  /** Eligible positions |E|. */
  eligible: number;
  /** Distinct model inputs scored for this sample. */
  forwards: number;
  methods: Record<string, SampleCurves>;
}

/**
 * All methods' MoRF and LeRF curves on one sample: every distinct perturbed input (shared
 * ones, such as k = 0, once) in one scorer call.
 */
export function perturbSample(sample: PerturbationSample, relevance: ReadonlyMap<string, ArrayLike<number>>, scorer: Scorer, settings: PerturbationSettings): SampleOutcome {
  const fractions = settings.fractions ?? FRACTIONS;
  const { ids, position } = sample;
  const eligible = perturbablePositions(ids.length, position, settings.protectTarget);
  const unique: ModelInput[] = [];
  const indexOf = new Map<string, number>();
  const add = (input: ModelInput): number => {
    const key = `${input.position}|${input.ids.join(',')}`;
    let i = indexOf.get(key);
    if (i === undefined) {
      i = unique.length;
      unique.push(input);
      indexOf.set(key, i);
    }
    return i;
  };
  const base = add({ ids, position });
  const plan = new Map<string, { morf: number[]; lerf: number[] }>();
  for (const [method, scores] of relevance) {
    if (scores.length !== ids.length) throw new EvaluationError(`${method}: ${scores.length} relevance scores for an input of ${ids.length} tokens`);
    const order = relevanceOrder(scores, eligible, settings.seed);
    const { morf, lerf } = curveInputs(ids, position, order, settings.perturbation, fractions);
    plan.set(method, { morf: morf.map(add), lerf: lerf.map(add) });
  }
  const scored = scorer(unique, sample.target);
  const p0 = scored.probability[base];
  const x = [...fractions];
  const methods: Record<string, SampleCurves> = {};
  for (const [method, { morf, lerf }] of plan) {
    const sMorf = morf.map((i) => scored.probability[i] / p0);
    const sLerf = lerf.map((i) => scored.probability[i] / p0);
    const aucMorf = trapezoidAuc(x, sMorf);
    const aucLerf = trapezoidAuc(x, sLerf);
    methods[method] = {
      morf: sMorf,
      lerf: sLerf,
      aucMorf,
      aucLerf,
      deltaAF: aucLerf - aucMorf,
      ...(sample.label === undefined ? {} : { morfCorrect: morf.map((i) => scored.top[i] === sample.label), lerfCorrect: lerf.map((i) => scored.top[i] === sample.label) }),
    };
  }
  return {
    baseProbability: p0,
    ...(sample.label === undefined ? {} : { baseCorrect: scored.top[base] === sample.label }),
    eligible: eligible.length,
    forwards: unique.length,
    methods,
  };
}

/** A method over all samples: AUCs and ΔA^F as mean ± standard error, and the mean curves. */
export interface MethodSummary {
  method: string;
  /** Samples the method ran on. */
  samples: number;
  aucMorf: MeanWithError;
  aucLerf: MeanWithError;
  deltaAF: MeanWithError;
  /** Mean ± SE of s_k at each fraction. */
  morfCurve: MeanWithError[];
  lerfCurve: MeanWithError[];
  /** Accuracy against the labels at each fraction (when labels are known). */
  morfAccuracy?: number[];
  lerfAccuracy?: number[];
}

/** Summaries in `methods` order of the methods that produced curves. */
export function summarise(outcomes: readonly SampleOutcome[], methods: readonly string[], fractions: readonly number[] = FRACTIONS): MethodSummary[] {
  const out: MethodSummary[] = [];
  for (const method of methods) {
    const curves = outcomes.map((o) => o.methods[method]).filter((c): c is SampleCurves => c !== undefined);
    if (curves.length === 0) continue;
    const at = (pick: (c: SampleCurves) => number[]) => fractions.map((_, k) => meanWithError(curves.map((c) => pick(c)[k])));
    const accuracy = (pick: (c: SampleCurves) => boolean[] | undefined) => {
      const withLabels = curves.filter((c) => pick(c) !== undefined);
      if (withLabels.length === 0) return undefined;
      return fractions.map((_, k) => withLabels.filter((c) => pick(c)![k]).length / withLabels.length);
    };
    const morfAccuracy = accuracy((c) => c.morfCorrect);
    const lerfAccuracy = accuracy((c) => c.lerfCorrect);
    out.push({
      method,
      samples: curves.length,
      aucMorf: meanWithError(curves.map((c) => c.aucMorf)),
      aucLerf: meanWithError(curves.map((c) => c.aucLerf)),
      deltaAF: meanWithError(curves.map((c) => c.deltaAF)),
      morfCurve: at((c) => c.morf),
      lerfCurve: at((c) => c.lerf),
      ...(morfAccuracy === undefined ? {} : { morfAccuracy, lerfAccuracy }),
    });
  }
  return out;
}
