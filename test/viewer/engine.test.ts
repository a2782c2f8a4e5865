import { describe, expect, it } from 'vitest';
import { FRACTIONS, modelScorer, perturbSample } from '../../src/evaluate/perturbation.js';
import { ExplainContext } from '../../src/explain/context.js';
import { explain, METHOD_NAMES } from '../../src/explain/registry.js';
import { extract } from '../../src/implicit/extract.js';
import { runForAttention } from '../../src/implicit/model-layers.js';
import { loadModel } from '../../src/io/load-model.js';
import { loadTokenizer } from '../../src/io/tokenizer.js';
import { failureOf, poolCausal, ViewerEngine } from '../../src/viewer/server/engine.js';
import { parseAnalyze, parseAttention, parsePerturbation } from '../../src/viewer/server/validate.js';
import { catalogue, decode, limits, MAMBA2, PROMPT } from './helpers.js';

const models = catalogue();
const engine = new ViewerEngine(limits());
const analyzeJob = (body: object) => parseAnalyze(body, models, limits(), METHOD_NAMES);
const attentionJob = (body: object) => parseAttention(body, models, limits());

const loaded = loadModel(MAMBA2);
const ids = Int32Array.from(loadTokenizer(loaded.tokenizerPath!).encode(PROMPT));
const L = ids.length;

function refusal(run: () => unknown): { status: number; message: string } {
  try {
    run();
  } catch (error) {
    return failureOf(error);
  }
  throw new Error('expected a failure');
}

