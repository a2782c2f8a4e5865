/**
 * Chunked gated linear attention (GLA, and RetNet with a constant decay) in WebAssembly SIMD:
 * one chunk of n ≤ Q time steps for every head, forward and backward, the chunkwise form and
 * the gradient formulas of src/scans/gated-linear-attention.ts (the JS reference; derivation at
 * its `glaBackward`), written as products of small float64 matrices:
 *   forward   o   = Q̃ S_in + P v,            Q̃ = q ⊙ e^{a},  P_is = Σ_j q_i[j] k_s[j] e^{a_i[j]−a_s[j]} (s ≤ i)
 *             S_out = diag(e^{a_n}) S_in + K̃ᵀ v,   K̃ = k ⊙ e^{a_n − a}
 *   backward  dP = do vᵀ,  dv += Pᵀ do + K̃ dS,  U = do S_inᵀ,  R = v dSᵀ,
 *             dS_in = diag(e^{a_n}) dS + Q̃ᵀ do,   and the element-wise terms of dq, dk, da.
 * The products go through two register-blocked f64x2 kernels (gemmNN64 for A·B and Aᵀ·B,
 * gemmNT64 for A·Bᵀ, 4×4 and 4×2 tiles, no packing: the operands of one chunk live in L2);
 * P and the intra-chunk dq, dk keep the JS kernel's running product e^{a_i − a_s} =
 * Π e^{γ_k} (no positive exponent), vectorised over the key dimension.
 *
 * Layouts (element strides): q, k, γ [n, H, K] and v, o [n, H, V] rows of T as the tensors
 * store them; states S [H, K, V] f64. `work` is float64 scratch of glaWorkBytes(Q, K, V) bytes.
 */
import { acc, ld, st, vexp } from './rnn-math';

const F8: usize = 8;

// @ts-ignore: decorator
@inline function at(base: usize, i: i32): usize {
  return base + <usize>i * F8;
}

// ---- f64 products ---------------------------------------------------------------------------

/**
 * C[M,N] += op(A)[M,K] · B[K,N], f64, row-major with leading dimensions lda, ldb, ldc
 * (elements); op(A) = A (A stored [M,K]) or, with transA, Aᵀ (A stored [K,M]). Tiles of 4
 * rows × 4 columns in eight f64x2 accumulators; edges in narrower tiles.
 */
function gemmNN64(transA: bool, M: i32, N: i32, K: i32, A: usize, lda: i32, B: usize, ldb: i32, C: usize, ldc: i32): void {
  // With 8 rows or more, B's full 4-column strips are first copied into contiguous panels
  // (K × 4 each, at wPack): the kernel then reads B sequentially instead of one row per step.
  const packed = M >= 8 && N >= 4 && wPack != 0;
  if (packed) packB4(B, ldb, K, N, wPack);
  if (transA) gemmNNCore(true, packed, M, N, K, A, lda, B, ldb, C, ldc);
  else gemmNNCore(false, packed, M, N, K, A, lda, B, ldb, C, ldc);
}

/** dst[(j/4)·K·4 + p·4 + c] = B[p·ldb + j + c] for the ⌊N/4⌋ full strips of 4 columns. */
function packB4(B: usize, ldb: i32, K: i32, N: i32, dst: usize): void {
  const strips = N >> 2;
  for (let q = 0; q < strips; q++) {
    let src = at(B, q * 4);
    let d = dst + <usize>(q * K) * 32;
    for (let p = 0; p < K; p++) {
      v128.store(d, v128.load(src));
      v128.store(d, v128.load(src, 16), 16);
      src += <usize>ldb * F8;
      d += 32;
    }
  }
}

// @ts-ignore: decorator
@inline function aIndex(transA: bool, i: i32, p: i32, lda: i32): i32 {
  return transA ? p * lda + i : i * lda + p;
}

