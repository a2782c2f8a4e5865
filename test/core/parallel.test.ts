/**
 * The parallel layer: range splitting, parallelFor with and without an executor, the Node
 * executor (start, stop, errors and crashes surface as ParallelErrors, never a hang; workers
 * never keep the process alive), IATTN_THREADS, and parallel GEMM equal to the one-thread GEMM
 * bit for bit on random odd shapes (all layouts, both dtypes, 16-bit B, staged rounds). Also
 * passes with `--pool=threads` (vitest running this file in a worker thread).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { threadId } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FloatArray } from '../../src/core/dtype.js';
import { gemmNN, gemmNT, gemmTN } from '../../src/core/kernels/gemm.js';
import { simdSupported, type GemmVariant } from '../../src/core/kernels/wasm/gemm-wasm.js';
import { ParallelError, parallelExecutor, parallelFor, setParallelExecutor, sharedFloatArray, splitRange } from '../../src/core/parallel.js';
import { setParallelMinWork, setStageBudget } from '../../src/core/parallel-gemm.js';
import type { GemmOperand } from '../../src/core/stored-weight.js';
import { installNodeExecutor, NodeExecutor, threadsFromEnvironment } from '../../src/io/parallel-node.js';
import { loadModel } from '../../src/io/load-model.js';
import { StoredWeight } from '../../src/core/stored-weight.js';
import { isShared, parallelThreads } from '../../src/core/parallel.js';
import { noGrad, Random } from '../../src/core/index.js';
import { numberToBf16, numberToF16 } from '../../src/io/half.js';
import { exitWorker, scaleChannels, throwAt } from './parallel-tasks.js';
import { randomArray, rng } from '../helpers/random-arrays.js';

type Gemm = (M: number, N: number, K: number, A: FloatArray, aOff: number, B: GemmOperand, bOff: number, C: FloatArray, cOff: number) => void;
const GEMM: Record<GemmVariant, Gemm> = { NT: gemmNT, NN: gemmNN, TN: gemmTN };

/** Indices where two arrays differ bit for bit (NaN equals NaN). */
function mismatches(a: FloatArray, b: FloatArray): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) n++;
  return n;
}

describe('splitRange', () => {
  it.each([
    [0, 2, 1, 1], [1, 2, 1, 1], [17, 2, 8, 8], [100, 3, 8, 8], [1000, 2, 1, 1], [7, 16, 1, 1], [64, 4, 8, 16], [1001, 3, 8, 8],
  ])('count %i, %i parts, grain %i, min %i: contiguous cover, grain-aligned', (count, parts, grain, min) => {
    const ranges = splitRange(count, parts, grain, min);
    expect(ranges.length).toBeLessThanOrEqual(parts);
    let at = 0;
    for (const [i, r] of ranges.entries()) {
      expect(r.start).toBe(at);
      expect(r.end).toBeGreaterThan(r.start);
      if (i < ranges.length - 1) expect(r.end % grain).toBe(0);
      at = r.end;
    }
    expect(at).toBe(count);
    if (count >= parts * Math.max(grain, min)) expect(ranges.length).toBe(parts);
  });
});

describe('parallelFor without an executor', () => {
  it('runs every channel on the calling thread', () => {
    expect(parallelExecutor()).toBeNull();
    const C = 5;
    const L = 3;
    const x = sharedFloatArray('float64', C * L);
    for (let i = 0; i < x.length; i++) x[i] = i;
    const y = sharedFloatArray('float64', C * L);
    const who = new Int32Array(new SharedArrayBuffer(4 * C)).fill(-1);
    parallelFor(scaleChannels, C, { x, y, who, length: L, factor: 3 });
    expect(Array.from(y)).toEqual(Array.from(x, (v) => 3 * v));
    expect(Array.from(who)).toEqual([threadId, threadId, threadId, threadId, threadId]);
  });

  it('refuses typed arrays that workers could not share', () => {
    const x = new Float64Array(4);
    expect(() => parallelFor(scaleChannels, 2, { x, y: sharedFloatArray('float64', 4), who: new Int32Array(new SharedArrayBuffer(8)), length: 2, factor: 1 })).toThrow(/'x' is not on a SharedArrayBuffer/);
  });
});

