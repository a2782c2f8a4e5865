/**
 * Dense matrix-multiply kernels on flat row-major arrays. All three *accumulate* into C
 * (C += A·B), so the same kernels serve forward passes (C zeroed) and backward passes.
 * Inner loops are unrolled four ways to reuse loaded values; plain JavaScript reference
 * versions for the WebAssembly kernels of later work.
 */
import type { FloatArray } from '../dtype.js';

/**
 * C[M,N] += A[M,K] · B[N,K]ᵀ (dot products of rows: linear layers y = x Wᵀ). Register block of
 * 2 rows of A × 4 rows of B: 6 loads feed 8 multiply-adds per k.
 */
export function gemmNT(M: number, N: number, K: number, A: FloatArray, aOff: number, B: FloatArray, bOff: number, C: FloatArray, cOff: number): void {
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

/** c[N] += B[N,K] · a[K] (the last odd row of gemmNT). */
function gemvNT(N: number, K: number, A: FloatArray, aOff: number, B: FloatArray, bOff: number, C: FloatArray, cOff: number): void {
  for (let j = 0; j < N; j++) {
    const b = bOff + j * K;
    let s = 0;
    for (let k = 0; k < K; k++) s += A[aOff + k] * B[b + k];
    C[cOff + j] += s;
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
