/**
 * Known answers on the hand-built toy model (test/explain/toy.ts), whose prediction at every
 * position t > k depends on the token at k alone: every faithful method must rank k first;
 * gradient methods must give every other position exactly 0; grad-attn must equal the Chefer
 * rule applied to the autograd gradient of the attention matrices; integrated gradients must
 * be complete.
 */
import { describe, expect, it } from 'vitest';
import { ExplainContext } from '../../src/explain/context.js';
import { explain, METHOD_NAMES } from '../../src/explain/registry.js';
import { aggregateValue } from '../../src/explain/attention-maps.js';
import { cheferMatrix, rowOf } from '../../src/explain/vectors.js';
import type { ChannelAggregation } from '../../src/explain/types.js';
import { relativeError } from '../helpers/ops.js';
import { attentionGradients, buildToy, toyIds } from './toy.js';

const L = 7;
const argmax = (x: ArrayLike<number>) => Array.from(x).reduce((best, v, i, all) => (v > all[best] ? i : best), 0);

function toyContext(k: number, options: { attentionLayers?: number[] } = {}) {
  const toy = buildToy(L, k);
  const ids = toyIds(L, k);
  return { toy, ids, context: new ExplainContext(toy.model, ids, toy.source(ids, options)) };
}

/** grad-attn's reference: Ā_ℓ = mean_c agg(∂target/∂A^c ⊙ A^c), R = (I + Ā_1)(I + Ā_0), row t. */
function gradAttnReference(k: number, t: number, token: number, aggregation: ChannelAggregation): Float64Array {
  const { toy, ids } = toyContext(k);
  const grads = attentionGradients(toy, ids, t, token);
  const maps = toy.attention.map((A, layer) => {
    const bar = new Float64Array(L * L);
    for (let c = 0; c < 2; c++) for (let i = 0; i < L * L; i++) bar[i] += aggregateValue(grads[layer][c * L * L + i] * A.data[c * L * L + i], aggregation) / 2;
    return bar;
  });
  return rowOf(cheferMatrix(maps, L), t, L);
}