describe('IATTN_THREADS', () => {
  it('unset means every available core; 1 means no workers; anything else is an error', () => {
    expect(threadsFromEnvironment({})).toBeGreaterThanOrEqual(1);
    expect(threadsFromEnvironment({ IATTN_THREADS: '1' })).toBe(1);
    expect(threadsFromEnvironment({ IATTN_THREADS: ' 3 ' })).toBe(3);
    for (const bad of ['0', '-2', '1.5', 'two']) expect(() => threadsFromEnvironment({ IATTN_THREADS: bad })).toThrow(/IATTN_THREADS should be a positive integer/);
  });

  it('one thread installs nothing, so everything runs on the calling thread', () => {
    expect(installNodeExecutor(1)).toBeNull();
    expect(parallelExecutor()).toBeNull();
  });

  it('a bad value makes iattn exit with a one-line reason', () => {
    const bin = fileURLToPath(new URL('../../bin/iattn.js', import.meta.url));
    const run = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8', env: { ...process.env, IATTN_THREADS: 'all' }, timeout: 60_000 });
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toBe("iattn: IATTN_THREADS should be a positive integer (1 = no worker threads), got 'all'");
  });
});

describe('NodeExecutor', () => {
  it('starts on first use, runs ranges in workers, and stops cleanly', async () => {
    const ex = new NodeExecutor(3, { takeBack: false });
    setParallelExecutor(ex);
    try {
      await ex.whenReady();
      const C = 37;
      const L = 11;
      const next = rng(1);
      const x = sharedFloatArray('float64', C * L);
      for (let i = 0; i < x.length; i++) x[i] = next();
      const y = sharedFloatArray('float64', C * L);
      const who = new Int32Array(new SharedArrayBuffer(4 * C)).fill(-1);
      parallelFor(scaleChannels, C, { x, y, who, length: L, factor: -2 }, { minPerThread: 4 });
      expect(mismatches(y, x.map((v) => -2 * v) as Float64Array)).toBe(0);
      expect(new Set(who).size).toBe(3); // the calling thread and two workers
      expect(who[0]).toBe(threadId);
      expect(ex.workerRanges).toBe(2);
    } finally {
      await ex.close();
      await ex.close(); // idempotent
    }
    expect(parallelExecutor()).toBeNull();
    expect(ex.ready()).toBe(false);
  });

  it('the calling thread takes back the ranges of workers that have not started (a starved worker)', async () => {
    const ex = new NodeExecutor(3, { claimDelayMs: 300 });
    setParallelExecutor(ex);
    try {
      await ex.whenReady();
      const C = 12;
      const x = sharedFloatArray('float64', C);
      for (let i = 0; i < C; i++) x[i] = i + 1;
      const y = sharedFloatArray('float64', C);
      const who = new Int32Array(new SharedArrayBuffer(4 * C)).fill(-1);
      const started = Date.now();
      parallelFor(scaleChannels, C, { x, y, who, length: 1, factor: 2 });
      expect(Date.now() - started).toBeLessThan(250); // did not wait for the workers
      expect(Array.from(y)).toEqual(Array.from(x, (v) => 2 * v));
      expect(Array.from(who)).toEqual(new Array(C).fill(threadId));
      expect(ex.takenBack).toBe(2);
      // The workers then find their jobs gone and keep serving later ones.
      await new Promise((resolve) => setTimeout(resolve, 400));
      const ex2 = ex as unknown as { options: { takeBack?: boolean } };
      ex2.options.takeBack = false;
      parallelFor(scaleChannels, C, { x, y, who, length: 1, factor: 3 });
      expect(Array.from(y)).toEqual(Array.from(x, (v) => 3 * v));
      expect(new Set(who).size).toBe(3);
    } finally {
      await ex.close();
    }
  });

  it('a range that throws in a worker throws a ParallelError naming the task; the pool stays usable', async () => {
    const ex = new NodeExecutor(2, { takeBack: false });
    setParallelExecutor(ex);
    try {
      await ex.whenReady();
      expect(() => parallelFor(throwAt, 10, { bad: 7, caller: threadId })).toThrow(ParallelError);
      expect(() => parallelFor(throwAt, 10, { bad: 7, caller: threadId })).toThrow(/task 'test-throw-at'.*RangeError: boom at channel 7/);
      expect(ex.ready()).toBe(true);
      parallelFor(throwAt, 10, { bad: 100, caller: threadId });
    } finally {
      await ex.close();
    }
  });

  it('a worker that dies mid-task surfaces as a ParallelError, then work runs on the calling thread', async () => {
    const ex = new NodeExecutor(2, { takeBack: false });
    setParallelExecutor(ex);
    try {
      await ex.whenReady();
      const started = Date.now();
      expect(() => parallelFor(exitWorker, 10, { caller: threadId })).toThrow(/stopped \(it crashed or exited\)/);
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(ex.ready()).toBe(false);
      expect(ex.failure).toMatch(/parallel worker 1/);
      const who = new Int32Array(new SharedArrayBuffer(4 * 4)).fill(-1);
      parallelFor(scaleChannels, 4, { x: sharedFloatArray('float64', 4), y: sharedFloatArray('float64', 4), who, length: 1, factor: 1 });
      expect(Array.from(who)).toEqual([threadId, threadId, threadId, threadId]);
    } finally {
      await ex.close();
    }
  });

  it('workers never keep the process alive', () => {
    const script = [
      "import { NodeExecutor } from './src/io/parallel-node.ts';",
      "import { setParallelExecutor } from './src/core/parallel.ts';",
      "import { gemmNT } from './src/core/kernels/gemm.ts';",
      'const ex = new NodeExecutor(2); setParallelExecutor(ex); await ex.whenReady();',
      'const n = 256; const a = new Float32Array(n * n).fill(1); const c = new Float32Array(n * n);',
      'gemmNT(n, n, n, a, 0, a, 0, c, 0);',
      'console.log(ex.workerRanges + ex.takenBack, c[0]);',
    ].join('\n');
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(run.error).toBeUndefined();
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe('1 256');
    expect(run.status).toBe(0);
  });
});