describe('ViewerEngine', () => {
  it('explains like src/explain, token by token', () => {
    const methods = ['raw', 'unified-attr', 'grad-input', 'recency'];
    const r = engine.analyze(analyzeJob({ model: 'mamba2', text: PROMPT, methods, target: { position: 5 } }));
    expect(r.tokens.map((t) => t.id)).toEqual([...ids]);
    expect(r.tokens.map((t) => t.text).join('')).toBe(PROMPT);
    expect(r.target.position).toBe(5);
    expect(r.layers.map((l) => l.mixer)).toEqual(Array(6).fill('mamba2'));
    const context = new ExplainContext(loaded.model, ids);
    for (const [i, name] of methods.entries()) {
      const expected = explain(context, name, { target: { position: 5 } });
      expect(r.explanations[i].method).toBe(name);
      expect(r.explanations[i].scores).toEqual(Array.from(expected.scores));
    }
  });

  it("returns a layer's matrix exactly as extract() computes it, full, per channel, per head, as a row and pooled", () => {
    const d = runForAttention(loaded.model, ids, 1, L).decompose(2);
    const cases: Array<[object, Parameters<typeof extract>[1]]> = [
      [{}, { variant: 'paper', reduce: 'mean-abs' }],
      [{ variant: 'exact', reduce: 'mean' }, { variant: 'exact', reduce: 'mean' }],
      [{ reduce: 'channel', channel: 77 }, { variant: 'paper', reduce: 'none', channels: [77] }],
      [{ reduce: 'head', channel: 3 }, { variant: 'paper', reduce: 'head-mean', channels: Array.from({ length: 64 }, (_, i) => 192 + i) }],
      [{ variant: 'hidden', reduce: 'channel', channel: 7 }, { variant: 'hidden', reduce: 'none', channels: [7] }],
      [{ mode: 'row', reduce: 'mean-positive' }, { variant: 'paper', reduce: 'mean-positive', row: L - 1 }],
    ];
    for (const [spec, options] of cases) {
      const a = engine.attention(attentionJob({ model: 'mamba2', text: PROMPT, layer: 2, ...spec }));
      const expected = extract(d, options).data;
      expect(decode(a.data)).toEqual(expected);
      expect(a.shape).toEqual(options.row === undefined ? [L, L] : [L]);
      expect(a.length).toBe(L);
      expect(a.channels).toBe(options.variant === 'hidden' ? 8 : 512);
      expect(a.heads).toBe(8);
    }
    const pooled = engine.attention(attentionJob({ model: 'mamba2', text: PROMPT, layer: 2, maxSide: 8 }));
    expect(pooled).toMatchObject({ pooled: true, shape: [8, 8], length: L });
    expect(decode(pooled.data)).toEqual(poolCausal(extract(d, { variant: 'paper', reduce: 'mean-abs' }).data as Float32Array, L, 8));
  });

  it('pools a causal matrix by the mean of the causal entries of each block', () => {
    const n = 5;
    const m = new Float32Array(n * n);
    for (let t = 0; t < n; t++) for (let s = 0; s <= t; s++) m[t * n + s] = 10 * t + s;
    const p = poolCausal(m, n, 2); // blocks {0,1} and {2,3,4}
    expect(p[0]).toBeCloseTo((0 + 10 + 11) / 3);
    expect(p[1]).toBeNaN();
    expect(p[2]).toBeCloseTo((20 + 21 + 30 + 31 + 40 + 41) / 6);
    expect(p[3]).toBeCloseTo((22 + 32 + 33 + 42 + 43 + 44) / 6);
  });

  it('falls back to the target row when full matrices exceed the work limit, and refuses them when asked explicitly', () => {
    const small = new ViewerEngine(limits({ maxMatrixWork: 512 * L * L - 1 }));
    const auto = small.attention(attentionJob({ model: 'mamba2', text: PROMPT, layer: 0 }));
    expect(auto.mode).toBe('row');
    expect(auto.note).toMatch(/limit/);
    const one = small.attention(attentionJob({ model: 'mamba2', text: PROMPT, layer: 0, reduce: 'channel', channel: 1 }));
    expect(one.mode).toBe('matrix');
    const r = refusal(() => small.attention(attentionJob({ model: 'mamba2', text: PROMPT, layer: 0, mode: 'matrix' })));
    expect(r.status).toBe(400);
    expect(r.message).toMatch(/row mode, one channel, or the hidden variant/);
  });

  it('reports a method it may not run on a long input instead of running it', () => {
    const strict = new ViewerEngine(limits({ maxMatrixMethodTokens: 4, maxStepsMethodTokens: 4 }));
    const r = strict.analyze(analyzeJob({ model: 'mamba2', text: PROMPT, methods: ['rollout', 'integrated-gradients', 'raw'] }));
    expect(r.explanations[0].error).toMatch(/rollout builds every channel's .* at most 4 tokens/);
    expect(r.explanations[1].error).toMatch(/at most 4 tokens/);
    expect(r.explanations[2].scores).toHaveLength(L);
  });

  it("computes the perturbation curve with src/evaluate's definition", () => {
    const r = engine.perturbation(parsePerturbation({ model: 'mamba2', text: PROMPT, method: 'unified-attr' }, models, limits(), METHOD_NAMES));
    const scores = explain(new ExplainContext(loaded.model, ids), 'unified-attr').scores;
    const expected = perturbSample({ ids, position: L - 1, target: r.target.token }, new Map([['m', scores]]), modelScorer(loaded.model), {
      perturbation: { kind: 'delete' },
      protectTarget: true,
      seed: 0,
    }).methods.m;
    expect(r.fractions).toEqual([...FRACTIONS]);
    expect(r.morf).toEqual(expected.morf);
    expect(r.lerf).toEqual(expected.lerf);
    expect(r.auc).toEqual({ morf: expected.aucMorf, lerf: expected.aucLerf, delta: expected.deltaAF });
    expect(r.morf[0]).toBe(1);
    expect(r.perturbable).toBe(L - 1);
  });

  it('runs real softmax attention layers (Griffin) and token ids for a model without a tokenizer', () => {
    const r = engine.analyze(analyzeJob({ model: 'recurrent_gemma', ids: [1, 5, 9, 2, 7], methods: ['raw', 'grad-input'], attention: { layers: 'all', reduce: 'head', channel: 0 } }));
    expect(r.tokens.map((t) => t.text)).toEqual(['#1', '#5', '#9', '#2', '#7']);
    expect(r.attention!.map((a) => a.kind)).toEqual(r.layers.map((l) => (l.mixer === 'local_attention' ? 'attention' : 'recurrent')));
    const softmax = r.attention!.find((a) => a.kind === 'attention')!;
    const rows = decode(softmax.data);
    for (let t = 0; t < 5; t++) expect(rows.slice(t * 5, t * 5 + t + 1).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  });

  const failures: Array<[string, () => unknown, number, RegExp]> = [
    ['text for a model without tokenizer.json', () => engine.analyze(analyzeJob({ model: 'recurrent_gemma', text: 'hello' })), 400, /no tokenizer\.json; send token ids/],
    ['an id outside the vocabulary', () => engine.analyze(analyzeJob({ model: 'recurrent_gemma', ids: [1, 500] })), 400, /token id 500 at position 1 is outside the vocabulary/],
    ['a layer that does not exist', () => engine.attention(attentionJob({ model: 'mamba2', text: PROMPT, layer: 60 })), 400, /layer 60 has no sequence mixer/],
    ['a channel that does not exist', () => engine.attention(attentionJob({ model: 'mamba2', text: PROMPT, layer: 0, reduce: 'channel', channel: 512 })), 400, /channel 512 is outside this layer's 512 matrices/],
    ['a target after the input', () => engine.analyze(analyzeJob({ model: 'mamba2', text: PROMPT, target: { position: 99 } })), 400, /target position 99 is outside the input/],
    ['too many tokens after tokenising', () => new ViewerEngine(limits({ maxTokens: 5 })).analyze(analyzeJob({ model: 'mamba2', text: PROMPT })), 400, /the input has 14 tokens; this server accepts at most 5/],
  ];
  for (const [name, run, status, message] of failures) {
    it(`answers ${name} with ${status}`, () => {
      const r = refusal(run);
      expect(r.status).toBe(status);
      expect(r.message).toMatch(message);
    });
  }
});
