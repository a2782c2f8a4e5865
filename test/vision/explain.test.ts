import { describe, expect, it } from 'vitest';
import * as F from '../../src/core/index.js';
import { rownormWithIdentity, rowTimesMatrix } from '../../src/explain/vectors.js';
import { extract } from '../../src/implicit/extract.js';
import { explainVision, tokenSensitivity, VISION_METHOD_NAMES, VisionExplainContext } from '../../src/vision/explain.js';
import { classify } from '../../src/vision/model.js';
import { randomImages, TINY_MLLA, TINY_VIM, tinyModel } from './helpers.js';

for (const [name, raw] of [['Vision Mamba', TINY_VIM], ['MLLA', TINY_MLLA]] as const) {
  describe(`explanations of ${name}`, () => {
    const model = tinyModel(raw);
    const image = randomImages(model, 1, 21);
    const context = new VisionExplainContext(model, image);
    const M = model.patchTokens.length;

    it('every method gives one finite score per patch; layer-wise recipes give per-layer maps', () => {
      for (const method of VISION_METHOD_NAMES) {
        const e = explainVision(context, method, { steps: 8 });
        expect(e.patchScores.length, method).toBe(M);
        expect(e.patchScores.every(Number.isFinite), method).toBe(true);
        if (['raw', 'rollout', 'hidden-attr', 'unified-attr', 'grad-attn'].includes(method)) expect(e.layers?.length, method).toBe(2);
      }
    });

    it('the query is the readout: the CLS row for Vim, the mean of the rows for MLLA', () => {
      const q = context.query;
      if (model.readout.kind === 'token') {
        expect(q[model.readout.position]).toBe(1);
        expect(q.reduce((a, b) => a + b, 0)).toBe(1);
      } else {
        expect(Array.from(q)).toEqual(new Array(model.length).fill(1 / model.length));
      }
    });

    it('rollout from the last layer is qᵀ·rownorm(a + I) with a = channel mean of clamp(H_paper, 0)', () => {
      const last = model.image.numLayers - 1;
      const e = explainVision(context, 'rollout', { startLayer: last });
      const a = extract(context.decomposition(last), { variant: 'paper', reduce: 'mean-positive', dtype: 'float64' }).data as Float64Array;
      const tokens = rowTimesMatrix(context.query, rownormWithIdentity(a, model.length), model.length);
      const expected = Float64Array.from(model.patchTokens, (t) => tokens[t]);
      expect(Math.max(...e.patchScores.map((v, i) => Math.abs(v - expected[i])))).toBeLessThan(1e-12);
    });

    it('unified-attr from the last layer is qᵀ·rownorm(𝟙wᵀ + I), w = minmax(qᵀa ⊙ s)', () => {
      const last = model.image.numLayers - 1;
      const L = model.length;
      const e = explainVision(context, 'unified-attr', { startLayer: last });
      const a = extract(context.decomposition(last), { variant: 'paper', reduce: 'mean-positive', dtype: 'float64' }).data as Float64Array;
      const s = tokenSensitivity(context.gradients(context.target().label).blockIn.get(last)!, L, model.image.hiddenSize);
      const v = rowTimesMatrix(context.query, a, L).map((x, j) => x * s[j]);
      const [lo, hi] = [Math.min(...v), Math.max(...v)];
      const w = v.map((x) => (x - lo) / (hi - lo));
      const A = new Float64Array(L * L);
      for (let i = 0; i < L; i++) for (let j = 0; j < L; j++) A[i * L + j] = w[j];
      const tokens = rowTimesMatrix(context.query, rownormWithIdentity(A, L), L);
      const expected = Float64Array.from(model.patchTokens, (t) => tokens[t]);
      expect(Math.max(...e.patchScores.map((x, i) => Math.abs(x - expected[i])))).toBeLessThan(1e-12);
    });

    it('grad-input and saliency use the exact gradient of the class logit on the patch embeddings', () => {
      const label = context.target().label;
      const gi = explainVision(context, 'grad-input').patchScores;
      // Σ_m grad-input_m is the first-order change of the logit when every embedding is scaled by (1 + ε).
      const embeds = F.noGrad(() => model.embedPatches(image));
      const eps = 1e-6;
      const scaled = new F.Tensor(Float64Array.from(embeds.data, (v) => v * (1 + eps)), embeds.shape);
      const f = (x: F.Tensor) => F.noGrad(() => model.forward(x)).data[label];
      expect(gi.reduce((a, b) => a + b, 0)).toBeCloseTo((f(scaled) - f(embeds)) / eps, 4);
      expect(explainVision(context, 'saliency').patchScores.every((v) => v >= 0)).toBe(true);
    });

    it('integrated gradients is complete: Σ relevance = f(e) − f(0) to 1e-3 (32 Gauss–Legendre nodes, float64)', () => {
      const e = explainVision(context, 'integrated-gradients', { steps: 32 });
      const total = e.patchScores.reduce((a, b) => a + b, 0);
      expect(Math.abs(e.completenessError!)).toBeLessThan(1e-3 * Math.max(1, Math.abs(total)));
    });

    it('random is seeded; a class other than the prediction can be explained', () => {
      expect(explainVision(context, 'random', { seed: 3 }).patchScores).toEqual(explainVision(context, 'random', { seed: 3 }).patchScores);
      const other = (context.target().predicted + 1) % 3;
      const e = explainVision(context, 'grad-attn', { label: other });
      expect(e.target.label).toBe(other);
      expect(e.target.logit).toBeCloseTo(F.noGrad(() => classify(model, image)).data[other], 12);
    });
  });
}