// @ts-ignore: decorator
@inline function gemmNNCore(transA: bool, packed: bool, M: i32, N: i32, K: i32, A: usize, lda: i32, B: usize, ldb: i32, C: usize, ldc: i32): void {
  const bStep = packed ? <usize>32 : <usize>ldb * F8;
  const bStart = packed ? wPack : B;
  const aStep = transA ? <usize>lda * F8 : F8;
  let j = 0;
  for (; j + 4 <= N; j += 4) {
    let i = 0;
    for (; i + 4 <= M; i += 4) {
      let c00 = f64x2.splat(0), c01 = f64x2.splat(0), c10 = f64x2.splat(0), c11 = f64x2.splat(0);
      let c20 = f64x2.splat(0), c21 = f64x2.splat(0), c30 = f64x2.splat(0), c31 = f64x2.splat(0);
      // Pointers walk down the depth: B one row (ldb) per step, A one element (or, transposed, one row)
      let pb = packed ? bStart + <usize>(j * K) * F8 : at(B, j);
      let pa0 = at(A, aIndex(transA, i, 0, lda));
      let pa1 = at(A, aIndex(transA, i + 1, 0, lda));
      let pa2 = at(A, aIndex(transA, i + 2, 0, lda));
      let pa3 = at(A, aIndex(transA, i + 3, 0, lda));
      for (let p = 0; p < K; p++) {
        const b0 = v128.load(pb);
        const b1 = v128.load(pb, 16);
        const a0 = v128.load64_splat(pa0);
        const a1 = v128.load64_splat(pa1);
        const a2 = v128.load64_splat(pa2);
        const a3 = v128.load64_splat(pa3);
        c00 = f64x2.add(c00, f64x2.mul(a0, b0));
        c01 = f64x2.add(c01, f64x2.mul(a0, b1));
        c10 = f64x2.add(c10, f64x2.mul(a1, b0));
        c11 = f64x2.add(c11, f64x2.mul(a1, b1));
        c20 = f64x2.add(c20, f64x2.mul(a2, b0));
        c21 = f64x2.add(c21, f64x2.mul(a2, b1));
        c30 = f64x2.add(c30, f64x2.mul(a3, b0));
        c31 = f64x2.add(c31, f64x2.mul(a3, b1));
        pb += bStep;
        pa0 += aStep;
        pa1 += aStep;
        pa2 += aStep;
        pa3 += aStep;
      }
      addRow4(at(C, i * ldc + j), c00, c01);
      addRow4(at(C, (i + 1) * ldc + j), c10, c11);
      addRow4(at(C, (i + 2) * ldc + j), c20, c21);
      addRow4(at(C, (i + 3) * ldc + j), c30, c31);
    }
    for (; i < M; i++) {
      let c0 = f64x2.splat(0), c1 = f64x2.splat(0);
      for (let p = 0; p < K; p++) {
        const b = at(B, p * ldb + j);
        const a0 = v128.load64_splat(at(A, aIndex(transA, i, p, lda)));
        c0 = f64x2.add(c0, f64x2.mul(a0, v128.load(b)));
        c1 = f64x2.add(c1, f64x2.mul(a0, v128.load(b, 16)));
      }
      addRow4(at(C, i * ldc + j), c0, c1);
    }
  }
  for (; j < N; j++) {
    for (let i = 0; i < M; i++) {
      let s: f64 = 0;
      for (let p = 0; p < K; p++) s += load<f64>(at(A, aIndex(transA, i, p, lda))) * load<f64>(at(B, p * ldb + j));
      store<f64>(at(C, i * ldc + j), load<f64>(at(C, i * ldc + j)) + s);
    }
  }
}

// @ts-ignore: decorator
@inline function addRow4(c: usize, x0: v128, x1: v128): void {
  v128.store(c, f64x2.add(v128.load(c), x0));
  v128.store(c, f64x2.add(v128.load(c, 16), x1), 16);
}

// @ts-ignore: decorator
@inline function hsum(x: v128): f64 {
  return f64x2.extract_lane(x, 0) + f64x2.extract_lane(x, 1);
}

/**
 * C[M,N] += A[M,K] · B[N,K]ᵀ, f64 (dot products of rows): tiles of 4 rows of A × 2 rows of B,
 * two k at a time; odd K and edge rows in scalar tails.
 */
