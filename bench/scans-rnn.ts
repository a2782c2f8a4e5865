/**
 * The recurrences of RWKV-4 (WKV), Griffin (RG-LRU), HGRN and GLA/RetNet (chunked gated linear
 * attention): forward and forward+backward times of the WebAssembly SIMD kernels next to the JS
 * reference kernels (IATTN_KERNELS=js), measured in the same run, alternating, at model-like
 * shapes (B = 1). `scansRnnBench()` is wired into bench/run.ts as the section 'scans-rnn';
 * standalone: node --import tsx bench/scans-rnn.ts [--quick]
 */
import { fileURLToPath } from 'node:url';
import * as F from '../src/core/index.js';
import { Random, Tensor } from '../src/core/index.js';
import type { DType } from '../src/core/index.js';
import { setGemmBackend } from '../src/core/kernels/gemm.js';
import { rnnWasmReady } from '../src/core/kernels/wasm/rnn-wasm.js';
import { gatedLinearAttention } from '../src/scans/gated-linear-attention.js';
import { hgrnScan } from '../src/scans/hgrn.js';
import { rglru } from '../src/scans/rglru.js';
import { wkv } from '../src/scans/wkv.js';

const log = (line: string) => process.stderr.write(`${line}\n`);
const round = (x: number, digits = 3): number => Number(x.toPrecision(digits));

interface Case {
  scan: string;
  /** Model the shape is taken from. */
  like: string;
  shape: Record<string, number>;
  /** Inputs for a dtype (fresh tensors each call). */
  inputs: (dtype: DType) => Tensor[];
  run: (...inputs: Tensor[]) => Tensor;
}

/** Log-decays ≤ 0 of a typical range: −softplus(z)·scale. */
function logDecay(rng: Random, shape: number[], dtype: DType, scale: number): Tensor {
  return F.noGrad(() => F.scale(F.softplus(rng.tensor(shape, dtype)), -scale));
}

function cases(quick: boolean): Case[] {
  const L = quick ? 256 : 1024;
  const Lc = quick ? 128 : 512; // chunked GLA: the JS reference takes seconds per call at L = 1024
  return [
    {
      scan: 'wkv',
      like: 'RWKV-4 169m (C = 768)',
      shape: { B: 1, L, C: 768 },
      inputs: (dtype) => {
        const rng = new Random(1);
        return [rng.tensor([768], dtype), rng.tensor([768], dtype), rng.tensor([1, L, 768], dtype), rng.tensor([1, L, 768], dtype)];
      },
      run: (w, u, k, v) => wkv(w, u, k, v),
    },
    {
      scan: 'rglru',
      like: 'RecurrentGemma 2b (lru_width 2560)',
      shape: { B: 1, L, W: 2560 },
      inputs: (dtype) => {
        const rng = new Random(2);
        return [logDecay(rng, [1, L, 2560], dtype, 0.05), rng.tensor([1, L, 2560], dtype)];
      },
      run: (a, x) => rglru(a, x),
    },
    {
      scan: 'hgrn',
      like: 'HGRN 1b (E = 2048)',
      shape: { B: 1, L, E: 2048 },
      inputs: (dtype) => {
        const rng = new Random(3);
        return [logDecay(rng, [1, L, 2048], dtype, 0.05), rng.tensor([1, L, 2048], dtype)];
      },
      run: (a, x) => hgrnScan(a, x),
    },
    {
      scan: 'gla',
      like: 'GLA 340m (H = 4, K = 128, V = 256)',
      shape: { B: 1, L: Lc, H: 4, K: 128, V: 256 },
      inputs: (dtype) => {
        const rng = new Random(4);
        return [rng.tensor([1, Lc, 4, 128], dtype, 0.1), rng.tensor([1, Lc, 4, 128], dtype), rng.tensor([1, Lc, 4, 256], dtype), logDecay(rng, [1, Lc, 4, 128], dtype, 1 / 16)];
      },
      run: (q, k, v, g) => gatedLinearAttention(q, k, v, g),
    },
    {
      scan: 'retnet',
      like: 'RetNet 1.3b-like head (H = 4, K = 256, V = 512, constant decay)',
      shape: { B: 1, L: Lc, H: 4, K: 256, V: 512 },
      inputs: (dtype) => {
        const rng = new Random(5);
        const [H, K] = [4, 256];
        const gamma = Tensor.from(
          Array.from({ length: Lc * H * K }, (_, i) => Math.log1p(-(2 ** (-5 - (Math.floor(i / K) % H))))),
          [1, Lc, H, K],
          dtype,
        );
        return [rng.tensor([1, Lc, H, K], dtype, 0.06), rng.tensor([1, Lc, H, K], dtype), rng.tensor([1, Lc, H, 512], dtype), gamma];
      },
      run: (q, k, v, g) => gatedLinearAttention(q, k, v, g),
    },
  ];
}

