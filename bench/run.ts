/**
 * `npm run bench`: performance figures as JSON (stdout and bench/results/latest.json).
 * Every speed-up is a ratio against a reference measured in the same run.
 * Sections: matmul, gemm (WASM vs JS kernels), load, forward, attention, train, scans-ssm (WASM vs JS selective scan and SSD) (default: all). Example: npm run bench -- matmul
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as F from '../src/core/index.js';
import { Random } from '../src/core/index.js';
import { channelRow, matrixCount } from '../src/implicit/compose.js';
import type { RecurrentDecomposition } from '../src/implicit/decomposition.js';
import { extract } from '../src/implicit/extract.js';
import { runForAttention } from '../src/implicit/model-layers.js';
import { loadModel } from '../src/io/load-model.js';
import { probe, round, timeMs } from './measure.js';
import { gemmBench } from './gemm.js';
import { scansSsmBench } from './scans-ssm.js';
import { trainBench } from './train.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const trained = ['mamba2', 'rwkv'].map((name) => ({ name, dir: path.join(root, 'test/fixtures/trained', name) }));
const log = (line: string) => process.stderr.write(`${line}\n`);

function matmulBench() {
  const rows = [];
  for (const dtype of ['float32', 'float64'] as const) {
    for (const n of [256, 512, 1024]) {
      const rng = new Random(n);
      const a = rng.tensor([n, n], dtype);
      const b = rng.tensor([n, n], dtype);
      const flop = 2 * n * n * n;
      const nn = timeMs(() => F.matmul(a, b), n >= 1024 ? 1 : 3);
      const nt = timeMs(() => F.linear(a, b), n >= 1024 ? 1 : 3);
      rows.push({ dtype, n, matmulGflops: round(flop / nn / 1e6), linearGflops: round(flop / nt / 1e6) });
      log(`matmul ${dtype} ${n}: ${round(flop / nn / 1e6)} GFLOP/s (linear ${round(flop / nt / 1e6)})`);
    }
  }
  return rows;
}

function loadBench() {
  const files = fs.readdirSync(path.join(root, 'test/fixtures/trained'), { withFileTypes: true }).filter((d) => d.isDirectory() && d.name !== 'val_text');
  const sizes = files.map((d) => ({ dir: path.join(root, 'test/fixtures/trained', d.name), bytes: fs.statSync(path.join(root, 'test/fixtures/trained', d.name, 'model.safetensors')).size }));
  const largest = sizes.sort((a, b) => b.bytes - a.bytes)[0];
  const r = probe('load', largest.dir);
  log(`load ${path.basename(largest.dir)} (${(largest.bytes / 2 ** 20).toFixed(1)} MiB file): peak RSS ${r.peakMiB.toFixed(0)} MiB (baseline ${r.baselineMiB.toFixed(0)})`);
  return { model: path.basename(largest.dir), fileMiB: round(largest.bytes / 2 ** 20), loadMs: round(r.loadMs), peakMiB: round(r.peakMiB), baselineMiB: round(r.baselineMiB) };
}

function forwardBench() {
  const rows = [];
  for (const { name, dir } of trained) {
    for (const L of [256, 2048]) {
      const r = probe('forward', dir, String(L));
      rows.push({ model: name, L, mode: 'forward', ms: round(r.ms), tokensPerSecond: round(r.tokensPerSecond), peakMiB: round(r.peakMiB) });
      log(`forward ${name} L=${L}: ${round(r.tokensPerSecond)} tokens/s, peak ${r.peakMiB.toFixed(0)} MiB`);
    }
    const r = probe('forward', dir, '256', 'backward');
    rows.push({ model: name, L: 256, mode: 'forward+backward', ms: round(r.ms), tokensPerSecond: round(r.tokensPerSecond), peakMiB: round(r.peakMiB) });
    log(`forward+backward ${name} L=256: ${round(r.ms)} ms`);
  }
  return rows;
}

/**
 * Naive reference for one channel's full matrix: every entry from its own row computation
 * (coreRow per t, exps per entry) — what the recurrence in coreMatrix avoids.
 */
function naiveMatrix(d: RecurrentDecomposition, c: number): void {
  const row = new Float64Array(d.length);
  for (let t = 0; t < d.length; t++) channelRow(d, 0, c, t, 'paper', row);
}

function attentionBench() {
  const rows = [];
  for (const { name, dir } of trained) {
    const { model } = loadModel(dir, { dtype: 'float32' });
    for (const L of [256, 1024, 4096]) {
      const rng = new Random(L);
      const ids = Int32Array.from({ length: L }, () => rng.int(model.config.vocabSize));
      const run = runForAttention(model, ids, 1, L);
      const d = run.decompose(run.layers[0]) as RecurrentDecomposition;
      const rowMs = timeMs(() => extract(d, { variant: 'paper', reduce: 'none', row: L - 1 }), 1);
      // Full matrices: all channels at L ≤ 1024; a sample of channels at 4096, reported per channel.
      const channels = L <= 1024 ? matrixCount(d, 'paper') : 8;
      const sample = Array.from({ length: channels }, (_, i) => i);
      const fullMs = timeMs(() => extract(d, { variant: 'paper', reduce: 'mean-abs', channels: sample, memoryBudget: 8 * 1024 ** 3 }), 1);
      const naiveChannels = L <= 256 ? 8 : 2;
      const naiveMs = timeMs(() => {
        for (let c = 0; c < naiveChannels; c++) naiveMatrix(d, c);
      }, 1);
      const fastPerChannel = fullMs / channels;
      const naivePerChannel = naiveMs / naiveChannels;
      rows.push({
        model: name,
        L,
        channels: d.channels,
        rowModeMsPerLayer: round(rowMs),
        fullMsPerLayer: round(fastPerChannel * d.channels),
        fullMsPerChannel: round(fastPerChannel),
        naiveMsPerChannel: round(naivePerChannel),
        speedup: round(naivePerChannel / fastPerChannel),
      });
      log(`attention ${name} L=${L}: row ${round(rowMs)} ms/layer, full ${round(fastPerChannel * d.channels)} ms/layer (naive ×${round(naivePerChannel / fastPerChannel)})`);
    }
  }
  return rows;
}

const sections: Record<string, () => unknown> = { matmul: matmulBench, gemm: () => gemmBench(), load: loadBench, forward: forwardBench, attention: attentionBench, train: trainBench, 'scans-ssm': () => scansSsmBench() };
const wanted = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(sections);
const results: Record<string, unknown> = { date: new Date().toISOString(), node: process.version, cpus: (await import('node:os')).cpus().length };
for (const name of wanted) {
  if (!(name in sections)) throw new Error(`unknown bench section ${name}; choose from ${Object.keys(sections).join(', ')}`);
  results[name] = sections[name]();
}
const json = JSON.stringify(results, null, 2);
fs.mkdirSync(path.join(root, 'bench/results'), { recursive: true });
fs.writeFileSync(path.join(root, 'bench/results/latest.json'), json);
process.stdout.write(`${json}\n`);
