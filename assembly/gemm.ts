/**
 * Packed, register-blocked GEMM for WebAssembly SIMD (AssemblyScript source of
 * src/core/kernels/wasm/gemm-binary.ts; rebuild with `npm run build:wasm`).
 *
 *   C[m,n] += op(A)[m,k] · op(B)[k,n]
 *   op(A)(i,p) = transA ? A[p·lda + i] : A[i·lda + p]      (A stored [m,k] or [k,m])
 *   op(B)(p,j) = transB ? B[j·ldb + p] : B[p·ldb + j]      (B stored [k,n] or [n,k])
 *
 * gemmNT = (transA 0, transB 1), gemmNN = (0, 0), gemmTN = (1, 0). All pointers are byte
 * addresses in this module's memory, all strides are in elements; the JS side
 * (src/core/kernels/wasm/gemm-wasm.ts) copies the operands in and C back out.
 *
 * The loop nest is the GotoBLAS/BLIS one (Goto & van de Geijn, "Anatomy of High-Performance
 * Matrix Multiplication", TOMS 2008, §6; Van Zee & van de Geijn, BLIS, TOMS 2015, Fig. 2):
 *   for jc (NC columns of C):  for pc (KC of k): pack B[pc:+KC, jc:+NC] into KC×NR panels
 *     for ic (MC rows):  pack A[ic:+MC, pc:+KC] into MR×KC panels
 *       for jr (NR), ir (MR):  micro-kernel C[MR,NR] += Apanel · Bpanel  (registers only)
 * The micro-kernel tile is MR rows × 2 vectors (NR = 8 float32 or 4 float64 columns);
 * partial edge tiles are computed into a zeroed scratch tile (panels are zero padded) and
 * added back element by element, so every entry of C receives exactly the products of its
 * own row and column (NaN and ±Inf propagate as in the reference).
 *
 * Numbered versions (style §15), each tested against the JS reference
 * (test/core/gemm-wasm.test.ts) and benchmarked (bench/gemm.ts):
 *   v1: MR = 4 (8 accumulators), scalar packing.
 *   v2: MR = 6 (12 accumulators + 2 B vectors + 1 A splat = 15 of 16 SIMD registers): slower
 *       than v1 under V8 (≈ 30 vs 46 GFLOP/s float32 at 512³, quiet machine), presumably
 *       register spills in V8's code for the loop.
 *   v3: v1 with a SIMD-transposing pack of B for transB (the linear layers' weights); the pack
 *       is a small share of the time, so v1 and v3 are within measurement noise at 512³.
 * gemvNT: C[m,n] += A[m,k]·B[n,k]ᵀ for m of 1–2 (one token through a linear layer), dot
 * products straight from B: packing B would cost as much as the product itself.
 */

/*
 * Block sizes, in elements, for both dtypes. Measured on Zen 5 (48 KiB L1d, 1 MiB L2):
 * KC 256–512, MC 96–192, NC 512–2048 are all within noise (±5 %) at 512³–2048³; these are
 * the conservative choice for laptops with smaller caches.
 */
/** Depth of a packed panel (k elements). A B micro-panel, KC × NR, is 8 KiB: L1. */
const KC: i32 = 256;
/** Rows of A packed at once (a multiple of both MR = 4 and 6): MC × KC is 96/192 KiB: L2. */
const MC: i32 = 96;
/** Columns of B packed at once: KC × NC is 1/2 MiB (float32/float64): L2/L3. */
const NC: i32 = 1024;
/** Largest MR of any version; sizes the scratch tile. */
const MR_MAX: i32 = 6;

/** Bytes of scratch the kernels need at `work` (packed A, packed B, edge tile), any dtype. */
export function workBytes(): i32 {
  return (MC * KC + KC * NC + MR_MAX * 8) * 8 + 64;
}

/** First free byte after the module's static data (the JS side lays its buffers from here). */
export function heapBase(): usize {
  return __heap_base;
}

export function gemm_f32(version: i32, transA: i32, transB: i32, m: i32, n: i32, k: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, work: usize): void {
  gemm<f32>(version, transA, transB, m, n, k, a, lda, b, ldb, c, ldc, work);
}

