/**
 * Row mode on a real checkpoint at L = 8192 (O(L·D) memory): every channel's last row of
 * RWKV's H = diag(σ(r))·α sums to σ(r_t), since WKV's α rows sum to one.
 */
import { describe, expect, it } from 'vitest';
import type { RecurrentDecomposition } from '../../src/implicit/decomposition.js';
import { extract } from '../../src/implicit/extract.js';
import { runForAttention } from '../../src/implicit/model-layers.js';
import { loadModel } from '../../src/io/load-model.js';
import { SafetensorsReader } from '../../src/io/safetensors.js';
import { fixturePath } from '../helpers/fixtures.js';

describe('row mode at L = 8192 on the trained RWKV checkpoint', () => {
  it('gives every channel its last row, each summing to the receptance gate', () => {
    const { model } = loadModel(fixturePath('trained', 'rwkv'));
    const ids = SafetensorsReader.open(fixturePath('trained', 'val_ids.safetensors')).readInt('val_ids').subarray(0, 8192);
    const L = ids.length;
    const run = runForAttention(model, ids, 1, L);
    for (const layer of [0, run.layers.length - 1]) {
      const d = run.decompose(layer) as RecurrentDecomposition;
      const rows = extract(d, { variant: 'exact', reduce: 'none', row: L - 1, dtype: 'float64' });
      expect(rows.shape).toEqual([1, d.channels, L]);
      for (let c = 0; c < d.channels; c++) {
        let sum = 0;
        for (let s = 0; s < L; s++) sum += rows.data[c * L + s];
        expect(sum).toBeCloseTo(d.gate![(L - 1) * d.channels + c], 5);
      }
    }
  }, 120_000);
});
