/**
 * The viewer in a real browser (Debian's Chromium, headless, through playwright-core): type a
 * prompt, read values off the heatmap's hover read-out and the token strip and compare them
 * with the API's numbers, switch model and method, two models side by side, long inputs
 * (row view, pooled thumbnails), the perturbation curve, PNG/JSON export, user text that
 * looks like HTML, image mode (vision models on a generated sample and an uploaded PNG, two
 * models side by side, a broken file), and errors shown without breaking the page.
 * Screenshots go to test/e2e/screenshots/ (git-ignored).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_VISION_MODEL_DIRS } from '../../src/cli/commands/vision.js';
import { DEFAULT_MODEL_DIR } from '../../src/cli/options.js';
import { ensureClient } from '../../src/viewer/server/client-build.js';
import { DEFAULT_LIMITS, resolveConfig } from '../../src/viewer/server/config.js';
import { startViewer } from '../../src/viewer/server/server.js';
import type { ViewerServer } from '../../src/viewer/server/server.js';
import { shapeImage, TEST_SEED } from '../../src/vision/data.js';
import { encodeRgbPng } from '../../src/vision/image.js';
import { fixturePath } from '../helpers/fixtures.js';
import { launchBrowser } from './browser.js';
import type { Browser } from './browser.js';

const SCREENSHOTS = fileURLToPath(new URL('./screenshots/', import.meta.url));
const PROMPT = 'Emma Woodhouse, handsome, clever, and rich, with a comfortable home and happy disposition, seemed to unite';

let server: ViewerServer;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];
const dialogs: string[] = [];
const cspViolations: string[] = [];

async function api(endpoint: string, body: object): Promise<any> {
  const r = await fetch(`${server.url}api/${endpoint}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const json = (await r.json()) as any;
  if (!r.ok) throw new Error(`${endpoint}: ${json.error}`);
  return json;
}

/** Layer count of a served model, from GET /api/models. */
async function layersOf(id: string): Promise<number> {
  const r = await fetch(`${server.url}api/models`);
  const json = (await r.json()) as any;
  const models: Array<{ id: string; layers: number }> = Array.isArray(json) ? json : json.models;
  return models.find((m) => m.id === id)!.layers;
}

