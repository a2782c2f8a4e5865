/**
 * Mamba's selective scan and Mamba-2's chunked SSD, forward and backward, for WebAssembly SIMD
 * (AssemblyScript source of src/core/kernels/wasm/ssm-binary.ts; rebuild with
 * `npm run build:wasm`). The JS side (src/core/kernels/wasm/ssm-wasm.ts) copies the operands
 * into this module's memory chunk by chunk and the results back; the plain TypeScript kernels
 * in src/scans/selective-scan.ts and src/scans/ssd.ts are the references (same equations, same
 * order of the backward), and test/scans/ssm-wasm.test.ts compares the two.
 *
 * Every kernel is generic over the element type T (f32: four lanes, f64: two); pointers are
 * byte addresses in this module's memory, sizes and leading dimensions are in elements.
 *
 * exp: no WebAssembly instruction computes it, so `expv` does, lane-wise: Cody–Waite range
 * reduction x = k ln2 + r, |r| ≤ ln2/2, a polynomial for e^r (f32: Cephes' expf polynomial,
 * ≈ 1 ulp; f64: the Taylor series to r¹³/13!, truncation < 2⁻⁵³ relative), and 2^k built in
 * the exponent bits. Below the smallest normal result it returns 0 (|true value| < 2·10⁻³⁸,
 * 10⁻³⁰⁷), above the largest it returns +∞, and NaN stays NaN.
 */

// ---- vector helpers -----------------------------------------------------------------------

/** Lanes of one v128 for T. */
// @ts-ignore: decorator
@inline function lanes<T>(): i32 {
  return 16 / <i32>sizeof<T>();
}

// @ts-ignore: decorator
@inline function vadd<T>(a: v128, b: v128): v128 {
  return v128.add<T>(a, b);
}

// @ts-ignore: decorator
@inline function vsub<T>(a: v128, b: v128): v128 {
  return v128.sub<T>(a, b);
}

// @ts-ignore: decorator
@inline function vmul<T>(a: v128, b: v128): v128 {
  return v128.mul<T>(a, b);
}

// @ts-ignore: decorator
@inline function vsplat<T>(x: f64): v128 {
  return v128.splat<T>(<T>x);
}

// @ts-ignore: decorator
@inline function hsum<T>(v: v128): f64 {
  if (sizeof<T>() == 4) {
    return <f64>((v128.extract_lane<f32>(v, 0) + v128.extract_lane<f32>(v, 1)) + (v128.extract_lane<f32>(v, 2) + v128.extract_lane<f32>(v, 3)));
  }
  return v128.extract_lane<f64>(v, 0) + v128.extract_lane<f64>(v, 1);
}

/** Lane-wise e^x (see the header). */
// @ts-ignore: decorator
@inline function expv<T>(x: v128): v128 {
  if (sizeof<T>() == 4) {
    const lo: f32 = -87.0;
    const hi: f32 = 88.0;
    const c = v128.pmin<f32>(v128.pmax<f32>(x, f32x4.splat(lo)), f32x4.splat(hi)); // NaN stays NaN
    // t = x log2(e) + 1.5·2²³ rounds k = round(x log2 e) into t's low mantissa bits
    const shifter = f32x4.splat(12582912.0);
    const t = f32x4.add(f32x4.mul(c, f32x4.splat(1.44269504088896341)), shifter);
    const k = f32x4.sub(t, shifter);
    let r = f32x4.sub(c, f32x4.mul(k, f32x4.splat(0.693359375)));
    r = f32x4.sub(r, f32x4.mul(k, f32x4.splat(-2.12194440e-4)));
    const z = f32x4.mul(r, r);
    let p = f32x4.add(f32x4.mul(f32x4.splat(1.9875691500e-4), r), f32x4.splat(1.3981999507e-3));
    p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
    p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
    p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
    p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
    p = f32x4.add(f32x4.add(f32x4.mul(p, z), r), f32x4.splat(1.0));
    // 2^k: (bits(t) + 127) << 23 keeps k + 127 in the exponent field
    const scale = i32x4.shl(i32x4.add(t, i32x4.splat(127)), 23);
    let e = f32x4.mul(p, scale);
    e = v128.bitselect(f32x4.splat(0), e, f32x4.lt(x, f32x4.splat(lo)));
    return v128.bitselect(f32x4.splat(Infinity), e, f32x4.gt(x, f32x4.splat(hi)));
  } else {
    const lo: f64 = -708.0;
    const hi: f64 = 709.0;
    const c = v128.pmin<f64>(v128.pmax<f64>(x, f64x2.splat(lo)), f64x2.splat(hi));
    const shifter = f64x2.splat(6755399441055744.0); // 1.5·2⁵²
    const t = f64x2.add(f64x2.mul(c, f64x2.splat(1.4426950408889634074)), shifter);
    const k = f64x2.sub(t, shifter);
    // fdlibm's split of ln 2: k·LN2_HI is exact for |k| < 2¹¹
    const hiPart = f64x2.sub(c, f64x2.mul(k, f64x2.splat(6.93147180369123816490e-1)));
    const r = f64x2.sub(hiPart, f64x2.mul(k, f64x2.splat(1.90821492927058770002e-10)));
    let p = f64x2.splat(1.0 / 6227020800.0); // 1/13!
    p = f64x2.add(f64x2.mul(p, r), f64x2.splat(1.0 / 479001600.0));
    p = f64x2.add(f64x2.mul(p, r), f64x2.splat(1.0 / 39916800.0));
    p = f64x2.add(f64x2.mul(p, r), f64x2.splat(1.0 / 3628800.0));
    p = f64x2.add(f64x2.mul(p, r), f64x2.splat(1.0 / 362880.0));
    p = f64x2.add(f64x2.mul(p, r), f64x2.splat(1.0 / 40320.0));
    p = f64x2.add(f64x2.mul(p, r), f64x2.splat(1.0 / 5040.0));
    p = f64x2.add(f64x2.mul(p, r), f64x2.splat(1.0 / 720.0));
    p = f64x2.add(f64x2.mul(p, r), f64x2.splat(1.0 / 120.0));
    p = f64x2.add(f64x2.mul(p, r), f64x2.splat(1.0 / 24.0));
    p = f64x2.add(f64x2.mul(p, r), f64x2.splat(1.0 / 6.0));
    p = f64x2.add(f64x2.mul(p, r), f64x2.splat(0.5));
    p = f64x2.add(f64x2.mul(p, r), f64x2.splat(1.0));
    p = f64x2.add(f64x2.mul(p, r), f64x2.splat(1.0));
    const scale = i64x2.shl(i64x2.add(t, i64x2.splat(1023)), 52);
    let e = f64x2.mul(p, scale);
    e = v128.bitselect(f64x2.splat(0), e, f64x2.lt(x, f64x2.splat(lo)));
    return v128.bitselect(f64x2.splat(Infinity), e, f64x2.gt(x, f64x2.splat(hi)));
  }
}

/** e^x of one scalar through the vector routine (the same rounding as the vector lanes). */
// @ts-ignore: decorator
@inline function exps(x: f64): f64 {
  return v128.extract_lane<f64>(expv<f64>(f64x2.splat(x)), 0);
}

/**
 * Lanes j..j+V−1 of e^{la_i − la_j} as T, from la in f64 (the differences are formed in f64,
 * so a float32 kernel loses no accuracy to large |la|).
 */
