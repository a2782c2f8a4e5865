/**
 * GEMM throughput: the WebAssembly SIMD kernels (assembly/gemm.ts) next to the JS references
 * (src/core/kernels/gemm.ts), measured in the same run, in GFLOP/s (2·M·N·K per call, copies
 * into and out of the module's memory included). `gemmBench()` is wired into bench/run.ts;
 * standalone: node --import tsx bench/gemm.ts [--quick]
 *
 * `gemmThreadsBench()` (section `gemm-threads`; standalone: bench/gemm.ts --threads) measures
 * the dispatch (gemmNT/NN/TN) on one thread and across the worker threads, interleaved, on
 * products from 2^16 to 2^30 multiply-adds: where splitting pays is how PARALLEL_MIN_WORK
 * (src/core/parallel-gemm.ts) was chosen. Wall-clock figures need idle cores; on a busy
 * machine the CPU time per call (all threads, process.cpuUsage) still shows what a split costs:
 * `cpuRatio` = CPU time split ÷ CPU time on one thread, and `quietSpeedupEstimate` = the
 * one-thread CPU time ÷ (its share per thread × cpuRatio + one round trip), what the split
 * should give with every core free.
 */
import { fileURLToPath } from 'node:url';
import type { FloatArray } from '../src/core/dtype.js';
import { gemmNN, gemmNNReference, gemmNT, gemmNTReference, gemmTN, gemmTNReference, WASM_MIN_N, WASM_MIN_WORK, wasmPreferred } from '../src/core/kernels/gemm.js';
import { NOOP_TASK, parallelExecutor, parallelThreads, setParallelExecutor, splitRange } from '../src/core/parallel.js';
import { PARALLEL_MIN_WORK, setParallelMinWork } from '../src/core/parallel-gemm.js';
import { installNodeExecutor, NodeExecutor } from '../src/io/parallel-node.js';
import { gemmWasm, type GemmVariant, simdSupported, WASM_GEMM_LATEST, WASM_GEMM_VERSIONS } from '../src/core/kernels/wasm/gemm-wasm.js';

type DType = 'float32' | 'float64';
type Gemm = (M: number, N: number, K: number, A: FloatArray, aOff: number, B: FloatArray, bOff: number, C: FloatArray, cOff: number) => void;
const REFERENCE: Record<GemmVariant, Gemm> = { NT: gemmNTReference, NN: gemmNNReference, TN: gemmTNReference };
const log = (line: string) => process.stderr.write(`${line}\n`);
const round = (x: number, digits = 3): number => Number(x.toPrecision(digits));

function operand(dtype: DType, n: number, seed: number): FloatArray {
  const a = dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    a[i] = s / 1073741824 - 1;
  }
  return a;
}

/**
 * Median seconds per call: calls are batched until a sample lasts ≥ 25 ms (one call for the
 * slow ones), `samples` samples after a warm-up call.
 */