function decode(base64: string): Float32Array {
  const bytes = Buffer.from(base64, 'base64');
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

const pane = (i: number) => `.pane[data-pane="${i}"]`;

async function waitReady(i: number, timeout = 90_000): Promise<void> {
  await page.waitForSelector(`${pane(i)}[data-state="ready"]`, { timeout });
}

/** Waits until `n` layer thumbnails (all panes) are drawn. */
async function waitThumbs(n: number): Promise<void> {
  await expect.poll(() => page.locator('.thumb[data-state="ready"]').count(), { timeout: 60_000 }).toBe(n);
}

async function attr(selector: string, name: string): Promise<string> {
  const value = await page.locator(selector).getAttribute(name);
  if (value === null) throw new Error(`${selector} has no ${name}`);
  return value;
}

/**
 * Hovers near cell (t, s) of pane i's large heatmap and checks the read-out: the cell it names
 * is (t, s) or a neighbour (the mouse lands on whole pixels), and its value and tokens are the
 * API's (`values`: the [side, side] matrix) for that cell.
 */
async function checkHover(i: number, cells: Array<[number, number]>, values: Float32Array, tokens: string[]): Promise<void> {
  const focus = `${pane(i)} canvas.focus`;
  const side = Number(await attr(focus, 'data-side'));
  const left = Number(await attr(focus, 'data-plot-left'));
  const top = Number(await attr(focus, 'data-plot-top'));
  const size = Number(await attr(focus, 'data-plot-size'));
  expect(values).toHaveLength(side * side);
  const tip = page.locator('#tooltip');
  for (const [t, s] of cells) {
    await page.locator(focus).hover({ position: { x: left + ((s + 0.5) * size) / side, y: top + ((t + 0.5) * size) / side } });
    const shown = async () => [Number(await tip.getAttribute('data-row')), Number(await tip.getAttribute('data-col'))];
    await expect.poll(async () => (await shown()).every((v, k) => Math.abs(v - [t, s][k]) <= 1) && (await tip.getAttribute('data-kind')) === 'attention').toBe(true);
    const [row, col] = await shown();
    expect(await tip.getAttribute('data-pane')).toBe(String(i));
    expect(Number(await tip.getAttribute('data-value'))).toBe(values[row * side + col]);
    const text = (await tip.textContent()) ?? '';
    expect(text).toContain(`H[t=${row}, s=${col}]`);
    expect(text).toContain(`${row} ${JSON.stringify(tokens[row])}`);
    expect(text).toContain(`${col} ${JSON.stringify(tokens[col])}`);
  }
}

beforeAll(async () => {
  await ensureClient();
  server = await startViewer(
    resolveConfig({
      port: 0,
      modelDirs: [DEFAULT_MODEL_DIR, fixturePath('trained', 'rwkv'), fixturePath('hf', 'recurrent_gemma'), ...DEFAULT_VISION_MODEL_DIRS],
      defaultModelDir: DEFAULT_MODEL_DIR,
      staticDir: path.resolve(fileURLToPath(new URL('../../dist/viewer/', import.meta.url))),
      workers: 2,
      // Small limits keep the suite quick and exercise the long-input paths at a few hundred tokens.
      limits: { ...DEFAULT_LIMITS, maxTokens: 600, maxMatrixWork: 2 ** 24, maxMatrixMethodTokens: 128, maxStepsMethodTokens: 128 },
    }),
  );
  browser = await launchBrowser();
  page = await browser.context.newPage();
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (/Content.Security.Policy/i.test(message.text())) cspViolations.push(message.text());
  });
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  await page.goto(`${server.url}?run=0&steps=2`);
  await page.waitForSelector('body[data-ready="true"]');
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('viewer in Chromium', () => {
  it('analyzes a typed prompt; the heatmap read-out and the token colours show the API numbers', async () => {
    await page.fill('#text', PROMPT);
    await page.click('#analyze');
    await waitReady(0);
    const focus = `${pane(0)} canvas.focus`;
    expect(await attr(focus, 'data-state')).toBe('ready');
    const layer = Number(await attr(focus, 'data-layer'));
    const L = Number(await attr(focus, 'data-length'));
    const layers = await layersOf('default');
    expect(layer).toBe(layers - 1);
    const analysis = await api('analyze', { model: 'default', text: PROMPT, methods: ['unified-attr'] });
    const tokens: string[] = analysis.tokens.map((t: { text: string }) => t.text);
    expect(L).toBe(tokens.length);
    const matrix = await api('attention', { model: 'default', text: PROMPT, layer, variant: 'paper', reduce: 'mean-abs', mode: 'auto', target: { position: L - 1 } });
    await checkHover(0, [[L - 1, 2], [7, 7], [12, 3]], decode(matrix.data), tokens);
    // The strip: one span per token, coloured by the selected method, scores as the API's.
    const spans = page.locator(`${pane(0)} .strip .tok[data-position]`);
    expect(await spans.count()).toBe(L);
    const shown = await spans.evaluateAll((nodes) => nodes.map((n) => [n.textContent ?? '', n.getAttribute('data-score') ?? '']));
    expect(shown.map(([text]) => text).join('')).toBe(PROMPT);
    expect(shown.map(([, score]) => Number(score))).toEqual(analysis.explanations[0].scores);
    expect(await page.locator(`${pane(0)} .target`).textContent()).toContain(`p = ${analysis.target.probability.toFixed(3)}`);
    // Every layer has its thumbnail; every method its strip.
    expect(await page.locator(`${pane(0)} .thumb[data-state="ready"]`).count()).toBe(layers);
    expect(await page.locator(`${pane(0)} .method-row canvas.method-strip`).count()).toBe(10);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'single-model.png'), fullPage: true });
  });

  it('switches method (select and click) and model', async () => {
    await page.selectOption('#method', 'grad-input');
    expect(await page.locator(`${pane(0)} .strip`).evaluate((n) => n.previousElementSibling?.textContent)).toBe('Relevance · grad-input');
    const grad = await api('analyze', { model: 'default', text: PROMPT, methods: ['grad-input'] });
    const scores = await page.locator(`${pane(0)} .strip .tok[data-position]`).evaluateAll((nodes) => nodes.map((n) => Number(n.getAttribute('data-score'))));
    expect(scores).toEqual(grad.explanations[0].scores);
    await page.click(`${pane(0)} .method-row[data-method="raw"]`);
    expect(await page.inputValue('#method')).toBe('raw');
    expect(await page.locator(`${pane(0)} .method-row.selected`).getAttribute('data-method')).toBe('raw');

    await page.selectOption('#model-a', 'rwkv');
    await waitReady(0);
    expect(await attr(pane(0), 'data-model')).toBe('rwkv');
    expect(await page.locator(`${pane(0)} .model-name`).textContent()).toBe('rwkv');
    const L = Number(await attr(`${pane(0)} canvas.focus`, 'data-length'));
    const layer = Number(await attr(`${pane(0)} canvas.focus`, 'data-layer'));
    const matrix = await api('attention', { model: 'rwkv', text: PROMPT, layer, mode: 'auto', target: { position: L - 1 } });
    const tokens = (await api('analyze', { model: 'rwkv', text: PROMPT, methods: ['recency'] })).tokens.map((t: { text: string }) => t.text);
    await checkHover(0, [[L - 1, 0]], decode(matrix.data), tokens);
  });

  it('shows two models side by side on the same text, with one head selected', async () => {
    await page.selectOption('#method', 'unified-attr');
    await page.selectOption('#model-a', 'default');
    await page.selectOption('#model-b', 'rwkv');
    await Promise.all([waitReady(0), waitReady(1)]);
    expect(await page.locator('.pane').count()).toBe(2);
    expect(await attr(pane(1), 'data-model')).toBe('rwkv');
    expect(await page.locator(`${pane(0)} .meta`).textContent()).toContain(`${await layersOf('default')} layers · 22 tokens`);
    expect(await page.locator(`${pane(1)} .meta`).textContent()).toContain(`${await layersOf('rwkv')} layers · 22 tokens`);
    await page.selectOption('#reduce', 'head');
    await page.fill('#channel', '1');
    await page.press('#channel', 'Tab');
    for (const i of [0, 1]) await page.waitForSelector(`${pane(i)} canvas.focus[data-state="ready"]`);
    await waitThumbs((await layersOf('default')) + (await layersOf('rwkv')));
    const L = Number(await attr(`${pane(1)} canvas.focus`, 'data-length'));
    const head = await api('attention', { model: 'rwkv', text: PROMPT, layer: 5, reduce: 'head', channel: 1, mode: 'auto', target: { position: L - 1 } });
    const tokens = (await api('analyze', { model: 'rwkv', text: PROMPT, methods: ['recency'] })).tokens.map((t: { text: string }) => t.text);
    await checkHover(1, [[L - 1, L - 3], [9, 4]], decode(head.data), tokens);
    expect(await page.locator(`${pane(0)} .attn-desc`).textContent()).toContain('head 1');
    await page.selectOption('#reduce', 'mean-abs');
    for (const i of [0, 1]) await page.waitForSelector(`${pane(i)} canvas.focus[data-state="ready"]`);
    await waitThumbs((await layersOf('default')) + (await layersOf('rwkv')));
    await page.locator('h1').click(); // moves the focus off the selects
    await page.screenshot({ path: path.join(SCREENSHOTS, 'two-models.png'), fullPage: true });
    await page.selectOption('#model-b', '');
    expect(await page.locator('.pane').count()).toBe(1);
  });

  it('draws the perturbation curve of the input and exports PNG and JSON', async () => {
    await page.click(`${pane(0)} .perturbation button`);
    await page.waitForSelector(`${pane(0)} canvas.curve[data-state="ready"]`, { timeout: 90_000 });
    const curve = await api('perturbation', { model: 'default', text: PROMPT, method: 'unified-attr', target: { position: Number(await attr(`${pane(0)} canvas.focus`, 'data-length')) - 1 } });
    expect(Number(await attr(`${pane(0)} canvas.curve`, 'data-auc-morf'))).toBe(curve.auc.morf);
    expect(Number(await attr(`${pane(0)} canvas.curve`, 'data-auc-lerf'))).toBe(curve.auc.lerf);
    await page.locator(`${pane(0)} .perturbation`).screenshot({ path: path.join(SCREENSHOTS, 'perturbation.png') });

    const [png] = await Promise.all([page.waitForEvent('download'), page.click(`${pane(0)} [data-action="export-png"]`)]);
    expect(png.suggestedFilename()).toBe(`iattn-default-layer${(await layersOf('default')) - 1}.png`);
    const bytes = fs.readFileSync((await png.path())!);
    expect([...bytes.subarray(0, 8)]).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
    const [json] = await Promise.all([page.waitForEvent('download'), page.click(`${pane(0)} [data-action="export-json"]`)]);
    const saved = JSON.parse(fs.readFileSync((await json.path())!, 'utf8'));
    expect(saved.model.id).toBe('default');
    expect(saved.tokens.map((t: { text: string }) => t.text).join('')).toBe(PROMPT);
    expect(saved.explanations.find((e: { method: string }) => e.method === 'unified-attr').scores).toHaveLength(saved.tokens.length);
    expect(saved.attention).toHaveLength(await layersOf('default'));
    expect(saved.perturbation.auc.morf).toBe(curve.auc.morf);
  });

  it('shows user text that looks like HTML as text, never as markup', async () => {
    const hostile = 'Emma said <script>window.__xss = 1</script> and then "><img src=x onerror="window.__xss=2"> <b>bold</b>';
    await page.fill('#text', hostile);
    await page.click('#analyze');
    await waitReady(0);
    expect(await page.evaluate('window.__xss')).toBeUndefined();
    expect(await page.locator('#panes img, #panes script, #panes b').count()).toBe(0);
    expect(await page.locator('body script').count()).toBe(0);
    const strip = (await page.locator(`${pane(0)} .strip`).textContent()) ?? '';
    expect(strip).toContain('<script>window.__xss = 1</script>');
    expect(strip).toContain('"><img src=x onerror="window.__xss=2">');
    expect(dialogs).toEqual([]);
  });

  it('handles a long input: the explained row of every layer, then one channel as full matrices with pooled thumbnails', async () => {
    const words = fs.readFileSync(fixturePath('trained', 'val_text', 'emma.txt'), 'utf8').split(/\s+/).slice(0, 300).join(' ');
    await page.fill('#text', words);
    await page.click('#analyze');
    await waitReady(0);
    const note = await page.locator(`${pane(0)} .attention`).textContent();
    const L = Number(await attr(`${pane(0)} canvas.rows`, 'data-length').catch((e) => { throw new Error(`${e.message}; attention pane says: ${note}`); }));
    expect(L).toBeGreaterThan(300);
    expect(await page.locator(`${pane(0)} .attention .note`).textContent()).toMatch(/showing the target row/);
    expect(await page.locator(`${pane(0)} .method-row[data-method="rollout"] .method-error`).textContent()).toMatch(/at most 128 tokens/);
    const row = await api('attention', { model: 'default', text: words, layer: 2, mode: 'row', target: { position: L - 1 } });
    const canvas = page.locator(`${pane(0)} canvas.rows`);
    const box = (await canvas.boundingBox())!;
    // Row view geometry (heatmap.ts drawRows): 72 px of labels, rows of 22 px from y = 20.
    const width = box.width - 72 - 12;
    const s = L - 5;
    await canvas.hover({ position: { x: 72 + ((s + 0.5) * width) / L, y: 20 + 2.5 * 22 } });
    const tip = page.locator('#tooltip');
    await expect.poll(() => tip.getAttribute('data-layer')).toBe('2');
    const col = Number(await tip.getAttribute('data-col'));
    expect(Math.abs(col - s)).toBeLessThanOrEqual(1);
    expect(Number(await tip.getAttribute('data-value'))).toBe(decode(row.data)[col]);
    await page.mouse.move(0, 0);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'long-input-rows.png'), fullPage: false });

    await page.selectOption('#reduce', 'channel');
    await page.fill('#channel', '5');
    await page.press('#channel', 'Tab');
    await page.waitForSelector(`${pane(0)} canvas.focus[data-state="ready"][data-length="${L}"]`);
    await waitThumbs(await layersOf('default'));
    const full = await api('attention', { model: 'default', text: words, layer: (await layersOf('default')) - 1, reduce: 'channel', channel: 5, mode: 'matrix', target: { position: L - 1 } });
    const tokens = (await api('analyze', { model: 'default', text: words, methods: ['recency'] })).tokens.map((t: { text: string }) => t.text);
    await checkHover(0, [[L - 1, L - 2], [L - 10, L - 40]], decode(full.data), tokens);
    expect(await page.locator(`${pane(0)} .thumb[data-layer="0"] .thumb-range`).textContent()).toContain('pooled 150²');
    await page.mouse.move(0, 0);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'long-input-channel.png'), fullPage: true });
    await page.selectOption('#reduce', 'mean-abs');
  });

  it('image mode: a generated sample through a vision model, every map, per-layer attention, two models, an upload and a broken file', async () => {
    const tip = page.locator('#tooltip');
    /** Hovers patch (i, j) of `canvas` and checks the read-out against `values` [G·G]. */
    const hoverPatch = async (canvas: string, i: number, j: number, values: number[]) => {
      const side = Number(await attr(canvas, 'data-side'));
      const grid = Number(await attr(canvas, 'data-grid'));
      await page.locator(canvas).hover({ position: { x: ((j + 0.5) * side) / grid, y: ((i + 0.5) * side) / grid } });
      await expect.poll(async () => (await tip.getAttribute('data-kind')) === 'patch' && (await tip.getAttribute('data-row')) === String(i) && (await tip.getAttribute('data-col')) === String(j)).toBe(true);
      expect(Number(await tip.getAttribute('data-value'))).toBe(values[i * grid + j]);
    };
    const caption = (i: number) => page.locator(`${pane(i)} .image-figure figcaption`).first().textContent();

    await page.selectOption('#model-b', '');
    await page.selectOption('#model-a', 'vim');
    expect(await page.locator('#text-row').isVisible()).toBe(false);
    expect(await page.locator('#image-row').isVisible()).toBe(true);
    await page.fill('#sample-index', '3');
    await page.press('#sample-index', 'Tab');
    await expect.poll(() => caption(0), { timeout: 90_000 }).toContain('seed 2 · image 3');
    await waitReady(0);
    const vim = await api('image', { model: 'vim', image: { sample: { seed: 2, index: 3 } } });
    expect(await attr(`${pane(0)} .prediction`, 'data-predicted')).toBe(vim.prediction.predictedName);
    expect(Number(await attr(`${pane(0)} .prediction`, 'data-probability'))).toBe(vim.prediction.predictedProbability);
    expect(await page.locator(`${pane(0)} .prediction`).textContent()).toContain(`true class ${vim.image.labelName}`);
    expect(await page.locator(`${pane(0)} .prob-row`).count()).toBe(4);
    expect(await page.locator(`${pane(0)} canvas.image-mask`).count()).toBe(1);
    // The selected method's map over the image, hovered patch by patch against the API.
    const unified = vim.explanations.find((e: { method: string }) => e.method === 'unified-attr').scores;
    await hoverPatch(`${pane(0)} canvas.image-focus[data-method="unified-attr"]`, 4, 3, unified);
    await hoverPatch(`${pane(0)} canvas.image-focus`, 0, 7, unified);
    // Every method side by side; click one to select it.
    expect(await page.locator(`${pane(0)} .methods-grid .map-card`).count()).toBe(9);
    expect(await page.locator(`${pane(0)} canvas.method-map`).count()).toBe(9);
    await page.click(`${pane(0)} .methods-grid .map-card[data-method="grad-attn"]`);
    expect(await page.inputValue('#method')).toBe('grad-attn');
    const gradAttn = vim.explanations.find((e: { method: string }) => e.method === 'grad-attn');
    await hoverPatch(`${pane(0)} canvas.image-focus[data-method="grad-attn"]`, 5, 5, gradAttn.scores);
    expect(await page.locator(`${pane(0)} canvas.layer-map`).count()).toBe(4);
    await hoverPatch(`${pane(0)} canvas.layer-map[data-layer="1"]`, 2, 6, gradAttn.layers[1].scores);
    // Every layer's implicit attention as the classifier reads it (the class token's row).
    expect(await page.locator(`${pane(0)} canvas.attention-map`).count()).toBe(4);
    expect(await page.locator(`${pane(0)} .image-attention .attn-desc`).textContent()).toContain('class token');
    await hoverPatch(`${pane(0)} canvas.attention-map[data-layer="3"]`, 3, 4, vim.attention.layers[3].scores);
    await page.selectOption('#method', 'unified-attr');

    // A second vision model on the same image.
    await page.selectOption('#model-b', 'mlla');
    await expect.poll(() => caption(1), { timeout: 90_000 }).toContain('seed 2 · image 3');
    await waitReady(1);
    expect(await page.locator('.pane').count()).toBe(2);
    const mlla = await api('image', { model: 'mlla', image: { sample: { seed: 2, index: 3 } }, methods: ['unified-attr'] });
    expect(await attr(`${pane(1)} .prediction`, 'data-predicted')).toBe(mlla.prediction.predictedName);
    expect(await page.locator(`${pane(1)} .image-attention .attn-desc`).textContent()).toContain('mean of the rows');
    await hoverPatch(`${pane(1)} canvas.image-focus`, 3, 3, mlla.explanations[0].scores);
    await page.mouse.move(0, 0);
    await page.locator('h1').click();
    await page.screenshot({ path: path.join(SCREENSHOTS, 'image-two-models.png'), fullPage: true });

    // An uploaded PNG (64×64: resized to the models' 32×32) goes to both panes.
    const png = Buffer.from(encodeRgbPng(shapeImage(TEST_SEED, 11, 64).pixels, 64, 64));
    await page.selectOption('#image-source', 'upload');
    await page.setInputFiles('#upload', { name: 'my-shape.png', mimeType: 'image/png', buffer: png });
    for (const i of [0, 1]) await expect.poll(() => caption(i), { timeout: 90_000 }).toContain('my-shape.png (64×64 → 32×32)');
    await Promise.all([waitReady(0), waitReady(1)]);
    const uploaded = await api('image', { model: 'vim', image: { png: png.toString('base64'), name: 'my-shape.png' }, methods: ['unified-attr'] });
    expect(await attr(`${pane(0)} .prediction`, 'data-predicted')).toBe(uploaded.prediction.predictedName);
    expect(await page.locator(`${pane(0)} canvas.image-mask`).count()).toBe(0);
    await hoverPatch(`${pane(0)} canvas.image-focus`, 2, 2, uploaded.explanations[0].scores);
    await page.mouse.move(0, 0);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'image-upload.png'), fullPage: false });

    // A file that is not a PNG: one clear error in each pane, and the page keeps working.
    await page.setInputFiles('#upload', { name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('these are not the pixels you are looking for') });
    await page.waitForSelector(`${pane(0)}[data-state="error"]`);
    expect(await page.locator(`${pane(0)} .error`).textContent()).toMatch(/^the uploaded file is not a PNG image .*upload a PNG image$/);
    expect(await page.locator(`${pane(0)} .figures`).isVisible()).toBe(false);
    await page.selectOption('#image-source', 'sample');
    await waitReady(0);
    await page.selectOption('#model-b', '');
    await page.selectOption('#model-a', 'default');
    await waitReady(0);
    expect(await page.locator('#text-row').isVisible()).toBe(true);
    expect(await page.locator(`${pane(0)} .strip .tok`).count()).toBeGreaterThan(0);
  });

  it('shows errors in the pane and recovers: no tokenizer, token ids, too long', async () => {
    await page.fill('#text', 'Emma');
    await page.selectOption('#model-a', 'recurrent_gemma');
    await page.waitForSelector(`${pane(0)}[data-state="error"]`);
    expect(await page.locator(`${pane(0)} .error`).textContent()).toMatch(/no tokenizer\.json; send token ids/);
    await page.selectOption('#input-mode', 'ids');
    await page.fill('#text', '1 5 9, 2 7 3');
    await page.click('#analyze');
    await waitReady(0);
    expect(await page.locator(`${pane(0)} .meta`).textContent()).toContain('6 tokens');
    expect(await page.locator(`${pane(0)} .thumb`).count()).toBe(3);
    await page.fill('#text', '1 2 x');
    await page.click('#analyze');
    expect(await page.locator('#status').textContent()).toMatch(/non-negative integers/);
    await page.selectOption('#input-mode', 'text');
    await page.selectOption('#model-a', 'default');
    await page.fill('#text', 'Emma and Harriet walked. '.repeat(200));
    await page.click('#analyze');
    await page.waitForSelector(`${pane(0)}[data-state="error"]`);
    expect(await page.locator(`${pane(0)} .error`).textContent()).toMatch(/this server accepts at most 600/);
    expect(await page.locator(`${pane(0)} .block`).first().isVisible()).toBe(false);
    // No uncaught exception in the page, and nothing the Content-Security-Policy had to block.
    expect(pageErrors).toEqual([]);
    expect(cspViolations).toEqual([]);
  });
});