describe('known answers on a model that reads exactly one token', () => {
  for (const k of [1, 3]) {
    it(`ranks the evidence token (position ${k}) first: raw, rollout, hidden-attr, unified-attr, grad-input, saliency, integrated-gradients`, () => {
      const { context } = toyContext(k);
      for (const method of ['raw', 'rollout', 'hidden-attr', 'unified-attr', 'grad-input', 'saliency', 'integrated-gradients']) {
        const { scores } = explain(context, method);
        expect(scores.length, method).toBe(L);
        expect(argmax(scores), `${method}: ${Array.from(scores, (s) => s.toFixed(3)).join(' ')}`).toBe(k);
      }
    });
  }

  it('gradient methods give exactly zero to every token the target does not depend on', () => {
    const { context } = toyContext(2);
    for (const method of ['grad-input', 'saliency', 'integrated-gradients']) {
      const { scores } = explain(context, method);
      scores.forEach((s, j) => {
        if (j !== 2) expect(s, `${method} at ${j}`).toBe(0);
      });
      expect(scores[2], method).toBeGreaterThan(0);
    }
  });

  it('integrated gradients is complete: relative error < 1e-3 in float64 with 64 steps (and shrinks with more steps)', () => {
    const { context } = toyContext(2);
    const e64 = explain(context, 'integrated-gradients', { steps: 64 });
    const total = e64.scores.reduce((a, b) => a + b, 0);
    const difference = e64.metadata.target.logit - e64.metadata.baselineLogit!;
    expect(Math.abs(difference)).toBeGreaterThan(0.1);
    expect(e64.metadata.completenessError).toBeCloseTo(total - difference, 12);
    expect(e64.metadata.relativeCompletenessError!).toBeLessThan(1e-3);
    const e2 = explain(context, 'integrated-gradients', { steps: 2 });
    expect(e64.metadata.relativeCompletenessError!).toBeLessThanOrEqual(e2.metadata.relativeCompletenessError!);
  });

  for (const aggregation of ['positive', 'signed', 'abs'] as const) {
    it(`grad-attn equals the Chefer rule on the autograd gradient of the attention matrices (${aggregation})`, () => {
      const k = 2;
      const { context } = toyContext(k);
      for (const position of [L - 1, 4]) {
        const result = explain(context, 'grad-attn', { aggregation, target: { position } });
        const reference = gradAttnReference(k, position, result.metadata.target.token, aggregation);
        expect(Math.abs(reference[k]), 'the evidence token gets gradient × attention mass').toBeGreaterThan(1e-3);
        expect(relativeError(result.scores, reference), `position ${position}`).toBeLessThan(1e-12);
      }
    });
  }

  it('grad-attn with a target token other than the top one uses that token’s gradient', () => {
    const { context } = toyContext(2);
    const result = explain(context, 'grad-attn', { target: { token: 1 } });
    expect(result.metadata.target.token).toBe(1);
    expect(relativeError(result.scores, gradAttnReference(2, L - 1, 1, 'positive'))).toBeLessThan(1e-12);
  });

  it('real attention layers (heads as channels) give the same maps as the equivalent implicit attention', () => {
    const recurrent = toyContext(2).context;
    const hybrid = toyContext(2, { attentionLayers: [1] }).context;
    for (const method of ['raw', 'rollout', 'hidden-attr', 'unified-attr', 'grad-attn']) {
      const a = explain(recurrent, method);
      const b = explain(hybrid, method);
      expect(relativeError(b.scores, a.scores), method).toBeLessThan(1e-12);
    }
  });

  it('every method leaves positions after the target at 0 and honours target.position', () => {
    const { context } = toyContext(1);
    const position = 3;
    for (const method of METHOD_NAMES) {
      const result = explain(context, method, { target: { position } });
      expect(result.metadata.target.position, method).toBe(position);
      for (let j = position + 1; j < L; j++) expect(result.scores[j], `${method} at ${j}`).toBe(0);
      expect(result.scores.every(Number.isFinite), method).toBe(true);
    }
    // The evidence token is still found at an earlier target position.
    for (const method of ['raw', 'rollout', 'unified-attr', 'grad-input', 'saliency', 'integrated-gradients']) {
      expect(argmax(explain(context, method, { target: { position } }).scores), method).toBe(1);
    }
  });

  it('honours target.token: metadata, probability and the gradient all follow the asked token', () => {
    const { context } = toyContext(2);
    const top = context.target();
    const other = (top.token + 1) % 6;
    const asked = explain(context, 'grad-input', { target: { token: other } });
    expect(asked.metadata.target.token).toBe(other);
    expect(asked.metadata.target.topToken).toBe(top.token);
    expect(asked.metadata.target.probability).toBeLessThan(top.probability);
    const logits = context.logits().data.subarray((L - 1) * 6, L * 6);
    const z = Array.from(logits).reduce((a, v) => a + Math.exp(v), 0);
    expect(asked.metadata.target.probability).toBeCloseTo(Math.exp(logits[other]) / z, 12);
    expect(asked.metadata.target.logit).toBe(logits[other]);
    const topResult = explain(context, 'grad-input');
    expect(topResult.scores[2]).not.toBeCloseTo(asked.scores[2], 6);
  });

  it('start layer: raw with start layer 1 averages only layer 1, whose row is known', () => {
    const { context } = toyContext(2);
    const result = explain(context, 'raw', { startLayer: 1 });
    expect(result.layers!.map((l) => l.layer)).toEqual([1]);
    // Row t = L−1 of layer 1: 0.7 at k = 2, 0.3 at t (channel mean scales both alike) → min–max: 1 at k, 3/7 at t.
    const expected = new Float64Array(L);
    expected[2] = 1;
    expected[L - 1] = 0.3 / 0.7;
    expect(relativeError(result.scores, expected)).toBeLessThan(1e-12);
  });
});