export function gemm_f64(version: i32, transA: i32, transB: i32, m: i32, n: i32, k: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, work: usize): void {
  gemm<f64>(version, transA, transB, m, n, k, a, lda, b, ldb, c, ldc, work);
}

function gemm<T>(version: i32, transA: i32, transB: i32, m: i32, n: i32, k: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, work: usize): void {
  const S = <i32>sizeof<T>();
  const mr = version == 2 ? 6 : 4;
  const pa = work;
  const pb = pa + <usize>(MC * KC * S);
  const tile = pb + <usize>(KC * NC * S);
  for (let jc = 0; jc < n; jc += NC) {
    const nc = min(NC, n - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = min(KC, k - pc);
      if (transB != 0 && version >= 3) packBTransposed<T>(b, ldb, pc, jc, kc, nc, pb);
      else packB<T>(transB, b, ldb, pc, jc, kc, nc, pb);
      for (let ic = 0; ic < m; ic += MC) {
        const mc = min(MC, m - ic);
        packA<T>(transA, a, lda, ic, pc, mc, kc, mr, pa);
        macroKernel<T>(mr, mc, nc, kc, pa, pb, c + <usize>((ic * ldc + jc) * S), ldc, tile);
      }
    }
  }
}

/** Columns of the register tile: two vectors. */
// @ts-ignore: decorator
@inline function tileCols<T>(): i32 {
  return 32 / <i32>sizeof<T>();
}

/**
 * Packs op(B)[pc:+kc, jc:+nc] into ⌈nc/NR⌉ panels, each kc rows of NR contiguous columns
 * (zero padded on the right).
 */
function packB<T>(transB: i32, b: usize, ldb: i32, pc: i32, jc: i32, kc: i32, nc: i32, dst: usize): void {
  const S = <i32>sizeof<T>();
  const NR = tileCols<T>();
  for (let jr = 0; jr < nc; jr += NR) {
    const w = min(NR, nc - jr);
    const d = dst + <usize>(jr * kc * S);
    if (transB == 0) {
      let src = b + <usize>((pc * ldb + jc + jr) * S);
      const step = <usize>(ldb * S);
      if (w == NR) {
        for (let p = 0; p < kc; p++) {
          const o = d + <usize>(p * 32);
          v128.store(o, v128.load(src));
          v128.store(o, v128.load(src, 16), 16);
          src += step;
        }
      } else {
        for (let p = 0; p < kc; p++) {
          const o = d + <usize>(p * NR * S);
          for (let jj = 0; jj < NR; jj++) store<T>(o + <usize>(jj * S), jj < w ? load<T>(src + <usize>(jj * S)) : <T>0);
          src += step;
        }
      }
    } else {
      for (let jj = 0; jj < NR; jj++) {
        const o = d + <usize>(jj * S);
        if (jj < w) {
          const src = b + <usize>(((jc + jr + jj) * ldb + pc) * S);
          for (let p = 0; p < kc; p++) store<T>(o + <usize>(p * NR * S), load<T>(src + <usize>(p * S)));
        } else {
          for (let p = 0; p < kc; p++) store<T>(o + <usize>(p * NR * S), <T>0);
        }
      }
    }
  }
}

/**
 * packB for transB (B stored [n,k]) with in-register transposes (v3): float32 moves 4×4
 * blocks (a vector of four consecutive k from each of four B rows becomes four packed rows of
 * four columns), float64 2×2 blocks. Ragged panels and k tails go through packB.
 */
