/**
 * `npm run bench`: performance figures as JSON (stdout and bench/results/latest.json) and as
 * Markdown tables (bench/results/latest.md). Every figure of the fast path stands next to the
 * pure TypeScript reference measured in the same run (IATTN_KERNELS=js; IATTN_THREADS=1 for
 * one-thread figures); the Markdown adds the committed baseline (bench/results/baseline-*.json).
 * Sections (default: all): matmul (TS reference, WASM 1 thread, WASM on every core), gemm (WASM
 * vs JS kernels by layout and shape), gemm-threads (1 vs all threads, the split threshold),
 * load, forward (tokens/s, peak memory, forward+backward: reference vs fast), weights (decoded
 * vs stored bf16/f16 weights), attention, train, scans-ssm (WASM vs JS selective scan and SSD),
 * scans-rnn (WASM vs JS WKV, RG-LRU, HGRN, GLA/RetNet).
 * Example: npm run bench -- matmul forward
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Random } from '../src/core/index.js';
import { channelRow, matrixCount } from '../src/implicit/compose.js';
import type { RecurrentDecomposition } from '../src/implicit/decomposition.js';
import { extract } from '../src/implicit/extract.js';
import { runForAttention } from '../src/implicit/model-layers.js';
import { loadModel } from '../src/io/load-model.js';
import { installNodeExecutor, NodeExecutor } from '../src/io/parallel-node.js';
import { round, timeMs } from './measure.js';
import { forwardBench, loadBench, TRAINED, weightsBench } from './forward.js';
import { gemmBench, gemmThreadsBench } from './gemm.js';
import { matmulBench } from './matmul.js';
import { markdownReport } from './report.js';
import { scansRnnBench } from './scans-rnn.js';
import { scansSsmBench } from './scans-ssm.js';
import { trainBench } from './train.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const trained = TRAINED;
const log = (line: string) => process.stderr.write(`${line}\n`);

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

const sections: Record<string, () => unknown> = {
  matmul: matmulBench,
  gemm: () => gemmBench(),
  'gemm-threads': () => gemmThreadsBench(),
  load: loadBench,
  forward: forwardBench,
  weights: weightsBench,
  attention: attentionBench,
  train: trainBench,
  'scans-ssm': () => scansSsmBench(),
  'scans-rnn': () => scansRnnBench(),
};
const wanted = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(sections);
for (const name of wanted) {
  if (!(name in sections)) throw new Error(`unknown bench section ${name}; choose from ${Object.keys(sections).join(', ')}`);
}
// Worker threads as in the CLI (IATTN_THREADS), booted before anything is timed.
const executor = installNodeExecutor();
if (executor instanceof NodeExecutor) await executor.whenReady();
const results: Record<string, unknown> = { date: new Date().toISOString(), node: process.version, cpus: (await import('node:os')).cpus().length, sections: wanted };
for (const name of wanted) results[name] = sections[name]();
await executor?.close();
const json = JSON.stringify(results, null, 2);
const baselines = fs.readdirSync(path.join(root, 'bench/results')).filter((f) => /^baseline-.*\.json$/.test(f)).sort();
const baseline = baselines.length > 0 ? JSON.parse(fs.readFileSync(path.join(root, 'bench/results', baselines[baselines.length - 1]), 'utf8')) : null;
fs.mkdirSync(path.join(root, 'bench/results'), { recursive: true });
fs.writeFileSync(path.join(root, 'bench/results/latest.json'), json);
fs.writeFileSync(path.join(root, 'bench/results/latest.md'), markdownReport(results, baseline));
process.stdout.write(`${json}\n`);
