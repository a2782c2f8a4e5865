/**
 * Implicit attention of the real trained checkpoints (PyTorch-trained, stored float16 /
 * bfloat16) against references computed in float64: last rows of the paper and exact
 * variants and the channel mean of |H_paper|, in float32 within rtol 1e-3; and reconstruction.
 */
import { describe, expect, it } from 'vitest';
import type { RecurrentDecomposition } from '../../src/implicit/decomposition.js';
import { extract } from '../../src/implicit/extract.js';
import { decomposeFixture, reconstructionError } from '../helpers/implicit.js';
import { relativeError } from '../helpers/ops.js';

for (const arch of ['mamba2', 'rwkv']) {
  describe(`implicit attention of the trained ${arch} checkpoint`, () => {
    const { layers, reference } = decomposeFixture(['trained', arch], 'float32');
    const last = 63;

    it('last rows (paper, exact) and mean |H_paper| match the float64 reference within rtol 1e-3', () => {
      expect(layers.size).toBe(6);
      for (const [i, d] of layers) {
        for (const variant of ['paper', 'exact'] as const) {
          const rows = extract(d, { variant, reduce: 'none', row: last });
          const key = `attn.${i}.${variant}.last_row`;
          expect(relativeError(rows.data, reference.readFloat(key, 'float64')), key).toBeLessThan(1e-3);
        }
        const mean = extract(d, { variant: 'paper', reduce: 'mean-abs' });
        const key = `attn.${i}.paper.abs_channel_mean`;
        expect(relativeError(mean.data, reference.readFloat(key, 'float64')), key).toBeLessThan(1e-3);
      }
    });

    it('reconstructs every layer pre-output in float32 within 1e-4', () => {
      for (const d of layers.values()) expect(reconstructionError(d as RecurrentDecomposition)).toBeLessThan(1e-4);
    });
  });
}
