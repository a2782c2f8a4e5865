/**
 * Matrix products across threads: C[M,N] += op(A)·op(B) with the rows of C cut into one block
 * per thread of the installed executor (./parallel.ts), every block computed by the same WASM
 * kernel (./kernels/wasm/gemm-wasm.ts). An entry of C sums its products in an order that does
 * not depend on M or on the rows around it, so the result equals the one-thread product bit
 * for bit.
 *
 * The calling thread computes the first block straight from the caller's arrays. The workers'
 * blocks go through one shared staging buffer (a SharedArrayBuffer, grown on demand, reused):
 * their rows of op(A) and C are copied in, computed by the workers, and C's rows copied back.
 * B is shared as it is when it already lives on a SharedArrayBuffer (weights loaded while an
 * executor is installed do: src/models/parameters.ts) and staged once per call otherwise. The
 * workers' rows go in rounds so that the staged rows stay under STAGE_BUDGET bytes.
 *
 * Only products of at least PARALLEL_MIN_WORK = 2^22 multiply-adds are split. The fixed cost of
 * a split is one round trip through the workers, ≈ 10–20 µs (bench section gemm-threads,
 * `roundTripMicroseconds`), plus each thread copying and packing all of B and the workers' rows
 * going through the staging buffer: measured as CPU time (gemm-threads `cpuRatio`, robust to a
 * busy machine), a split costs ×1.1–1.2 the CPU of one thread from 2^22 multiply-adds up but
 * up to ×1.6 at 2^21 (128³, 64×256×256). One thread runs ≈ 20 G multiply-adds per second
 * (float32, WASM), so 2^22 is ≈ 200 µs of work, which two idle cores finish in ≈ 130 µs. A B
 * that has to be staged (not on shared memory) costs a copy of N·K values on the calling thread
 * first, so such products are split only from 64 rows up.
 */
import type { FloatArray } from './dtype.js';
import { wasmGemmReady, gemmWasmStrided } from './kernels/wasm/gemm-wasm.js';
import type { GemmVariant } from './kernels/wasm/gemm-wasm.js';
import { defineTask, isShared, parallelExecutor, sharedFloatArray, splitRange } from './parallel.js';
import type { Range } from './parallel.js';
import { isHalfArray } from './stored-weight.js';
import type { GemmOperand } from './stored-weight.js';

/** Smallest M·N·K split across threads (see the header). */
export let PARALLEL_MIN_WORK = 1 << 22;
/** Rows of C per block are multiples of this, and no block is shorter. */
export const ROW_GRAIN = 8;
/**
 * Bytes of the workers' rows of op(A) and C staged at once (B aside): bounds the staging buffer
 * and each worker's WASM memory; a round costs one round trip and one copy of B per worker.
 */
let STAGE_BUDGET = 16 << 20;
/** Largest unshared B staged per call; a larger one keeps the product on one thread. */
const STAGE_B_MAX = 64 << 20;
/** Fewest rows of C for which an unshared B is worth staging. */
const UNSHARED_B_MIN_ROWS = 64;

/** Sets the split threshold in multiply-adds (tests, measurements); returns the old one. */
export function setParallelMinWork(work: number): number {
  const old = PARALLEL_MIN_WORK;
  PARALLEL_MIN_WORK = work;
  return old;
}

/** Sets the staging budget in bytes (tests use a tiny one to exercise rounds); returns the old one. */
export function setStageBudget(bytes: number): number {
  const old = STAGE_BUDGET;
  STAGE_BUDGET = Math.max(1, bytes);
  return old;
}

/** What a worker gets: its rows are [start, end) of the staged block of R rows. */
interface GemmRowsArgs {
  variant: GemmVariant;
  N: number;
  K: number;
  /** Staged rows: op(A) as [R, K] (NT, NN) or [K, R] (TN), C as [R, N]. */
  R: number;
  A: FloatArray;
  C: FloatArray;
  B: GemmOperand;
  bOff: number;
}

const gemmRows = defineTask(import.meta.url, 'gemm-rows', (a: GemmRowsArgs, start: number, end: number) => {
  const tn = a.variant === 'TN';
  const ldb = a.variant === 'NT' ? a.K : a.N;
  const ok = gemmWasmStrided(a.variant, end - start, a.N, a.K, a.A, tn ? start : start * a.K, tn ? a.R : a.K, a.B, a.bOff, ldb, a.C, start * a.N, a.N);
  if (!ok) throw new Error('the WebAssembly GEMM is unavailable in this worker');
});

/** The staging buffer, as float32 and float64 views of one SharedArrayBuffer. */
let stage32: Float32Array = new Float32Array(0);
let stage64: Float64Array = new Float64Array(0);
let stage16: Uint16Array = new Uint16Array(0);