/** Median ms of `samples` calls after one warm-up (one call when a call exceeds 2 s). */
function timeMs(fn: () => void, samples: number): number {
  const t0 = performance.now();
  fn();
  if (performance.now() - t0 > 2000) samples = 1;
  const times: number[] = [];
  for (let s = 0; s < samples; s++) {
    const start = performance.now();
    fn();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

function forward(c: Case, inputs: Tensor[]): () => void {
  return () => void F.noGrad(() => c.run(...inputs));
}

function forwardBackward(c: Case, inputs: Tensor[]): () => void {
  return () => {
    const leaves = inputs.map((t) => new Tensor(t.data.slice(), t.shape).requireGrad());
    const y = c.run(...leaves);
    F.backward(y, upstream(y));
  };
}

const weights = new Map<number, Float64Array>();
/** A fixed random upstream gradient of y's size. */
function upstream(y: Tensor): Float64Array {
  let w = weights.get(y.size);
  if (w === undefined) {
    w = new Random(9).tensor([y.size], 'float64').data as Float64Array;
    weights.set(y.size, w);
  }
  return w;
}

interface Row {
  scan: string;
  like: string;
  shape: Record<string, number>;
  dtype: DType;
  mode: 'forward' | 'forward+backward';
  jsMs: number;
  wasmMs: number;
  speedup: number;
}

/**
 * For every case, dtype and mode: JS reference and WASM kernel, alternating (JS, WASM, JS,
 * WASM … the median of each), so that a noisy machine affects both alike.
 */
export function scansRnnBench(options: { quick?: boolean } = {}): unknown {
  if (!rnnWasmReady()) return { skipped: 'no WebAssembly SIMD in this runtime' };
  const samples = options.quick ? 3 : 5;
  const rows: Row[] = [];
  const old = setGemmBackend('auto');
  try {
    for (const c of cases(options.quick ?? false)) {
      for (const dtype of ['float32', 'float64'] as const) {
        const inputs = c.inputs(dtype);
        for (const mode of ['forward', 'forward+backward'] as const) {
          const fn = mode === 'forward' ? forward(c, inputs) : forwardBackward(c, inputs);
          const js: number[] = [];
          const wasm: number[] = [];
          for (let pass = 0; pass < 2; pass++) {
            setGemmBackend('js');
            js.push(timeMs(fn, samples));
            setGemmBackend('auto');
            wasm.push(timeMs(fn, samples));
          }
          const jsMs = Math.min(...js);
          const wasmMs = Math.min(...wasm);
          const row: Row = { scan: c.scan, like: c.like, shape: c.shape, dtype, mode, jsMs: round(jsMs), wasmMs: round(wasmMs), speedup: round(jsMs / wasmMs) };
          rows.push(row);
          log(`scans-rnn ${c.scan} ${dtype} ${mode} ${JSON.stringify(c.shape)}: JS ${row.jsMs} ms, WASM ${row.wasmMs} ms (×${row.speedup})`);
        }
      }
    }
  } finally {
    setGemmBackend(old);
  }
  return { note: 'B = 1; WASM = assembly/rnn*.ts (f64x2 lanes for both dtypes), JS = the reference kernels (IATTN_KERNELS=js)', rows };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.stdout.write(`${JSON.stringify(scansRnnBench({ quick: process.argv.includes('--quick') }), null, 2)}\n`);
}
