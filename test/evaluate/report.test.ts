/** Tables and plots of the reports, and docs/results.md built from hand-made result documents. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { GroundTruthRun } from '../../src/evaluate/groundtruth.js';
import type { MeanWithError } from '../../src/evaluate/metrics.js';
import type { MethodSummary } from '../../src/evaluate/perturbation.js';
import { groundTruthTable, perturbationSvg, perturbationTable, sideBySide } from '../../src/evaluate/report.js';
import type { GroundTruthDocument, PerturbationDocument } from '../../src/evaluate/report.js';
import { buildResults } from '../../src/cli/results-doc.js';

const m = (mean: number, se = 0.01, n = 10): MeanWithError => ({ mean, se, n });
const curve = (v: number) => Array.from({ length: 10 }, (_, k) => m(k === 0 ? 1 : v));
const summary = (method: string, morf: number, lerf: number): MethodSummary => ({
  method,
  samples: 10,
  aucMorf: m(morf),
  aucLerf: m(lerf),
  deltaAF: m(lerf - morf),
  morfCurve: curve(morf),
  lerfCurve: curve(lerf),
});

const code = { package: 'implicit-attention', version: '0.1.0', commit: null };
const model = { dir: 'models/x', modelType: 'mamba', layers: 2, hidden: 64, parameters: 1000, objective: 'next-token' as const };

function perturbationDoc(methods: MethodSummary[]): PerturbationDocument {
  return {
    evaluation: 'perturbation',
    code,
    command: 'iattn evaluate perturbation',
    createdAt: '2026-01-01T00:00:00Z',
    model,
    target: 'top next token',
    data: { slice: 'test slice', length: 8, samples: 10, candidates: 50, seed: 0, picked: [] },
    perturbation: { kind: 'delete', neutral: null, fractions: Array.from({ length: 10 }, (_, i) => i / 10), protectTarget: true, excluded: 'the last position', auc: 'trapezoid' },
    explain: { startLayer: 0, variant: 'paper', aggregation: 'positive', igSteps: 32, seed: 0 },
    unperturbed: { probability: m(0.3), accuracy: 0.2 },
    methods,
    failures: {},
    igRelativeCompleteness: null,
    perSample: [],
    forwards: 100,
    seconds: { explain: 1, perturb: 1, total: 2 },
  };
}

function groundTruthDoc(modelType: string, learned: boolean, aurocOf: Record<string, number>): GroundTruthDocument {
  const methods = Object.entries(aurocOf).map(([method, a]) => ({ method, samples: 20, mass: m(a / 2), topK: m(a / 3), auroc: m(a) }));
  const result: GroundTruthRun = {
    task: 'needle',
    accuracy: learned ? 0.99 : 0.3,
    examples: 20,
    learned,
    minAccuracy: 0.9,
    explained: learned ? 20 : 0,
    evidencePerExample: 1,
    positionsScored: 10,
    methods: learned ? methods : [],
    failures: {},
    igRelativeCompleteness: null,
    recallCurves: learned ? Object.fromEntries(Object.keys(aurocOf).map((k) => [k, Array.from({ length: 11 }, (_, i) => i / 10)])) : {},
    seconds: 1,
  };
  return {
    evaluation: 'groundtruth',
    code,
    command: 'iattn evaluate groundtruth',
    createdAt: '2026-01-01T00:00:00Z',
    model: { ...model, modelType, dir: `no-such-dir/needle-${modelType}` },
    task: { name: 'needle', description: 'needle task', length: 11, vocabSize: 32, evidence: 'the trigger' },
    seed: 0,
    explain: { startLayer: 0, variant: 'paper', aggregation: 'positive', igSteps: 32, seed: 0 },
    result,
  };
}

describe('report tables', () => {
  it('sorts methods by ΔA^F and bolds the best of each column', () => {
    const table = perturbationTable([summary('random', 0.6, 0.6), summary('good', 0.2, 0.85), summary('odd', 0.1, 0.3)]);
    const rows = table.split('\n').slice(2);
    expect(rows.map((r) => r.split(' | ')[0].slice(2))).toEqual(['good', 'odd', 'random']);
    expect(rows[0]).toContain('**0.850 ± 0.010**'); // best LeRF
    expect(rows[0]).toContain('**0.650 ± 0.010**'); // best ΔA^F
    expect(rows[1]).toContain('**0.100 ± 0.010**'); // best (lowest) MoRF
  });

  it('the ground-truth table ends with the chance levels', () => {
    const doc = groundTruthDoc('mamba', true, { a: 0.9, b: 0.5 });
    const table = groundTruthTable(doc.result.methods, doc.result);
    expect(table.split('\n').at(-1)).toBe('| *chance (uniform random)* | *0.100* | *0.100* | *0.500* |  |');
  });

  it('the perturbation plot puts the MoRF and LeRF panels side by side', () => {
    const svg = perturbationSvg(perturbationDoc([summary('a', 0.3, 0.8)]));
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="10[34]\d" height="440"/);
    expect(svg).toContain('<svg x="430" ');
    expect(svg).toContain('least relevant first (LeRF)');
    expect(sideBySide('<svg width="10" height="20"></svg>', '<svg width="5" height="30"></svg>')).toContain('width="15" height="30"');
  });
});

describe('docs/results.md builder', () => {
  it('tables per evaluation, a per-family ground-truth table without the model that did not learn, and a reading', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'iattn-results-'));
    const docs = path.join(out, 'docs');
    try {
      const write = (name: string, doc: unknown) => {
        fs.mkdirSync(path.join(out, name));
        fs.writeFileSync(path.join(out, name, 'results.json'), JSON.stringify(doc));
      };
      write('perturbation-x', perturbationDoc([summary('random', 0.6, 0.6), summary('good', 0.2, 0.85)]));
      write('groundtruth-needle-mamba', groundTruthDoc('mamba', true, { random: 0.5, good: 0.95 }));
      write('groundtruth-needle-gla', groundTruthDoc('gla', true, { random: 0.5, good: 0.8 }));
      write('groundtruth-needle-rwkv', groundTruthDoc('rwkv', false, {}));
      const text = buildResults(out, docs);
      expect(text).toContain('| method | AUC MoRF ↓ | AUC LeRF ↑ | ΔA^F ↑ | n |');
      expect(text).toContain('| method | mamba | gla |');
      expect(text).not.toContain('| method | mamba | gla | rwkv |');
      expect(text).toContain('| rwkv (`no-such-dir/needle-rwkv`) | needle | ? steps | 30.0 % of 20 | **no — excluded** |');
      expect(text).toMatch(/best ΔA\^F is good/);
      expect(text).toMatch(/More than two standard errors above it: good/);
      expect(text).toContain('AUROC ranking good 0.88 > random 0.50');
      expect(text).toContain('not learned (excluded): rwkv (30.0 %)');
      expect(fs.existsSync(path.join(docs, 'figures', 'perturbation-x.png'))).toBe(true);
      expect(JSON.parse(fs.readFileSync(path.join(docs, 'results-data', 'groundtruth-needle-gla.json'), 'utf8')).model.modelType).toBe('gla');
      // The document can be rebuilt from the copied data alone.
      expect(buildResults(path.join(docs, 'results-data'), docs)).toBe(text);
      expect(fs.existsSync(path.join(docs, 'figures', 'groundtruth-needle-gla.svg'))).toBe(true);
      expect(fs.existsSync(path.join(docs, 'figures', 'groundtruth-needle-rwkv.svg'))).toBe(false);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