function gemmNT64(M: i32, N: i32, K: i32, A: usize, lda: i32, B: usize, ldb: i32, C: usize, ldc: i32): void {
  const K2 = K & ~1;
  let i = 0;
  for (; i + 4 <= M; i += 4) {
    const r0 = at(A, i * lda);
    const r1 = at(A, (i + 1) * lda);
    const r2 = at(A, (i + 2) * lda);
    const r3 = at(A, (i + 3) * lda);
    let j = 0;
    for (; j + 2 <= N; j += 2) {
      const s0 = at(B, j * ldb);
      const s1 = at(B, (j + 1) * ldb);
      let c00 = f64x2.splat(0), c01 = f64x2.splat(0), c10 = f64x2.splat(0), c11 = f64x2.splat(0);
      let c20 = f64x2.splat(0), c21 = f64x2.splat(0), c30 = f64x2.splat(0), c31 = f64x2.splat(0);
      for (let p = 0; p < K2; p += 2) {
        const o = <usize>p * F8;
        const b0 = v128.load(s0 + o);
        const b1 = v128.load(s1 + o);
        const a0 = v128.load(r0 + o);
        const a1 = v128.load(r1 + o);
        const a2 = v128.load(r2 + o);
        const a3 = v128.load(r3 + o);
        c00 = f64x2.add(c00, f64x2.mul(a0, b0));
        c01 = f64x2.add(c01, f64x2.mul(a0, b1));
        c10 = f64x2.add(c10, f64x2.mul(a1, b0));
        c11 = f64x2.add(c11, f64x2.mul(a1, b1));
        c20 = f64x2.add(c20, f64x2.mul(a2, b0));
        c21 = f64x2.add(c21, f64x2.mul(a2, b1));
        c30 = f64x2.add(c30, f64x2.mul(a3, b0));
        c31 = f64x2.add(c31, f64x2.mul(a3, b1));
      }
      let t00 = hsum(c00), t01 = hsum(c01), t10 = hsum(c10), t11 = hsum(c11);
      let t20 = hsum(c20), t21 = hsum(c21), t30 = hsum(c30), t31 = hsum(c31);
      if (K2 < K) {
        const o = <usize>K2 * F8;
        const b0 = load<f64>(s0 + o);
        const b1 = load<f64>(s1 + o);
        const a0 = load<f64>(r0 + o);
        const a1 = load<f64>(r1 + o);
        const a2 = load<f64>(r2 + o);
        const a3 = load<f64>(r3 + o);
        t00 += a0 * b0;
        t01 += a0 * b1;
        t10 += a1 * b0;
        t11 += a1 * b1;
        t20 += a2 * b0;
        t21 += a2 * b1;
        t30 += a3 * b0;
        t31 += a3 * b1;
      }
      addPair(at(C, i * ldc + j), t00, t01);
      addPair(at(C, (i + 1) * ldc + j), t10, t11);
      addPair(at(C, (i + 2) * ldc + j), t20, t21);
      addPair(at(C, (i + 3) * ldc + j), t30, t31);
    }
    for (; j < N; j++) {
      for (let r = 0; r < 4; r++) addDot(i + r, j, K, A, lda, B, ldb, C, ldc);
    }
  }
  for (; i < M; i++) {
    for (let j = 0; j < N; j++) addDot(i, j, K, A, lda, B, ldb, C, ldc);
  }
}

// @ts-ignore: decorator
@inline function addPair(c: usize, x0: f64, x1: f64): void {
  store<f64>(c, load<f64>(c) + x0);
  store<f64>(c, load<f64>(c, 8) + x1, 8);
}

/** C[i, j] += A[i, :] · B[j, :]. */
function addDot(i: i32, j: i32, K: i32, A: usize, lda: i32, B: usize, ldb: i32, C: usize, ldc: i32): void {
  const a = at(A, i * lda);
  const b = at(B, j * ldb);
  let s = f64x2.splat(0);
  let p = 0;
  for (; p + 2 <= K; p += 2) s = f64x2.add(s, f64x2.mul(v128.load(a + <usize>p * F8), v128.load(b + <usize>p * F8)));
  let t = hsum(s);
  if (p < K) t += load<f64>(a + <usize>p * F8) * load<f64>(b + <usize>p * F8);
  const c = at(C, i * ldc + j);
  store<f64>(c, load<f64>(c) + t);
}

/** Test entry points for the two product kernels (f64, byte addresses). */
export function gemm64_nn(transA: i32, M: i32, N: i32, K: i32, A: usize, lda: i32, B: usize, ldb: i32, C: usize, ldc: i32, pack: usize): void {
  wPack = pack;
  gemmNN64(transA != 0, M, N, K, A, lda, B, ldb, C, ldc);
}

