/**
 * Dense matrix-multiply kernels on flat row-major arrays. All three *accumulate* into C
 * (C += A·B), so the same kernels serve forward passes (C zeroed) and backward passes.
 *
 * `gemmNT`, `gemmNN`, `gemmTN` dispatch between two implementations with the same signature:
 *  - the WebAssembly SIMD kernels (assembly/gemm.ts, loaded by ./wasm/gemm-wasm.ts: packed
 *    panels and 4×8 float32 / 4×4 float64 register tiles; an unpacked dot-product kernel for
 *    NT with one or two rows), ≈ 5–15× the JS speed (bench/gemm.ts), used for products of at
 *    least WASM_MIN_WORK multiply-adds with N ≥ WASM_MIN_N: below that, copying the operands
 *    into the module's memory costs more than it saves;
 *  - the plain JavaScript references `gemm*Reference` below (unrolled, sums in float64
 *    registers), used for small products and wherever WebAssembly SIMD is missing.
 * float32 results differ from the references by rounding only: the WASM kernels sum in float32
 * lanes, in blocks of 256 along K (test/core/gemm-wasm.test.ts bounds the difference).
 *
 * Large products (≥ PARALLEL_MIN_WORK multiply-adds) are split by rows of C across the threads
 * of the installed parallel executor (../parallel-gemm.ts; none is installed by default, the
 * CLI installs one): the same WASM kernel on each block, so the result is the one-thread
 * result bit for bit.
 *
 * B may be a matrix of 16-bit floats (a weight kept in its stored dtype, ../stored-weight.ts):
 * the WASM path widens it while copying it in, the JS references decode it into a temporary.
 *
 * Environment variable IATTN_KERNELS (read once, when this module loads):
 *   unset or 'auto'  sized dispatch as above;
 *   'js'             the JS references everywhere (e.g. to rule the WASM kernels out of a bug);
 *   'wasm'           the WASM kernels for every size (testing), JS only if WASM is unavailable.
 * Any other value is an error.
 */
import type { FloatArray } from '../dtype.js';
import { gemmParallel } from '../parallel-gemm.js';
import { decodeHalf, isHalfArray } from '../stored-weight.js';
import type { GemmOperand } from '../stored-weight.js';
import { gemmWasm } from './wasm/gemm-wasm.js';

export type GemmBackendMode = 'auto' | 'js' | 'wasm';

/** Smallest M·N·K sent to WASM in 'auto' mode (measured crossover: 1–4 K multiply-adds). */
export const WASM_MIN_WORK = 4096;
/** Narrowest C sent to WASM in 'auto' mode (the register tile is 8 float32 columns wide). */
export const WASM_MIN_N = 4;

function modeFromEnvironment(): GemmBackendMode {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const raw = (env?.IATTN_KERNELS ?? '').trim().toLowerCase();
  if (raw === '' || raw === 'auto') return 'auto';
  if (raw === 'js' || raw === 'wasm') return raw;
  throw new Error(`IATTN_KERNELS should be 'js', 'wasm' or 'auto', got '${env?.IATTN_KERNELS}'`);
}

let mode: GemmBackendMode = modeFromEnvironment();

/** The dispatch mode in force (from IATTN_KERNELS unless set by setGemmBackend). */
export function gemmBackend(): GemmBackendMode {
  return mode;
}

/** Overrides the dispatch mode (benchmarks, tests); returns the previous one. */
export function setGemmBackend(next: GemmBackendMode): GemmBackendMode {
  const old = mode;
  mode = next;
  return old;
}

/** Whether 'auto' mode sends an M×N×K product to the WASM kernels. */
export function wasmPreferred(M: number, N: number, K: number): boolean {
  return N >= WASM_MIN_N && M * N * K >= WASM_MIN_WORK;
}

function wantWasm(M: number, N: number, K: number): boolean {
  return mode === 'auto' ? wasmPreferred(M, N, K) : mode === 'wasm';
}

