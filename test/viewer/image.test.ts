/**
 * The viewer's image mode: the catalogue of vision models, request checking of POST
 * /api/image (samples, uploads, limits, wrong kinds of model), the vision engine against
 * src/vision computed directly, and the endpoint over HTTP with its worker threads (errors
 * answered in one line, the server surviving them).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_VISION_MODEL_DIRS } from '../../src/cli/commands/vision.js';
import { extract } from '../../src/implicit/extract.js';
import { loadVisionModel } from '../../src/io/vision-checkpoint.js';
import { ModelCatalogue } from '../../src/viewer/server/catalogue.js';
import { imageBodyBytes, resolveConfig } from '../../src/viewer/server/config.js';
import { parseImage } from '../../src/viewer/server/image-request.js';
import { startViewer } from '../../src/viewer/server/server.js';
import type { ViewerServer } from '../../src/viewer/server/server.js';
import { parseAnalyze } from '../../src/viewer/server/validate.js';
import { VisionEngine } from '../../src/viewer/server/vision-engine.js';
import { normalise, SHAPE_CLASSES, shapeImage, TEST_SEED } from '../../src/vision/data.js';
import { explainVision, VISION_METHOD_NAMES, VisionExplainContext } from '../../src/vision/explain.js';
import { encodeRgbPng } from '../../src/vision/image.js';
import { crc32, PNG_SIGNATURE } from '../../src/viz/png-encoder.js';
import { limits, MAMBA2, PROMPT } from './helpers.js';

const [VIM, MLLA] = DEFAULT_VISION_MODEL_DIRS;
const catalogue = () => new ModelCatalogue([MAMBA2, VIM, MLLA]);
const methods = VISION_METHOD_NAMES;
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

/** A PNG whose header declares width × height (IHDR with a valid CRC), followed by nothing else. */
function headerOnlyPng(width: number, height: number): Uint8Array {
  const ihdr = new Uint8Array(4 + 4 + 13 + 4);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, 13);
  ihdr.set([73, 72, 68, 82], 4);
  view.setUint32(8, width);
  view.setUint32(12, height);
  ihdr.set([8, 2, 0, 0, 0], 16);
  view.setUint32(21, crc32(ihdr, 4, 21));
  return new Uint8Array([...PNG_SIGNATURE, ...ihdr]);
}

describe('vision models in the catalogue', () => {
  it('lists them by id with their kind, image size, grid and classes, never with a path', () => {
    const summaries = catalogue().summaries();
    expect(summaries.map((m) => [m.id, m.kind, m.modelType, m.layers])).toEqual([
      ['mamba2', 'text', 'mamba2', 6],
      ['vim', 'vision', 'vim', 4],
      ['mlla', 'vision', 'mlla', 4],
    ]);
    expect(summaries[1].image).toEqual({ imageSize: 32, patchSize: 4, grid: 8, labels: [...SHAPE_CLASSES] });
    expect(summaries[0].image).toBeUndefined();
    expect(JSON.stringify(summaries)).not.toContain(path.sep + 'models');
  });
});