// @ts-ignore: decorator
@inline function expSegment<T>(li: f64, la: usize): v128 {
  const top = f64x2.splat(li);
  if (sizeof<T>() == 4) {
    const d0 = f32x4.demote_f64x2_zero(f64x2.sub(top, v128.load(la)));
    const d1 = f32x4.demote_f64x2_zero(f64x2.sub(top, v128.load(la, 16)));
    return expv<f32>(v128.shuffle<f32>(d0, d1, 0, 1, 4, 5));
  }
  return expv<f64>(f64x2.sub(top, v128.load(la)));
}

/** Lane mask of j + lane ≤ i for the vector starting at column j (all ones when j + V − 1 ≤ i). */
// @ts-ignore: decorator
@inline function lowerMask<T>(i: i32, j: i32): v128 {
  if (sizeof<T>() == 4) return i32x4.le_s(i32x4.add(i32x4.splat(j), i32x4(0, 1, 2, 3)), i32x4.splat(i));
  return i64x2.le_s(i64x2.add(i64x2.splat(<i64>j), i64x2(0, 1)), i64x2.splat(<i64>i));
}

/**
 * da[j + ℓ] −= w[ℓ] for the V lanes of w (f64 da), and returns the lanes' pairwise sums as
 * f64x2 (a float32 w is widened first).
 */
// @ts-ignore: decorator
@inline function subtractColumns<T>(da: usize, w: v128): v128 {
  if (sizeof<T>() == 4) {
    const lo = f64x2.promote_low_f32x4(w);
    const hi = f64x2.promote_low_f32x4(v128.shuffle<f32>(w, w, 2, 3, 0, 1));
    v128.store(da, f64x2.sub(v128.load(da), lo));
    v128.store(da, f64x2.sub(v128.load(da, 16), hi), 16);
    return f64x2.add(lo, hi);
  }
  v128.store(da, f64x2.sub(v128.load(da), w));
  return w;
}

export function heapBase(): usize {
  return __heap_base;
}

/**
 * Exercises expv (tests compare it with Math.exp): out[i] = e^{in[i]}, n a multiple of the
 * lanes.
 */
export function exp_f32(n: i32, src: usize, dst: usize): void {
  for (let i = 0; i < n; i += 4) v128.store(dst + <usize>(i * 4), expv<f32>(v128.load(src + <usize>(i * 4))));
}

export function exp_f64(n: i32, src: usize, dst: usize): void {
  for (let i = 0; i < n; i += 2) v128.store(dst + <usize>(i * 8), expv<f64>(v128.load(src + <usize>(i * 8))));
}

// ---- selective scan (Mamba, S6) ---------------------------------------------------------------
//
// One call covers one sequence and a chunk of T consecutive time steps for every channel.
// Channels are padded to Dp (a multiple of the lanes) and vectorised: lane ℓ of block k is
// channel k·V + ℓ. Layouts:
//   u, dt, y, gy, gu, gdt [T, Dp]   (time rows; padding columns are zero)
//   bm, cm, gb, gc        [T, N]
//   At, h, adj, gA        [Dp/V, N, V]   (A transposed into blocks; state; adjoint; ∂A)
//   ds, gD                [Dp]
// Equations as in src/scans/selective-scan.ts:
//   h_t = exp(Δ_t A) ⊙ h_{t−1} + Δ_t u_t B_t,   y_t = C_t · h_t + D u_t

export function scan_fwd_f32(T: i32, Dp: i32, N: i32, u: usize, dt: usize, At: usize, bm: usize, cm: usize, ds: usize, h: usize, y: usize): void {
  scanForward<f32>(T, Dp, N, u, dt, At, bm, cm, ds, h, y);
}

export function scan_fwd_f64(T: i32, Dp: i32, N: i32, u: usize, dt: usize, At: usize, bm: usize, cm: usize, ds: usize, h: usize, y: usize): void {
  scanForward<f64>(T, Dp, N, u, dt, At, bm, cm, ds, h, y);
}

/** Advances the state h over T steps and writes y [T, Dp]. */
function scanForward<T>(T_: i32, Dp: i32, N: i32, u: usize, dt: usize, At: usize, bm: usize, cm: usize, ds: usize, h: usize, y: usize): void {
  const S = <usize>sizeof<T>();
  const V = lanes<T>();
  const rowBytes = <usize>Dp * S;
  const nBytes = <usize>N * S;
  for (let d0 = 0; d0 < Dp; d0 += V) {
    const off = <usize>d0 * S;
    const hb = h + off * <usize>N; // this block's N state vectors
    const ab = At + off * <usize>N;
    const dsv = v128.load(ds + off);
    let io = off;
    let bt = bm;
    let ct = cm;
    for (let t = 0; t < T_; t++) {
      const dtv = v128.load(dt + io);
      const uv = v128.load(u + io);
      const dtx = vmul<T>(dtv, uv);
      let acc = vsplat<T>(0);
      for (let n: usize = 0; n < <usize>N; n++) {
        const e = expv<T>(vmul<T>(dtv, v128.load(ab + n * 16)));
        const hv = vadd<T>(vmul<T>(e, v128.load(hb + n * 16)), vmul<T>(dtx, v128.load_splat<T>(bt + n * S)));
        v128.store(hb + n * 16, hv);
        acc = vadd<T>(acc, vmul<T>(v128.load_splat<T>(ct + n * S), hv));
      }
      v128.store(y + io, vadd<T>(acc, vmul<T>(dsv, uv)));
      io += rowBytes;
      bt += nBytes;
      ct += nBytes;
    }
  }
}

export function scan_bwd_f32(T: i32, Dp: i32, N: i32, u: usize, dt: usize, At: usize, bm: usize, cm: usize, ds: usize, h0: usize, gy: usize, adj: usize, gu: usize, gdt: usize, gA: usize, gD: usize, gb: usize, gc: usize, work: usize): void {
  scanBackward<f32>(T, Dp, N, u, dt, At, bm, cm, ds, h0, gy, adj, gu, gdt, gA, gD, gb, gc, work);
}

export function scan_bwd_f64(T: i32, Dp: i32, N: i32, u: usize, dt: usize, At: usize, bm: usize, cm: usize, ds: usize, h0: usize, gy: usize, adj: usize, gu: usize, gdt: usize, gA: usize, gD: usize, gb: usize, gc: usize, work: usize): void {
  scanBackward<f64>(T, Dp, N, u, dt, At, bm, cm, ds, h0, gy, adj, gu, gdt, gA, gD, gb, gc, work);
}

/** Bytes of `work` scanBackward needs for T steps and state size N (any dtype). */
export function scanWorkBytes(T: i32, N: i32): usize {
  return <usize>(4 * T + 1) * <usize>N * 16;
}

/**
 * Backward over one chunk of T steps, the chunks visited last to first. h0 is the state at the
 * chunk's start (saved by the forward); adj carries λ = ∂ℓ/∂h from the chunk after this one
 * (zero for the last) and leaves with it for the chunk before. With λ_t = g_t C_t + a_{t+1} λ_{t+1}
 * and a_t = exp(Δ_t A) (derivation in src/scans/selective-scan.ts):
 *   ∂C_t = g_t h_t,  ∂D += g_t u_t,  ∂u_t = g_t D + Δ_t Σ_n λ_t B_t,  ∂B_t = λ_t Δ_t u_t,
 *   ∂Δ_t = Σ_n λ_t h_{t−1} a_t A + u_t Σ_n λ_t B_t,  ∂A += λ_t h_{t−1} a_t Δ_t.
 * Per channel block the chunk's states and decays are recomputed into `work`; ∂B and ∂C, sums
 * over channels, are kept per lane in `work` and reduced once per chunk. All gradients accumulate.
 */
