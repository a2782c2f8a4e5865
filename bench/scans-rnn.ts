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

/** Fastest of `samples` calls after one warm-up (one call when a call exceeds 2 s). */
function bestMs(fn: () => void, samples: number): number {
  const t0 = performance.now();
  fn();
  if (performance.now() - t0 > 2000) samples = 1;
  let best = Infinity;
  for (let s = 0; s < samples; s++) {
    const start = performance.now();
    fn();
    best = Math.min(best, performance.now() - start);
  }
  return best;
}

/** Forward (no graph) and forward + backward (fixed random upstream gradient) of one case. */
function operations(c: Case, dtype: DType): { forward: () => void; forwardBackward: () => void } {
  const inputs = c.inputs(dtype);
  const leaves = inputs.map((t) => new Tensor(t.data, t.shape).requireGrad());
  const size = F.noGrad(() => c.run(...inputs)).size;
  const weights = new Random(9).tensor([size], dtype).data;
  return {
    forward: () => void F.noGrad(() => c.run(...inputs)),
    forwardBackward: () => {
      for (const t of leaves) t.grad = null;
      F.backward(c.run(...leaves), weights);
    },
  };
}

/**
 * For every case and dtype: forward and forward + backward on the JS reference kernels and on
 * the WASM kernels, alternating (JS, WASM, JS, WASM) and keeping the fastest call of each, so
 * that a busy machine disturbs both alike. Times are of the op alone (no projections); forward
 * + backward includes the autograd bookkeeping (gradient buffers, leaf accumulation), the same
 * for both paths.
 */
export function scansRnnBench(options: { quick?: boolean } = {}): unknown {
  if (!rnnWasmReady()) return { skipped: 'no WebAssembly SIMD in this runtime' };
  const samples = options.quick ? 3 : 5;
  const rows = [];
  const old = setGemmBackend('auto');
  try {
    for (const c of cases(options.quick ?? false)) {
      for (const dtype of ['float32', 'float64'] as const) {
        const ops = operations(c, dtype);
        const best = { js: { forward: Infinity, forwardBackward: Infinity }, wasm: { forward: Infinity, forwardBackward: Infinity } };
        for (let pass = 0; pass < 2; pass++) {
          for (const mode of ['js', 'wasm'] as const) {
            setGemmBackend(mode === 'js' ? 'js' : 'auto');
            best[mode].forward = Math.min(best[mode].forward, bestMs(ops.forward, samples));
            best[mode].forwardBackward = Math.min(best[mode].forwardBackward, bestMs(ops.forwardBackward, samples));
          }
        }
        const row = {
          scan: c.scan,
          note: c.like,
          dtype,
          ...c.shape,
          jsForwardMs: round(best.js.forward),
          wasmForwardMs: round(best.wasm.forward),
          forwardSpeedup: round(best.js.forward / best.wasm.forward),
          jsForwardBackwardMs: round(best.js.forwardBackward),
          wasmForwardBackwardMs: round(best.wasm.forwardBackward),
          forwardBackwardSpeedup: round(best.js.forwardBackward / best.wasm.forwardBackward),
        };
        rows.push(row);
        const dims = Object.entries(c.shape).map(([k, v]) => `${k}=${v}`).join(' ');
        log(`scans-rnn ${c.scan} ${dtype} ${dims}: forward JS ${row.jsForwardMs} ms, WASM ${row.wasmForwardMs} ms (×${row.forwardSpeedup}); forward+backward JS ${row.jsForwardBackwardMs} ms, WASM ${row.wasmForwardBackwardMs} ms (×${row.forwardBackwardSpeedup})`);
      }
    }
  } finally {
    setGemmBackend(old);
  }
  return rows;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.stdout.write(`${JSON.stringify(scansRnnBench({ quick: process.argv.includes('--quick') }), null, 2)}\n`);
}