describe('POST /api/image request checking', () => {
  const cat = catalogue();
  const lim = limits({ maxImageBytes: 4096, maxImagePixels: 64 * 64 });
  const parse = (body: unknown) => parseImage(body, cat, lim, methods);
  const fails = (body: unknown, status: number, message: RegExp) => {
    let error: unknown;
    try {
      parse(body);
    } catch (e) {
      error = e;
    }
    expect(error, JSON.stringify(body).slice(0, 80)).toMatchObject({ status });
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
  };

  it('reads a sample (defaults: the held-out seed, image 0, every method) and an upload', () => {
    const job = parse({ model: 'vim', image: { sample: {} } });
    expect(job.source).toEqual({ kind: 'sample', seed: TEST_SEED, index: 0 });
    expect(job.methods).toEqual([...methods]);
    expect(job.attention).toEqual({ variant: 'paper', reduce: 'mean-abs', channel: 0 });
    expect(parse({ model: 'mlla', image: { sample: { seed: 1, index: 7, class: 'cross' } } }).source).toEqual({ kind: 'sample', seed: 1, index: 7, cls: 3 });
    const png = encodeRgbPng(shapeImage(TEST_SEED, 0, 16).pixels, 16, 16);
    const upload = parse({ model: 'vim', image: { png: b64(png), name: 'my\u0007shape.png' }, methods: ['raw'], target: { label: 2 }, options: { startLayer: 3, steps: 4 } });
    expect(upload.source).toMatchObject({ kind: 'png', name: 'myshape.png', width: 16, height: 16 });
    expect(upload).toMatchObject({ methods: ['raw'], label: 2, options: { startLayer: 3, steps: 4, seed: 0 } });
  });

  it('refuses bad files, oversized images, wrong models and bad fields with one line', () => {
    fails({ model: 'vim', image: { png: 'not base64!' } }, 400, /not valid base64/);
    fails({ model: 'vim', image: { png: b64(new TextEncoder().encode('GIF89a this is not a png at all')) } }, 400, /the uploaded file is not a PNG image .*upload a PNG image/);
    fails({ model: 'vim', image: { png: b64(headerOnlyPng(100, 100)) } }, 400, /100×100 = 10000 pixels; this server accepts at most 4096 pixels/);
    fails({ model: 'vim', image: { png: b64(new Uint8Array(5000)) } }, 400, /the image file is (about )?5 KiB; this server accepts PNG files up to 4 KiB/);
    fails({ model: 'vim', image: { sample: {}, png: 'AAAA' } }, 400, /exactly one of sample and png/);
    fails({ model: 'vim', image: { sample: { class: 'hexagon' } } }, 400, /class must be one of circle, square, triangle, cross/);
    fails({ model: 'vim', image: { sample: { index: -1 } } }, 400, /index must be an integer/);
    fails({ model: 'vim', image: { sample: {} }, methods: ['recency'] }, 400, /unknown method "recency"; vision methods: raw/);
    fails({ model: 'vim', image: { sample: {} }, target: { label: 4 } }, 400, /label must be an integer in \[0, 3\]/);
    fails({ model: 'vim', image: { sample: {} }, options: { startLayer: 4 } }, 400, /startLayer must be an integer in \[0, 3\]/);
    fails({ model: 'vim', image: { sample: {} }, attention: { reduce: 'head' } }, 400, /reduce must be one of mean-abs, mean, mean-positive, channel/);
    fails({ model: 'vim', image: { sample: {}, path: '/etc/passwd' } }, 400, /unknown field 'path'/);
    fails({ model: 'mamba2', image: { sample: {} } }, 400, /'mamba2' is a language model .*vision models: vim, mlla/);
    fails({ model: '../models/vision/vim', image: { sample: {} } }, 404, /unknown model/);
    expect(() => parseAnalyze({ model: 'vim', text: PROMPT }, cat, lim, ['raw'])).toThrow(/'vim' is a vision model \(vim\): send images to POST \/api\/image/);
  });
});