/** The JS references' B: a 16-bit B decoded into a temporary of C's type (then at offset 0). */
function floatB(B: GemmOperand, bOff: number, count: number, like: FloatArray): FloatArray {
  if (!isHalfArray(B)) return B;
  const out = like instanceof Float64Array ? new Float64Array(count) : new Float32Array(count);
  decodeHalf(B, bOff, out, 0, count);
  return out;
}

/** C[M,N] += A[M,K] · B[N,K]ᵀ (linear layers y = x Wᵀ). */
export function gemmNT(M: number, N: number, K: number, A: FloatArray, aOff: number, B: GemmOperand, bOff: number, C: FloatArray, cOff: number): void {
  if (wantWasm(M, N, K) && (gemmParallel('NT', M, N, K, A, aOff, B, bOff, C, cOff) || gemmWasm('NT', M, N, K, A, aOff, B, bOff, C, cOff))) return;
  gemmNTReference(M, N, K, A, aOff, floatB(B, bOff, N * K, C), isHalfArray(B) ? 0 : bOff, C, cOff);
}

/** C[M,N] += A[M,K] · B[K,N]. */
export function gemmNN(M: number, N: number, K: number, A: FloatArray, aOff: number, B: GemmOperand, bOff: number, C: FloatArray, cOff: number): void {
  if (wantWasm(M, N, K) && (gemmParallel('NN', M, N, K, A, aOff, B, bOff, C, cOff) || gemmWasm('NN', M, N, K, A, aOff, B, bOff, C, cOff))) return;
  gemmNNReference(M, N, K, A, aOff, floatB(B, bOff, K * N, C), isHalfArray(B) ? 0 : bOff, C, cOff);
}

/** C[M,N] += A[K,M]ᵀ · B[K,N] (weight gradients: dW = dyᵀ x). */
export function gemmTN(M: number, N: number, K: number, A: FloatArray, aOff: number, B: GemmOperand, bOff: number, C: FloatArray, cOff: number): void {
  if (wantWasm(M, N, K) && (gemmParallel('TN', M, N, K, A, aOff, B, bOff, C, cOff) || gemmWasm('TN', M, N, K, A, aOff, B, bOff, C, cOff))) return;
  gemmTNReference(M, N, K, A, aOff, floatB(B, bOff, K * N, C), isHalfArray(B) ? 0 : bOff, C, cOff);
}

/**
 * Reference for gemmNT: C[M,N] += A[M,K] · B[N,K]ᵀ (dot products of rows). Register block of
 * 2 rows of A × 4 rows of B: 6 loads feed 8 multiply-adds per k.
 */
export function gemmNTReference(M: number, N: number, K: number, A: FloatArray, aOff: number, B: FloatArray, bOff: number, C: FloatArray, cOff: number): void {
  let i = 0;
  for (; i + 1 < M; i += 2) {
    const a0 = aOff + i * K;
    const a1 = a0 + K;
    const c0 = cOff + i * N;
    const c1 = c0 + N;
    let j = 0;
    for (; j + 3 < N; j += 4) {
      const b0 = bOff + j * K;
      const b1 = b0 + K;
      const b2 = b1 + K;
      const b3 = b2 + K;
      let s00 = 0;
      let s01 = 0;
      let s02 = 0;
      let s03 = 0;
      let s10 = 0;
      let s11 = 0;
      let s12 = 0;
      let s13 = 0;
      for (let k = 0; k < K; k++) {
        const x0 = A[a0 + k];
        const x1 = A[a1 + k];
        const w0 = B[b0 + k];
        const w1 = B[b1 + k];
        const w2 = B[b2 + k];
        const w3 = B[b3 + k];
        s00 += x0 * w0;
        s01 += x0 * w1;
        s02 += x0 * w2;
        s03 += x0 * w3;
        s10 += x1 * w0;
        s11 += x1 * w1;
        s12 += x1 * w2;
        s13 += x1 * w3;
      }
      C[c0 + j] += s00;
      C[c0 + j + 1] += s01;
      C[c0 + j + 2] += s02;
      C[c0 + j + 3] += s03;
      C[c1 + j] += s10;
      C[c1 + j + 1] += s11;
      C[c1 + j + 2] += s12;
      C[c1 + j + 3] += s13;
    }
    for (; j < N; j++) {
      const b = bOff + j * K;
      let s0 = 0;
      let s1 = 0;
      for (let k = 0; k < K; k++) {
        s0 += A[a0 + k] * B[b + k];
        s1 += A[a1 + k] * B[b + k];
      }
      C[c0 + j] += s0;
      C[c1 + j] += s1;
    }
  }
  if (i < M) gemvNT(N, K, A, aOff + i * K, B, bOff, C, cOff + i * N);
}