function scanBackward<T>(T_: i32, Dp: i32, N: i32, u: usize, dt: usize, At: usize, bm: usize, cm: usize, ds: usize, h0: usize, gy: usize, adj: usize, gu: usize, gdt: usize, gA: usize, gD: usize, gb: usize, gc: usize, work: usize): void {
  const S = <usize>sizeof<T>();
  const V = lanes<T>();
  const rowBytes = <usize>Dp * S;
  const nBytes = <usize>N * S;
  const nVec = <usize>N * 16; // bytes of N vectors
  const TN = <usize>T_ * nVec;
  const states = work; // [T + 1, N] vectors: row t + 1 is h_t, row 0 the chunk's entry state
  const decays = states + TN + nVec; // [T, N] vectors
  const dBv = decays + TN; // [T, N] vectors, per-lane partial sums of ∂B
  const dCv = dBv + TN;
  memory.fill(dBv, 0, 2 * TN);
  for (let d0 = 0; d0 < Dp; d0 += V) {
    const off = <usize>d0 * S;
    const blk = off * <usize>N;
    const ab = At + blk;
    const lb = adj + blk;
    const gab = gA + blk;
    memory.copy(states, h0 + blk, nVec);
    // Recompute the chunk's states and decays.
    let io = off;
    let bt = bm;
    for (let t: usize = 0; t < <usize>T_; t++) {
      const dtv = v128.load(dt + io);
      const dtx = vmul<T>(dtv, v128.load(u + io));
      const sp = states + t * nVec;
      const dp = decays + t * nVec;
      for (let n: usize = 0; n < <usize>N; n++) {
        const e = expv<T>(vmul<T>(dtv, v128.load(ab + n * 16)));
        v128.store(dp + n * 16, e);
        v128.store(sp + nVec + n * 16, vadd<T>(vmul<T>(e, v128.load(sp + n * 16)), vmul<T>(dtx, v128.load_splat<T>(bt + n * S))));
      }
      io += rowBytes;
      bt += nBytes;
    }
    // Reverse sweep.
    const dsv = v128.load(ds + off);
    let gDv = vsplat<T>(0);
    for (let t = T_ - 1; t >= 0; t--) {
      const tu = <usize>t;
      const at = <usize>t * rowBytes + off;
      const g = v128.load(gy + at);
      const dtv = v128.load(dt + at);
      const uv = v128.load(u + at);
      const dtx = vmul<T>(dtv, uv);
      const bt = bm + tu * nBytes;
      const ct = cm + tu * nBytes;
      const sp = states + tu * nVec;
      const dp = decays + tu * nVec;
      const bv = dBv + tu * nVec;
      const cv = dCv + tu * nVec;
      let sumLB = vsplat<T>(0); // Σ_n λ B
      let sumEA = vsplat<T>(0); // Σ_n λ h_{t−1} a A
      for (let n: usize = 0; n < <usize>N; n++) {
        const o = n * 16;
        const lam = vadd<T>(v128.load(lb + o), vmul<T>(g, v128.load_splat<T>(ct + n * S)));
        const dec = v128.load(dp + o);
        const dExp = vmul<T>(vmul<T>(lam, v128.load(sp + o)), dec); // ∂ℓ/∂(Δ_t A)
        v128.store(cv + o, vadd<T>(v128.load(cv + o), vmul<T>(g, v128.load(sp + nVec + o))));
        v128.store(bv + o, vadd<T>(v128.load(bv + o), vmul<T>(lam, dtx)));
        sumLB = vadd<T>(sumLB, vmul<T>(lam, v128.load_splat<T>(bt + n * S)));
        sumEA = vadd<T>(sumEA, vmul<T>(dExp, v128.load(ab + o)));
        v128.store(gab + o, vadd<T>(v128.load(gab + o), vmul<T>(dExp, dtv)));
        v128.store(lb + o, vmul<T>(lam, dec));
      }
      v128.store(gu + at, vadd<T>(v128.load(gu + at), vadd<T>(vmul<T>(g, dsv), vmul<T>(dtv, sumLB))));
      v128.store(gdt + at, vadd<T>(v128.load(gdt + at), vadd<T>(sumEA, vmul<T>(uv, sumLB))));
      gDv = vadd<T>(gDv, vmul<T>(g, uv));
    }
    v128.store(gD + off, vadd<T>(v128.load(gD + off), gDv));
  }
  // ∂B, ∂C: reduce the lanes (channels of the last block's padding contribute zeros).
  const TNe = <usize>T_ * <usize>N;
  for (let e: usize = 0; e < TNe; e++) {
    store<T>(gb + e * S, <T>(<f64>load<T>(gb + e * S) + hsum<T>(v128.load(dBv + e * 16))));
    store<T>(gc + e * S, <T>(<f64>load<T>(gc + e * S) + hsum<T>(v128.load(dCv + e * 16))));
  }
}

/** Two consecutive T values at p as f64x2. */
// @ts-ignore: decorator
@inline function loadPair<T>(p: usize): v128 {
  if (sizeof<T>() == 4) return f64x2.promote_low_f32x4(v128.load64_zero(p));
  return v128.load(p);
}

export function scan_step_f32(D: i32, N: i32, u: usize, dt: usize, A: usize, bm: usize, cm: usize, ds: usize, h: usize, y: usize): void {
  scanStep<f32>(D, N, u, dt, A, bm, cm, ds, h, y);
}

export function scan_step_f64(D: i32, N: i32, u: usize, dt: usize, A: usize, bm: usize, cm: usize, ds: usize, h: usize, y: usize): void {
  scanStep<f64>(D, N, u, dt, A, bm, cm, ds, h, y);
}

/**
 * One time step of one sequence for generation (no gradient), as the JS `advance`: the state
 * h [D, N] is float64 whatever T (it belongs to the caller, selectiveScanState), and so is the
 * arithmetic; u, dt, y [D], A [D, N], bm, cm [N], ds [D] are T. Vectorised along N (f64x2).
 */
function scanStep<T>(D: i32, N: i32, u: usize, dt: usize, A: usize, bm: usize, cm: usize, ds: usize, h: usize, y: usize): void {
  const S = <usize>sizeof<T>();
  const N2 = N & ~1;
  for (let d = 0; d < D; d++) {
    const dtd = <f64>load<T>(dt + <usize>d * S);
    const x = <f64>load<T>(u + <usize>d * S);
    const dtv = f64x2.splat(dtd);
    const dtx = f64x2.splat(dtd * x);
    const row = <usize>(d * N);
    let acc = f64x2.splat(0);
    for (let n = 0; n < N2; n += 2) {
      const k = row + <usize>n;
      const e = expv<f64>(f64x2.mul(dtv, loadPair<T>(A + k * S)));
      const hv = f64x2.add(f64x2.mul(e, v128.load(h + k * 8)), f64x2.mul(dtx, loadPair<T>(bm + <usize>n * S)));
      v128.store(h + k * 8, hv);
      acc = f64x2.add(acc, f64x2.mul(loadPair<T>(cm + <usize>n * S), hv));
    }
    let sum = hsum<f64>(acc);
    if (N2 < N) {
      const k = row + <usize>N2;
      const hn = exps(dtd * <f64>load<T>(A + k * S)) * load<f64>(h + k * 8) + dtd * x * <f64>load<T>(bm + <usize>N2 * S);
      store<f64>(h + k * 8, hn);
      sum += <f64>load<T>(cm + <usize>N2 * S) * hn;
    }
    store<T>(y + <usize>d * S, <T>(sum + <f64>load<T>(ds + <usize>d * S) * x));
  }
}

