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
import { installNodeExecutor, NodeExecutor } from '../src/io/parallel-node.js';
import { attentionBench } from './attention.js';
import { forwardBench, loadBench, weightsBench } from './forward.js';
import { gemmBench, gemmThreadsBench } from './gemm.js';
import { matmulBench } from './matmul.js';
import { markdownReport } from './report.js';
import { scansRnnBench } from './scans-rnn.js';
import { scansSsmBench } from './scans-ssm.js';
import { trainBench } from './train.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
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
