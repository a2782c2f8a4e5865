/**
 * Ground truth: the needle task's examples and labels, the evidence scores of hand-made
 * relevance vectors, a model that did not learn its task is reported and not explained, and
 * the classifier target (class logit of the last position) seen as an LM by the explain code.
 */
import { describe, expect, it } from 'vitest';
import { Random } from '../../src/core/index.js';
import { ExplainContext, explain } from '../../src/explain/index.js';
import { classifierAsLM } from '../../src/evaluate/classifier-target.js';
import { evidenceMask, evidenceRecallCurve, runGroundTruth, scoreEvidence, taskExamples } from '../../src/evaluate/groundtruth.js';
import { needle, needleLayout, NEEDLE_CLASSES, NEEDLE_TRIGGERS_PER_CLASS, taskTokenizerJson } from '../../src/evaluate/tasks.js';
import { TextTokenizer } from '../../src/io/text-tokenizer.js';
import { initModel } from '../../src/models/index.js';
import { architectureConfig, ClassifierHead, classifierLogits, getTask } from '../../src/train/index.js';

describe('task:needle', () => {
  it('is registered, and its label is the class of the one trigger, which is its evidence', () => {
    expect(getTask('needle')).toBe(needle);
    const V = 32;
    const layout = needleLayout(V);
    const rng = new Random(5);
    const seen = new Set<number>();
    for (let i = 0; i < 300; i++) {
      const s = needle.generate(rng, 16, V);
      expect(s.ids).toHaveLength(16);
      expect(s.target).toBe(15);
      expect(s.ids[15]).toBe(layout.query);
      const triggers = Array.from(s.ids).map((id, j) => [id, j]).filter(([id]) => id >= layout.firstTrigger && id < layout.firstTrigger + layout.triggers);
      expect(triggers).toHaveLength(1);
      const [trigger, position] = triggers[0];
      expect(s.evidence).toEqual([position]);
      expect(s.label).toBe(1 + ((trigger - layout.firstTrigger) % NEEDLE_CLASSES));
      // Everything else is a distractor, never a class token.
      for (let j = 0; j < 15; j++) if (j !== position) expect(s.ids[j]).toBeGreaterThanOrEqual(layout.firstDistractor);
      seen.add(s.label);
      seen.add(1000 + position);
    }
    expect([1, 2, 3, 4].every((c) => seen.has(c))).toBe(true);
    expect(seen.has(1000) && seen.has(1014)).toBe(true);
    expect(layout.triggers).toBe(NEEDLE_CLASSES * NEEDLE_TRIGGERS_PER_CLASS);
    expect(() => needle.generate(rng, 16, needle.minVocab(16) - 1)).toThrow(/distractor/);
  });

  it('the task tokenizer prints one character per id', () => {
    const tokenizer = new TextTokenizer(taskTokenizerJson(32));
    expect(tokenizer.vocabSize).toBe(32);
    expect(tokenizer.tokenToString(0)).toBe('<|endoftext|>');
    expect(tokenizer.encode('abc')).toEqual([1, 2, 3]);
  });

  it('draws the same examples for the same seed', () => {
    const a = taskExamples(needle, 5, 12, 32, 3);
    expect(taskExamples(needle, 5, 12, 32, 3)).toEqual(a);
    expect(taskExamples(needle, 5, 12, 32, 4)).not.toEqual(a);
  });
});

