/**
 * The perturbation test's mechanics: which positions may be perturbed (never the explained
 * one for next-token targets), replace vs delete inputs, deterministic seeded orders and
 * samples, and, on the hand-built model whose target depends on exactly one token, that a
 * method ranking that token first beats random on MoRF AUC.
 */
import { describe, expect, it } from 'vitest';
import { classificationPassages, languageModelWindows } from '../../src/evaluate/austen.js';
import { EvaluationError } from '../../src/evaluate/metrics.js';
import {
  applyPerturbation,
  curveInputs,
  modelScorer,
  perturbablePositions,
  perturbedCount,
  perturbSample,
  relevanceOrder,
  summarise,
} from '../../src/evaluate/perturbation.js';
import type { ModelInput, Scorer } from '../../src/evaluate/perturbation.js';
import { runPerturbation } from '../../src/evaluate/runner.js';
import { loadTokenizer } from '../../src/io/tokenizer.js';
import { buildToy, toyIds, VOCAB } from '../explain/toy.js';
import { fixturePath } from '../helpers/fixtures.js';

describe('what is perturbed', () => {
  it('next-token targets protect the explained position; classifier targets do not; later positions never', () => {
    expect(perturbablePositions(6, 5, true)).toEqual([0, 1, 2, 3, 4]);
    expect(perturbablePositions(6, 5, false)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(perturbablePositions(6, 3, true)).toEqual([0, 1, 2]);
    expect(() => perturbablePositions(6, 6, true)).toThrow(EvaluationError);
    expect([0, 0.1, 0.5, 0.9].map((k) => perturbedCount(k, 31))).toEqual([0, 3, 16, 28]);
  });

  it('replace puts the neutral id in place; delete removes the tokens and moves the read position', () => {
    const ids = Int32Array.from([10, 11, 12, 13, 14, 15]);
    expect(applyPerturbation(ids, 5, [1, 3], { kind: 'replace', neutralId: 0 })).toEqual({ ids: Int32Array.from([10, 0, 12, 0, 14, 15]), position: 5 });
    expect(applyPerturbation(ids, 5, [1, 3], { kind: 'delete' })).toEqual({ ids: Int32Array.from([10, 12, 14, 15]), position: 3 });
    // Deleting after the read position does not move it; deleting the read token reads the last kept one before it.
    expect(applyPerturbation(ids, 2, [4], { kind: 'delete' })).toEqual({ ids: Int32Array.from([10, 11, 12, 13, 15]), position: 2 });
    expect(applyPerturbation(ids, 5, [5, 0], { kind: 'delete' })).toEqual({ ids: Int32Array.from([11, 12, 13, 14]), position: 3 });
    expect(applyPerturbation(ids, 5, [], { kind: 'delete' }).ids).toEqual(ids);
    expect(() => applyPerturbation(ids, 5, [1], { kind: 'replace' })).toThrow(/neutral/);
    expect(() => applyPerturbation(ids, 1, [0, 1], { kind: 'delete' })).toThrow(EvaluationError);
    expect(ids).toEqual(Int32Array.from([10, 11, 12, 13, 14, 15])); // the input is not modified
  });

  it('the explained position is never perturbed, for either order, kind or fraction', () => {
    const L = 12;
    const ids = Int32Array.from({ length: L }, (_, i) => 100 + i);
    const scores = Float64Array.from({ length: L }, (_, i) => (i === L - 1 ? 99 : Math.sin(i)));
    const order = relevanceOrder(scores, perturbablePositions(L, L - 1, true), 3);
    expect(order).not.toContain(L - 1);
    for (const kind of ['replace', 'delete'] as const) {
      const { morf, lerf } = curveInputs(ids, L - 1, order, { kind, neutralId: 0 });
      for (const input of [...morf, ...lerf]) {
        expect(input.ids[input.position]).toBe(100 + L - 1);
        expect(input.position).toBe(input.ids.length - 1);
      }
      // MoRF at k = 0.1 removes the single most relevant eligible position, LeRF the least.
      const changed = (x: ModelInput) => Array.from(ids).filter((v) => !Array.from(x.ids).includes(v));
      expect(changed(morf[1])).toEqual([100 + order[0]]);
      expect(changed(lerf[1])).toEqual([100 + order[order.length - 1]]);
      expect(morf[0].ids).toEqual(ids);
    }
  });

  it('orders by relevance with ties in a seeded random order: same seed, same order', () => {
    const scores = [0.5, 0.9, 0.5, 0.5, 0.1, 0.5];
    const eligible = [0, 1, 2, 3, 4, 5];
    const a = relevanceOrder(scores, eligible, 7);
    expect(a[0]).toBe(1);
    expect(a[5]).toBe(4);
    expect(relevanceOrder(scores, eligible, 7)).toEqual(a);
    const orders = new Set([1, 2, 3, 4, 5, 6, 8, 9].map((s) => relevanceOrder(scores, eligible, s).join()));
    expect(orders.size).toBeGreaterThan(1); // the tie is not broken by position
    expect(() => relevanceOrder([NaN, 1], [0, 1], 0)).toThrow(/NaN/);
  });
});

describe('scoring', () => {
  /** A "model" whose target probability is 0.8 while token 7 is present and 0.1 once it is gone. */
  const needleScorer: Scorer = (inputs) => ({
    probability: Float64Array.from(inputs, (x) => (Array.from(x.ids).includes(7) ? 0.8 : 0.1)),
    top: Int32Array.from(inputs, (x) => (Array.from(x.ids).includes(7) ? 1 : 0)),
  });

  it('perturbSample: normalised curves, AUCs, ΔA^F, duplicates scored once, accuracy against the label', () => {
    const ids = Int32Array.from([3, 7, 4, 5, 6, 2, 9, 8, 1, 0, 3]); // 10 eligible positions
    const oracle = Float64Array.from(ids, (v) => (v === 7 ? 1 : 0.1));
    const inverse = Float64Array.from(ids, (v) => (v === 7 ? 0 : 1));
    const out = perturbSample({ ids, position: 10, target: 1, label: 1 }, new Map([['oracle', oracle], ['inverse', inverse]]), needleScorer, { perturbation: { kind: 'delete' }, protectTarget: true, seed: 0 });
    expect(out.baseProbability).toBe(0.8);
    expect(out.eligible).toBe(10);
    expect(out.baseCorrect).toBe(true);
    const o = out.methods.oracle;
    expect(o.morf[0]).toBe(1);
    expect(o.morf.slice(1)).toEqual(Array(9).fill(0.125));
    expect(o.lerf).toEqual(Array(10).fill(1)); // the needle is removed last, never within k ≤ 0.9
    expect(o.aucMorf).toBeCloseTo(0.05 + 0.1 * 0.125 / 2 + 0.8 * 0.125, 12);
    expect(o.aucLerf).toBeCloseTo(0.9, 12);
    expect(o.deltaAF).toBeCloseTo(o.aucLerf - o.aucMorf, 12);
    expect(o.morfCorrect).toEqual([true, ...Array(9).fill(false)]);
    expect(out.methods.inverse.aucMorf).toBeCloseTo(0.9, 12);
    // k = 0 is shared by all methods and orders: 1 + 2 methods × 2 orders × 9 fractions at most.
    expect(out.forwards).toBeLessThanOrEqual(37);
    const [summary] = summarise([out, out], ['oracle']);
    expect(summary.aucMorf.mean).toBeCloseTo(o.aucMorf, 12);
    expect(summary.aucMorf.se).toBe(0);
    expect(summary.morfAccuracy![1]).toBe(0);
  });

  it('on the hand-built model whose target depends on one token, ranking that token first beats random on MoRF AUC', () => {
    const L = 12;
    const k = 4;
    const toy = buildToy(L, k);
    const ids = toyIds(L, k);
    const scorer = modelScorer(toy.model, 20);
    // Input-gradient relevance (runs on the toy through the registry) ranks position k first.
    const run = runPerturbation(toy.model, [{ ids, position: L - 1 }], {
      methods: ['saliency', 'random'],
      perturbation: { kind: 'replace', neutralId: 0 },
      protectTarget: true,
      seed: 0,
      explain: {},
      batchSize: 20,
    });
    const saliency = run.summaries.find((s) => s.method === 'saliency')!;
    expect(saliency.morfCurve[1].mean).not.toBeCloseTo(1, 3); // position k is the first one replaced
    // Random rankings over many seeds: position k is hit later on average.
    const random: number[] = [];
    for (let seed = 0; seed < 20; seed++) {
      const scores = Float64Array.from({ length: L }, (_, j) => Math.sin(1000 * (seed + 1) * (j + 1)));
      const out = perturbSample({ ids, position: L - 1, target: run.outcomes[0].target }, new Map([['r', scores]]), scorer, { perturbation: { kind: 'replace', neutralId: 0 }, protectTarget: true, seed });
      random.push(out.methods.r.aucMorf);
    }
    const meanRandom = random.reduce((a, b) => a + b, 0) / random.length;
    expect(saliency.aucMorf.mean).toBeLessThan(meanRandom);
    expect(saliency.deltaAF.mean).toBeGreaterThan(0);
    expect(VOCAB).toBeGreaterThan(5);
  });
});

describe('seeded samples of the Austen validation text', () => {
  const tokenizer = loadTokenizer(fixturePath('trained', 'tokenizer.json'));
  const paragraph = (book: string, i: number) => `${book} said that paragraph ${i} of the story was long enough to count.`;
  const books = ['emma', 'persuasion'].map((name) => ({ name, text: Array.from({ length: 200 }, (_, i) => paragraph(name, i)).join('\n\n') }));

  it('the same seed draws the same windows; another seed others; windows end with their label after them', () => {
    const a = languageModelWindows(tokenizer, 8, 5, 42, books);
    const b = languageModelWindows(tokenizer, 8, 5, 42, books);
    const c = languageModelWindows(tokenizer, 8, 5, 43, books);
    expect(a.samples).toHaveLength(5);
    expect(a.samples.map((s) => [s.book, s.offset])).toEqual(b.samples.map((s) => [s.book, s.offset]));
    expect(a.samples.map((s) => [s.book, s.offset])).not.toEqual(c.samples.map((s) => [s.book, s.offset]));
    for (const s of a.samples) {
      expect(s.ids).toHaveLength(8);
      expect(s.position).toBe(7);
      expect(s.offset % 9).toBe(0);
      expect(Number.isInteger(s.label)).toBe(true);
    }
  });

  it('classification passages carry the index of their book among the labels', () => {
    const set = classificationPassages(tokenizer, 6, 40, 1, ['persuasion', 'emma'], books);
    expect(set.samples.length).toBe(Math.min(40, set.candidates));
    for (const s of set.samples) expect(s.label).toBe(s.book === 'persuasion' ? 0 : 1);
    expect(() => classificationPassages(tokenizer, 6, 4, 1, ['emma'], books)).toThrow(/labels/);
  });
});
