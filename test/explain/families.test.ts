/**
 * Every method runs on every family's tiny fixture model — including RecurrentGemma, whose
 * local-attention layer enters the attention-based recipes with its real softmax weights.
 */
import { describe, expect, it } from 'vitest';
import { ExplainContext } from '../../src/explain/context.js';
import { explain, METHOD_NAMES } from '../../src/explain/registry.js';
import { loadModel } from '../../src/io/load-model.js';
import { SafetensorsReader } from '../../src/io/safetensors.js';
import { fixturePath, HF_ARCHS } from '../helpers/fixtures.js';

describe('every explanation method on every family', () => {
  for (const arch of HF_ARCHS) {
    it(`${arch}: finite, non-trivial relevance for each method`, () => {
      const { model } = loadModel(fixturePath('hf', arch), { dtype: 'float64' });
      const reference = SafetensorsReader.open(fixturePath('hf', arch, 'reference.safetensors'));
      const ids = reference.readInt('input_ids').subarray(0, 24);
      const context = new ExplainContext(model, ids);
      for (const method of METHOD_NAMES) {
        const result = explain(context, method, method === 'integrated-gradients' ? { steps: 8 } : {});
        expect(result.scores.length, method).toBe(24);
        expect(result.scores.every(Number.isFinite), method).toBe(true);
        expect(result.scores.some((s) => s !== 0), method).toBe(true);
      }
    });
  }
});