export function ssd_step_f32(Hd: i32, P: i32, G: i32, N: i32, x: usize, dt: usize, A: usize, bm: usize, cm: usize, dsk: usize, S: usize, y: usize): void {
  ssdStep<f32>(Hd, P, G, N, x, dt, A, bm, cm, dsk, S, y);
}

export function ssd_step_f64(Hd: i32, P: i32, G: i32, N: i32, x: usize, dt: usize, A: usize, bm: usize, cm: usize, dsk: usize, S: usize, y: usize): void {
  ssdStep<f64>(Hd, P, G, N, x, dt, A, bm, cm, dsk, S, y);
}

/**
 * One SSD step of one sequence for generation (no gradient): with the state S [Hd, P, N] (T,
 * the layout of ssdStep's state tensor) updated in place,
 *   S_h ← e^{A_h Δ_h} S_h + Δ_h x_h B_gᵀ,   y_h = S_h C_g + Dskip_h x_h
 * for x, y [Hd, P], dt [Hd], bm, cm [G, N]. Vectorised along N.
 */
function ssdStep<T>(Hd: i32, P: i32, G: i32, N: i32, x: usize, dt: usize, A: usize, bm: usize, cm: usize, dsk: usize, S: usize, y: usize): void {
  const E = <usize>sizeof<T>();
  const V = lanes<T>();
  const hpg = Hd / G;
  for (let h = 0; h < Hd; h++) {
    const d = <f64>load<T>(dt + <usize>h * E);
    const decay = exps(<f64>load<T>(A + <usize>h * E) * d);
    const Dh = <f64>load<T>(dsk + <usize>h * E);
    const g = h / hpg;
    const b = bm + <usize>(g * N) * E;
    const c = cm + <usize>(g * N) * E;
    const dv = vsplat<T>(decay);
    for (let p = 0; p < P; p++) {
      const xp = <f64>load<T>(x + <usize>(h * P + p) * E);
      const dx = vsplat<T>(d * xp);
      const row = S + <usize>((h * P + p) * N) * E;
      let acc = vsplat<T>(0);
      let k = 0;
      for (; k + V <= N; k += V) {
        const o = <usize>k * E;
        const v = vadd<T>(vmul<T>(dv, v128.load(row + o)), vmul<T>(dx, v128.load(b + o)));
        v128.store(row + o, v);
        acc = vadd<T>(acc, vmul<T>(v, v128.load(c + o)));
      }
      let sum = hsum<T>(acc);
      for (; k < N; k++) {
        const o = <usize>k * E;
        const v = <T>(decay * <f64>load<T>(row + o) + d * xp * <f64>load<T>(b + o));
        store<T>(row + o, v);
        sum += <f64>(v * load<T>(c + o));
      }
      store<T>(y + <usize>(h * P + p) * E, <T>(sum + Dh * xp));
    }
  }
}

// ---- small dense products for the SSD chunks --------------------------------------------------
//
// Why not the GEMM module: profiling the JS SSD (trained mamba2 fixture, L = 256, float32)
// put the WASM GEMM calls at ≈ 4 % of the time and the JS loops around them — the triangular
// products with the decay matrix, the segment exps, the element-wise updates, and garbage —
// at the rest. Once those loops are here, the chunk's products (Q × Q × N, Q × P × N with
// Q, P, N of 16–256) work on operands already in this module's memory and in cache, where
// packing panels or copying them into another module would cost about what the product does;
// so they are these unpacked register-blocked loops.
//
// Row-major operands with leading dimensions; every product accumulates into C. Vectorised
// along C's rows (2 vectors, then 1, then scalars), four rows of C at a time sharing each B row.
// The "a" operand is addressed a(r, p) = a + r·ars + p·acs (elements), so one micro-kernel
// serves A and Aᵀ.

/** C[r, 0:w] += Σ_{p ∈ [p0, p1)} a(r, p) B[p, 0:w] for r = 0..3. */
function block4<T>(p0: i32, p1: i32, w: i32, a: usize, ars: i32, acs: i32, b: usize, ldb: i32, c: usize, ldc: i32): void {
  if (p1 <= p0) return;
  const S = <usize>sizeof<T>();
  const V = lanes<T>();
  const aRow = <usize>ars * S;
  const aCol = <usize>acs * S;
  const bRow = <usize>ldb * S;
  const cRow = <usize>ldc * S;
  let j = 0;
  for (; j + 2 * V <= w; j += 2 * V) {
    const cj = c + <usize>j * S;
    let c00 = v128.load(cj), c01 = v128.load(cj, 16);
    let c10 = v128.load(cj + cRow), c11 = v128.load(cj + cRow, 16);
    let c20 = v128.load(cj + 2 * cRow), c21 = v128.load(cj + 2 * cRow, 16);
    let c30 = v128.load(cj + 3 * cRow), c31 = v128.load(cj + 3 * cRow, 16);
    let ap = a + <usize>p0 * aCol;
    let bp = b + <usize>p0 * bRow + <usize>j * S;
    for (let p = p0; p < p1; p++) {
      const b0 = v128.load(bp);
      const b1 = v128.load(bp, 16);
      let x = v128.load_splat<T>(ap);
      c00 = vadd<T>(c00, vmul<T>(x, b0));
      c01 = vadd<T>(c01, vmul<T>(x, b1));
      x = v128.load_splat<T>(ap + aRow);
      c10 = vadd<T>(c10, vmul<T>(x, b0));
      c11 = vadd<T>(c11, vmul<T>(x, b1));
      x = v128.load_splat<T>(ap + 2 * aRow);
      c20 = vadd<T>(c20, vmul<T>(x, b0));
      c21 = vadd<T>(c21, vmul<T>(x, b1));
      x = v128.load_splat<T>(ap + 3 * aRow);
      c30 = vadd<T>(c30, vmul<T>(x, b0));
      c31 = vadd<T>(c31, vmul<T>(x, b1));
      ap += aCol;
      bp += bRow;
    }
    v128.store(cj, c00);
    v128.store(cj, c01, 16);
    v128.store(cj + cRow, c10);
    v128.store(cj + cRow, c11, 16);
    v128.store(cj + 2 * cRow, c20);
    v128.store(cj + 2 * cRow, c21, 16);
    v128.store(cj + 3 * cRow, c30);
    v128.store(cj + 3 * cRow, c31, 16);
  }
  for (; j + V <= w; j += V) {
    const cj = c + <usize>j * S;
    let c0 = v128.load(cj), c1 = v128.load(cj + cRow), c2 = v128.load(cj + 2 * cRow), c3 = v128.load(cj + 3 * cRow);
    let ap = a + <usize>p0 * aCol;
    let bp = b + <usize>p0 * bRow + <usize>j * S;
    for (let p = p0; p < p1; p++) {
      const b0 = v128.load(bp);
      c0 = vadd<T>(c0, vmul<T>(v128.load_splat<T>(ap), b0));
      c1 = vadd<T>(c1, vmul<T>(v128.load_splat<T>(ap + aRow), b0));
      c2 = vadd<T>(c2, vmul<T>(v128.load_splat<T>(ap + 2 * aRow), b0));
      c3 = vadd<T>(c3, vmul<T>(v128.load_splat<T>(ap + 3 * aRow), b0));
      ap += aCol;
      bp += bRow;
    }
    v128.store(cj, c0);
    v128.store(cj + cRow, c1);
    v128.store(cj + 2 * cRow, c2);
    v128.store(cj + 3 * cRow, c3);
  }
  for (; j < w; j++) {
    const cj = c + <usize>j * S;
    let s0 = load<T>(cj), s1 = load<T>(cj + cRow), s2 = load<T>(cj + 2 * cRow), s3 = load<T>(cj + 3 * cRow);
    let ap = a + <usize>p0 * aCol;
    let bp = b + <usize>p0 * bRow + <usize>j * S;
    for (let p = p0; p < p1; p++) {
      const bv = load<T>(bp);
      s0 += load<T>(ap) * bv;
      s1 += load<T>(ap + aRow) * bv;
      s2 += load<T>(ap + 2 * aRow) * bv;
      s3 += load<T>(ap + 3 * aRow) * bv;
      ap += aCol;
      bp += bRow;
    }
    store<T>(cj, s0);
    store<T>(cj + cRow, s1);
    store<T>(cj + 2 * cRow, s2);
    store<T>(cj + 3 * cRow, s3);
  }
}

