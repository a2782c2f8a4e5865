import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { saveVisionModel } from '../../src/io/vision-checkpoint.js';
import { decodePng } from '../../src/io/png.js';
import { iattn } from '../helpers/cli.js';
import { TINY_VIM, tinyModel } from './helpers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iattn-vision-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const root = path.resolve(import.meta.dirname, '../..');
const shipped = path.join(root, 'models', 'vision', 'vim', 'model.safetensors');

describe('iattn vision / iattn explain --image', () => {
  const modelDir = path.join(tmp, 'tiny-vim');
  saveVisionModel(modelDir, tinyModel(TINY_VIM, 'float32'));
  const image = path.join(tmp, 'shape.png');

  it('vision sample writes a held-out image and its mask as PNG', () => {
    const r = iattn(['vision', 'sample', '--out', image, '--index', '3']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^(circle|square|triangle|cross): image /);
    const png = decodePng(fs.readFileSync(image));
    expect([png.width, png.height]).toEqual([32, 32]);
    expect(fs.existsSync(path.join(tmp, 'shape.mask.png'))).toBe(true);
  });

  it('explain --image prints the predicted class and every method as one JSON document (image resized to the model)', () => {
    const r = iattn(['explain', '--image', image, '--model', modelDir, '--method', 'all', '--steps', '4', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { predicted: { name: string }; grid: number; imageSize: number[]; methods: Record<string, { patchScores: number[][]; layers?: unknown[] }> };
    expect(['circle', 'square', 'triangle']).toContain(doc.predicted.name);
    expect(doc.grid).toBe(4);
    expect(doc.imageSize).toEqual([32, 32]);
    expect(Object.keys(doc.methods)).toEqual(['raw', 'rollout', 'hidden-attr', 'unified-attr', 'grad-attn', 'grad-input', 'saliency', 'integrated-gradients', 'random']);
    expect(doc.methods['unified-attr'].patchScores).toHaveLength(4);
    expect(doc.methods['unified-attr'].layers).toHaveLength(2);
  });

  it('vision explain writes an overlay PNG (with per-layer maps) and an HTML page', () => {
    const png = path.join(tmp, 'overlay.png');
    const r = iattn(['vision', 'explain', '--image', image, '--model', modelDir, '--method', 'raw', '--out', png]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^predicted: \w+ \(p = 0\.\d{3}\)/);
    expect(r.stdout).toContain(`overlay written to ${png}`);
    const decoded = decodePng(fs.readFileSync(png));
    expect(decoded.width).toBeGreaterThan(300);
    const html = path.join(tmp, 'overlay.html');
    expect(iattn(['vision', 'explain', '--image', image, '--model', modelDir, '--method', 'rollout', '--target', 'square', '--out', html]).status).toBe(0);
    expect(fs.readFileSync(html, 'utf8')).toMatch(/<svg[\s\S]*data:image\/png;base64,[\s\S]*rollout/);
  });

  it('fails with one line on a missing image, a text model or an unknown class', () => {
    const missing = iattn(['explain', '--image', path.join(tmp, 'none.png'), '--model', modelDir]);
    expect(missing.status).toBe(1);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toMatch(/cannot read image file/);
    const text = iattn(['explain', '--image', image, '--model', path.join(root, 'models', 'default')]);
    expect(text.status).toBe(1);
    expect(text.stderr).toMatch(/not a vision model/);
    const cls = iattn(['vision', 'explain', '--image', image, '--model', modelDir, '--target', 'hexagon']);
    expect(cls.status).toBe(1);
    expect(cls.stderr).toMatch(/not a class of this model/);
  });

  it('vision train and vision evaluate run end to end on a tiny model', () => {
    const out = path.join(tmp, 'trained');
    const t = iattn(['vision', 'train', '--arch', 'mlla', '--steps', '2', '--batch', '2', '--width', '8', '--layers', '1', '--heads', '2', '--eval-images', '4', '--out', out, '--json']);
    expect(t.status, t.stderr).toBe(0);
    expect(JSON.parse(t.stdout)).toMatchObject({ arch: 'mlla', steps: 2, test_images: 4 });
    expect(fs.readFileSync(path.join(out, 'train_log.jsonl'), 'utf8').trim().split('\n').length).toBeGreaterThanOrEqual(3);
    // Continue for one step of a 3-step schedule: the next training images, the history kept in config.json.
    const more = iattn(['vision', 'train', '--init', out, '--steps', '3', '--stop-after', '1', '--batch', '2', '--eval-images', '4', '--out', out, '--json']);
    expect(more.status, more.stderr).toBe(0);
    const training = (JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as { training: Record<string, unknown> }).training;
    expect(training).toMatchObject({ completed_steps: 1, stopAfter: 1, dataStart: 4, continued_from: { dir: out, training: { completed_steps: 2, batchSize: 2 } } });
    const dir = path.join(tmp, 'eval');
    const e = iattn(['vision', 'evaluate', '--model', out, '--images', '2', '--perturbation-images', '1', '--accuracy-images', '4', '--methods', 'raw,random,mask', '--out', dir, '--json']);
    expect(e.status, e.stderr).toBe(0);
    const results = JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8')) as { methods: Record<string, { segmentation: { mIoU: number }; perturbation: unknown }> };
    expect(Object.keys(results.methods)).toEqual(['raw', 'random', 'mask']);
    expect(results.methods.mask.segmentation.mIoU).toBeGreaterThan(0.5);
    expect(fs.readFileSync(path.join(dir, 'results.md'), 'utf8')).toContain('| method | pixel acc |');
    expect(fs.existsSync(path.join(dir, 'perturbation-positive.svg'))).toBe(true);
  });

  it.skipIf(!fs.existsSync(shipped))('the shipped Vision Mamba classifies held-out shapes (default --model)', () => {
    const r = iattn(['explain', '--image', image, '--method', 'unified-attr', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { modelType: string; predicted: { probability: number } };
    expect(doc.modelType).toBe('vim');
  });
});
