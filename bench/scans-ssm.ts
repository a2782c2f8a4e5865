/**
 * The state-space scans: Mamba's selective scan and Mamba-2's SSD, forward and forward +
 * backward, the WebAssembly SIMD kernels (assembly/ssm.ts) next to the JS kernels measured in
 * the same run (the two paths of src/scans/selective-scan.ts and src/scans/ssd.ts, switched by
 * setGemmBackend like IATTN_KERNELS; in the JS path the SSD's products run in the JS GEMM too).
 * Times are in ms of the op alone (no projections), the fastest of several runs after a warm-up:
 * other processes only ever add time, so the minimum is the steadiest estimate on a shared
 * machine (one run where a call takes over two seconds).
 * `scansSsmBench()` is wired into bench/run.ts as the 'scans-ssm' section; standalone:
 * node --import tsx bench/scans-ssm.ts [--quick]
 */
import { fileURLToPath } from 'node:url';
import * as F from '../src/core/index.js';
import { Random, Tensor } from '../src/core/index.js';
import type { DType } from '../src/core/index.js';
import { setGemmBackend } from '../src/core/kernels/gemm.js';
import { simdSupported } from '../src/core/kernels/wasm/runtime.js';
import { selectiveScan } from '../src/scans/selective-scan.js';
import { ssd } from '../src/scans/ssd.js';
import { round } from './measure.js';

const log = (line: string) => process.stderr.write(`${line}\n`);

interface Case {
  scan: 'selectiveScan' | 'ssd';
  note: string;
  dtype: DType;
  shape: Record<string, number>;
  /** The op on fresh leaves. */
  op: (inputs: Tensor[]) => Tensor;
  inputs: (rng: Random) => Tensor[];
}

function scanCase(note: string, B: number, L: number, D: number, N: number, dtype: DType): Case {
  return {
    scan: 'selectiveScan',
    note,
    dtype,
    shape: { B, L, D, N },
    op: ([u, dt, A, Bm, Cm, Ds]) => selectiveScan(u, dt, A, Bm, Cm, Ds),
    inputs: (rng) => [
      rng.tensor([B, L, D], dtype),
      rng.uniform([B, L, D], 0.001, 0.2, dtype),
      rng.uniform([D, N], -16, -1, dtype),
      rng.tensor([B, L, N], dtype),
      rng.tensor([B, L, N], dtype),
      rng.tensor([D], dtype),
    ],
  };
}

function ssdCase(note: string, B: number, L: number, Hd: number, P: number, G: number, N: number, Q: number, dtype: DType): Case {
  return {
    scan: 'ssd',
    note,
    dtype,
    shape: { B, L, Hd, P, G, N, Q },
    op: ([x, dt, A, Bm, Cm, Ds]) => ssd(x, dt, A, Bm, Cm, Ds, Q),
    inputs: (rng) => [
      rng.tensor([B, L, Hd, P], dtype),
      rng.uniform([B, L, Hd], 0.001, 0.1, dtype),
      rng.uniform([Hd], -8, -1, dtype),
      rng.tensor([B, L, G, N], dtype),
      rng.tensor([B, L, G, N], dtype),
      rng.tensor([Hd], dtype),
    ],
  };
}

/** Fastest of `repeats` timed runs (ms) after a warm-up run; one run when the warm-up took over 2 s. */
function fastestMs(fn: () => void, repeats: number): number {
  const t0 = performance.now();
  fn();
  const warm = performance.now() - t0;
  if (warm > 2000) return warm;
  let best = Infinity;
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    fn();
    best = Math.min(best, performance.now() - start);
  }
  return best;
}

/** ms of forward (no graph) and of forward + backward with the kernels of `mode`. */
function measure(c: Case, mode: 'js' | 'auto', repeats: number): { forward: number; forwardBackward: number } {
  const old = setGemmBackend(mode);
  try {
    const inputs = c.inputs(new Random(1));
    const leaves = inputs.map((t) => t.requireGrad());
    const weights = new Random(2).tensor(c.op(inputs).shape, c.dtype).data;
    const forward = fastestMs(() => F.noGrad(() => c.op(inputs)), repeats);
    const forwardBackward = fastestMs(() => {
      for (const t of leaves) t.grad = null;
      F.backward(c.op(leaves), weights);
    }, repeats);
    return { forward, forwardBackward };
  } finally {
    setGemmBackend(old);
  }
}

export function scansSsmBench(options: { quick?: boolean } = {}): unknown {
  if (!simdSupported()) return { skipped: 'no WebAssembly SIMD in this runtime' };
  const cases: Case[] = [
    scanCase('mamba-130m layer (d_inner 1536, N 16)', 1, options.quick ? 256 : 1024, 1536, 16, 'float32'),
    scanCase('mamba-130m layer, float64', 1, 256, 1536, 16, 'float64'),
    ssdCase('trained mamba2 fixture (8 heads × 64, N 64, chunk 64)', 1, 256, 8, 64, 1, 64, 64, 'float32'),
    ssdCase('trained mamba2 fixture', 1, options.quick ? 256 : 2048, 8, 64, 1, 64, 64, 'float32'),
    ssdCase('default model (24 heads × 16, N 16, chunk 64)', 1, 256, 24, 16, 1, 16, 64, 'float32'),
    ssdCase('mamba2-130m layer (24 heads × 64, N 128, chunk 256)', 1, options.quick ? 256 : 1024, 24, 64, 1, 128, 256, 'float32'),
    ssdCase('trained mamba2 fixture, float64', 1, 256, 8, 64, 1, 64, 64, 'float64'),
  ];
  return cases.map((c) => {
    const js = measure(c, 'js', options.quick ? 2 : 3);
    const wasm = measure(c, 'auto', options.quick ? 3 : 7);
    const row = {
      scan: c.scan,
      note: c.note,
      dtype: c.dtype,
      ...c.shape,
      jsForwardMs: round(js.forward),
      wasmForwardMs: round(wasm.forward),
      forwardSpeedup: round(js.forward / wasm.forward),
      jsForwardBackwardMs: round(js.forwardBackward),
      wasmForwardBackwardMs: round(wasm.forwardBackward),
      forwardBackwardSpeedup: round(js.forwardBackward / wasm.forwardBackward),
    };
    const dims = Object.entries(c.shape).map(([k, v]) => `${k}=${v}`).join(' ');
    log(`scans-ssm ${c.scan} ${c.dtype} ${dims}: forward JS ${row.jsForwardMs} ms, WASM ${row.wasmForwardMs} ms (×${row.forwardSpeedup}); forward+backward JS ${row.jsForwardBackwardMs} ms, WASM ${row.wasmForwardBackwardMs} ms (×${row.forwardBackwardSpeedup})`);
    return row;
  });
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.stdout.write(`${JSON.stringify(scansSsmBench({ quick: process.argv.includes('--quick') }), null, 2)}\n`);
}
