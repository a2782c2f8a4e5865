/**
 * The dense pieces of the recipes, against hand computations: rollout identities and order,
 * Chefer's accumulation, the O(L) unified-attr product, min–max, s_ℓ, and the quadrature.
 */
import { describe, expect, it } from 'vitest';
import { gaussLegendre, integrationRule } from '../../src/explain/methods/integrated-gradients.js';
import { timesBroadcastRow } from '../../src/explain/methods/unified-attr.js';
import {
  cheferMatrix,
  identity,
  matrixProduct,
  minMaxInPlace,
  rolloutMatrix,
  rowOf,
  rowTimesMatrix,
  rownormWithIdentity,
  sensitivity,
  unitRow,
} from '../../src/explain/vectors.js';
import { maxAbsDiff } from '../helpers/ops.js';

const a1 = Float64Array.from([1, 0, 0, 2, 1, 0, 1, 1, 2]); // lower-triangular 3×3
const a2 = Float64Array.from([0, 0, 0, 1, 0, 0, 0, 3, 1]);

describe('rollout', () => {
  it('all-identity attention rolls out to the identity', () => {
    const I = identity(3);
    expect(Array.from(rolloutMatrix([I, I, I], 3))).toEqual(Array.from(I));
    expect(Array.from(rowTimesMatrix(unitRow(1, 3), rownormWithIdentity(I, 3), 3))).toEqual([0, 1, 0]);
  });

  it('rows of every rownorm(a + I) sum to 1', () => {
    for (const a of [a1, a2, new Float64Array(9)]) {
      const A = rownormWithIdentity(a, 3);
      for (let i = 0; i < 3; i++) expect(A[i * 3] + A[i * 3 + 1] + A[i * 3 + 2]).toBeCloseTo(1, 15);
    }
  });

  it('is A_2 · A_1 (later layer on the left), by hand on 3×3 matrices, and order matters', () => {
    // rownorm(a1 + I) = [[1,0,0],[1/2,1/2,0],[1/5,1/5,3/5]]; rownorm(a2 + I) = [[1,0,0],[1/2,1/2,0],[0,3/5,2/5]].
    const A1 = [1, 0, 0, 0.5, 0.5, 0, 0.2, 0.2, 0.6];
    const A2 = [1, 0, 0, 0.5, 0.5, 0, 0, 0.6, 0.4];
    expect(maxAbsDiff(rownormWithIdentity(a1, 3), A1)).toBeLessThan(1e-15);
    expect(maxAbsDiff(rownormWithIdentity(a2, 3), A2)).toBeLessThan(1e-15);
    // A2·A1 row 2 = 0·[1,0,0] + 0.6·[.5,.5,0] + 0.4·[.2,.2,.6] = [0.38, 0.38, 0.24]
    const R = rolloutMatrix([a1, a2], 3);
    const expected = [1, 0, 0, 0.75, 0.25, 0, 0.38, 0.38, 0.24];
    expect(maxAbsDiff(R, expected)).toBeLessThan(1e-15);
    const reversed = rolloutMatrix([a2, a1], 3);
    expect(maxAbsDiff(reversed, expected)).toBeGreaterThan(0.05);
    // The streamed row (r ← r·A from the last layer down) is row t of the product.
    const r = rowTimesMatrix(rowTimesMatrix(unitRow(2, 3), Float64Array.from(A2), 3), Float64Array.from(A1), 3);
    expect(maxAbsDiff(r, rowOf(R, 2, 3))).toBeLessThan(1e-15);
  });
});

describe("Chefer's accumulation", () => {
  it('R ← R + Ā·R from R = I is (I + Ā_2)(I + Ā_1), by hand', () => {
    const R = cheferMatrix([a1, a2], 3);
    const I = identity(3);
    const plus = (a: Float64Array) => a.map((v, i) => v + I[i]);
    expect(maxAbsDiff(R, matrixProduct(plus(a2), plus(a1), 3))).toBeLessThan(1e-12);
    // Row 2 by hand: (I + a2)[2] = [0, 3, 2]; times (I + a1) = 3·[2,2,0] + 2·[1,1,3] = [8, 8, 6].
    expect(Array.from(rowOf(R, 2, 3))).toEqual([8, 8, 6]);
  });
});