describe('evidence scores', () => {
  it('scores positions before the target only, against the evidence mask', () => {
    expect(evidenceMask([1, 4, 7], 5)).toEqual([false, true, false, false, true]);
    // The target position 5 carries the largest relevance but is left out.
    const perfect = scoreEvidence([0, 3, 0.1, 0.2, 2, 9], [1, 4], 5);
    expect(perfect.mass).toBeCloseTo(5 / 5.3, 12);
    expect(perfect).toMatchObject({ topK: 1, auroc: 1 });
    const reversed = scoreEvidence([3, 0, 2, 1, 0, 9], [1, 4], 5);
    expect(reversed.topK).toBe(0);
    expect(reversed.auroc).toBe(0);
    expect(reversed.mass).toBe(0);
    const flat = scoreEvidence([1, 1, 1, 1, 1, 1], [1, 4], 5);
    expect(flat.auroc).toBe(0.5);
    expect(flat.topK).toBeCloseTo(0.4, 12);
    expect(flat.mass).toBeCloseTo(0.4, 12);
    expect(() => scoreEvidence([1, 2, 3], [2], 2)).toThrow(/no evidence/);
    // Recall curve: the evidence found among the top x·n positions.
    expect(evidenceRecallCurve([0, 3, 0.1, 0.2, 2], evidenceMask([1, 4], 5), [0, 0.2, 0.4, 1])).toEqual([0, 0.5, 1, 1]);
  });

  it('a model that did not learn the task is reported and not explained', () => {
    const model = initModel(architectureConfig('mamba', { vocabSize: 32, hidden: 16, layers: 1 }), 1, 'float64');
    const run = runGroundTruth(model, needle, { methods: ['random', 'saliency'], samples: 12, length: 10, seed: 0, explain: {} });
    expect(run.learned).toBe(false);
    expect(run.accuracy).toBeLessThan(0.9);
    expect(run.explained).toBe(0);
    expect(run.methods).toEqual([]);
    // With the threshold at 0 the correctly answered examples (if any) are explained.
    const forced = runGroundTruth(model, needle, { methods: ['random', 'saliency'], samples: 40, length: 10, seed: 0, minAccuracy: 0, explain: {} });
    expect(forced.learned).toBe(true);
    expect(forced.explained).toBe(Math.round(forced.accuracy * 40));
    if (forced.explained > 0) {
      expect(forced.methods.map((m) => m.method)).toEqual(['random', 'saliency']);
      expect(forced.evidencePerExample).toBe(1);
      expect(forced.positionsScored).toBe(9);
    }
  });
});

describe('classifier target', () => {
  it('the wrapped model’s last row is the classifier’s logits, and the explain methods run on a class', () => {
    const model = initModel(architectureConfig('mamba2', { vocabSize: 40, hidden: 32, layers: 1 }), 2, 'float64');
    const head = ClassifierHead.init(3, 32, 9, 'float64', 0.5);
    const wrapped = classifierAsLM(model, head);
    const ids = Int32Array.from([5, 9, 2, 17, 30, 1, 8]);
    const L = ids.length;
    const rows = wrapped.forwardIds(ids, 1, L);
    expect(rows.shape).toEqual([1, L, 3]);
    const direct = classifierLogits(model, head, ids, 1, L);
    for (let c = 0; c < 3; c++) expect(rows.data[(L - 1) * 3 + c]).toBeCloseTo(direct.data[c], 12);
    // forwardAt (what the perturbation scorer runs) applies the class head to the asked row only.
    const at = wrapped.forwardAt(model.embed(ids, 1, L), [L - 1]);
    expect(at.shape).toEqual([1, 3]);
    for (let c = 0; c < 3; c++) expect(at.data[c]).toBeCloseTo(direct.data[c], 12);
    const context = new ExplainContext(wrapped, ids);
    const target = context.target();
    expect(target.position).toBe(L - 1);
    expect(target.token).toBeLessThan(3);
    expect(target.logit).toBeCloseTo(direct.data[target.token], 12);
    // The gradient reaches the class logit: grad-input_j = d/dα f(…, α·e_j, …) at α = 1 (central difference).
    const gi = explain(context, 'grad-input');
    const j = 3;
    const h = 1e-5;
    const f = (alpha: number) => {
      const e = model.embed(ids, 1, L);
      const H = e.shape[2];
      for (let k = 0; k < H; k++) e.data[j * H + k] *= alpha;
      return wrapped.forward(e).data[(L - 1) * 3 + target.token];
    };
    expect(gi.scores[j]).toBeCloseTo((f(1 + h) - f(1 - h)) / (2 * h), 6);
    expect(explain(context, 'integrated-gradients', { steps: 8 }).scores).toHaveLength(L);
    expect(explain(context, 'unified-attr').scores).toHaveLength(L);
    expect(wrapped.modelType).toBe('mamba2');
    expect(() => classifierAsLM(model, ClassifierHead.init(3, 16, 0))).toThrow(/hidden size/);
  });
});
