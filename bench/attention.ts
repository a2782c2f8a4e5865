/**
 * Bench section `attention`: implicit-attention extraction time per layer (layer 0 of the
 * trained mamba2 and rwkv checkpoints, float32, random ids) at L = 256, 1024 and 4096, in one
 * process, under three settings measured in the same run:
 *   reference  the JS builders (IATTN_KERNELS=js: the families' coreMatrix + compose.ts's
 *              transform + extract.ts's reduction), one thread;
 *   oneThread  the WebAssembly SIMD band builders (assembly/implicit.ts), one thread;
 *   fast       the defaults: WASM builders split across the executor's threads (IATTN_THREADS);
 * and next to them the naive reference (every row of a channel from its own row computation,
 * exps per entry). Figures: row mode (`--row last`, all channels: the same JS row builder in
 * every setting) and full matrices reduced to mean |H| (what `iattn attention --reduce
 * mean-abs` and the viewer do). Full matrices by the reference at L = 4096 take minutes per
 * layer: they are timed on a sample of channels (mamba2: one head's channels, so the head's core
 * is amortised as in a whole layer) and scaled to the layer. Next to each full-matrix wall time,
 * the process CPU time of the same run (all threads): on a loaded machine the one-thread CPU
 * times are the steadier figures.
 */
import * as F from '../src/core/index.js';
import { gemmBackend, setGemmBackend } from '../src/core/kernels/gemm.js';
import { parallelExecutor, parallelThreads, setParallelExecutor } from '../src/core/parallel.js';
import { channelRow, matrixCount } from '../src/implicit/compose.js';
import type { RecurrentDecomposition } from '../src/implicit/decomposition.js';
import { extract } from '../src/implicit/extract.js';
import { runForAttention } from '../src/implicit/model-layers.js';
import { loadModel } from '../src/io/load-model.js';
import { TRAINED } from './forward.js';
import { round } from './measure.js';

const log = (line: string) => process.stderr.write(`${line}\n`);
const LENGTHS = [256, 1024, 4096];

type Setting = 'reference' | 'oneThread' | 'fast';

export interface AttentionRow {
  model: string;
  L: number;
  channels: number;
  threads: number;
  /** Row mode, all channels, ms per layer. */
  rowMs: Record<Setting, number>;
  /** Full matrices reduced to mean |H|, ms per layer. */
  fullMs: Record<Setting, number>;
  /** Their process CPU time (every thread), ms per layer. */
  fullCpuMs: Record<Setting, number>;
  /** Channels the reference's full matrices were timed on (scaled to the layer). */
  referenceChannels: number;
  /** Naive reference: ms per channel (every row on its own). */
  naiveMsPerChannel: number;
  /** reference ÷ fast, full matrices. */
  speedup: number;
}

/** CPU time of the run `time` measured last (ms, every thread of the process). */
let lastCpuMs = 0;

/** Wall time (ms) of fn: the median of `repeats` runs after a warm-up, or one cold run (repeats 0). */
function time(fn: () => void, repeats: number): number {
  if (repeats > 0) fn();
  const times: Array<[number, number]> = [];
  for (let i = 0; i < Math.max(1, repeats); i++) {
    const cpu = process.cpuUsage();
    const start = performance.now();
    fn();
    const used = process.cpuUsage(cpu);
    times.push([performance.now() - start, (used.user + used.system) / 1000]);
  }
  times.sort((a, b) => a[0] - b[0]);
  const [wall, cpu] = times[Math.floor(times.length / 2)];
  lastCpuMs = cpu;
  return wall;
}

/** Runs fn under a setting (backend and executor restored afterwards). */
function under<T>(setting: Setting, fn: () => T): T {
  const backend = setGemmBackend(setting === 'reference' ? 'js' : gemmBackend() === 'js' ? 'auto' : gemmBackend());
  const executor = setting === 'fast' ? parallelExecutor() : setParallelExecutor(null);
  try {
    return fn();
  } finally {
    setGemmBackend(backend);
    if (setting !== 'fast') setParallelExecutor(executor);
  }
}

/** Every row of channel c from its own row computation (coreRow per t, exps per entry): what the recurrences avoid. */
function naiveMatrix(d: RecurrentDecomposition, c: number): void {
  const row = new Float64Array(d.length);
  for (let t = 0; t < d.length; t++) channelRow(d, 0, c, t, 'paper', row);
}

export function attentionBench(): AttentionRow[] {
  const rows: AttentionRow[] = [];
  const settings: Setting[] = ['reference', 'oneThread', 'fast'];
  for (const { name, dir } of TRAINED) {
    const { model } = loadModel(dir, { dtype: 'float32' });
    for (const L of LENGTHS) {
      const rng = new F.Random(L);
      const ids = Int32Array.from({ length: L }, () => rng.int(model.config.vocabSize));
      const run = runForAttention(model, ids, 1, L);
      const d = run.decompose(run.layers[0]) as RecurrentDecomposition;
      const channels = matrixCount(d, 'paper');
      const repeats = L <= 256 ? 3 : L <= 1024 ? 1 : 0;
      const rowMs = {} as Record<Setting, number>;
      const fullMs = {} as Record<Setting, number>;
      const fullCpuMs = {} as Record<Setting, number>;
      let referenceChannels = channels;
      for (const setting of settings) {
        rowMs[setting] = round(under(setting, () => time(() => extract(d, { variant: 'paper', reduce: 'none', row: L - 1 }), repeats)));
        const sample = setting === 'reference' && L > 1024 ? Math.min(channels, Math.max(16, d.channelsPerHead)) : channels;
        if (setting === 'reference') referenceChannels = sample;
        const selected = Array.from({ length: sample }, (_, c) => c);
        const ms = under(setting, () => time(() => extract(d, { variant: 'paper', reduce: 'mean-abs', channels: selected, memoryBudget: 8 * 1024 ** 3 }), repeats));
        fullMs[setting] = round((ms * channels) / sample);
        fullCpuMs[setting] = round((lastCpuMs * channels) / sample);
      }
      const naiveChannels = L <= 256 ? 8 : L <= 1024 ? 2 : 1;
      const naiveMs = under('reference', () => time(() => {
        for (let c = 0; c < naiveChannels; c++) naiveMatrix(d, c);
      }, 0));
      const row: AttentionRow = {
        model: name,
        L,
        channels,
        threads: parallelThreads(),
        rowMs,
        fullMs,
        fullCpuMs,
        referenceChannels,
        naiveMsPerChannel: round(naiveMs / naiveChannels),
        speedup: round(fullMs.reference / fullMs.fast),
      };
      rows.push(row);
      log(
        `attention ${name} L=${L}: full matrices (mean |H|) ${row.fullMs.reference} ms/layer TS reference${referenceChannels < channels ? ` (${referenceChannels} of ${channels} channels, scaled)` : ''}, ` +
          `${row.fullMs.oneThread} WASM 1 thread, ${row.fullMs.fast} fast (${row.threads} threads): ×${row.speedup} ` +
          `(CPU ${row.fullCpuMs.reference} / ${row.fullCpuMs.oneThread} / ${row.fullCpuMs.fast} ms); ` +
          `row mode ${row.rowMs.reference} / ${row.rowMs.oneThread} / ${row.rowMs.fast} ms; naive ${row.naiveMsPerChannel} ms/channel`,
      );
    }
  }
  return rows;
}