/** c[0:w] += Σ_{p ∈ [p0, p1)} a(p) B[p, 0:w], a(p) = a + p·acs. */
function block1<T>(p0: i32, p1: i32, w: i32, a: usize, acs: i32, b: usize, ldb: i32, c: usize): void {
  if (p1 <= p0) return;
  const S = <usize>sizeof<T>();
  const V = lanes<T>();
  const aCol = <usize>acs * S;
  const bRow = <usize>ldb * S;
  let j = 0;
  for (; j + 2 * V <= w; j += 2 * V) {
    const cj = c + <usize>j * S;
    let c0 = v128.load(cj), c1 = v128.load(cj, 16);
    let ap = a + <usize>p0 * aCol;
    let bp = b + <usize>p0 * bRow + <usize>j * S;
    for (let p = p0; p < p1; p++) {
      const x = v128.load_splat<T>(ap);
      c0 = vadd<T>(c0, vmul<T>(x, v128.load(bp)));
      c1 = vadd<T>(c1, vmul<T>(x, v128.load(bp, 16)));
      ap += aCol;
      bp += bRow;
    }
    v128.store(cj, c0);
    v128.store(cj, c1, 16);
  }
  for (; j + V <= w; j += V) {
    const cj = c + <usize>j * S;
    let c0 = v128.load(cj);
    let ap = a + <usize>p0 * aCol;
    let bp = b + <usize>p0 * bRow + <usize>j * S;
    for (let p = p0; p < p1; p++) {
      c0 = vadd<T>(c0, vmul<T>(v128.load_splat<T>(ap), v128.load(bp)));
      ap += aCol;
      bp += bRow;
    }
    v128.store(cj, c0);
  }
  for (; j < w; j++) {
    const cj = c + <usize>j * S;
    let s = load<T>(cj);
    let ap = a + <usize>p0 * aCol;
    let bp = b + <usize>p0 * bRow + <usize>j * S;
    for (let p = p0; p < p1; p++) {
      s += load<T>(ap) * load<T>(bp);
      ap += aCol;
      bp += bRow;
    }
    store<T>(cj, s);
  }
}

/** C[m, w] += A[m, k] · B[k, w]. */
function mmNN<T>(m: i32, w: i32, k: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32): void {
  const S = <usize>sizeof<T>();
  let i = 0;
  for (; i + 4 <= m; i += 4) block4<T>(0, k, w, a + <usize>(i * lda) * S, lda, 1, b, ldb, c + <usize>(i * ldc) * S, ldc);
  for (; i < m; i++) block1<T>(0, k, w, a + <usize>(i * lda) * S, 1, b, ldb, c + <usize>(i * ldc) * S);
}

/**
 * C[i, j] += Σ_p A[i, p] B[p, j] for the lower triangle j ≤ i of the square [m, m] result only
 * (the scores C_i·B_j and dy_i·x_j; columns up to the end of each 4-row block are computed).
 */
function mmNNLowerOut<T>(m: i32, k: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32): void {
  const S = <usize>sizeof<T>();
  let i = 0;
  for (; i + 4 <= m; i += 4) block4<T>(0, k, i + 4, a + <usize>(i * lda) * S, lda, 1, b, ldb, c + <usize>(i * ldc) * S, ldc);
  for (; i < m; i++) block1<T>(0, k, i + 1, a + <usize>(i * lda) * S, 1, b, ldb, c + <usize>(i * ldc) * S);
}

/**
 * C[m, w] += W[m, m] · B[m, w] for lower-triangular W: row i reads W[i, 0..i] only, so a NaN or
 * ∞ above the diagonal (a later step) never reaches an earlier row.
 */
function mmLowerNN<T>(m: i32, w: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32): void {
  const S = <usize>sizeof<T>();
  let i = 0;
  for (; i + 4 <= m; i += 4) {
    const ai = a + <usize>(i * lda) * S;
    const ci = c + <usize>(i * ldc) * S;
    block4<T>(0, i + 1, w, ai, lda, 1, b, ldb, ci, ldc);
    // the rest of the 4×4 diagonal block: row i + r reads columns i + 1 .. i + r
    for (let r = 1; r < 4; r++) block1<T>(i + 1, i + r + 1, w, ai + <usize>(r * lda) * S, 1, b, ldb, ci + <usize>(r * ldc) * S);
  }
  for (; i < m; i++) block1<T>(0, i + 1, w, a + <usize>(i * lda) * S, 1, b, ldb, c + <usize>(i * ldc) * S);
}

/**
 * C[m, w] += Wᵀ · G[m, w] for lower-triangular W [m, m] (the adjoint of mmLowerNN): row j
 * gathers Σ_{i ≥ j} W[i, j] G[i, :], reading nothing above the diagonal.
 */
function mmLowerTN<T>(m: i32, w: i32, a: usize, lda: i32, g: usize, ldg: i32, c: usize, ldc: i32): void {
  const S = <usize>sizeof<T>();
  let j = 0;
  for (; j + 4 <= m; j += 4) {
    const aj = a + <usize>j * S;
    const cj = c + <usize>(j * ldc) * S;
    block4<T>(j + 3, m, w, aj, 1, lda, g, ldg, cj, ldc);
    // the rest of the diagonal block: row j + r gathers i = j + r .. j + 2
    for (let r = 0; r < 3; r++) block1<T>(j + r, j + 3, w, aj + <usize>r * S, lda, g, ldg, cj + <usize>(r * ldc) * S);
  }
  for (; j < m; j++) block1<T>(j, m, w, a + <usize>j * S, lda, g, ldg, c + <usize>(j * ldc) * S);
}

/** dst[c, r] = src[r, c] for a [rows, cols] block. */
function transpose<T>(rows: i32, cols: i32, src: usize, lds: i32, dst: usize, ldd: i32): void {
  const S = <usize>sizeof<T>();
  for (let r = 0; r < rows; r++) {
    const s = src + <usize>(r * lds) * S;
    for (let c = 0; c < cols; c++) store<T>(dst + <usize>(c * ldd + r) * S, load<T>(s + <usize>c * S));
  }
}