function packBTransposed<T>(b: usize, ldb: i32, pc: i32, jc: i32, kc: i32, nc: i32, dst: usize): void {
  const S = <i32>sizeof<T>();
  const NR = tileCols<T>();
  const L = 16 / S; // lanes: the transposed block is L×L
  const kcL = kc & ~(L - 1);
  const fullPanels = nc / NR;
  const rowBytes = <usize>(ldb * S);
  for (let q = 0; q < fullPanels; q++) {
    const jr = q * NR;
    const d = dst + <usize>(jr * kc * S);
    for (let part = 0; part < NR; part += L) {
      const s0 = b + <usize>(((jc + jr + part) * ldb + pc) * S);
      const o = d + <usize>(part * S);
      if (S == 4) {
        const s1 = s0 + rowBytes;
        const s2 = s1 + rowBytes;
        const s3 = s2 + rowBytes;
        for (let p = 0; p < kcL; p += 4) {
          const off = <usize>(p * 4);
          const r0 = v128.load(s0 + off);
          const r1 = v128.load(s1 + off);
          const r2 = v128.load(s2 + off);
          const r3 = v128.load(s3 + off);
          const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5); // r0[0] r1[0] r0[1] r1[1]
          const t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
          const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
          const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
          const out = o + <usize>(p * 32);
          v128.store(out, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5), 0);
          v128.store(out, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7), 32);
          v128.store(out, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5), 64);
          v128.store(out, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7), 96);
        }
      } else {
        const s1 = s0 + rowBytes;
        for (let p = 0; p < kcL; p += 2) {
          const off = <usize>(p * 8);
          const r0 = v128.load(s0 + off);
          const r1 = v128.load(s1 + off);
          const out = o + <usize>(p * 32);
          v128.store(out, v128.shuffle<f64>(r0, r1, 0, 2), 0);
          v128.store(out, v128.shuffle<f64>(r0, r1, 1, 3), 32);
        }
      }
      for (let p = kcL; p < kc; p++) {
        const out = o + <usize>(p * NR * S);
        for (let l = 0; l < L; l++) store<T>(out + <usize>(l * S), load<T>(s0 + <usize>(l) * rowBytes + <usize>(p * S)));
      }
    }
  }
  const done = fullPanels * NR;
  if (done < nc) packB<T>(1, b, ldb, pc, jc + done, kc, nc - done, dst + <usize>(done * kc * S));
}

/**
 * Packs op(A)[ic:+mc, pc:+kc] into ⌈mc/mr⌉ panels, each kc columns of mr contiguous rows
 * (zero padded at the bottom).
 */
function packA<T>(transA: i32, a: usize, lda: i32, ic: i32, pc: i32, mc: i32, kc: i32, mr: i32, dst: usize): void {
  const S = <i32>sizeof<T>();
  for (let ir = 0; ir < mc; ir += mr) {
    const h = min(mr, mc - ir);
    const d = dst + <usize>(ir * kc * S);
    if (transA != 0) {
      let src = a + <usize>((pc * lda + ic + ir) * S);
      const step = <usize>(lda * S);
      for (let p = 0; p < kc; p++) {
        const o = d + <usize>(p * mr * S);
        for (let ii = 0; ii < mr; ii++) store<T>(o + <usize>(ii * S), ii < h ? load<T>(src + <usize>(ii * S)) : <T>0);
        src += step;
      }
    } else {
      for (let ii = 0; ii < mr; ii++) {
        const o = d + <usize>(ii * S);
        const step = <usize>(mr * S);
        if (ii < h) {
          const src = a + <usize>(((ic + ir + ii) * lda + pc) * S);
          for (let p = 0; p < kc; p++) store<T>(o + <usize>(p) * step, load<T>(src + <usize>(p * S)));
        } else {
          for (let p = 0; p < kc; p++) store<T>(o + <usize>(p) * step, <T>0);
        }
      }
    }
  }
}