export function gemm64_nt(M: i32, N: i32, K: i32, A: usize, lda: i32, B: usize, ldb: i32, C: usize, ldc: i32): void {
  gemmNT64(M, N, K, A, lda, B, ldb, C, ldc);
}

// ---- vector helpers on f64 scratch ----------------------------------------------------------

/** dst[0:len] = 0. */
// @ts-ignore: decorator
@inline function zero(dst: usize, len: i32): void {
  memory.fill(dst, 0, <usize>len * F8);
}

/** dst[i, 0:len] (f64, stride len) = src[i·srcStride + 0:len] (T) for n rows. */
function widenRows<T>(dst: usize, src: usize, srcStride: i32, n: i32, len: i32): void {
  const S = sizeof<T>();
  for (let i = 0; i < n; i++) {
    const s = src + <usize>(i * srcStride) * S;
    const d = at(dst, i * len);
    let j = 0;
    for (; j + 2 <= len; j += 2) st<f64>(d + <usize>j * F8, ld<T>(s + <usize>j * S, 2), 2);
    if (j < len) st<f64>(d + <usize>j * F8, ld<T>(s + <usize>j * S, 1), 1);
  }
}

/** dst[i·dstStride + 0:len] (T) += src[i, 0:len] (f64, stride len) for n rows. */
function addRows<T>(dst: usize, dstStride: i32, src: usize, n: i32, len: i32): void {
  const S = sizeof<T>();
  for (let i = 0; i < n; i++) {
    const d = dst + <usize>(i * dstStride) * S;
    const s = at(src, i * len);
    let j = 0;
    for (; j + 2 <= len; j += 2) acc<T>(d + <usize>j * S, ld<f64>(s + <usize>j * F8, 2), 2);
    if (j < len) acc<T>(d + <usize>j * S, ld<f64>(s + <usize>j * F8, 1), 1);
  }
}

/** dst[i·dstStride + 0:len] (T) = src[i, 0:len] (f64) for n rows. */
function storeRows<T>(dst: usize, dstStride: i32, src: usize, n: i32, len: i32): void {
  const S = sizeof<T>();
  for (let i = 0; i < n; i++) {
    const d = dst + <usize>(i * dstStride) * S;
    const s = at(src, i * len);
    let j = 0;
    for (; j + 2 <= len; j += 2) st<T>(d + <usize>j * S, ld<f64>(s + <usize>j * F8, 2), 2);
    if (j < len) st<T>(d + <usize>j * S, ld<f64>(s + <usize>j * F8, 1), 1);
  }
}

/** Σ_j x[j]·y[j] over len f64. */
function dot(x: usize, y: usize, len: i32): f64 {
  let s = f64x2.splat(0);
  let j = 0;
  for (; j + 2 <= len; j += 2) s = f64x2.add(s, f64x2.mul(v128.load(x + <usize>j * F8), v128.load(y + <usize>j * F8)));
  let t = hsum(s);
  if (j < len) t += load<f64>(x + <usize>j * F8) * load<f64>(y + <usize>j * F8);
  return t;
}

// ---- scratch layout -------------------------------------------------------------------------

/** Bytes of float64 scratch for chunks of up to Q steps with K key and V value dims per head. */
export function glaWorkBytes(Q: i32, K: i32, V: i32): usize {
  return <usize>(10 * Q * K + 3 * Q * V + 2 * Q * Q + 3 * K + max(K, Q) * V + 64) * F8;
}

/*
 * Per-head scratch: f64 arrays carved from `work` for a chunk of n steps (module globals, so
 * that nothing is allocated: the JS side owns all memory above __heap_base).
 */
let wA: usize = 0; // [n, K] local cumulative log-decay a
let wSd: usize = 0; // [n, K] per-step decay e^γ
let wQf: usize = 0; // [n, K] q in f64
let wKf: usize = 0; // [n, K] k in f64
let wDq: usize = 0; // [n, K]
let wDk: usize = 0; // [n, K]
let wDa: usize = 0; // [n, K]
let wX1: usize = 0; // [n, K] Q̃ or K̃
let wX2: usize = 0; // [n, K] F = e^{a_n − a}
let wR: usize = 0; // [n, K] R or U
let wVf: usize = 0; // [n, V] v in f64
let wDof: usize = 0; // [n, V] do in f64
let wOut: usize = 0; // [n, V] o or dv
let wP: usize = 0; // [n, n] P
let wDp: usize = 0; // [n, n] dP
let wSpan: usize = 0; // [K]
let wEa: usize = 0; // [K] e^{a_n}
let wDaLast: usize = 0; // [K]
let wPack: usize = 0; // [max(K, n) · V] packed B panels (0: no packing)