/** dst[0:w] = f · src[0:w]  (accumulate = 0) or dst[0:w] += f · src[0:w] (accumulate = 1). */
function scaleRow<T>(w: i32, f: f64, src: usize, dst: usize, accumulate: i32): void {
  const S = <usize>sizeof<T>();
  const V = lanes<T>();
  const fv = vsplat<T>(f);
  let j = 0;
  if (accumulate != 0) {
    for (; j + V <= w; j += V) {
      const o = <usize>j * S;
      v128.store(dst + o, vadd<T>(v128.load(dst + o), vmul<T>(fv, v128.load(src + o))));
    }
    for (; j < w; j++) store<T>(dst + <usize>j * S, load<T>(dst + <usize>j * S) + <T>f * load<T>(src + <usize>j * S));
  } else {
    for (; j + V <= w; j += V) v128.store(dst + <usize>j * S, vmul<T>(fv, v128.load(src + <usize>j * S)));
    for (; j < w; j++) store<T>(dst + <usize>j * S, <T>f * load<T>(src + <usize>j * S));
  }
}

/** Σ a[0:w] b[0:w] in T lanes, returned as f64. */
function dotRow<T>(w: i32, a: usize, b: usize): f64 {
  const S = <usize>sizeof<T>();
  const V = lanes<T>();
  let acc = vsplat<T>(0);
  let j = 0;
  for (; j + V <= w; j += V) acc = vadd<T>(acc, vmul<T>(v128.load(a + <usize>j * S), v128.load(b + <usize>j * S)));
  let s = hsum<T>(acc);
  for (; j < w; j++) s += <f64>(load<T>(a + <usize>j * S) * load<T>(b + <usize>j * S));
  return s;
}

// ---- Mamba-2 SSD (chunked state-space duality) ------------------------------------------------
//
// One call covers one chunk of n ≤ Q steps of one sequence, all heads. Layouts:
//   x, y, gy, gx    [n, Hd·P]      (the chunk's time rows, as in the tensors)
//   dt, gdt         [n, Hd]
//   bm, cm, gb, gc  [n, G·N]
//   A, Dsk, gA, gD  [Hd]
//   S, Sin, dS      [Hd, N, P]     (states transposed per head: rows of P, so that the
//                                   products with them are all of the NN form)
// Equations and the backward's derivation: src/scans/ssd.ts.

/** Row length of the chunk-square scratch: n rounded up to four (a whole vector of either T). */
// @ts-ignore: decorator
@inline function padded(n: i32): i32 {
  return (n + 3) & ~3;
}

/** Bytes of `work` ssd_fwd / ssd_bwd need for a chunk of up to Q steps (any dtype). */
export function ssdWorkBytes(Q: i32, P: i32, N: i32): usize {
  const nP = padded(Q);
  // la, da, dth, colDt; Bt, Ct; scores, mix, pairs, dScores; Xt; cn, R; a transposed state
  const elements = 4 * nP + 2 * N * nP + 4 * Q * nP + P * nP + Q * (N + P) + P * N;
  return <usize>elements * 8 + 16 * 16; // f64-sized elements, plus alignment of each piece
}

/** Bump allocation of `work`, 16-byte aligned. */
let cursor: usize = 0;
// @ts-ignore: decorator
@inline function take(bytes: usize): usize {
  const at = cursor;
  cursor = (cursor + bytes + 15) & ~<usize>15;
  return at;
}

/** la[i] = A Σ_{k ≤ i} Δ_k (f64, zero padded to nP) and dth[i] = Δ_i of head h (T, zero padded). */
function localLogDecay<T>(n: i32, nP: i32, Ah: f64, dt: usize, Hd: i32, h: i32, la: usize, dth: usize): void {
  const S = <usize>sizeof<T>();
  let acc: f64 = 0;
  for (let i = 0; i < nP; i++) {
    const d: T = i < n ? load<T>(dt + <usize>(i * Hd + h) * S) : <T>0;
    acc += Ah * <f64>d;
    store<f64>(la + <usize>i * 8, i < n ? acc : 0);
    store<T>(dth + <usize>i * S, d);
  }
}

export function ssd_fwd_f32(n: i32, Hd: i32, P: i32, G: i32, N: i32, x: usize, dt: usize, A: usize, bm: usize, cm: usize, dsk: usize, S: usize, y: usize, hasIn: i32, hasOut: i32, work: usize): void {
  ssdForward<f32>(n, Hd, P, G, N, x, dt, A, bm, cm, dsk, S, y, hasIn, hasOut, work);
}

export function ssd_fwd_f64(n: i32, Hd: i32, P: i32, G: i32, N: i32, x: usize, dt: usize, A: usize, bm: usize, cm: usize, dsk: usize, S: usize, y: usize, hasIn: i32, hasOut: i32, work: usize): void {
  ssdForward<f64>(n, Hd, P, G, N, x, dt, A, bm, cm, dsk, S, y, hasIn, hasOut, work);
}

/**
 * y of one chunk, and the state S (S_in on entry, S_out on return when hasOut):
 *   y_i  = Σ_{j≤i} (C_i·B_j) e^{a_i−a_j} Δ_j x_j + e^{a_i} S_in C_i + Dskip x_i
 *   S_out = e^{a_Q} S_in + Σ_j e^{a_Q−a_j} Δ_j x_j B_jᵀ
 */
