/**
 * Dense matrix-multiply kernels on flat row-major arrays. All three *accumulate* into C
 * (C += A·B), so the same kernels serve forward passes (C zeroed) and backward passes.
 * Inner loops are unrolled four ways to reuse loaded values; plain JavaScript reference
 * versions for the WebAssembly kernels of later work.
 */
import type { FloatArray } from '../dtype.js';

/** C[M,N] += A[M,K] · B[N,K]ᵀ (dot products of rows: linear layers y = x Wᵀ). */
export function gemmNT(M: number, N: number, K: number, A: FloatArray, aOff: number, B: FloatArray, bOff: number, C: FloatArray, cOff: number): void {
  for (let i = 0; i < M; i++) {
    const a = aOff + i * K;
    const c = cOff + i * N;
    let j = 0;
    for (; j + 3 < N; j += 4) {
      const b0 = bOff + j * K;
      const b1 = b0 + K;
      const b2 = b1 + K;
      const b3 = b2 + K;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let k = 0; k < K; k++) {
        const av = A[a + k];
        s0 += av * B[b0 + k];
        s1 += av * B[b1 + k];
        s2 += av * B[b2 + k];
        s3 += av * B[b3 + k];
      }
      C[c + j] += s0;
      C[c + j + 1] += s1;
      C[c + j + 2] += s2;
      C[c + j + 3] += s3;
    }
    for (; j < N; j++) {
      const b = bOff + j * K;
      let s = 0;
      for (let k = 0; k < K; k++) s += A[a + k] * B[b + k];
      C[c + j] += s;
    }
  }
}

/** C[M,N] += A[M,K] · B[K,N]. */
export function gemmNN(M: number, N: number, K: number, A: FloatArray, aOff: number, B: FloatArray, bOff: number, C: FloatArray, cOff: number): void {
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

/** C[M,N] += A[K,M]ᵀ · B[K,N] (weight gradients: dW = dyᵀ x). */
export function gemmTN(M: number, N: number, K: number, A: FloatArray, aOff: number, B: FloatArray, bOff: number, C: FloatArray, cOff: number): void {
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