function layout(work: usize, n: i32, K: i32, V: i32): void {
  let o = work;
  const nK = <usize>(n * K) * F8;
  const nV = <usize>(n * V) * F8;
  wA = o;
  wSd = o += nK;
  wQf = o += nK;
  wKf = o += nK;
  wDq = o += nK;
  wDk = o += nK;
  wDa = o += nK;
  wX1 = o += nK;
  wX2 = o += nK;
  wR = o += nK;
  wVf = o += nK;
  wDof = o += nV;
  wOut = o += nV;
  wP = o += nV;
  wDp = o += <usize>(n * n) * F8;
  wSpan = o += <usize>(n * n) * F8;
  wEa = o += <usize>K * F8;
  wDaLast = o += <usize>K * F8;
  wPack = o + <usize>K * F8;
}

/**
 * a (local cumulative log-decay), sd = e^γ, qf, kf of head h: [n, K] f64 from the T rows.
 */
function loadHead<T>(n: i32, H: i32, K: i32, h: i32, q: usize, k: usize, g: usize): void {
  const S = sizeof<T>();
  const kRow = H * K;
  const off = <usize>(h * K) * S;
  widenRows<T>(wQf, q + off, kRow, n, K);
  widenRows<T>(wKf, k + off, kRow, n, K);
  widenRows<T>(wA, g + off, kRow, n, K);
  for (let i = 0; i < n; i++) {
    const ai = at(wA, i * K);
    const si = at(wSd, i * K);
    let j = 0;
    for (; j + 2 <= K; j += 2) {
      const o = <usize>j * F8;
      const gamma = v128.load(ai + o);
      v128.store(si + o, vexp(gamma));
      if (i > 0) v128.store(ai + o, f64x2.add(v128.load(ai + o - <usize>K * F8), gamma));
    }
    if (j < K) {
      const o = <usize>j * F8;
      const gamma = ld<f64>(ai + o, 1);
      st<f64>(si + o, vexp(gamma), 1);
      if (i > 0) st<f64>(ai + o, f64x2.add(ld<f64>(ai + o - <usize>K * F8, 1), gamma), 1);
    }
  }
}

/** dst[i, j] = e^{a[i, j]} · src[i, j] over [n, K]. */
function scaleByDecay(dst: usize, src: usize, a: usize, n: i32, K: i32): void {
  const len = n * K;
  let j = 0;
  for (; j + 2 <= len; j += 2) {
    const o = <usize>j * F8;
    v128.store(dst + o, f64x2.mul(vexp(v128.load(a + o)), v128.load(src + o)));
  }
  if (j < len) {
    const o = <usize>j * F8;
    st<f64>(dst + o, f64x2.mul(vexp(ld<f64>(a + o, 1)), ld<f64>(src + o, 1)), 1);
  }
}

/** F[s, j] = e^{a_n[j] − a_s[j]} and ea[j] = e^{a_n[j]} (a_n: the chunk's last row). */
function outDecays(n: i32, K: i32): void {
  const last = at(wA, (n - 1) * K);
  for (let s = 0; s < n; s++) {
    const as = at(wA, s * K);
    const fs = at(wX2, s * K);
    let j = 0;
    for (; j + 2 <= K; j += 2) {
      const o = <usize>j * F8;
      v128.store(fs + o, vexp(f64x2.sub(v128.load(last + o), v128.load(as + o))));
    }
    if (j < K) {
      const o = <usize>j * F8;
      st<f64>(fs + o, vexp(f64x2.sub(ld<f64>(last + o, 1), ld<f64>(as + o, 1))), 1);
    }
  }
  let j = 0;
  for (; j + 2 <= K; j += 2) v128.store(at(wEa, j), vexp(v128.load(at(last, j))));
  if (j < K) st<f64>(at(wEa, j), vexp(ld<f64>(at(last, j), 1)), 1);
}

