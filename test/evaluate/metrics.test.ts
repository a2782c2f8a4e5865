/** The evaluation's numbers on hand-made inputs: AUC and ΔA^F, mean ± SE, evidence mass, top-k hit rate, AUROC. */
import { describe, expect, it } from 'vitest';
import { auroc, EvaluationError, evidenceMass, meanWithError, topKHitRate, trapezoidAuc } from '../../src/evaluate/metrics.js';
import { FRACTIONS } from '../../src/evaluate/perturbation.js';

const mask = (...bits: number[]) => bits.map((b) => b === 1);

describe('perturbation AUC and ΔA^F', () => {
  it('trapezoid AUC of hand-made curves over k = 0 … 0.9', () => {
    expect(FRACTIONS).toEqual([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]);
    const flat = FRACTIONS.map(() => 1);
    expect(trapezoidAuc(FRACTIONS, flat)).toBeCloseTo(0.9, 12);
    // Drops to 0 at the first step and stays there: one triangle of 0.1 × 1 / 2.
    const cliff = FRACTIONS.map((k) => (k === 0 ? 1 : 0));
    expect(trapezoidAuc(FRACTIONS, cliff)).toBeCloseTo(0.05, 12);
    // A straight line 1 − k: ∫₀^0.9 (1 − k) dk = 0.9 − 0.405 (exact for the trapezoid rule).
    expect(trapezoidAuc(FRACTIONS, FRACTIONS.map((k) => 1 - k))).toBeCloseTo(0.495, 12);
    // ΔA^F = AUC(LeRF) − AUC(MoRF): a faithful ranking has LeRF flat and MoRF a cliff.
    expect(trapezoidAuc(FRACTIONS, flat) - trapezoidAuc(FRACTIONS, cliff)).toBeCloseTo(0.85, 12);
    expect(() => trapezoidAuc([0, 1], [1])).toThrow(EvaluationError);
  });

  it('mean ± standard error', () => {
    const m = meanWithError([1, 2, 3, 4]);
    expect(m.mean).toBe(2.5);
    expect(m.se).toBeCloseTo(Math.sqrt(5 / 3 / 4), 12);
    expect(m.n).toBe(4);
    expect(meanWithError([7])).toEqual({ mean: 7, se: 0, n: 1 });
    expect(meanWithError([NaN, 2, Infinity, 4])).toMatchObject({ mean: 3, n: 2 });
    expect(meanWithError([]).n).toBe(0);
  });
});

describe('ground-truth metrics', () => {
  it('AUROC: perfect ranking 1, reversed 0, ties 0.5, partial by Mann–Whitney', () => {
    const evidence = mask(0, 1, 0, 1, 0);
    expect(auroc([0.1, 0.9, 0.2, 0.8, 0.3], evidence)).toBe(1);
    expect(auroc([0.9, 0.1, 0.8, 0.2, 0.7], evidence)).toBe(0);
    expect(auroc([0.5, 0.5, 0.5, 0.5, 0.5], evidence)).toBe(0.5);
    // Evidence scores 0.9 and 0.2 against 0.1, 0.3, 0.5: 3 + 1 wins of 6 pairs.
    expect(auroc([0.1, 0.9, 0.3, 0.2, 0.5], evidence)).toBeCloseTo(4 / 6, 12);
    // One evidence tied with one other: ½ of that pair.
    expect(auroc([0.4, 0.4, 0.1], mask(0, 1, 0))).toBe(0.75);
    expect(auroc([1, 2], mask(0, 0))).toBeNaN();
  });

  it('evidence mass: the share of positive relevance on the evidence', () => {
    expect(evidenceMass([1, 3, 0, 0], mask(0, 1, 0, 0))).toBe(0.75);
    // Negative relevance does not count (signed methods).
    expect(evidenceMass([-5, 2, 2, 0], mask(0, 1, 0, 0))).toBe(0.5);
    expect(evidenceMass([-1, -1], mask(1, 0))).toBe(0);
    expect(() => evidenceMass([1, 2], mask(1))).toThrow(EvaluationError);
  });

  it('top-k hit rate: k = evidence count by default; ties count by expectation', () => {
    const evidence = mask(0, 1, 0, 1, 0);
    expect(topKHitRate([0.1, 0.9, 0.2, 0.8, 0.3], evidence)).toBe(1);
    expect(topKHitRate([0.1, 0.9, 0.2, 0.1, 0.3], evidence)).toBe(0.5);
    expect(topKHitRate([0.9, 0.1, 0.8, 0.2, 0.7], evidence)).toBe(0);
    // All tied: the expected share of evidence in a random 2 of 5 = 2/5.
    expect(topKHitRate([1, 1, 1, 1, 1], evidence)).toBeCloseTo(0.4, 12);
    // One certain hit, then one slot among a tie of 3 holding 1 evidence: (1 + 1/3) / 2.
    expect(topKHitRate([0, 5, 1, 1, 1], evidence)).toBeCloseTo(2 / 3, 12);
    expect(topKHitRate([0, 5, 1, 1, 1], evidence, 1)).toBe(1);
    expect(() => topKHitRate([1, 2], mask(1, 0), 3)).toThrow(EvaluationError);
  });
});
