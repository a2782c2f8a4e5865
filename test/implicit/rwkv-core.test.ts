/**
 * RWKV's core matrix is built by a rescaled recurrence (one exp per row); it must equal the
 * direct softmax rows even at extremes: decays e^w from 1e-4 to 55 per step, keys ±60, L = 300.
 */
import { describe, expect, it } from 'vitest';
import { Random, Tensor } from '../../src/core/index.js';
import { rwkvDecomposition } from '../../src/implicit/families/rwkv.js';
import { relativeError } from '../helpers/ops.js';

describe('RWKV core matrix recurrence', () => {
  it('equals the direct rows at extreme decays and keys', () => {
    const rng = new Random(5);
    const [B, L, C] = [1, 300, 6];
    const logDecays = [-9, -3, 0, 1, 2, Math.log(55)];
    const k = rng.uniform([B, L, C], -60, 60, 'float64');
    const v = rng.tensor([B, L, C], 'float64');
    const zeros = Tensor.zeros([B, L, C], 'float64');
    const d = rwkvDecomposition(
      { k, v, r: Tensor.full([B, L, C], 1, 'float64'), w: Tensor.from(logDecays, [C], 'float64'), u: rng.uniform([C], -5, 5, 'float64'), wkv: zeros },
      (p) => p,
    );
    const matrix = new Float64Array(L * L);
    const row = new Float64Array(L);
    for (let c = 0; c < C; c++) {
      matrix.fill(0);
      d.coreMatrix(0, c, matrix);
      expect(matrix.every(Number.isFinite), `channel ${c}`).toBe(true);
      for (const t of [0, 1, 2, 50, 151, L - 1]) {
        row.fill(0);
        d.coreRow(0, c, t, row);
        expect(relativeError(matrix.subarray(t * L, t * L + L), row), `channel ${c} row ${t}`).toBeLessThan(1e-12);
        let sum = 0;
        for (let s = 0; s <= t; s++) sum += matrix[t * L + s];
        expect(sum).toBeCloseTo(1, 12);
      }
    }
  });
});
