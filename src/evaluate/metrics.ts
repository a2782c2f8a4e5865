/**
 * The numbers the evaluations report (explain-and-evaluate.md §2–§3), pure functions of
 * plain arrays:
 * - `trapezoidAuc`: area under a perturbation curve, trapezoid rule over the fractions;
 * - `meanWithError`: mean ± standard error of the mean;
 * - ground-truth scores of one relevance vector against an evidence mask: the share of
 *   positive relevance on the evidence, the top-k hit rate, and the AUROC.
 * Ties are handled by expectation (a random order among tied positions), never by position,
 * so a constant relevance vector scores exactly like chance.
 */

/** An evaluation that cannot run (bad option, empty sample, mismatched sizes). */
export class EvaluationError extends Error {
  override name = 'EvaluationError';
}

/** ∫ y dx by the trapezoid rule over the points (x_i, y_i), x ascending. */
export function trapezoidAuc(x: readonly number[], y: ArrayLike<number>): number {
  if (x.length !== y.length) throw new EvaluationError(`trapezoidAuc: ${x.length} x values but ${y.length} y values`);
  let area = 0;
  for (let i = 1; i < x.length; i++) area += ((x[i] - x[i - 1]) * (y[i] + y[i - 1])) / 2;
  return area;
}

export interface MeanWithError {
  mean: number;
  /** Standard error of the mean, s / √n with the n − 1 sample standard deviation (0 for n = 1, NaN for n = 0). */
  se: number;
  n: number;
}

/** Mean ± standard error of the finite values (non-finite values are left out and not counted). */
export function meanWithError(values: ArrayLike<number>): MeanWithError {
  const finite = Array.from(values).filter((v) => Number.isFinite(v));
  const n = finite.length;
  if (n === 0) return { mean: NaN, se: NaN, n: 0 };
  const mean = finite.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, se: 0, n };
  const variance = finite.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1);
  return { mean, se: Math.sqrt(variance / n), n };
}

function checkMask(op: string, relevance: ArrayLike<number>, evidence: ArrayLike<boolean>): void {
  if (relevance.length !== evidence.length) throw new EvaluationError(`${op}: ${relevance.length} relevance scores but an evidence mask of ${evidence.length}`);
  for (let i = 0; i < relevance.length; i++) {
    if (Number.isNaN(relevance[i])) throw new EvaluationError(`${op}: relevance at ${i} is NaN`);
  }
}

/**
 * Share of the positive relevance that lies on the evidence: Σ_{j∈E} max(r_j, 0) / Σ_j max(r_j, 0).
 * Signed methods count only what speaks for the target; 0 when no relevance is positive.
 */
export function evidenceMass(relevance: ArrayLike<number>, evidence: ArrayLike<boolean>): number {
  checkMask('evidenceMass', relevance, evidence);
  let onEvidence = 0;
  let total = 0;
  for (let i = 0; i < relevance.length; i++) {
    const r = Math.max(0, relevance[i]);
    total += r;
    if (evidence[i]) onEvidence += r;
  }
  return total > 0 ? onEvidence / total : 0;
}

/**
 * Top-k hit rate: the expected share of evidence among the k most relevant positions
 * (k = number of evidence positions by default, where it equals the share of the evidence
 * found in the top k). Positions tied at the cut count by the expected share of a random
 * order among them.
 */
export function topKHitRate(relevance: ArrayLike<number>, evidence: ArrayLike<boolean>, k?: number): number {
  checkMask('topKHitRate', relevance, evidence);
  const n = relevance.length;
  const positives = Array.from(evidence).filter(Boolean).length;
  const K = k ?? positives;
  if (!Number.isInteger(K) || K < 1 || K > n) throw new EvaluationError(`topKHitRate: k should be an integer in [1, ${n}], got ${K}`);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => relevance[b] - relevance[a]);
  let hits = 0;
  let taken = 0;
  let i = 0;
  while (taken < K) {
    // The group of positions tied with order[i].
    let j = i;
    let groupHits = 0;
    while (j < n && relevance[order[j]] === relevance[order[i]]) groupHits += evidence[order[j++]] ? 1 : 0;
    const size = j - i;
    const take = Math.min(size, K - taken);
    hits += (take * groupHits) / size;
    taken += take;
    i = j;
  }
  return hits / K;
}

/**
 * AUROC of relevance as a score for "is evidence": the probability that a random evidence
 * position outranks a random other position, ties counting ½ (Mann–Whitney U / (|E|·|Ē|)).
 * 1 = every evidence position above every other, 0 = below, 0.5 = chance or all tied;
 * NaN when the mask has no evidence or nothing else.
 */
export function auroc(relevance: ArrayLike<number>, evidence: ArrayLike<boolean>): number {
  checkMask('auroc', relevance, evidence);
  const pos: number[] = [];
  const neg: number[] = [];
  for (let i = 0; i < relevance.length; i++) (evidence[i] ? pos : neg).push(relevance[i]);
  if (pos.length === 0 || neg.length === 0) return NaN;
  let u = 0;
  for (const p of pos) for (const q of neg) u += p > q ? 1 : p === q ? 0.5 : 0;
  return u / (pos.length * neg.length);
}