describe('the vision engine', () => {
  const cat = catalogue();
  const engine = new VisionEngine();
  const vim = loadVisionModel(VIM);
  const mlla = loadVisionModel(MLLA);
  const run = (body: object) => engine.image(parseImage(body, cat, limits(), methods));

  it('answers a sample as src/vision computes it: image, mask, prediction, maps and the class-token row of every layer', () => {
    const r = run({ model: 'vim', image: { sample: { index: 3 } }, methods: ['unified-attr', 'raw', 'saliency'] });
    const sample = shapeImage(TEST_SEED, 3, 32);
    expect(r.image).toMatchObject({ source: 'sample', name: 'seed 2 · image 3', size: 32, seed: 2, index: 3, label: sample.label, labelName: SHAPE_CLASSES[sample.label] });
    expect([...Buffer.from(r.image.mask!, 'base64')]).toEqual([...sample.mask]);
    const rgb = Buffer.from(r.image.pixels, 'base64');
    expect(rgb).toHaveLength(32 * 32 * 3);
    expect(rgb[3 * 5 + 1]).toBe(Math.round(255 * sample.pixels[32 * 32 + 5]));
    const context = new VisionExplainContext(vim, normalise(sample.pixels, 1, 32, vim.image, vim.dtype));
    const target = context.target();
    expect(r.prediction).toMatchObject({ predicted: target.predicted, predictedName: SHAPE_CLASSES[target.predicted], predictedProbability: target.predictedProbability, label: target.predicted });
    expect(r.prediction.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(r.explanations.map((e) => e.method)).toEqual(['unified-attr', 'raw', 'saliency']);
    const unified = explainVision(context, 'unified-attr');
    expect(r.explanations[0].scores).toEqual(Array.from(unified.patchScores));
    expect(r.explanations[0].layers!.map((l) => l.scores)).toEqual(unified.layers!.map((l) => Array.from(l.scores)));
    expect(r.explanations[2].layers).toBeUndefined();
    expect(r.query).toBe('cls');
    expect(r.attention.layers).toHaveLength(4);
    const cls = vim.readout.kind === 'token' ? vim.readout.position : -1;
    const row = extract(context.decomposition(2), { variant: 'paper', reduce: 'mean-abs', row: cls, dtype: 'float64' }).data;
    expect(r.attention.layers[2].scores).toEqual(Array.from(vim.patchTokens, (t) => row[t]));
    expect(r.attention.layers[2].cls).toBe(row[cls]);
    expect(JSON.stringify(r)).not.toContain('models/vision');
  });

  it('reads MLLA through the mean of the rows, one channel on request, and finds a sample by class', () => {
    const r = run({ model: 'mlla', image: { sample: { index: 0, class: 'triangle' } }, methods: ['random'], attention: { variant: 'hidden', reduce: 'channel', channel: 1 } });
    let first = 0;
    while (shapeImage(TEST_SEED, first, 32).label !== 2) first++;
    expect(r.image).toMatchObject({ index: first, labelName: 'triangle' });
    expect(r.query).toBe('mean');
    expect(r.attention).toMatchObject({ variant: 'hidden', reduce: 'channel', channel: 1, channels: 4 });
    const context = new VisionExplainContext(mlla, normalise(shapeImage(TEST_SEED, first, 32).pixels, 1, 32, mlla.image, mlla.dtype));
    const m = extract(context.decomposition(1), { variant: 'hidden', reduce: 'none', channels: [1], dtype: 'float64' }).data;
    const L = mlla.length;
    const mean = Array.from({ length: L }, (_, s) => {
      let sum = 0;
      for (let t = 0; t < L; t++) sum += m[t * L + s] / L;
      return sum;
    });
    const got = r.attention.layers[1].scores;
    Array.from(mlla.patchTokens, (t) => mean[t]).forEach((v, i) => expect(got[i]).toBeCloseTo(v, 12));
    expect(r.attention.layers[1].cls).toBeUndefined();
    expect(() => run({ model: 'mlla', image: { sample: {} }, methods: ['random'], attention: { reduce: 'channel', channel: 999 } })).toThrow(/channel 999 is outside this model's 48 matrices of the paper variant/);
  });

  it('decodes an upload and resizes it to the model input; a broken PNG is one clear error', () => {
    const sample = shapeImage(TEST_SEED, 3, 64);
    const r = run({ model: 'vim', image: { png: b64(encodeRgbPng(sample.pixels, 64, 64)), name: 'big.png' }, methods: ['raw'] });
    expect(r.image).toMatchObject({ source: 'upload', name: 'big.png', width: 64, height: 64, size: 32 });
    expect(r.image.mask).toBeUndefined();
    expect(r.explanations[0].scores).toHaveLength(64);
    const png = encodeRgbPng(sample.pixels, 64, 64);
    const broken = png.slice(0, 60); // signature and header intact, image data cut off
    expect(() => run({ model: 'vim', image: { png: b64(broken) }, methods: ['raw'] })).toThrow(/^not a readable PNG image/);
  });
});

describe('POST /api/image over HTTP', () => {
  let server: ViewerServer;
  const staticDir = fs.mkdtempSync(path.join(os.tmpdir(), 'iattn-viewer-static-'));
  fs.writeFileSync(path.join(staticDir, 'index.html'), '<!doctype html><title>viewer</title>');
  const lim = limits({ maxImageBytes: 64 * 1024 });
  beforeAll(async () => {
    server = await startViewer(resolveConfig({ port: 0, modelDirs: [MAMBA2, VIM, MLLA], staticDir, workers: 1, limits: lim }));
  });
  afterAll(async () => {
    await server?.close();
  });
  const post = async (body: unknown) => {
    const r = await fetch(`${server.url}api/image`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
    return { status: r.status, json: (await r.json()) as any };
  };

  it('lists the vision methods and the sample generator, explains a sample, and survives bad requests', async () => {
    const info = (await (await fetch(`${server.url}api/info`)).json()) as any;
    expect(info.visionMethods.map((m: { name: string }) => m.name)).toEqual([...methods]);
    expect(info.samples).toEqual({ classes: [...SHAPE_CLASSES], testSeed: 2, trainSeed: 1 });
    expect(info.limits).toMatchObject({ maxImageBytes: 64 * 1024, maxImagePixels: 2048 * 2048 });
    const ok = await post({ model: 'vim', image: { sample: { index: 1 } }, methods: ['unified-attr'] });
    expect(ok.status).toBe(200);
    expect(ok.json.explanations[0].scores).toHaveLength(64);
    expect(ok.json.model).toMatchObject({ id: 'vim', kind: 'vision' });

    const broken = encodeRgbPng(shapeImage(TEST_SEED, 1, 32).pixels, 32, 32).slice(0, 50);
    const bad = await post({ model: 'vim', image: { png: b64(broken), name: 'broken.png' }, methods: ['raw'] });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatch(/^not a readable PNG image \(.*\)$/);
    const text = await post({ model: 'mamba2', image: { sample: {} } });
    expect(text.status).toBe(400);
    const analyze = await fetch(`${server.url}api/analyze`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ model: 'mlla', text: 'Emma' }) });
    expect(analyze.status).toBe(400);
    expect(((await analyze.json()) as any).error).toMatch(/vision model/);
    const huge = await post({ model: 'vim', image: { png: 'A'.repeat(imageBodyBytes(lim) + 10) } });
    expect(huge.status).toBe(413);
    expect(huge.json.error).toMatch(/the limit is \d+ bytes/);
    const again = await post({ model: 'mlla', image: { sample: { index: 1 } }, methods: ['raw'] });
    expect(again.status).toBe(200);
    expect(again.json.query).toBe('mean');
  });
});