/** c[N] += B[N,K] · a[K] (the last odd row of gemmNTReference). */
function gemvNT(N: number, K: number, A: FloatArray, aOff: number, B: FloatArray, bOff: number, C: FloatArray, cOff: number): void {
  for (let j = 0; j < N; j++) {
    const b = bOff + j * K;
    let s = 0;
    for (let k = 0; k < K; k++) s += A[aOff + k] * B[b + k];
    C[cOff + j] += s;
  }
}

/** Reference for gemmNN: C[M,N] += A[M,K] · B[K,N]. */
export function gemmNNReference(M: number, N: number, K: number, A: FloatArray, aOff: number, B: FloatArray, bOff: number, C: FloatArray, cOff: number): void {
  let i = 0;
  for (; i + 3 < M; i += 4) {
    const c0 = cOff + i * N;
    const c1 = c0 + N;
    const c2 = c1 + N;
    const c3 = c2 + N;
    for (let k = 0; k < K; k++) {
      const a0 = A[aOff + i * K + k];
      const a1 = A[aOff + (i + 1) * K + k];
      const a2 = A[aOff + (i + 2) * K + k];
      const a3 = A[aOff + (i + 3) * K + k];
      const b = bOff + k * N;
      for (let j = 0; j < N; j++) {
        const bv = B[b + j];
        C[c0 + j] += a0 * bv;
        C[c1 + j] += a1 * bv;
        C[c2 + j] += a2 * bv;
        C[c3 + j] += a3 * bv;
      }
    }
  }
  for (; i < M; i++) {
    const c = cOff + i * N;
    for (let k = 0; k < K; k++) {
      const av = A[aOff + i * K + k];
      const b = bOff + k * N;
      for (let j = 0; j < N; j++) C[c + j] += av * B[b + j];
    }
  }
}

/** Reference for gemmTN: C[M,N] += A[K,M]ᵀ · B[K,N]. */
export function gemmTNReference(M: number, N: number, K: number, A: FloatArray, aOff: number, B: FloatArray, bOff: number, C: FloatArray, cOff: number): void {
  for (let k = 0; k < K; k++) {
    const b = bOff + k * N;
    let i = 0;
    for (; i + 3 < M; i += 4) {
      const a0 = A[aOff + k * M + i];
      const a1 = A[aOff + k * M + i + 1];
      const a2 = A[aOff + k * M + i + 2];
      const a3 = A[aOff + k * M + i + 3];
      const c0 = cOff + i * N;
      const c1 = c0 + N;
      const c2 = c1 + N;
      const c3 = c2 + N;
      for (let j = 0; j < N; j++) {
        const bv = B[b + j];
        C[c0 + j] += a0 * bv;
        C[c1 + j] += a1 * bv;
        C[c2 + j] += a2 * bv;
        C[c3 + j] += a3 * bv;
      }
    }
    for (; i < M; i++) {
      const av = A[aOff + k * M + i];
      const c = cOff + i * N;
      for (let j = 0; j < N; j++) C[c + j] += av * B[b + j];
    }
  }
}