/** C[mc, nc] += packed A · packed B, tile by tile; ragged tiles go through the scratch tile. */
function macroKernel<T>(mr: i32, mc: i32, nc: i32, kc: i32, pa: usize, pb: usize, c: usize, ldc: i32, tile: usize): void {
  const S = <i32>sizeof<T>();
  const NR = tileCols<T>();
  const ldcBytes = <usize>(ldc * S);
  for (let jr = 0; jr < nc; jr += NR) {
    const w = min(NR, nc - jr);
    const bp = pb + <usize>(jr * kc * S);
    for (let ir = 0; ir < mc; ir += mr) {
      const h = min(mr, mc - ir);
      const ap = pa + <usize>(ir * kc * S);
      const cp = c + <usize>((ir * ldc + jr) * S);
      if (h == mr && w == NR) {
        if (mr == 6) micro6<T>(kc, ap, bp, cp, ldcBytes);
        else micro4<T>(kc, ap, bp, cp, ldcBytes);
      } else {
        memory.fill(tile, 0, <usize>(mr * 32));
        if (mr == 6) micro6<T>(kc, ap, bp, tile, 32);
        else micro4<T>(kc, ap, bp, tile, 32);
        for (let i = 0; i < h; i++) {
          const crow = cp + <usize>(i) * ldcBytes;
          const trow = tile + <usize>(i * 32);
          for (let j = 0; j < w; j++) {
            const o = <usize>(j * S);
            store<T>(crow + o, load<T>(crow + o) + load<T>(trow + o));
          }
        }
      }
    }
  }
}

/** C[4, NR] += Apanel[kc, 4]ᵀ · Bpanel[kc, NR]: 8 accumulator vectors (v1). */
function micro4<T>(kc: i32, ap: usize, bp: usize, c: usize, ldc: usize): void {
  const S = <usize>sizeof<T>();
  let c00 = v128.splat<T>(<T>0), c01 = c00, c10 = c00, c11 = c00;
  let c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    let x = v128.load_splat<T>(ap);
    c00 = v128.add<T>(c00, v128.mul<T>(x, b0));
    c01 = v128.add<T>(c01, v128.mul<T>(x, b1));
    x = v128.load_splat<T>(ap + S);
    c10 = v128.add<T>(c10, v128.mul<T>(x, b0));
    c11 = v128.add<T>(c11, v128.mul<T>(x, b1));
    x = v128.load_splat<T>(ap + 2 * S);
    c20 = v128.add<T>(c20, v128.mul<T>(x, b0));
    c21 = v128.add<T>(c21, v128.mul<T>(x, b1));
    x = v128.load_splat<T>(ap + 3 * S);
    c30 = v128.add<T>(c30, v128.mul<T>(x, b0));
    c31 = v128.add<T>(c31, v128.mul<T>(x, b1));
    ap += 4 * S;
    bp += 32;
  }
  addRow<T>(c, c00, c01);
  addRow<T>(c + ldc, c10, c11);
  addRow<T>(c + 2 * ldc, c20, c21);
  addRow<T>(c + 3 * ldc, c30, c31);
}

/** C[6, NR] += Apanel[kc, 6]ᵀ · Bpanel[kc, NR]: 12 accumulator vectors (v2, v3). */
function micro6<T>(kc: i32, ap: usize, bp: usize, c: usize, ldc: usize): void {
  const S = <usize>sizeof<T>();
  let c00 = v128.splat<T>(<T>0), c01 = c00, c10 = c00, c11 = c00;
  let c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  let c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    let x = v128.load_splat<T>(ap);
    c00 = v128.add<T>(c00, v128.mul<T>(x, b0));
    c01 = v128.add<T>(c01, v128.mul<T>(x, b1));
    x = v128.load_splat<T>(ap + S);
    c10 = v128.add<T>(c10, v128.mul<T>(x, b0));
    c11 = v128.add<T>(c11, v128.mul<T>(x, b1));
    x = v128.load_splat<T>(ap + 2 * S);
    c20 = v128.add<T>(c20, v128.mul<T>(x, b0));
    c21 = v128.add<T>(c21, v128.mul<T>(x, b1));
    x = v128.load_splat<T>(ap + 3 * S);
    c30 = v128.add<T>(c30, v128.mul<T>(x, b0));
    c31 = v128.add<T>(c31, v128.mul<T>(x, b1));
    x = v128.load_splat<T>(ap + 4 * S);
    c40 = v128.add<T>(c40, v128.mul<T>(x, b0));
    c41 = v128.add<T>(c41, v128.mul<T>(x, b1));
    x = v128.load_splat<T>(ap + 5 * S);
    c50 = v128.add<T>(c50, v128.mul<T>(x, b0));
    c51 = v128.add<T>(c51, v128.mul<T>(x, b1));
    ap += 6 * S;
    bp += 32;
  }
  addRow<T>(c, c00, c01);
  addRow<T>(c + ldc, c10, c11);
  addRow<T>(c + 2 * ldc, c20, c21);
  addRow<T>(c + 3 * ldc, c30, c31);
  addRow<T>(c + 4 * ldc, c40, c41);
  addRow<T>(c + 5 * ldc, c50, c51);
}

