import { describe, expect, it } from 'vitest';
import { displayScale, matrixStats, mergeStats, niceTicks, normaliseScores } from '../../src/viz/scale.js';

describe('display scaling', () => {
  // 3×3 lower-triangular; the upper triangle holds junk that must be ignored when causal
  const m = [
    -2, 99, 99,
    0.5, 1, 99,
    -0.25, 4, -1,
  ];

  it('statistics cover the lower triangle only for causal matrices', () => {
    const s = matrixStats(m, 3, 3, true);
    expect(s).toMatchObject({ min: -2, max: 4, minAbs: 0.25, maxAbs: 4, count: 6, nonFinite: 0 });
    expect(matrixStats(m, 3, 3, false).max).toBe(99);
    const withNaN = matrixStats([NaN, 0, 1, Infinity], 2, 2, true);
    expect(withNaN).toMatchObject({ nonFinite: 2, count: 1, min: 1, max: 1 });
    expect(mergeStats([s, matrixStats([10], 1, 1, true)])).toMatchObject({ max: 10, maxAbs: 10, count: 7 });
  });

  it("'minmax-abs' maps min|H| to 0 and max|H| to 1 (the paper's figures)", () => {
    const sc = displayScale('minmax-abs', matrixStats(m, 3, 3, true));
    expect(sc.kind).toBe('sequential');
    expect(sc.map(-0.25)).toBe(0);
    expect(sc.map(4)).toBe(1);
    expect(sc.map(-2)).toBeCloseTo((2 - 0.25) / 3.75, 12);
    expect(sc.map(NaN)).toBeNaN();
  });

  it("'signed' is symmetric around 0 on a diverging scale", () => {
    const sc = displayScale('signed', matrixStats(m, 3, 3, true));
    expect(sc.kind).toBe('diverging');
    expect([sc.lo, sc.hi]).toEqual([-4, 4]);
    expect(sc.map(0)).toBe(0);
    expect(sc.map(-2)).toBe(-0.5);
    expect(sc.map(4)).toBe(1);
  });

  it("'raw' uses the data range or a given range", () => {
    const sc = displayScale('raw', matrixStats(m, 3, 3, true));
    expect(sc.map(-2)).toBe(0);
    expect(sc.map(4)).toBe(1);
    const fixed = displayScale('raw', matrixStats(m, 3, 3, true), [0, 8]);
    expect(fixed.map(4)).toBe(0.5);
    expect(() => displayScale('raw', matrixStats(m, 3, 3, true), [1, 0])).toThrow(/lo ≤ hi/);
  });

  it('a constant or all-zero matrix does not divide by zero', () => {
    const zero = displayScale('minmax-abs', matrixStats([0, 0, 0, 0], 2, 2, true));
    expect(zero.map(0)).toBe(0);
    const signed = displayScale('signed', matrixStats([0, 0, 0, 0], 2, 2, true));
    expect(signed.map(0)).toBe(0);
  });
});

describe('relevance score scaling', () => {
  it("'auto' picks a sequential scale for non-negative scores, diverging for signed ones", () => {
    const a = normaliseScores([0, 1, 2, 4]);
    expect(a).toMatchObject({ kind: 'sequential', mode: 'max', lo: 0, hi: 4 });
    expect(a.values).toEqual([0, 0.25, 0.5, 1]);
    const b = normaliseScores([-2, 1, 4]);
    expect(b).toMatchObject({ kind: 'diverging', mode: 'signed', lo: -4, hi: 4 });
    expect(b.values).toEqual([-0.5, 0.25, 1]);
  });

  it('other modes', () => {
    expect(normaliseScores([-2, 1, 4], 'abs').values).toEqual([0.5, 0.25, 1]);
    expect(normaliseScores([2, 3, 4], 'minmax').values).toEqual([0, 0.5, 1]);
    expect(normaliseScores([-1, 0.5, 3], 'none').values).toEqual([0, 0.5, 1]);
    expect(normaliseScores([-1, 2], 'max').values).toEqual([0, 1]);
    expect(normaliseScores([0, 0], 'max').values).toEqual([0, 0]);
    expect(normaliseScores([1, NaN], 'max').values[1]).toBeNaN();
  });
});

describe('niceTicks', () => {
  it('produces round numbers inside the range', () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0, 0.9, 6)).toEqual([0, 0.2, 0.4, 0.6, 0.8]);
    expect(niceTicks(-3.9, 3.9, 4)).toEqual([-2, 0, 2]);
    expect(niceTicks(1, 1)).toEqual([1]);
  });
});