describe.runIf(simdSupported())('parallel GEMM equals the one-thread GEMM bit for bit', () => {
  let ex: NodeExecutor;
  let minWork: number;
  beforeAll(async () => {
    ex = new NodeExecutor(3, { takeBack: false }); // so that workers really compute their rows
    await ex.whenReady();
    minWork = setParallelMinWork(0); // split every product that has rows enough
  });
  afterAll(async () => {
    setParallelMinWork(minWork);
    setParallelExecutor(null);
    await ex.close();
  });

  /**
   * C = C₀ + op(A)·op(B) once on one thread and once across threads; returns both. B is on a
   * SharedArrayBuffer (as loaded weights are) unless `staged`.
   */
  function both(variant: GemmVariant, dtype: 'float32' | 'float64', M: number, N: number, K: number, seed: number, half?: 'bf16' | 'f16', staged = false) {
    const next = rng(seed);
    const off = { a: 3, b: 5, c: 7 };
    const A = randomArray(dtype, off.a + M * K + 4, next);
    const C0 = randomArray(dtype, off.c + M * N + 4, next);
    let B: GemmOperand = randomArray(dtype, off.b + K * N + 4, next);
    if (!staged) {
      const shared = sharedFloatArray(dtype, B.length);
      shared.set(B);
      B = shared;
    }
    if (half !== undefined) {
      const encode = half === 'bf16' ? numberToBf16 : numberToF16;
      const bits = new Uint16Array(new SharedArrayBuffer(2 * B.length));
      for (let i = 0; i < B.length; i++) bits[i] = encode(B[i]);
      B = { format: half, bits };
    }
    setParallelExecutor(null);
    const one = C0.slice();
    GEMM[variant](M, N, K, A, off.a, B, off.b, one, off.c);
    setParallelExecutor(ex);
    const before = ex.workerRanges;
    const many = C0.slice();
    GEMM[variant](M, N, K, A, off.a, B, off.b, many, off.c);
    return { one, many, split: ex.workerRanges > before };
  }

  // All large enough for the WASM path (N ≥ 4, M·N·K ≥ 4096), which is the one split across threads.
  const shapes: Array<[number, number, number]> = [[16, 4, 64], [17, 5, 49], [33, 65, 17], [100, 7, 300], [257, 129, 1000], [61, 300, 513]];
  for (const variant of ['NT', 'NN', 'TN'] as const) {
    for (const dtype of ['float32', 'float64'] as const) {
      it(`${variant} ${dtype} on odd shapes`, () => {
        for (const [i, [M, N, K]] of shapes.entries()) {
          const { one, many, split } = both(variant, dtype, M, N, K, 100 + i);
          expect(split, `${M}×${N}×${K} was split`).toBe(true);
          expect(mismatches(one, many), `${M}×${N}×${K}`).toBe(0);
        }
      });
    }
  }

  it.each(['bf16', 'f16'] as const)('16-bit B (%s weights) in NT and NN', (half) => {
    for (const variant of ['NT', 'NN'] as const) {
      const { one, many, split } = both(variant, 'float32', 131, 77, 300, 7, half);
      expect(split).toBe(true);
      expect(mismatches(one, many)).toBe(0);
    }
  });

  it('in rounds when the staged rows exceed the budget, with B staged (not shared)', () => {
    const old = setStageBudget(4096);
    try {
      for (const variant of ['NT', 'NN', 'TN'] as const) {
        const { one, many, split } = both(variant, 'float32', 203, 19, 41, 9, undefined, true);
        expect(split).toBe(true);
        expect(mismatches(one, many)).toBe(0);
      }
    } finally {
      setStageBudget(old);
    }
  });

  it('rows taken back from a starved worker give the same result', async () => {
    const starved = new NodeExecutor(2, { claimDelayMs: 200 });
    await starved.whenReady();
    const saved = ex;
    ex = starved;
    try {
      for (const variant of ['NT', 'TN'] as const) {
        const { one, many } = both(variant, 'float32', 77, 33, 129, 11);
        expect(mismatches(one, many)).toBe(0);
      }
      expect(starved.takenBack).toBe(2);
    } finally {
      ex = saved;
      setParallelExecutor(ex);
      await starved.close();
    }
  });

  it.each(['decoded', 'stored'] as const)('a model loaded with workers installed (%s weights) keeps its weights on shared memory and computes the logits of one thread, bit for bit', (weights) => {
    setParallelExecutor(ex);
    setParallelMinWork(minWork);
    try {
      expect(parallelThreads()).toBe(3);
      const { model } = loadModel(fileURLToPath(new URL('../fixtures/trained/mamba2', import.meta.url)), { weights });
      for (const [name, t] of model.parameters) expect(isShared(t instanceof StoredWeight && t.stored !== null ? t.stored.bits : t.data), name).toBe(true);
      const rng = new Random(5);
      const ids = Int32Array.from({ length: 300 }, () => rng.int(model.config.vocabSize));
      const before = ex.workerRanges;
      const many = noGrad(() => model.forwardIds(ids, 1, ids.length)).data;
      expect(ex.workerRanges).toBeGreaterThan(before);
      setParallelExecutor(null);
      const one = noGrad(() => model.forwardIds(ids, 1, ids.length)).data;
      expect(mismatches(one, many)).toBe(0);
    } finally {
      setParallelMinWork(0);
      setParallelExecutor(ex);
    }
  });

  it('products with too few rows stay on the calling thread (fewer than 16, or 64 when B must be staged)', () => {
    for (const [M, staged] of [[2, false], [15, false], [63, true]] as const) {
      const { one, many, split } = both('NT', 'float32', M, 500, 500, 3, undefined, staged);
      expect(split, `M = ${M}`).toBe(false);
      expect(mismatches(one, many)).toBe(0);
    }
  });
});