/** c[0:NR] += (v0, v1). */
// @ts-ignore: decorator
@inline function addRow<T>(c: usize, v0: v128, v1: v128): void {
  v128.store(c, v128.add<T>(v128.load(c), v0));
  v128.store(c, v128.add<T>(v128.load(c, 16), v1), 16);
}

/**
 * gemvNT: C[m, n] += A[m, k] · B[n, k]ᵀ without packing, for tiny m (rows of A one after the
 * other): four rows of B at a time, k in vectors, horizontal sums at the end. lda, ldb, ldc
 * in elements.
 */
export function gemvNT_f32(m: i32, n: i32, k: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32): void {
  for (let i = 0; i < m; i++) gemvNT<f32>(n, k, a + <usize>(i * lda * 4), b, ldb, c + <usize>(i * ldc * 4));
}

export function gemvNT_f64(m: i32, n: i32, k: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32): void {
  for (let i = 0; i < m; i++) gemvNT<f64>(n, k, a + <usize>(i * lda * 8), b, ldb, c + <usize>(i * ldc * 8));
}

/** c[n] += B[n, k] · a[k]. */
function gemvNT<T>(n: i32, k: i32, a: usize, b: usize, ldb: i32, c: usize): void {
  const S = <i32>sizeof<T>();
  const L = 16 / S;
  const kL = k & ~(L - 1);
  const rowBytes = <usize>(ldb * S);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const b0 = b + <usize>(j) * rowBytes;
    const b1 = b0 + rowBytes;
    const b2 = b1 + rowBytes;
    const b3 = b2 + rowBytes;
    let s0 = v128.splat<T>(<T>0), s1 = s0, s2 = s0, s3 = s0;
    for (let p = 0; p < kL; p += L) {
      const off = <usize>(p * S);
      const x = v128.load(a + off);
      s0 = v128.add<T>(s0, v128.mul<T>(x, v128.load(b0 + off)));
      s1 = v128.add<T>(s1, v128.mul<T>(x, v128.load(b1 + off)));
      s2 = v128.add<T>(s2, v128.mul<T>(x, v128.load(b2 + off)));
      s3 = v128.add<T>(s3, v128.mul<T>(x, v128.load(b3 + off)));
    }
    let t0 = horizontalSum<T>(s0), t1 = horizontalSum<T>(s1), t2 = horizontalSum<T>(s2), t3 = horizontalSum<T>(s3);
    for (let p = kL; p < k; p++) {
      const off = <usize>(p * S);
      const x = load<T>(a + off);
      t0 += x * load<T>(b0 + off);
      t1 += x * load<T>(b1 + off);
      t2 += x * load<T>(b2 + off);
      t3 += x * load<T>(b3 + off);
    }
    const cj = c + <usize>(j * S);
    store<T>(cj, load<T>(cj) + t0);
    store<T>(cj, load<T>(cj, S) + t1, S);
    store<T>(cj, load<T>(cj, 2 * S) + t2, 2 * S);
    store<T>(cj, load<T>(cj, 3 * S) + t3, 3 * S);
  }
  for (; j < n; j++) {
    const bj = b + <usize>(j) * rowBytes;
    let sv = v128.splat<T>(<T>0);
    for (let p = 0; p < kL; p += L) {
      const off = <usize>(p * S);
      sv = v128.add<T>(sv, v128.mul<T>(v128.load(a + off), v128.load(bj + off)));
    }
    let t = horizontalSum<T>(sv);
    for (let p = kL; p < k; p++) t += load<T>(a + <usize>(p * S)) * load<T>(bj + <usize>(p * S));
    const cj = c + <usize>(j * S);
    store<T>(cj, load<T>(cj) + t);
  }
}

