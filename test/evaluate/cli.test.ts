/**
 * `iattn evaluate` end to end on tiny settings: perturbation on the trained Mamba2 fixture
 * (--samples 3) and ground truth on a task checkpoint trained here for a few steps; each
 * writes results.json, results.md and the plot (SVG + PNG); bad input is one CliError line.
 * One real subprocess checks the registration in the `iattn` entry point.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerEvaluate } from '../../src/cli/commands/evaluate.js';
import { CliError } from '../../src/cli/errors.js';
import { taskTokenizerJson } from '../../src/evaluate/tasks.js';
import { initModel } from '../../src/models/index.js';
import { architectureConfig, getTask, startRun, taskSource, train, trainSettings } from '../../src/train/index.js';
import { runInProcess } from '../helpers/cli.js';
import { fixturePath } from '../helpers/fixtures.js';

const LM = fixturePath('trained', 'mamba2');
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
let tmp = '';

async function run(args: string[]): Promise<string> {
  return runInProcess(registerEvaluate, ['evaluate', ...args]);
}

const OUTPUTS = ['results.json', 'results.md', 'curves.svg', 'curves.png'];

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iattn-evaluate-'));
  // A task checkpoint as `iattn train --data task:needle` writes it (a few steps: it will not learn).
  const tokenizerPath = path.join(tmp, 'task-tokenizer.json');
  fs.writeFileSync(tokenizerPath, JSON.stringify(taskTokenizerJson(32)));
  const settings = trainSettings({ steps: 2, batchSize: 4 });
  const model = initModel(architectureConfig('mamba', { vocabSize: 32, hidden: 16, layers: 1 }), 0);
  const data = taskSource({ task: getTask('needle'), vocabSize: 32, length: 10, seed: 0 });
  train(startRun({ model, data, settings, outDir: path.join(tmp, 'needle'), tokenizerPath }));
});

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('iattn evaluate perturbation', () => {
  it('--samples 3 writes results.json, results.md and the plot, recording seeds, model, slice, kind and code version', async () => {
    const out = path.join(tmp, 'perturbation');
    const text = await run(['perturbation', '--model', LM, '--samples', '3', '--seq', '12', '--methods', 'random,grad-input,unified-attr', '--seed', '5', '--out', out]);
    for (const f of OUTPUTS) expect(fs.statSync(path.join(out, f)).size, f).toBeGreaterThan(100);
    const doc = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
    expect(doc.evaluation).toBe('perturbation');
    expect(doc.model).toMatchObject({ modelType: 'mamba2', dir: LM, objective: 'next-token' });
    expect(doc.data).toMatchObject({ samples: 3, seed: 5, length: 12 });
    expect(doc.data.picked).toHaveLength(3);
    expect(doc.data.slice).toContain('validation');
    expect(doc.perturbation).toMatchObject({ kind: 'delete', neutral: null, protectTarget: true });
    expect(doc.code.version).toBe('0.1.0');
    expect(doc.command).toContain('--samples 3');
    expect(doc.methods.map((m: { method: string }) => m.method)).toEqual(['random', 'grad-input', 'unified-attr']);
    for (const m of doc.methods) {
      expect(m.samples).toBe(3);
      expect(m.morfCurve).toHaveLength(10);
      expect(m.morfCurve[0].mean).toBe(1);
      expect(m.deltaAF.mean).toBeCloseTo(m.aucLerf.mean - m.aucMorf.mean, 12);
    }
    expect(doc.unperturbed.probability.n).toBe(3);
    const md = fs.readFileSync(path.join(out, 'results.md'), 'utf8');
    expect(md).toContain('| method | AUC MoRF ↓ | AUC LeRF ↑ | ΔA^F ↑ | n |');
    expect(md).toContain('**delete**');
    expect(text).toContain('| unified-attr |');
    expect(fs.readFileSync(path.join(out, 'curves.svg'), 'utf8')).toMatch(/most relevant first \(MoRF\)[^]*least relevant first \(LeRF\)[^]*unified-attr/);
    expect(Array.from(fs.readFileSync(path.join(out, 'curves.png')).subarray(1, 4), (b) => String.fromCharCode(b)).join('')).toBe('PNG');
  });

  it('--kind replace records the neutral token; --json prints the document; the same seed gives the same numbers', async () => {
    const out = path.join(tmp, 'replace');
    const args = ['perturbation', '--model', LM, '--samples', '2', '--seq', '10', '--methods', 'recency', '--kind', 'replace', '--neutral', 'pad', '--out', out, '--json'];
    const doc = JSON.parse(await run(args));
    expect(doc.perturbation.kind).toBe('replace');
    expect(doc.perturbation.neutral).toEqual({ id: 0, text: '<|endoftext|>', source: 'config.json pad_token_id' });
    const again = JSON.parse(await run(args));
    expect(again.methods).toEqual(doc.methods);
    expect(again.perSample).toEqual(doc.perSample);
  });
});

describe('iattn evaluate groundtruth', () => {
  it('reports a model that did not learn its task, and explains it only when the threshold allows', async () => {
    const model = path.join(tmp, 'needle');
    const out = path.join(tmp, 'gt');
    await run(['groundtruth', '--model', model, '--samples', '20', '--methods', 'random,saliency', '--out', out]);
    for (const f of OUTPUTS) expect(fs.existsSync(path.join(out, f)), f).toBe(true);
    const doc = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
    expect(doc.task).toMatchObject({ name: 'needle', length: 10, vocabSize: 32 });
    expect(doc.result.learned).toBe(false);
    expect(doc.result.methods).toEqual([]);
    expect(fs.readFileSync(path.join(out, 'results.md'), 'utf8')).toContain('did not learn the task');
    const forced = JSON.parse(await run(['groundtruth', '--model', model, '--samples', '40', '--methods', 'random,saliency', '--min-accuracy', '0', '--out', out, '--json']));
    expect(forced.result.learned).toBe(true);
    expect(forced.result.explained).toBe(Math.round(forced.result.accuracy * 40));
  });
});

describe('bad input', () => {
  it('is one clear CliError', async () => {
    const model = path.join(tmp, 'needle');
    const cases: Array<[string[], RegExp]> = [
      [['perturbation', '--model', LM, '--kind', 'mask'], /--kind must be one of replace, delete, got 'mask'/],
      [['perturbation', '--model', LM, '--samples', '0'], /--samples must be a positive integer, got '0'/],
      [['perturbation', '--model', LM, '--methods', 'lrp'], /unknown explanation method 'lrp'/],
      [['perturbation', '--model', LM, '--methods', ','], /--methods expects comma-separated method names/],
      [['perturbation', '--model', LM, '--neutral', 'pad'], /--neutral applies to --kind replace only/],
      [['perturbation', '--model', LM, '--kind', 'replace', '--neutral', 'blank'], /--neutral must be pad, space or #ID, got 'blank'/],
      [['perturbation', '--model', LM, '--kind', 'replace', '--neutral', '#5000'], /id 5000 is outside the vocabulary \[0, 4096\)/],
      [['perturbation', '--model', LM, '--seq', '1'], /--seq must be an integer ≥ 2/],
      [['perturbation', '--model', LM, '--start-layer', '6'], /--start-layer 6 is outside the model's layers \[0, 6\)/],
      [['perturbation', '--model', path.join(tmp, 'nowhere')], /no config.json there/],
      [['groundtruth', '--model', LM], /was not trained on a task .* give --task assoc-recall or --task needle/],
      [['groundtruth', '--model', LM, '--task', 'needle'], /--seq is needed/],
      [['groundtruth', '--model', model, '--task', 'sorting'], /unknown task 'sorting'/],
      [['groundtruth', '--model', model, '--min-accuracy', '2'], /--min-accuracy must be a number in \[0, 1\]/],
    ];
    for (const [args, message] of cases) {
      let error: unknown = null;
      try {
        await run(args);
      } catch (e) {
        error = e;
      }
      expect(error, args.join(' ')).toBeInstanceOf(Error);
      expect((error as Error).message, args.join(' ')).toMatch(message);
      expect((error as Error).message.includes('\n'), args.join(' ')).toBe(false);
      if (!/unknown task/.test(message.source)) expect(error, args.join(' ')).toBeInstanceOf(CliError);
    }
  });

  it('the iattn entry point prints one line and exits 1', () => {
    const result = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'iattn.js'), 'evaluate', 'perturbation', '--model', LM, '--kind', 'mask'], { encoding: 'utf8' });
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual(["iattn: --kind must be one of replace, delete, got 'mask'"]);
  });
});
