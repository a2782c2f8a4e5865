/** The registry: names, aliases, errors, option checks, and the deterministic baselines. */
import { describe, expect, it } from 'vitest';
import { ExplainContext } from '../../src/explain/context.js';
import { explain, getMethod, METHOD_NAMES, METHODS, UnknownMethodError } from '../../src/explain/registry.js';
import { ExplainError } from '../../src/explain/types.js';
import type { ExplainOptions } from '../../src/explain/types.js';
import { buildToy, toyIds } from './toy.js';

const L = 6;
const toyContext = () => {
  const toy = buildToy(L, 2);
  const ids = toyIds(L, 2);
  return new ExplainContext(toy.model, ids, toy.source(ids));
};

describe('explanation registry', () => {
  it('holds the ten methods of the spec, each with a description and a recipe', () => {
    expect(METHOD_NAMES).toEqual([
      'raw', 'rollout', 'hidden-attr', 'unified-attr', 'grad-attn', 'grad-input', 'integrated-gradients', 'saliency', 'random', 'recency',
    ]);
    for (const m of METHODS) {
      expect(m.description.length, m.name).toBeGreaterThan(10);
      expect(m.recipe.length, m.name).toBeGreaterThan(20);
    }
  });

  it('accepts the spec name last-tokens for recency, and ig', () => {
    expect(getMethod('last-tokens').name).toBe('recency');
    expect(getMethod('ig').name).toBe('integrated-gradients');
    expect(explain(toyContext(), 'last-tokens').method).toBe('recency');
  });

  it('an unknown method name is a clear error listing every method', () => {
    let caught: unknown;
    try {
      getMethod('lrp');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(UnknownMethodError);
    const message = (caught as Error).message;
    expect(message).toContain("unknown explanation method 'lrp'");
    for (const name of METHOD_NAMES) expect(message).toContain(name);
    expect(() => explain(toyContext(), 'attention-flow')).toThrow(/methods: raw, rollout/);
  });

  it('rejects bad options with one clear message each', () => {
    const context = toyContext();
    const bad: Array<[ExplainOptions, RegExp]> = [
      [{ variant: 'full' as never }, /unknown variant 'full'/],
      [{ aggregation: 'max' as never }, /unknown channel aggregation 'max'/],
      [{ startLayer: -1 }, /start layer must be an integer ≥ 0/],
      [{ startLayer: 2 }, /start layer 2 is outside the model's layers \[0, 2\)/],
      [{ target: { position: L } }, /target position 6 is outside the input \[0, 6\)/],
      [{ target: { position: 1.5 } }, /target position 1.5/],
      [{ target: { token: 99 } }, /target token 99 is outside the vocabulary \[0, 6\)/],
      [{ steps: 0 }, /steps must be a positive integer/],
    ];
    for (const [options, message] of bad) expect(() => explain(context, 'raw', options), JSON.stringify(options)).toThrow(message);
    expect(() => explain(context, 'raw', { startLayer: 2 })).toThrow(ExplainError);
  });

  it('attention methods on a model without decomposable layers say so; gradient methods still run', () => {
    const toy = buildToy(L, 2);
    const context = new ExplainContext(toy.model, toyIds(L, 2)); // the model's own families: 'toy' is none of them
    expect(() => explain(context, 'rollout')).toThrow(/has no layer with an implicit attention decomposition.*use a gradient method/);
    expect(explain(context, 'saliency').scores.length).toBe(L);
  });

  it('random is deterministic for a seed, differs across seeds, and lies in [0, 1) up to the target', () => {
    const context = toyContext();
    const a = explain(context, 'random', { seed: 7 });
    const b = explain(toyContext(), 'random', { seed: 7 });
    const c = explain(context, 'random', { seed: 8 });
    expect(Array.from(a.scores)).toEqual(Array.from(b.scores));
    expect(Array.from(a.scores)).not.toEqual(Array.from(c.scores));
    expect(a.scores.every((s) => s >= 0 && s < 1)).toBe(true);
    expect(a.metadata.options.seed).toBe(7);
    const short = explain(context, 'random', { seed: 7, target: { position: 2 } });
    expect(Array.from(short.scores.subarray(0, 3))).toEqual(Array.from(a.scores.subarray(0, 3)));
    expect(Array.from(short.scores.subarray(3))).toEqual([0, 0, 0]);
  });

  it('recency ranks later tokens higher: (j + 1)/(t + 1)', () => {
    const result = explain(toyContext(), 'recency', { target: { position: 3 } });
    expect(Array.from(result.scores)).toEqual([0.25, 0.5, 0.75, 1, 0, 0]);
  });

  it('records the resolved options and target in the metadata', () => {
    const result = explain(toyContext(), 'hidden-attr', { startLayer: 1, aggregation: 'abs' });
    expect(result.metadata.options).toEqual({ variant: 'hidden', startLayer: 1, aggregation: 'abs', steps: 32, seed: 0 });
    expect(result.metadata.method).toBe('hidden-attr');
    expect(result.metadata.target.position).toBe(L - 1);
    expect(result.layers!.map((l) => l.layer)).toEqual([1]);
    expect(explain(toyContext(), 'raw').metadata.options.variant).toBe('paper');
  });
});
