/**
 * The embedded default model (trained in TypeScript, models/README.md) loads offline and keeps
 * its measured quality: validation NLL 4.2328 on the fixtures' protocol (64 × 256 tokens).
 * The embedded which-novel classifier (models/classifier) loads with its class names, keeps its
 * validation accuracy, and is part of the demo: it says which novel the prompt comes from and
 * which words made it say so.
 */
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CLASSIFIER_DIR } from '../../src/cli/options.js';
import { classifierOf } from '../../src/io/classifier-checkpoint.js';
import { openData } from '../../src/io/datasets.js';
import { loadModel } from '../../src/io/load-model.js';
import { loadTrainedModel } from '../../src/io/training-checkpoint.js';
import { evaluate } from '../../src/train/trainer.js';
import { iattn } from '../helpers/cli.js';
import { AUSTEN_BOOKS, fixturePath } from '../helpers/fixtures.js';

describe('the embedded default model', () => {
  it('is what commands use without --model, and reaches its validation NLL', () => {
    const r = iattn(['perplexity', '--ids', `${fixturePath('trained', 'val_ids.safetensors')}:val_ids`, '--seq', '256', '--json'], { timeoutMs: 300_000 });
    expect(r.stderr).toBe('');
    const result = JSON.parse(r.stdout);
    expect(result.windows).toBe(64);
    expect(result.nll).toBeGreaterThan(4.2);
    expect(result.nll).toBeLessThan(4.27);
  }, 300_000);

  it('runs the demo (npm start) and writes the report', () => {
    const out = `${process.env.TMPDIR ?? '/tmp'}/iattn-demo-test-${process.pid}`;
    const r = iattn(['demo', '--out', out], { timeoutMs: 300_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/next token '.+' p=/);
    expect(r.stdout).toMatch(/unified-attr/);
    expect(r.stdout).toContain(`${out}/report.html`);
    const json = JSON.parse(iattn(['demo', '--out', out, '--json'], { timeoutMs: 300_000 }).stdout);
    expect(json.report).toBe(`${out}/report.html`);
    expect(Object.keys(json.methods)).toContain('unified-attr');
    expect(json.methods['unified-attr']).toHaveLength(json.tokens.length);

    // The classifier part: which novel, and why (the demo prompt opens Emma).
    expect(r.stdout).toMatch(/which novel\? .*models\/classifier \(rwkv classifier, 6 classes from id2label\): emma \d+\.\d %/);
    expect(r.stdout).toMatch(/class 'emma' p=0\.\d+, read by the classifier head at position \d+/);
    expect(json.classifier.labels).toEqual([...AUSTEN_BOOKS]);
    expect(json.classifier.predicted).toBe('emma');
    const probabilities = Object.values(json.classifier.probabilities as Record<string, number>);
    expect(probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(json.classifier.probabilities.emma).toBeGreaterThan(0.9);
    expect(json.classifier.methods['integrated-gradients']).toHaveLength(json.classifier.tokens.length);
    // Integrated gradients puts the heroine's name first: 'Emma' and ' Woodhouse' are the two most relevant tokens.
    const ig = json.classifier.methods['integrated-gradients'] as number[];
    const top2 = ig.map((x, i) => [x, i]).sort((a, b) => b[0] - a[0]).slice(0, 2).map(([, i]) => json.classifier.tokens[i]);
    expect(top2.sort()).toEqual([' Woodhouse', 'Emma']);
    const html = fs.readFileSync(`${out}/report.html`, 'utf8');
    expect(html).toContain("Which novel? The classifier says &#39;emma&#39;");
    expect(iattn(['demo', '--out', out, '--no-classifier'], { timeoutMs: 300_000 }).stdout).not.toMatch(/which novel/);
  }, 300_000);
});

describe('the embedded which-novel classifier (models/classifier)', () => {
  it('loads with the six novels as class names and keeps its validation accuracy', () => {
    const { head, labels, config, tokenizerPath } = loadTrainedModel(DEFAULT_CLASSIFIER_DIR);
    expect(labels).toEqual([...AUSTEN_BOOKS]);
    expect(head?.numLabels).toBe(6);
    expect(config.architectures).toEqual(['RwkvForCausalLM']);
    const view = classifierOf(loadModel(DEFAULT_CLASSIFIER_DIR));
    expect(view?.classifier.labels).toEqual([...AUSTEN_BOOKS]);
    expect(view?.model.config.hiddenSize).toBe(64);
    // The first 96 passages of the fixed validation split (64 tokens, 16 per novel): 80.2 % over the 384 of the training log.
    const { model } = loadTrainedModel(DEFAULT_CLASSIFIER_DIR);
    const data = openData('austen-classify', { length: 64, seed: 0, tokenizerPath: tokenizerPath! });
    const r = evaluate(model, head, data.validation(32, 3));
    expect(r.count).toBe(96);
    expect(r.accuracy).toBeGreaterThan(0.7);
  }, 120_000);

  it('iattn explain on it explains the class, named by id2label', () => {
    const r = iattn(['explain', '--model', DEFAULT_CLASSIFIER_DIR, '--text', 'Mr. Darcy looked at Elizabeth Bennet and', '--method', 'integrated-gradients', '--json']);
    expect(r.status).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json.labels).toEqual([...AUSTEN_BOOKS]);
    expect(json.target.text).toBe('pride_prejudice');
    const bad = iattn(['explain', '--model', DEFAULT_CLASSIFIER_DIR, '--text', 'Emma', '--target', 'ivanhoe']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/--target 'ivanhoe' is not a class of this classifier; give next, #ID or one of emma, mansfield_park/);
  }, 120_000);
});