function secondsPerCall(fn: () => void, samples: number): number {
  fn();
  let calls = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) fn();
    if (performance.now() - t0 >= 25 || calls >= 1 << 16) break;
    calls *= 2;
  }
  const times: number[] = [];
  for (let s = 0; s < samples; s++) {
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) fn();
    times.push((performance.now() - t0) / calls / 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

interface Row {
  variant: GemmVariant;
  dtype: DType;
  M: number;
  N: number;
  K: number;
  note?: string;
  jsGflops: number;
  wasmGflops: number;
  speedup: number;
  /** Which path gemmNT/NN/TN take for this shape in the default ('auto') mode. */
  autoPath: 'wasm' | 'js';
}

function measure(variant: GemmVariant, dtype: DType, M: number, N: number, K: number, samples: number, note?: string): Row {
  const A = operand(dtype, M * K, 1);
  const B = operand(dtype, K * N, 2);
  const C = operand(dtype, M * N, 3);
  const flop = 2 * M * N * K;
  const js = flop / secondsPerCall(() => REFERENCE[variant](M, N, K, A, 0, B, 0, C, 0), samples) / 1e9;
  const wasm = flop / secondsPerCall(() => gemmWasm(variant, M, N, K, A, 0, B, 0, C, 0), samples) / 1e9;
  const autoPath = wasmPreferred(M, N, K) ? 'wasm' : 'js';
  const row: Row = { variant, dtype, M, N, K, ...(note ? { note } : {}), jsGflops: round(js), wasmGflops: round(wasm), speedup: round(wasm / js), autoPath };
  log(`gemm ${variant} ${dtype} ${M}×${N}×${K}${note ? ` (${note})` : ''}: JS ${row.jsGflops} GFLOP/s, WASM ${row.wasmGflops} GFLOP/s (×${row.speedup})`);
  return row;
}

/** Odd and model-like shapes [M, N, K, note]; M is tokens for the linear-layer ones. */
const ODD: [GemmVariant, number, number, number, string][] = [
  ['NT', 256, 3072, 768, 'mamba-130m in_proj, 256 tokens'],
  ['NT', 1, 3072, 768, 'in_proj, one token (generation)'],
  ['NN', 256, 768, 1536, 'dx of out_proj, 256 tokens'],
  ['TN', 1536, 768, 256, 'dW of out_proj, 256 tokens'],
  ['NT', 257, 129, 1000, 'odd'],
  ['NN', 1000, 7, 1000, 'narrow C'],
  ['NT', 64, 64, 64, 'SSD chunk scores'],
  ['TN', 33, 65, 17, 'small'],
];

/**
 * GFLOP/s of the WASM path and the JS reference, same run: every variant at 256/512/1024,
 * float32 and float64; model-like and odd shapes; the WASM kernel versions at 512.
 */
export function gemmBench(options: { quick?: boolean } = {}): unknown {
  if (!simdSupported()) return { skipped: 'no WebAssembly SIMD in this runtime' };
  const samples = options.quick ? 3 : 5;
  const square: Row[] = [];
  for (const dtype of ['float32', 'float64'] as const) {
    for (const n of options.quick ? [256, 512] : [256, 512, 1024]) {
      for (const variant of ['NT', 'NN', 'TN'] as const) square.push(measure(variant, dtype, n, n, n, n >= 1024 ? 3 : samples));
    }
  }
  const odd = ODD.flatMap(([variant, M, N, K, note]) => (['float32', 'float64'] as const).map((dtype) => measure(variant, dtype, M, N, K, samples, note)));
  const versions = [];
  for (const dtype of ['float32', 'float64'] as const) {
    const n = 512;
    const A = operand(dtype, n * n, 1);
    const B = operand(dtype, n * n, 2);
    const C = operand(dtype, n * n, 3);
    for (const variant of ['NT', 'NN'] as const) {
      const row: Record<string, number | string> = { dtype, variant, n };
      for (const version of WASM_GEMM_VERSIONS) {
        row[`v${version}Gflops`] = round((2 * n * n * n) / secondsPerCall(() => gemmWasm(variant, n, n, n, A, 0, B, 0, C, 0, version), samples) / 1e9);
      }
      log(`gemm versions ${variant} ${dtype} ${n}³: ${WASM_GEMM_VERSIONS.map((v) => `v${v} ${row[`v${v}Gflops`]}`).join(', ')} GFLOP/s`);
      versions.push(row);
    }
  }
  return { latestVersion: WASM_GEMM_LATEST, autoThreshold: { minWork: WASM_MIN_WORK, minN: WASM_MIN_N }, square, odd, versions };
}

const DISPATCH: Record<GemmVariant, Gemm> = { NT: gemmNT, NN: gemmNN, TN: gemmTN };

/** Shapes of the threads sweep [variant, M, N, K, note]: linear layers at growing token counts, and cubes. */
const THREAD_SHAPES: [GemmVariant, number, number, number, string][] = [
  ['NT', 16, 256, 64, 'tiny'],
  ['NT', 32, 256, 256, 'linear 256→256, 32 tokens'],
  ['NT', 64, 256, 256, 'linear 256→256, 64 tokens'],
  ['NT', 64, 1160, 256, 'mamba2 fixture in_proj, 64 tokens'],
  ['NT', 128, 256, 512, 'mamba2 fixture out_proj, 128 tokens'],
  ['NT', 256, 1160, 256, 'mamba2 fixture in_proj, 256 tokens'],
  ['NT', 256, 4096, 256, 'fixture LM head, 256 tokens'],
  ['NT', 256, 3072, 768, 'mamba-130m in_proj, 256 tokens'],
  ['NN', 128, 128, 128, 'cube'],
  ['NN', 192, 192, 192, 'cube'],
  ['NN', 256, 256, 256, 'cube'],
  ['NN', 512, 512, 512, 'cube'],
  ['TN', 256, 256, 256, 'weight gradient, 256 tokens'],
  ['NN', 1024, 1024, 1024, 'cube'],
];

/** CPU seconds (every thread of the process) per call, over calls lasting ≥ 100 ms in all. */
function cpuSecondsPerCall(fn: () => void): number {
  fn();
  let calls = 0;
  const wall = performance.now();
  const start = process.cpuUsage();
  while (performance.now() - wall < 100 || calls < 3) {
    fn();
    calls++;
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e6 / calls;
}

/**
 * Microseconds to hand an empty range to every worker and get the answers back (median and
 * best of `calls`): the fixed cost a split must amortise. Workers may not be taken back here.
 */
function roundTripMicroseconds(calls: number): { median: number; best: number } {
  const executor = parallelExecutor()!;
  const ranges = splitRange(executor.threads, executor.threads).slice(1);
  const times: number[] = [];
  const busy = { takeBack: true };
  const options = (executor as unknown as { options?: { takeBack?: boolean } }).options;
  if (options) {
    busy.takeBack = options.takeBack !== false;
    options.takeBack = false;
  }
  try {
    for (let i = 0; i < calls; i++) {
      const t0 = performance.now();
      executor.run(NOOP_TASK, {}, ranges, () => {});
      times.push((performance.now() - t0) * 1000);
    }
  } finally {
    if (options) options.takeBack = busy.takeBack;
  }
  times.sort((a, b) => a - b);
  return { median: round(times[Math.floor(times.length / 2)]), best: round(times[0]) };
}

/**
 * The dispatch on one thread vs across the installed executor's threads (threshold lifted so
 * that every shape is split), same run, interleaved; `autoSplit` says whether the default
 * threshold splits the shape.
 */
export function gemmThreadsBench(options: { quick?: boolean } = {}): unknown {
  const executor = parallelExecutor();
  if (executor === null || !simdSupported()) return { skipped: executor === null ? 'no parallel executor (IATTN_THREADS=1 or one core)' : 'no WebAssembly SIMD in this runtime' };
  const samples = options.quick ? 3 : 5;
  const roundTrip = roundTripMicroseconds(options.quick ? 200 : 2000);
  log(`gemm threads: a round trip through ${parallelThreads() - 1} worker(s) takes ${roundTrip.median} µs (best ${roundTrip.best} µs)`);
  const rows = [];
  const old = setParallelMinWork(0);
  try {
    for (const dtype of ['float32', 'float64'] as const) {
      for (const [variant, M, N, K, note] of THREAD_SHAPES) {
        const A = operand(dtype, M * K, 1);
        const B = operand(dtype, K * N, 2);
        const C = operand(dtype, M * N, 3);
        const flop = 2 * M * N * K;
        const run = () => DISPATCH[variant](M, N, K, A, 0, B, 0, C, 0);
        setParallelExecutor(null);
        const one = flop / secondsPerCall(run, samples) / 1e9;
        const oneCpu = cpuSecondsPerCall(run);
        setParallelExecutor(executor);
        const many = flop / secondsPerCall(run, samples) / 1e9;
        const manyCpu = cpuSecondsPerCall(run);
        const cpuRatio = manyCpu / oneCpu;
        const quiet = oneCpu / ((oneCpu / parallelThreads()) * cpuRatio + roundTrip.median / 1e6);
        const row = {
          variant, dtype, M, N, K, note, work: M * N * K,
          oneThreadGflops: round(one), threadsGflops: round(many), speedup: round(many / one),
          cpuRatio: round(cpuRatio), quietSpeedupEstimate: round(quiet),
          autoSplit: M * N * K >= old && M >= 16,
        };
        rows.push(row);
        log(`gemm threads ${variant} ${dtype} ${M}×${N}×${K} (${note}): 1 thread ${row.oneThreadGflops}, ${parallelThreads()} threads ${row.threadsGflops} GFLOP/s (×${row.speedup}); CPU time ×${row.cpuRatio}, quiet-machine estimate ×${row.quietSpeedupEstimate}`);
      }
    }
  } finally {
    setParallelMinWork(old);
    setParallelExecutor(executor);
  }
  return { threads: parallelThreads(), parallelMinWork: PARALLEL_MIN_WORK, roundTripMicroseconds: roundTrip, rows };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const quick = process.argv.includes('--quick');
  if (process.argv.includes('--threads')) {
    const executor = installNodeExecutor();
    if (executor instanceof NodeExecutor) await executor.whenReady();
    process.stdout.write(`${JSON.stringify(gemmThreadsBench({ quick }), null, 2)}\n`);
    await executor?.close();
  } else {
    process.stdout.write(`${JSON.stringify(gemmBench({ quick }), null, 2)}\n`);
  }
}