/** x[i, 0:K] *= y[i, 0:K] over n rows (f64). */
function mulInPlace(x: usize, y: usize, len: i32): void {
  let j = 0;
  for (; j + 2 <= len; j += 2) {
    const o = <usize>j * F8;
    v128.store(x + o, f64x2.mul(v128.load(x + o), v128.load(y + o)));
  }
  if (j < len) store<f64>(x + <usize>j * F8, load<f64>(x + <usize>j * F8) * load<f64>(y + <usize>j * F8));
}

/** S[j, :] *= ea[j] for the K rows of a [K, V] state. */
function scaleRows(S: usize, ea: usize, K: i32, V: i32): void {
  for (let j = 0; j < K; j++) {
    const f = f64x2.splat(load<f64>(at(ea, j)));
    const row = at(S, j * V);
    let e = 0;
    for (; e + 2 <= V; e += 2) v128.store(row + <usize>e * F8, f64x2.mul(v128.load(row + <usize>e * F8), f));
    if (e < V) store<f64>(row + <usize>e * F8, load<f64>(row + <usize>e * F8) * f64x2.extract_lane(f, 0));
  }
}

// ---- forward --------------------------------------------------------------------------------

/**
 * One chunk of n steps for all H heads: o rows [n, H, V] (T) from q, k, γ [n, H, K] and
 * v [n, H, V] (T), and the states S [H, K, V] f64: S_in on entry (read when hasIn ≠ 0, i.e.
 * not the first chunk), S_out on return (when hasOut ≠ 0, i.e. not the last chunk).
 */
export function gla_forward_f32(n: i32, H: i32, K: i32, V: i32, hasIn: i32, hasOut: i32, q: usize, k: usize, g: usize, v: usize, o: usize, S: usize, work: usize): void {
  glaForward<f32>(n, H, K, V, hasIn, hasOut, q, k, g, v, o, S, work);
}

export function gla_forward_f64(n: i32, H: i32, K: i32, V: i32, hasIn: i32, hasOut: i32, q: usize, k: usize, g: usize, v: usize, o: usize, S: usize, work: usize): void {
  glaForward<f64>(n, H, K, V, hasIn, hasOut, q, k, g, v, o, S, work);
}

function glaForward<T>(n: i32, H: i32, K: i32, V: i32, hasIn: i32, hasOut: i32, q: usize, k: usize, g: usize, v: usize, o: usize, S: usize, work: usize): void {
  layout(work, n, K, V);
  const TS = sizeof<T>();
  for (let h = 0; h < H; h++) {
    const Sh = at(S, h * K * V);
    loadHead<T>(n, H, K, h, q, k, g);
    widenRows<T>(wVf, v + <usize>(h * V) * TS, H * V, n, V);
    zero(wOut, n * V);
    if (hasIn != 0) {
      // o += Q̃ S_in,  Q̃ = q ⊙ e^{a}
      scaleByDecay(wX1, wQf, wA, n, K);
      gemmNN64(false, n, V, K, wX1, K, Sh, V, wOut, V);
    }
    intraScores(n, K);
    gemmNN64(false, n, V, n, wP, n, wVf, V, wOut, V); // o += P v
    storeRows<T>(o + <usize>(h * V) * TS, H * V, wOut, n, V);
    if (hasOut != 0) {
      // S_out = diag(e^{a_n}) S_in + K̃ᵀ v,  K̃ = k ⊙ F
      outDecays(n, K);
      if (hasIn != 0) scaleRows(Sh, wEa, K, V);
      else zero(Sh, K * V);
      memory.copy(wX1, wKf, <usize>(n * K) * F8);
      mulInPlace(wX1, wX2, n * K);
      gemmNN64(true, K, V, n, wX1, K, wVf, V, Sh, V);
    }
  }
}

/**
 * P[i, s] = Σ_j q_i[j] k_s[j] e^{a_i[j] − a_s[j]} for s ≤ i, 0 above the diagonal, with the
 * running product span = q_i ⊙ e^{a_i − a_s} (s descending; e^{a_i − a_s} = Π_{k=s+1..i} e^{γ_k}).
 */
function intraScores(n: i32, K: i32): void {
  zero(wP, n * n);
  const bytes = <usize>K * F8;
  for (let i = 0; i < n; i++) {
    memory.copy(wSpan, at(wQf, i * K), bytes);
    for (let s = i; s >= 0; s--) {
      store<f64>(at(wP, i * n + s), dot(wSpan, at(wKf, s * K), K));
      mulInPlace(wSpan, at(wSd, s * K), K);
    }
  }
}

