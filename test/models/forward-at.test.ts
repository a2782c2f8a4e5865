/**
 * DecoderLM.forwardAt (the head on one row per sequence, used to score perturbed inputs)
 * equals those rows of the full forward for every family we can build, and is differentiable.
 */
import { describe, expect, it } from 'vitest';
import * as F from '../../src/core/index.js';
import { initModel } from '../../src/models/index.js';
import { ARCHITECTURES, architectureConfig } from '../../src/train/index.js';

describe('forwardAt', () => {
  it.each(Object.keys(ARCHITECTURES))('%s: rows of forward, and gradients reach the embeddings', (arch) => {
    const model = initModel(architectureConfig(arch, { vocabSize: 50, hidden: 32, layers: 2 }), 3, 'float64');
    const [B, L] = [2, 9];
    const ids = Int32Array.from({ length: B * L }, (_, i) => (i * 17 + 3) % 50);
    const positions = [4, 8];
    const full = model.forwardIds(ids, B, L); // [B, L, V]
    const V = full.shape[2];
    const embeds = model.embed(ids, B, L).requireGrad();
    const at = model.forwardAt(embeds, positions);
    expect(at.shape).toEqual([B, V]);
    for (let b = 0; b < B; b++) {
      for (let v = 0; v < V; v++) expect(at.data[b * V + v]).toBeCloseTo(full.data[(b * L + positions[b]) * V + v], 12);
    }
    F.backward(F.sum(at));
    const g = embeds.grad!;
    // Causality: nothing after the scored position of each sequence gets a gradient.
    const H = embeds.shape[2];
    for (let b = 0; b < B; b++) {
      for (let t = positions[b] + 1; t < L; t++) for (let k = 0; k < H; k++) expect(g[(b * L + t) * H + k]).toBe(0);
    }
    expect(g.some((x) => x !== 0)).toBe(true);
    expect(() => model.forwardAt(embeds, [1])).toThrow(/1 positions for a batch of 2/);
    expect(() => model.forwardAt(embeds, [1, L])).toThrow(/outside \[0, 9\)/);
  });
});