// @ts-ignore: decorator
@inline function horizontalSum<T>(v: v128): T {
  if (sizeof<T>() == 4) {
    return <T>((v128.extract_lane<f32>(v, 0) + v128.extract_lane<f32>(v, 1)) + (v128.extract_lane<f32>(v, 2) + v128.extract_lane<f32>(v, 3)));
  }
  return <T>(v128.extract_lane<f64>(v, 0) + v128.extract_lane<f64>(v, 1));
}

/**
 * widen16: dst[i] = the value of the 16-bit float src[i], for i < n, as float32 (f64 = 0) or
 * float64 (f64 = 1); format 0 = bfloat16 (the top half of a float32), 1 = float16 (IEEE
 * binary16). Exact, NaN payloads kept. Weights kept in their stored dtype are copied into this
 * memory as 16-bit and widened here into the B operand (src/core/kernels/wasm/gemm-wasm.ts),
 * eight values per step.
 *
 * float16 → float32 bits (F. Giesen's half_to_float_fast, exact for every input): shift the
 * exponent and mantissa into place and rebias the exponent by 127 − 15; infinities and NaNs
 * get 128 − 16 more; zeros and subnormals are renormalised by one float subtraction of 2^−14.
 */
export function widen16(format: i32, f64: i32, src: usize, dst: usize, n: i32): void {
  const n8 = n & ~7;
  for (let i = 0; i < n8; i += 8) {
    const h = v128.load(src + <usize>(i * 2));
    let lo = i32x4.extend_low_i16x8_u(h);
    let hi = i32x4.extend_high_i16x8_u(h);
    if (format == 0) {
      lo = i32x4.shl(lo, 16);
      hi = i32x4.shl(hi, 16);
    } else {
      lo = f16x4(lo);
      hi = f16x4(hi);
    }
    if (f64 == 0) {
      v128.store(dst + <usize>(i * 4), lo);
      v128.store(dst + <usize>(i * 4), hi, 16);
    } else {
      const o = dst + <usize>(i * 8);
      v128.store(o, f64x2.promote_low_f32x4(lo));
      v128.store(o, f64x2.promote_low_f32x4(i32x4.shuffle(lo, lo, 2, 3, 0, 1)), 16);
      v128.store(o, f64x2.promote_low_f32x4(hi), 32);
      v128.store(o, f64x2.promote_low_f32x4(i32x4.shuffle(hi, hi, 2, 3, 0, 1)), 48);
    }
  }
  for (let i = n8; i < n; i++) {
    const h = <i32>load<u16>(src + <usize>(i * 2));
    const bits = format == 0 ? h << 16 : f16Bits(h);
    if (f64 == 0) store<i32>(dst + <usize>(i * 4), bits);
    else store<f64>(dst + <usize>(i * 8), <f64>reinterpret<f32>(bits));
  }
}

/** float32 bit patterns of four float16 bit patterns (one per i32 lane). */
// @ts-ignore: decorator
@inline function f16x4(h: v128): v128 {
  const sign = i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16);
  let o = i32x4.shl(v128.and(h, i32x4.splat(0x7fff)), 13);
  const e = v128.and(o, i32x4.splat(0x0f800000));
  o = i32x4.add(o, i32x4.splat(112 << 23));
  o = i32x4.add(o, v128.and(i32x4.eq(e, i32x4.splat(0x0f800000)), i32x4.splat(112 << 23)));
  const renormalised = f32x4.sub(i32x4.add(o, i32x4.splat(1 << 23)), f32x4.splat(reinterpret<f32>(113 << 23)));
  o = v128.bitselect(renormalised, o, i32x4.eq(e, i32x4.splat(0)));
  return v128.or(o, sign);
}

/** Scalar f16x4. */
function f16Bits(h: i32): i32 {
  const sign = (h & 0x8000) << 16;
  let o = (h & 0x7fff) << 13;
  const e = o & 0x0f800000;
  o += 112 << 23;
  if (e == 0x0f800000) o += 112 << 23;
  else if (e == 0) o = reinterpret<i32>(reinterpret<f32>(o + (1 << 23)) - reinterpret<f32>(113 << 23));
  return o | sign;
}