function ssdForward<T>(n: i32, Hd: i32, P: i32, G: i32, N: i32, x: usize, dt: usize, A: usize, bm: usize, cm: usize, dsk: usize, S: usize, y: usize, hasIn: i32, hasOut: i32, work: usize): void {
  const E = <usize>sizeof<T>();
  const V = lanes<T>();
  const nP = padded(n);
  const xRow = Hd * P;
  const gRow = G * N;
  const hpg = Hd / G;
  const PN = <usize>(P * N);
  cursor = work;
  const la = take(<usize>nP * 8);
  const dth = take(<usize>nP * E);
  const Bt = take(<usize>(N * nP) * E); // [N, nP]
  const scores = take(<usize>(n * nP) * E); // [n, nP], lower triangle
  const mix = take(<usize>(n * nP) * E);
  const cn = take(<usize>(n * N) * E); // [n, N]
  const xw = take(<usize>(n * P) * E); // [n, P]
  for (let g = 0; g < G; g++) {
    const bg = bm + <usize>(g * N) * E;
    const cg = cm + <usize>(g * N) * E;
    transpose<T>(n, N, bg, gRow, Bt, nP);
    memory.fill(scores, 0, <usize>(n * nP) * E);
    mmNNLowerOut<T>(n, N, cg, gRow, Bt, nP, scores, nP); // C_i·B_j
    for (let h = g * hpg; h < (g + 1) * hpg; h++) {
      localLogDecay<T>(n, nP, <f64>load<T>(A + <usize>h * E), dt, Hd, h, la, dth);
      const xh = x + <usize>(h * P) * E;
      const yh = y + <usize>(h * P) * E;
      const Sh = S + <usize>h * PN * E;
      const Dh = <f64>load<T>(dsk + <usize>h * E);
      // y_i = Dskip x_i
      for (let i = 0; i < n; i++) scaleRow<T>(P, Dh, xh + <usize>(i * xRow) * E, yh + <usize>(i * xRow) * E, 0);
      // mix_ij = (C_i·B_j) e^{a_i−a_j} Δ_j for j ≤ i (lanes past i are never read)
      for (let i = 0; i < n; i++) {
        const li = load<f64>(la + <usize>i * 8);
        const row = <usize>(i * nP) * E;
        for (let j = 0; j <= i; j += V) {
          const o = <usize>j * E;
          const e = expSegment<T>(li, la + <usize>j * 8);
          v128.store(mix + row + o, vmul<T>(vmul<T>(v128.load(scores + row + o), e), v128.load(dth + o)));
        }
      }
      mmLowerNN<T>(n, P, mix, nP, xh, xRow, yh, xRow);
      if (hasIn != 0) {
        // y_i += e^{a_i} S_in C_i
        for (let i = 0; i < n; i++) scaleRow<T>(N, exps(load<f64>(la + <usize>i * 8)), cg + <usize>(i * gRow) * E, cn + <usize>(i * N) * E, 0);
        mmNN<T>(n, P, N, cn, N, Sh, P, yh, xRow);
      }
      if (hasOut != 0) {
        // S_out = e^{a_Q} S_in + Σ_j e^{a_Q−a_j} Δ_j B_j x_jᵀ   ([N, P] per head)
        const last = load<f64>(la + <usize>(n - 1) * 8);
        const carry = exps(last);
        for (let r = 0; r < N; r++) scaleRow<T>(P, carry, Sh + <usize>(r * P) * E, Sh + <usize>(r * P) * E, 0);
        for (let j = 0; j < n; j++) {
          const w = exps(last - load<f64>(la + <usize>j * 8)) * <f64>load<T>(dth + <usize>j * E);
          scaleRow<T>(P, w, xh + <usize>(j * xRow) * E, xw + <usize>(j * P) * E, 0);
        }
        mmNN<T>(N, P, n, Bt, nP, xw, P, Sh, P);
      }
    }
  }
}

export function ssd_bwd_f32(n: i32, Hd: i32, P: i32, G: i32, N: i32, x: usize, dt: usize, A: usize, bm: usize, cm: usize, dsk: usize, Sin: usize, dS: usize, gy: usize, gx: usize, gdt: usize, gA: usize, gb: usize, gc: usize, gD: usize, hasIn: i32, hasOut: i32, work: usize): void {
  ssdBackward<f32>(n, Hd, P, G, N, x, dt, A, bm, cm, dsk, Sin, dS, gy, gx, gdt, gA, gb, gc, gD, hasIn, hasOut, work);
}

export function ssd_bwd_f64(n: i32, Hd: i32, P: i32, G: i32, N: i32, x: usize, dt: usize, A: usize, bm: usize, cm: usize, dsk: usize, Sin: usize, dS: usize, gy: usize, gx: usize, gdt: usize, gA: usize, gb: usize, gc: usize, gD: usize, hasIn: i32, hasOut: i32, work: usize): void {
  ssdBackward<f64>(n, Hd, P, G, N, x, dt, A, bm, cm, dsk, Sin, dS, gy, gx, gdt, gA, gb, gc, gD, hasIn, hasOut, work);
}

/**
 * Gradients of one chunk (chunks visited last to first), accumulated into gx, gdt, gA, gb, gc,
 * gD; dS = ∂ℓ/∂S_out on entry, ∂ℓ/∂S_in on return (when hasIn). With M_ij = dy_i·x_j,
 * E_ij = e^{a_i−a_j}, W_ij = (C_i·B_j) E_ij Δ_j M_ij, V_j = e^{a_Q−a_j} Δ_j x_j·dS B_j:
 *   dx_j += Δ_j Σ_{i≥j} (C_i·B_j) E_ij dy_i + e^{a_Q−a_j} Δ_j dS B_j + Dskip dy_j
 *   d(C_i·B_j) = E_ij Δ_j M_ij;  dC_i += e^{a_i} S_in dy_i;  dB_j += e^{a_Q−a_j} Δ_j dSᵀ x_j
 *   da_i += Σ_j W_ij − Σ_k W_ki + e^{a_i} dy_i·S_in C_i;  da_Q += e^{a_Q} ⟨dS, S_in⟩ + Σ_j V_j
 *   dΔ_j += Σ_i (C_i·B_j) E_ij M_ij + e^{a_Q−a_j} x_j·dS B_j + A Σ_{i≥j} da_i;  dA += Σ_i da_i Σ_{k≤i} Δ_k
 *   dS_in = e^{a_Q} dS + Σ_i e^{a_i} C_i dy_iᵀ
 */