// ---- backward -------------------------------------------------------------------------------

/**
 * Gradients of one chunk for all H heads, accumulated (+=) into gq, gk, gγ [n, H, K] and
 * gv [n, H, V] (T). Sin [H, K, V] f64 is the chunk's entry state (read when hasIn ≠ 0); dS
 * [H, K, V] f64 holds ∂loss/∂S_out on entry (read when hasOut ≠ 0) and ∂loss/∂S_in on return
 * (when hasIn ≠ 0), for the previous chunk.
 */
export function gla_backward_f32(n: i32, H: i32, K: i32, V: i32, hasIn: i32, hasOut: i32, q: usize, k: usize, g: usize, v: usize, dO: usize, gq: usize, gk: usize, gg: usize, gv: usize, Sin: usize, dS: usize, work: usize): void {
  glaBackward<f32>(n, H, K, V, hasIn, hasOut, q, k, g, v, dO, gq, gk, gg, gv, Sin, dS, work);
}

export function gla_backward_f64(n: i32, H: i32, K: i32, V: i32, hasIn: i32, hasOut: i32, q: usize, k: usize, g: usize, v: usize, dO: usize, gq: usize, gk: usize, gg: usize, gv: usize, Sin: usize, dS: usize, work: usize): void {
  glaBackward<f64>(n, H, K, V, hasIn, hasOut, q, k, g, v, dO, gq, gk, gg, gv, Sin, dS, work);
}

function glaBackward<T>(n: i32, H: i32, K: i32, V: i32, hasIn: i32, hasOut: i32, q: usize, k: usize, g: usize, v: usize, dO: usize, gq: usize, gk: usize, gg: usize, gv: usize, Sin: usize, dS: usize, work: usize): void {
  layout(work, n, K, V);
  const TS = sizeof<T>();
  const nK = n * K;
  for (let h = 0; h < H; h++) {
    const Sh = at(Sin, h * K * V);
    const dSh = at(dS, h * K * V);
    loadHead<T>(n, H, K, h, q, k, g);
    widenRows<T>(wVf, v + <usize>(h * V) * TS, H * V, n, V);
    widenRows<T>(wDof, dO + <usize>(h * V) * TS, H * V, n, V);
    zero(wDq, nK);
    zero(wDk, nK);
    zero(wOut, n * V);

    // Intra-chunk: dP = do vᵀ; dq, dk by the running product; da = q ⊙ dq − k ⊙ dk; dv += Pᵀ do
    zero(wDp, n * n);
    gemmNT64(n, n, V, wDof, V, wVf, V, wDp, n);
    intraGradients(n, K);
    for (let j = 0; j < nK; j++) {
      const o = <usize>j * F8;
      store<f64>(wDa + o, load<f64>(wQf + o) * load<f64>(wDq + o) - load<f64>(wKf + o) * load<f64>(wDk + o));
    }
    gemmNN64(true, n, V, n, wP, n, wDof, V, wOut, V);

    outDecays(n, K);
    if (hasOut != 0) {
      // Terms of S_out = diag(e^{a_n}) S_in + K̃ᵀ v with dS = ∂loss/∂S_out
      zero(wDaLast, K);
      if (hasIn != 0) {
        for (let j = 0; j < K; j++) store<f64>(at(wDaLast, j), load<f64>(at(wEa, j)) * dot(at(dSh, j * V), at(Sh, j * V), V));
      }
      memory.copy(wX1, wKf, <usize>nK * F8);
      mulInPlace(wX1, wX2, nK); // K̃ = k ⊙ F
      zero(wR, nK);
      gemmNT64(n, K, V, wVf, V, dSh, V, wR, K); // R = v dSᵀ
      for (let s = 0; s < n; s++) {
        for (let j = 0; j < K; j++) {
          const x = s * K + j;
          const r = load<f64>(at(wR, x));
          store<f64>(at(wDk, x), load<f64>(at(wDk, x)) + load<f64>(at(wX2, x)) * r);
          const z = load<f64>(at(wX1, x)) * r;
          store<f64>(at(wDa, x), load<f64>(at(wDa, x)) - z);
          store<f64>(at(wDaLast, j), load<f64>(at(wDaLast, j)) + z);
        }
      }
      const lastRow = at(wDa, (n - 1) * K);
      for (let j = 0; j < K; j++) store<f64>(at(lastRow, j), load<f64>(at(lastRow, j)) + load<f64>(at(wDaLast, j)));
      gemmNN64(false, n, V, K, wX1, K, dSh, V, wOut, V); // dv += K̃ dS
    }

    if (hasIn != 0) {
      // State carried in: U = do S_inᵀ; dq += e^{a} ⊙ U; da += q ⊙ e^{a} ⊙ U
      zero(wR, nK);
      gemmNT64(n, K, V, wDof, V, Sh, V, wR, K);
      scaleByDecay(wX1, wQf, wA, n, K); // Q̃
      for (let x = 0; x < nK; x++) store<f64>(at(wDa, x), load<f64>(at(wDa, x)) + load<f64>(at(wX1, x)) * load<f64>(at(wR, x)));
      scaleByDecay(wR, wR, wA, n, K); // e^{a} ⊙ U
      for (let x = 0; x < nK; x++) store<f64>(at(wDq, x), load<f64>(at(wDq, x)) + load<f64>(at(wR, x)));
      // dS_in = diag(e^{a_n}) dS + Q̃ᵀ do
      if (hasOut != 0) scaleRows(dSh, wEa, K, V);
      else zero(dSh, K * V);
      gemmNN64(true, K, V, n, wX1, K, wDof, V, dSh, V);
    }

    // dγ_{t0+i} += Σ_{i' ≥ i} da_{i'} (a is a cumulative sum of γ)
    for (let i = n - 2; i >= 0; i--) {
      const row = at(wDa, i * K);
      const next = at(wDa, (i + 1) * K);
      for (let j = 0; j < K; j++) store<f64>(at(row, j), load<f64>(at(row, j)) + load<f64>(at(next, j)));
    }
    const kOff = <usize>(h * K) * TS;
    addRows<T>(gq + kOff, H * K, wDq, n, K);
    addRows<T>(gk + kOff, H * K, wDk, n, K);
    addRows<T>(gg + kOff, H * K, wDa, n, K);
    addRows<T>(gv + <usize>(h * V) * TS, H * V, wOut, n, V);
  }
}

