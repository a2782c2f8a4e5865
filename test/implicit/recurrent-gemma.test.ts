import { describe, expect, it } from 'vitest';
import { extract } from '../../src/implicit/extract.js';
import { decomposeFixture, implicitAttentionTests } from '../helpers/implicit.js';

describe('implicit attention of RecurrentGemma (RG-LRU layers)', () => implicitAttentionTests('recurrent_gemma', [0, 1]));

describe('RecurrentGemma local-attention layers through the same interface', () => {
  it('expose causal, windowed softmax rows per head that sum to one', () => {
    const { layers } = decomposeFixture(['hf', 'recurrent_gemma'], 'float64');
    const d = layers.get(2)!;
    expect(d.kind).toBe('attention');
    const L = d.length;
    const perHead = extract(d, { variant: 'paper', reduce: 'none', dtype: 'float64' });
    for (let m = 0; m < perHead.data.length / (L * L); m++) {
      for (let t = 0; t < L; t++) {
        let sum = 0;
        for (let s = 0; s < L; s++) {
          const v = perHead.data[m * L * L + t * L + s];
          if (s > t) expect(v).toBe(0);
          sum += v;
        }
        expect(sum).toBeCloseTo(1, 12);
      }
    }
    const mean = extract(d, { variant: 'paper', reduce: 'mean', row: L - 1, dtype: 'float64' });
    expect(mean.shape).toEqual([2, L]);
  });
});