function stageBytes(bytes: number): void {
  if (stage32.byteLength >= bytes) return;
  stage32 = sharedFloatArray('float32', Math.ceil(bytes / 8) * 2);
  stage64 = new Float64Array(stage32.buffer);
  stage16 = new Uint16Array(stage32.buffer);
}

/** Copies rows×cols at src[off] (row stride ld) to dst[at] (row stride cols). */
function pack(dst: FloatArray | Uint16Array, at: number, src: FloatArray | Uint16Array, off: number, rows: number, cols: number, ld: number): void {
  if (cols === ld) dst.set(src.subarray(off, off + rows * cols), at);
  else for (let r = 0; r < rows; r++) dst.set(src.subarray(off + r * ld, off + r * ld + cols), at + r * cols);
}

let busy = false;

/**
 * C[M,N] += op(A)·op(B) across the executor's threads (shapes as in ./kernels/gemm.ts). Returns
 * false, doing nothing, when the product is too small, no executor is ready, WASM is missing, or
 * B is too large to stage; the caller then runs it on one thread.
 */
export function gemmParallel(variant: GemmVariant, M: number, N: number, K: number, A: FloatArray, aOff: number, B: GemmOperand, bOff: number, C: FloatArray, cOff: number): boolean {
  const ex = parallelExecutor();
  if (ex === null || busy || M * N * K < PARALLEL_MIN_WORK || M < 2 * ROW_GRAIN || !ex.ready() || !wasmGemmReady()) return false;
  const S = C instanceof Float64Array ? 8 : 4;
  const half = isHalfArray(B) ? B : null;
  const bArray = half !== null ? half.bits : (B as FloatArray);
  const bCount = K * N;
  const bShared = isShared(bArray);
  const bBytes = bShared ? 0 : bCount * bArray.BYTES_PER_ELEMENT;
  if (bBytes > STAGE_B_MAX || (!bShared && M < UNSHARED_B_MIN_ROWS)) return false;
  const threads = ex.threads;
  // Rows per round: the workers' share of a round fits STAGE_BUDGET.
  const rowBytes = (K + N) * S;
  const workerRows = Math.max(ROW_GRAIN, Math.floor(STAGE_BUDGET / rowBytes));
  const roundRows = Math.max(ROW_GRAIN * threads, Math.floor((workerRows * threads) / (threads - 1) / ROW_GRAIN) * ROW_GRAIN);
  const bAt = 0;
  const aAt = Math.ceil(bBytes / 64) * 64;
  busy = true;
  try {
    stageBytes(aAt + Math.min(M, roundRows) * rowBytes + 64);
    let stagedB: GemmOperand = B;
    let stagedBOff = bOff;
    if (!bShared) {
      // B's elements [bOff, bOff + K·N) at the start of the staging buffer.
      if (half !== null) {
        pack(stage16, bAt / 2, half.bits, bOff, 1, bCount, bCount);
        stagedB = { format: half.format, bits: stage16.subarray(bAt / 2, bAt / 2 + bCount) };
      } else {
        const view = S === 8 ? stage64 : stage32;
        pack(view, bAt / S, B as FloatArray, bOff, 1, bCount, bCount);
        stagedB = view.subarray(bAt / S, bAt / S + bCount);
      }
      stagedBOff = 0;
    }
    const view: FloatArray = S === 8 ? stage64 : stage32;
    const tn = variant === 'TN';
    for (let r0 = 0; r0 < M; r0 += roundRows) {
      const rows = Math.min(roundRows, M - r0);
      const ranges = splitRange(rows, threads, ROW_GRAIN, ROW_GRAIN);
      const mine = ranges[0];
      const w0 = r0 + mine.end; // the workers' rows are [w0, r0 + rows)
      const R = rows - mine.end;
      const aStage = aAt / S;
      const cStage = aStage + R * K;
      if (R > 0) {
        if (tn) pack(view, aStage, A, aOff + w0, K, R, M);
        else pack(view, aStage, A, aOff + w0 * K, R, K, K);
        pack(view, cStage, C, cOff + w0 * N, R, N, N);
      }
      const args: GemmRowsArgs = { variant, N, K, R, A: view.subarray(aStage, aStage + R * K), C: view.subarray(cStage, cStage + R * N), B: stagedB, bOff: stagedBOff };
      const theirs: Range[] = ranges.slice(1).map((g) => ({ start: g.start - mine.end, end: g.end - mine.end }));
      const m0 = r0 + mine.start;
      ex.run(gemmRows, args, theirs, () => {
        gemmWasmStrided(variant, mine.end - mine.start, N, K, A, tn ? aOff + m0 : aOff + m0 * K, tn ? M : K, B, bOff, variant === 'NT' ? K : N, C, cOff + m0 * N, N);
      });
      if (R > 0) C.set(view.subarray(cStage, cStage + R * N), cOff + w0 * N);
    }
  } finally {
    busy = false;
  }
  return true;
}