function ssdBackward<T>(n: i32, Hd: i32, P: i32, G: i32, N: i32, x: usize, dt: usize, A: usize, bm: usize, cm: usize, dsk: usize, Sin: usize, dS: usize, gy: usize, gx: usize, gdt: usize, gA: usize, gb: usize, gc: usize, gD: usize, hasIn: i32, hasOut: i32, work: usize): void {
  const E = <usize>sizeof<T>();
  const V = lanes<T>();
  const nP = padded(n);
  const xRow = Hd * P;
  const gRow = G * N;
  const hpg = Hd / G;
  const PN = <usize>(P * N);
  cursor = work;
  const la = take(<usize>nP * 8);
  const da = take(<usize>nP * 8);
  const dth = take(<usize>nP * E);
  const colDt = take(<usize>nP * E); // Σ_i (C_i·B_j) E_ij M_ij per column j
  const Bt = take(<usize>(N * nP) * E); // [N, nP]
  const Ct = take(<usize>(N * nP) * E);
  const scores = take(<usize>(n * nP) * E); // [n, nP]
  const mix = take(<usize>(n * nP) * E);
  const pairs = take(<usize>(n * nP) * E);
  const dScores = take(<usize>(n * nP) * E);
  const Xt = take(<usize>(P * nP) * E); // [P, nP]
  const cn = take(<usize>(n * N) * E); // [n, N]
  const R = take(<usize>(n * P) * E); // [n, P]
  const Tr = take(PN * E); // a state transposed, [P, N]
  for (let g = 0; g < G; g++) {
    const bg = bm + <usize>(g * N) * E;
    const cg = cm + <usize>(g * N) * E;
    const gbg = gb + <usize>(g * N) * E;
    const gcg = gc + <usize>(g * N) * E;
    transpose<T>(n, N, bg, gRow, Bt, nP);
    transpose<T>(n, N, cg, gRow, Ct, nP);
    memory.fill(scores, 0, <usize>(n * nP) * E);
    mmNNLowerOut<T>(n, N, cg, gRow, Bt, nP, scores, nP);
    memory.fill(dScores, 0, <usize>(n * nP) * E);
    for (let h = g * hpg; h < (g + 1) * hpg; h++) {
      const Ah = <f64>load<T>(A + <usize>h * E);
      localLogDecay<T>(n, nP, Ah, dt, Hd, h, la, dth);
      memory.fill(da, 0, <usize>nP * 8);
      const xh = x + <usize>(h * P) * E;
      const gyh = gy + <usize>(h * P) * E;
      const gxh = gx + <usize>(h * P) * E;
      const Sh = Sin + <usize>h * PN * E;
      const dSh = dS + <usize>h * PN * E;
      const last = load<f64>(la + <usize>(n - 1) * 8);
      const carry = exps(last);
      // Skip connection
      const Dh = <f64>load<T>(dsk + <usize>h * E);
      let dDh: f64 = 0;
      for (let i = 0; i < n; i++) {
        const o = <usize>(i * xRow) * E;
        dDh += dotRow<T>(P, gyh + o, xh + o);
        scaleRow<T>(P, Dh, gyh + o, gxh + o, 1);
      }
      store<T>(gD + <usize>h * E, <T>(<f64>load<T>(gD + <usize>h * E) + dDh));
      // Intra-chunk pairs j ≤ i: M = dy xᵀ, then W, d(C·B), and the mixing weights
      transpose<T>(n, P, xh, xRow, Xt, nP);
      memory.fill(pairs, 0, <usize>(n * nP) * E);
      mmNNLowerOut<T>(n, P, gyh, xRow, Xt, nP, pairs, nP);
      memory.fill(colDt, 0, <usize>nP * E);
      const zero = vsplat<T>(0);
      for (let i = 0; i < n; i++) {
        const li = load<f64>(la + <usize>i * 8);
        const row = <usize>(i * nP) * E;
        let rowW = f64x2.splat(0); // Σ_j W_ij in f64 (the sums of da cancel: keep their rounding small)
        for (let j = 0; j <= i; j += V) {
          const o = <usize>j * E;
          const keep = lowerMask<T>(i, j); // lanes past the diagonal read later steps: zero them
          const e = v128.bitselect(expSegment<T>(li, la + <usize>j * 8), zero, keep);
          const score = v128.bitselect(vmul<T>(v128.load(scores + row + o), e), zero, keep);
          const m = v128.bitselect(v128.load(pairs + row + o), zero, keep);
          const dtj = v128.load(dth + o);
          const sm = vmul<T>(score, m);
          const w = vmul<T>(sm, dtj);
          rowW = f64x2.add(rowW, subtractColumns<T>(da + <usize>j * 8, w));
          v128.store(colDt + o, vadd<T>(v128.load(colDt + o), sm));
          v128.store(dScores + row + o, vadd<T>(v128.load(dScores + row + o), vmul<T>(vmul<T>(e, dtj), m)));
          v128.store(mix + row + o, vmul<T>(score, dtj));
        }
        store<f64>(da + <usize>i * 8, load<f64>(da + <usize>i * 8) + hsum<f64>(rowW));
      }
      for (let j = 0; j < n; j++) {
        const gt = gdt + <usize>(j * Hd + h) * E;
        store<T>(gt, load<T>(gt) + load<T>(colDt + <usize>j * E));
      }
      mmLowerTN<T>(n, P, mix, nP, gyh, xRow, gxh, xRow); // dx_j += Σ_{i≥j} mix_ij dy_i

      if (hasIn != 0) {
        // y_i += e^{a_i} S_in C_i:  cn_i = S_inᵀ dy_i  ([n, N] = dy [n, P] · S_inᵀ [P, N])
        transpose<T>(N, P, Sh, P, Tr, N);
        memory.fill(cn, 0, <usize>(n * N) * E);
        mmNN<T>(n, N, P, gyh, xRow, Tr, N, cn, N);
        for (let i = 0; i < n; i++) {
          const decay = exps(load<f64>(la + <usize>i * 8));
          const ci = cn + <usize>(i * N) * E;
          const uc = dotRow<T>(N, ci, cg + <usize>(i * gRow) * E);
          scaleRow<T>(N, decay, ci, gcg + <usize>(i * gRow) * E, 1);
          store<f64>(da + <usize>i * 8, load<f64>(da + <usize>i * 8) + decay * uc);
        }
      }

      if (hasOut != 0) {
        // S_out = e^{a_Q} S_in + Σ_j e^{a_Q−a_j} Δ_j B_j x_jᵀ:  R_j = dS B_j  ([n, P] = B [n, N] · dS [N, P])
        let inner: f64 = 0;
        for (let r = 0; r < N; r++) inner += dotRow<T>(P, dSh + <usize>(r * P) * E, Sh + <usize>(r * P) * E);
        store<f64>(da + <usize>(n - 1) * 8, load<f64>(da + <usize>(n - 1) * 8) + carry * inner);
        memory.fill(R, 0, <usize>(n * P) * E);
        mmNN<T>(n, P, N, bg, gRow, dSh, P, R, P);
        let vSum: f64 = 0;
        for (let j = 0; j < n; j++) {
          const decay = exps(last - load<f64>(la + <usize>j * 8));
          const dtj = <f64>load<T>(dth + <usize>j * E);
          const rj = R + <usize>(j * P) * E;
          const xj = xh + <usize>(j * xRow) * E;
          const xr = dotRow<T>(P, xj, rj);
          scaleRow<T>(P, decay * dtj, rj, gxh + <usize>(j * xRow) * E, 1);
          scaleRow<T>(P, decay * dtj, xj, rj, 0); // R_j becomes the weighted x_j
          const v = decay * dtj * xr;
          vSum += v;
          store<f64>(da + <usize>j * 8, load<f64>(da + <usize>j * 8) - v);
          const gt = gdt + <usize>(j * Hd + h) * E;
          store<T>(gt, <T>(<f64>load<T>(gt) + decay * xr));
        }
        store<f64>(da + <usize>(n - 1) * 8, load<f64>(da + <usize>(n - 1) * 8) + vSum);
        // dB_j += e^{a_Q−a_j} Δ_j dSᵀ x_j  ([n, N] = R [n, P] · dSᵀ [P, N])
        transpose<T>(N, P, dSh, P, Tr, N);
        mmNN<T>(n, N, P, R, P, Tr, N, gbg, gRow);
      }

      if (hasIn != 0) {
        // dS_in = e^{a_Q} dS + Σ_i e^{a_i} C_i dy_iᵀ  ([N, P] += Cᵀ [N, n] · (e^{a} dy) [n, P])
        for (let r = 0; r < N; r++) scaleRow<T>(P, carry, dSh + <usize>(r * P) * E, dSh + <usize>(r * P) * E, 0);
        for (let i = 0; i < n; i++) scaleRow<T>(P, exps(load<f64>(la + <usize>i * 8)), gyh + <usize>(i * xRow) * E, R + <usize>(i * P) * E, 0);
        mmNN<T>(N, P, n, Ct, nP, R, P, dSh, P);
      }

      // a_i = A Σ_{k≤i} Δ_k: dA += Σ_i da_i cum_i, dΔ_k += A Σ_{i≥k} da_i
      let cum: f64 = 0;
      let s: f64 = 0;
      for (let i = 0; i < n; i++) {
        cum += <f64>load<T>(dth + <usize>i * E);
        s += load<f64>(da + <usize>i * 8) * cum;
      }
      store<T>(gA + <usize>h * E, <T>(<f64>load<T>(gA + <usize>h * E) + s));
      let acc: f64 = 0;
      for (let i = n - 1; i >= 0; i--) {
        acc += load<f64>(da + <usize>i * 8);
        const gt = gdt + <usize>(i * Hd + h) * E;
        store<T>(gt, <T>(<f64>load<T>(gt) + Ah * acc));
      }
    }
    // The scores are shared by the group's heads: dC += dScores B, dB += dScoresᵀ C
    mmLowerNN<T>(n, N, dScores, nP, bg, gRow, gcg, gRow);
    mmLowerTN<T>(n, N, dScores, nP, cg, gRow, gbg, gRow);
  }
}
