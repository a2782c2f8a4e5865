/**
 * GEMM throughput: the WebAssembly SIMD kernels (assembly/gemm.ts) next to the JS references
 * (src/core/kernels/gemm.ts), measured in the same run, in GFLOP/s (2·M·N·K per call, copies
 * into and out of the module's memory included). `gemmBench()` is wired into bench/run.ts;
 * standalone: node --import tsx bench/gemm.ts [--quick]
 */
import { fileURLToPath } from 'node:url';
import type { FloatArray } from '../src/core/dtype.js';
import { gemmNNReference, gemmNTReference, gemmTNReference, WASM_MIN_N, WASM_MIN_WORK, wasmPreferred } from '../src/core/kernels/gemm.js';
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

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.stdout.write(`${JSON.stringify(gemmBench({ quick: process.argv.includes('--quick') }), null, 2)}\n`);
}