describe('unified-attr product', () => {
  it('r·rownorm(𝟙·wᵀ + I) in O(L) equals the explicit matrix product', () => {
    const w = Float64Array.from([0.3, 1, 0, 0.5]);
    const r = Float64Array.from([0.1, 0.2, 0.3, 0.4]);
    const ones = new Float64Array(16).map((_, i) => w[i % 4]);
    const explicit = rowTimesMatrix(r, rownormWithIdentity(ones, 4), 4);
    expect(maxAbsDiff(timesBroadcastRow(r, w), explicit)).toBeLessThan(1e-15);
  });
});

describe('scalings', () => {
  it('min–max over the causal prefix, zero after it; constant prefixes give 1 (positive) or 0', () => {
    expect(Array.from(minMaxInPlace(Float64Array.from([2, 4, 3, 9]), 3))).toEqual([0, 1, 0.5, 0]);
    expect(Array.from(minMaxInPlace(Float64Array.from([0.2, 7]), 1))).toEqual([1, 0]);
    expect(Array.from(minMaxInPlace(Float64Array.from([0, 0]), 2))).toEqual([0, 0]);
  });

  it('s_ℓ: max over hidden dims of the positive part of the gradient, min–max over j ≤ t', () => {
    // L = 3, H = 2; rows: [−1, 0.5], [2, −3], [−4, −1]; t = 2 → maxima [0.5, 2, 0] → [0.25, 1, 0].
    const s = sensitivity([-1, 0.5, 2, -3, -4, -1], 3, 2, 2);
    expect(Array.from(s)).toEqual([0.25, 1, 0]);
    expect(Array.from(sensitivity([-1, 0.5, 2, -3, -4, -1], 3, 2, 1))).toEqual([0, 1, 0]);
  });
});

describe('Gauss–Legendre on [0, 1]', () => {
  it('weights sum to 1 and m nodes integrate x^(2m−1) exactly', () => {
    for (const m of [1, 2, 5, 32, 64]) {
      const { nodes, weights } = gaussLegendre(m);
      expect(weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 13);
      const p = 2 * m - 1;
      const integral = Array.from(nodes).reduce((acc, x, i) => acc + weights[i] * x ** p, 0);
      expect(integral, `m = ${m}`).toBeCloseTo(1 / (p + 1), 12);
      expect(nodes.every((x) => x > 0 && x < 1)).toBe(true);
    }
  });
});

describe('the IG rule: Gauss–Legendre in ln α', () => {
  it('weights sum to 1, nodes ascend in [0, 1], and a rise over a few decades of tiny α is integrated where a uniform rule fails', () => {
    expect(integrationRule(8)).toEqual(gaussLegendre(8)); // too few points for the logarithmic rule
    for (const m of [1, 2, 8, 16, 32, 64]) {
      const { nodes, weights } = integrationRule(m);
      expect(Math.abs(weights.reduce((a, b) => a + b, 0) - 1), `m = ${m}`).toBeLessThan(1e-9);
      expect(nodes.every((x, i) => x > 0 && x < 1 && (i === 0 || x > nodes[i - 1]))).toBe(true);
    }
    // f(α) = α / (α + 10⁻⁹) rises from 0 to ≈ 1 around α = 10⁻⁹: ∫₀¹ f′ = f(1) − f(0).
    const derivative = (a: number) => 1e-9 / (a + 1e-9) ** 2;
    const exact = 1 / (1 + 1e-9);
    const integrate = ({ nodes, weights }: { nodes: Float64Array; weights: Float64Array }) => Array.from(nodes).reduce((acc, a, i) => acc + weights[i] * derivative(a), 0);
    expect(Math.abs(integrate(integrationRule(32)) - exact)).toBeLessThan(1e-3);
    expect(Math.abs(integrate(gaussLegendre(32)) - exact)).toBeGreaterThan(0.5);
  });
});