/**
 * Intra-chunk pairs s ≤ i with the running product span = e^{a_i − a_s}:
 *   P[i, s] = Σ_j q_i[j] k_s[j] span[j],  dq_i += dP_is k_s ⊙ span,  dk_s += dP_is q_i ⊙ span.
 */
function intraGradients(n: i32, K: i32): void {
  zero(wP, n * n);
  const K2 = K & ~1;
  for (let i = 0; i < n; i++) {
    const qi = at(wQf, i * K);
    const dqi = at(wDq, i * K);
    for (let j = 0; j < K; j++) store<f64>(at(wSpan, j), 1.0);
    for (let s = i; s >= 0; s--) {
      const ks = at(wKf, s * K);
      const dks = at(wDk, s * K);
      const sds = at(wSd, s * K);
      const d = load<f64>(at(wDp, i * n + s));
      const dv = f64x2.splat(d);
      let score = f64x2.splat(0);
      for (let j = 0; j < K2; j += 2) {
        const o = <usize>j * F8;
        const sp = v128.load(wSpan + o);
        const kSpan = f64x2.mul(v128.load(ks + o), sp);
        const qSpan = f64x2.mul(v128.load(qi + o), sp);
        score = f64x2.add(score, f64x2.mul(v128.load(qi + o), kSpan));
        v128.store(dqi + o, f64x2.add(v128.load(dqi + o), f64x2.mul(dv, kSpan)));
        v128.store(dks + o, f64x2.add(v128.load(dks + o), f64x2.mul(dv, qSpan)));
        v128.store(wSpan + o, f64x2.mul(sp, v128.load(sds + o)));
      }
      let sc = hsum(score);
      if (K2 < K) {
        const o = <usize>K2 * F8;
        const sp = load<f64>(wSpan + o);
        const kSpan = load<f64>(ks + o) * sp;
        sc += load<f64>(qi + o) * kSpan;
        store<f64>(dqi + o, load<f64>(dqi + o) + d * kSpan);
        store<f64>(dks + o, load<f64>(dks + o) + d * load<f64>(qi + o) * sp);
        store<f64>(wSpan + o, sp * load<f64>(sds + o));
      }
      store<f64>(at(wP, i * n + s), sc);
    }
  }
}
