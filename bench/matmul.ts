/**
 * Bench section `matmul`: GFLOP/s of F.matmul (C = A·B) and F.linear (y = x·Wᵀ) on n×n×n
 * products, n = 256, 512, 1024, float32 and float64, measured in the same run three ways: the
 * pure TypeScript reference (IATTN_KERNELS=js), the WASM kernels on one thread
 * (IATTN_THREADS=1), and the WASM kernels across the installed executor's threads.
 */
import * as F from '../src/core/index.js';
import { Random } from '../src/core/index.js';
import { setGemmBackend } from '../src/core/kernels/gemm.js';
import { parallelExecutor, parallelThreads, setParallelExecutor } from '../src/core/parallel.js';
import { round, timeMs } from './measure.js';

const log = (line: string) => process.stderr.write(`${line}\n`);

export interface MatmulRow {
  dtype: 'float32' | 'float64';
  n: number;
  threads: number;
  /** F.matmul GFLOP/s: reference, WASM one thread, WASM `threads` threads. */
  referenceGflops: number;
  oneThreadGflops: number;
  threadsGflops: number;
  /** F.linear (the NT layout of linear layers), same three ways. */
  linearReferenceGflops: number;
  linearOneThreadGflops: number;
  linearThreadsGflops: number;
}

export function matmulBench(): MatmulRow[] {
  const rows: MatmulRow[] = [];
  const executor = parallelExecutor();
  const threads = parallelThreads();
  for (const dtype of ['float32', 'float64'] as const) {
    for (const n of [256, 512, 1024]) {
      const rng = new Random(n);
      const a = rng.tensor([n, n], dtype);
      const b = rng.tensor([n, n], dtype);
      const gflops = (fn: () => unknown, repeats: number) => round((2 * n * n * n) / timeMs(() => void fn(), repeats) / 1e6);
      const repeats = n >= 1024 ? 3 : 5;
      const measure = (fn: () => unknown) => {
        setGemmBackend('js');
        setParallelExecutor(null);
        const reference = gflops(fn, n >= 1024 ? 1 : 3);
        setGemmBackend('auto');
        const one = gflops(fn, repeats);
        setParallelExecutor(executor);
        const many = executor === null ? one : gflops(fn, repeats);
        return [reference, one, many];
      };
      const [referenceGflops, oneThreadGflops, threadsGflops] = measure(() => F.matmul(a, b));
      const [linearReferenceGflops, linearOneThreadGflops, linearThreadsGflops] = measure(() => F.linear(a, b));
      rows.push({ dtype, n, threads, referenceGflops, oneThreadGflops, threadsGflops, linearReferenceGflops, linearOneThreadGflops, linearThreadsGflops });
      log(`matmul ${dtype} ${n}³: TS reference ${referenceGflops}, WASM 1 thread ${oneThreadGflops}, WASM ${threads} threads ${threadsGflops} GFLOP/s (linear: ${linearReferenceGflops}, ${linearOneThreadGflops}, ${linearThreadsGflops})`);
    }
  }
  return rows;
}
