import { describe, expect, it } from 'vitest';
import * as F from '../../src/core/index.js';
import { Random, Tensor } from '../../src/core/index.js';
import { conv2dTaps, depthwiseConv2d, eluPlusOne, expandBatch, patchify, reverseTokens, rope2d, rope2dAngles } from '../../src/vision/ops.js';
import { expectGradients, maxAbsDiff, randn } from '../helpers/ops.js';

/** Plain references, written out index by index. */
function patchifyReference(x: Tensor, P: number): number[] {
  const [B, C, S] = x.shape;
  const G = S / P;
  const out: number[] = [];
  for (let b = 0; b < B; b++)
    for (let gi = 0; gi < G; gi++)
      for (let gj = 0; gj < G; gj++)
        for (let c = 0; c < C; c++) for (let di = 0; di < P; di++) for (let dj = 0; dj < P; dj++) out.push(x.data[((b * C + c) * S + gi * P + di) * S + gj * P + dj]);
  return out;
}

function depthwiseReference(x: Tensor, w: Tensor, bias: Tensor, G: number): Float64Array {
  const [B, L, E] = x.shape;
  const k = w.shape[2];
  const h = (k - 1) / 2;
  const out = new Float64Array(x.size);
  for (let b = 0; b < B; b++)
    for (let i = 0; i < G; i++)
      for (let j = 0; j < G; j++)
        for (let e = 0; e < E; e++) {
          let acc = bias.data[e];
          for (let u = 0; u < k; u++)
            for (let v = 0; v < k; v++) {
              const [si, sj] = [i + u - h, j + v - h];
              if (si < 0 || sj < 0 || si >= G || sj >= G) continue;
              acc += w.data[(e * k + u) * k + v] * x.data[(b * L + si * G + sj) * E + e];
            }
          out[(b * L + i * G + j) * E + e] = acc;
        }
  return out;
}

describe('vision ops', () => {
  const rng = new Random(3);

  it('patchify equals the index-by-index gather and has the gather gradient', () => {
    const x = randn(rng, [2, 3, 6, 6]);
    expect(maxAbsDiff(patchify(x, 3).data, patchifyReference(x, 3))).toBe(0);
    expect(patchify(x, 3).shape).toEqual([2, 4, 27]);
    expectGradients((a) => patchify(a, 2), [randn(rng, [1, 2, 4, 4])], { names: ['images'] });
    expect(() => patchify(randn(rng, [1, 3, 6, 6]), 4)).toThrow(/divisible by 4/);
  });

  it('reverseTokens reverses axis 1 and is its own adjoint', () => {
    const x = Tensor.from([1, 2, 3, 4, 5, 6], [1, 3, 2], 'float64');
    expect(Array.from(reverseTokens(x).data)).toEqual([5, 6, 3, 4, 1, 2]);
    expectGradients((a) => reverseTokens(a), [randn(rng, [2, 5, 3])], { names: ['x'] });
  });

  it('depthwiseConv2d equals PyTorch-style zero-padded depthwise conv (odd grid, k = 3 and 5)', () => {
    for (const [G, k] of [[3, 3], [5, 3], [4, 5]] as const) {
      const x = randn(rng, [2, G * G, 3]);
      const w = randn(rng, [3, 1, k, k]);
      const b = randn(rng, [3]);
      expect(maxAbsDiff(depthwiseConv2d(x, w, b, G).data, depthwiseReference(x, w, b, G)), `G ${G} k ${k}`).toBeLessThan(1e-12);
    }
    expectGradients((x, w, b) => depthwiseConv2d(x, w, b, 3), [randn(rng, [2, 9, 2]), randn(rng, [2, 1, 3, 3]), randn(rng, [2])], { names: ['x', 'weight', 'bias'] });
    expect(() => depthwiseConv2d(randn(rng, [1, 8, 2]), randn(rng, [2, 1, 3, 3]), null, 3)).toThrow(/grid/);
  });

  it('conv2dTaps lists only in-grid neighbours (corners 4, edges 6, inside 9 for k = 3)', () => {
    const taps = conv2dTaps(3, 3);
    expect(taps.map((t) => t.length)).toEqual([4, 6, 4, 6, 9, 6, 4, 6, 4]);
    expect(taps[4].find(([tap]) => tap === 4)).toEqual([4, 4]); // centre tap reads itself
  });

  it('eluPlusOne is positive, continuous at 0, with the right gradient', () => {
    const y = eluPlusOne(Tensor.from([-2, 0, 3], [3], 'float64'));
    expect(Array.from(y.data)).toEqual([Math.exp(-2), 1, 4]);
    expectGradients((a) => eluPlusOne(a), [randn(rng, [10])], { names: ['x'] });
  });

  it('rope2d is the complex rotation of each channel pair by the official 2-D angles', () => {
    const G = 3;
    const E = 8;
    const angles = rope2dAngles(G, E);
    const x = randn(rng, [1, G * G, E]);
    const y = rope2d(x, angles);
    // token (i, j) = (1, 2), pair p: p < 2 turns by i·θ_p, p ≥ 2 by j·θ_{p−2}, θ_κ = 10000^(−κ/2).
    const t = 1 * G + 2;
    for (let p = 0; p < E / 2; p++) {
      const angle = (p < 2 ? 1 : 2) * 10000 ** (-(p % 2) / 2);
      const [re, im] = [x.data[t * E + 2 * p], x.data[t * E + 2 * p + 1]];
      expect(y.data[t * E + 2 * p]).toBeCloseTo(re * Math.cos(angle) - im * Math.sin(angle), 12);
      expect(y.data[t * E + 2 * p + 1]).toBeCloseTo(re * Math.sin(angle) + im * Math.cos(angle), 12);
    }
    // A rotation keeps norms.
    const norm = (a: Tensor) => Math.sqrt(F.sum(F.square(a)).item());
    expect(norm(y)).toBeCloseTo(norm(x), 10);
    expectGradients((a) => rope2d(a, angles), [randn(rng, [2, G * G, E])], { names: ['x'] });
  });

  it('expandBatch repeats a class token over the batch and sums gradients back', () => {
    expectGradients((a) => expandBatch(a, 3), [randn(rng, [1, 1, 4])], { names: ['cls'] });
  });
});
