/**
 * Implicit-attention block builders for WebAssembly SIMD (AssemblyScript source of
 * src/core/kernels/wasm/implicit-binary.ts; rebuild with `npm run build:wasm`).
 *
 * The implicit attention of a gated-linear layer (Zimerman, Ali & Wolf, ICLR 2025, §3;
 * spec implicit-attention.md §1), per channel c:
 *
 *     H^c = diag(gate^c) · (core^c + skip^c·I) · diag(act^c) · M^c
 *
 * is built here a *band* of rows [t0, t1) at a time, so that a band of the core, of H and of
 * the channel reduction stay in cache while every channel that shares the core is applied to
 * it (src/implicit/fused.ts drives the loops). Cores come from three recurrences whose state
 * is carried from band to band:
 *
 *   diagonalBand  core[t,s] = Σ_n query_t[n] · X_t[n,s],  X_t[n,s] = decay_t[n]·X_{t−1}[n,s] (s < t),
 *                 X_t[n,t] = input_t[n]. Mamba's S6 (n = state, decay = exp(A·Δ_t), input = Δ_t·B_t,
 *                 query = C_t), GLA/RetNet (n = key dim, decay = exp(γ_t), input = k_t, query = q_t),
 *                 RG-LRU and HGRN (N = 1, unit query: core[t,s] = Π_{k=s+1..t} a_k · w_s);
 *   ssdProducts + ssdBand  Mamba2's head core (C_t·B_s) · q_t[s], q_t[s] = exp(A_h Δ_t)·q_{t−1}[s], q_t[t] = Δ_t;
 *   wkvBand       RWKV-4's softmax rows from the rescaled recurrence of families/rwkv.ts.
 * Every exp is taken by the caller (JavaScript's Math.exp, O(L·N) per core), so the kernels are
 * multiplies and adds only: in the same order as the JS references of src/implicit/families,
 * whose results they reproduce bit for bit (diagonal, SSD, transform) or to rounding (the WKV
 * normaliser and the bias row sums are summed in SIMD lanes).
 *
 * transformBand applies skip, gate, act and the causal conv to a band of core rows (compose.ts's
 * transformRow) and writes H or accumulates weight·H, weight·|H| or weight·max(H, 0) into a
 * band of an aggregate. biasBand gives the exact variant's bias rows.
 *
 * Conventions: all arrays are float64; pointers are byte addresses in this module's memory;
 * a band buffer holds row t at out + (t − t0)·L·8 and its entries s ≤ t (entries s > t are
 * left as they are, except in transformBand's write mode, which zeroes them). [L×N] arrays are
 * row-major with row t at ptr + t·N·8; [N×L] state rows n at ptr + n·L·8.
 */

/** First free byte after the module's static data (the JS side lays its buffers from here). */
export function heapBase(): usize {
  return __heap_base;
}

// @ts-ignore: decorator
@inline function at(p: usize, i: i32): usize {
  return p + (<usize>i << 3);
}

/**
 * Rows [t0, t1) of a diagonal-state core into `out`; `state` X [N×L] holds the rows of the
 * previous band (zero before t0 = 0). query = 0: unit query (N must be 1): core[t,s] = X_t[0,s].
 * decay, input, query: [L×N].
 */
export function diagonalBand(N: i32, L: i32, t0: i32, t1: i32, decay: usize, input: usize, query: usize, state: usize, out: usize): void {
  const rowBytes = <usize>L << 3;
  for (let t = t0; t < t1; t++) {
    const o = out + <usize>(t - t0) * rowBytes;
    const dRow = at(decay, t * N);
    const iRow = at(input, t * N);
    if (query == 0) {
      const d = v128.load_splat<f64>(dRow);
      let s = 0;
      for (; s + 2 <= t; s += 2) {
        const x = f64x2.mul(v128.load(at(state, s)), d);
        v128.store(at(state, s), x);
        v128.store(at(o, s), x);
      }
      for (; s < t; s++) {
        const x = load<f64>(at(state, s)) * load<f64>(dRow);
        store<f64>(at(state, s), x);
        store<f64>(at(o, s), x);
      }
      const x = load<f64>(iRow);
      store<f64>(at(state, t), x);
      store<f64>(at(o, t), x);
      continue;
    }
    const qRow = at(query, t * N);
    let s = 0;
    // Eight columns at a time: X[n, s:s+8] ← decay_n · X[n, s:s+8], acc += query_n · X[n, s:s+8].
    for (; s + 8 <= t; s += 8) {
      let a0 = f64x2.splat(0), a1 = a0, a2 = a0, a3 = a0;
      let p = at(state, s);
      for (let n = 0; n < N; n++) {
        const d = v128.load_splat<f64>(at(dRow, n));
        const q = v128.load_splat<f64>(at(qRow, n));
        const x0 = f64x2.mul(v128.load(p), d);
        const x1 = f64x2.mul(v128.load(p, 16), d);
        const x2 = f64x2.mul(v128.load(p, 32), d);
        const x3 = f64x2.mul(v128.load(p, 48), d);
        v128.store(p, x0);
        v128.store(p, x1, 16);
        v128.store(p, x2, 32);
        v128.store(p, x3, 48);
        a0 = f64x2.add(a0, f64x2.mul(q, x0));
        a1 = f64x2.add(a1, f64x2.mul(q, x1));
        a2 = f64x2.add(a2, f64x2.mul(q, x2));
        a3 = f64x2.add(a3, f64x2.mul(q, x3));
        p += rowBytes;
      }
      const os = at(o, s);
      v128.store(os, a0);
      v128.store(os, a1, 16);
      v128.store(os, a2, 32);
      v128.store(os, a3, 48);
    }
    for (; s + 2 <= t; s += 2) {
      let a = f64x2.splat(0);
      let p = at(state, s);
      for (let n = 0; n < N; n++) {
        const x = f64x2.mul(v128.load(p), v128.load_splat<f64>(at(dRow, n)));
        v128.store(p, x);
        a = f64x2.add(a, f64x2.mul(v128.load_splat<f64>(at(qRow, n)), x));
        p += rowBytes;
      }
      v128.store(at(o, s), a);
    }
    for (; s < t; s++) {
      let a = 0.0;
      let p = at(state, s);
      for (let n = 0; n < N; n++) {
        const x = load<f64>(p) * load<f64>(at(dRow, n));
        store<f64>(p, x);
        a += load<f64>(at(qRow, n)) * x;
        p += rowBytes;
      }
      store<f64>(at(o, s), a);
    }
    let a = 0.0;
    let p = at(state, t);
    for (let n = 0; n < N; n++) {
      const x = load<f64>(at(iRow, n));
      store<f64>(p, x);
      a += load<f64>(at(qRow, n)) * x;
      p += rowBytes;
    }
    store<f64>(at(o, t), a);
  }
}

/**
 * Mamba2's products C_t · B_s for rows [t0, t1), s ≤ t, into `out`: c [L×N] (C of the head's
 * group), bt [N×L] (B transposed). Sums over n in order, from 0, as dotCB in families/mamba2.ts.
 */
export function ssdProducts(N: i32, L: i32, t0: i32, t1: i32, c: usize, bt: usize, out: usize): void {
  const rowBytes = <usize>L << 3;
  let t = t0;
  // Two rows at a time share the loads of B: 8 accumulators.
  for (; t + 2 <= t1; t += 2) {
    const o0 = out + <usize>(t - t0) * rowBytes;
    const o1 = o0 + rowBytes;
    const c0 = at(c, t * N);
    const c1 = at(c, (t + 1) * N);
    let s = 0;
    for (; s + 8 <= t + 1; s += 8) {
      let a0 = f64x2.splat(0), a1 = a0, a2 = a0, a3 = a0;
      let b0 = a0, b1 = a0, b2 = a0, b3 = a0;
      let p = at(bt, s);
      for (let n = 0; n < N; n++) {
        const x0 = v128.load(p);
        const x1 = v128.load(p, 16);
        const x2 = v128.load(p, 32);
        const x3 = v128.load(p, 48);
        const y = v128.load_splat<f64>(at(c0, n));
        const z = v128.load_splat<f64>(at(c1, n));
        a0 = f64x2.add(a0, f64x2.mul(y, x0));
        a1 = f64x2.add(a1, f64x2.mul(y, x1));
        a2 = f64x2.add(a2, f64x2.mul(y, x2));
        a3 = f64x2.add(a3, f64x2.mul(y, x3));
        b0 = f64x2.add(b0, f64x2.mul(z, x0));
        b1 = f64x2.add(b1, f64x2.mul(z, x1));
        b2 = f64x2.add(b2, f64x2.mul(z, x2));
        b3 = f64x2.add(b3, f64x2.mul(z, x3));
        p += rowBytes;
      }
      let os = at(o0, s);
      v128.store(os, a0);
      v128.store(os, a1, 16);
      v128.store(os, a2, 32);
      v128.store(os, a3, 48);
      os = at(o1, s);
      v128.store(os, b0);
      v128.store(os, b1, 16);
      v128.store(os, b2, 32);
      v128.store(os, b3, 48);
    }
    productsTail(N, L, s, t, c0, bt, o0);
    productsTail(N, L, s, t + 1, c1, bt, o1);
  }
  if (t < t1) productsTail(N, L, 0, t, at(c, t * N), bt, out + <usize>(t - t0) * rowBytes);
}

/** o[s] = Σ_n c[n]·bt[n, s] for s in [from, t]. */
function productsTail(N: i32, L: i32, from: i32, t: i32, c: usize, bt: usize, o: usize): void {
  const rowBytes = <usize>L << 3;
  let s = from;
  for (; s + 2 <= t + 1; s += 2) {
    let a = f64x2.splat(0);
    let p = at(bt, s);
    for (let n = 0; n < N; n++) {
      a = f64x2.add(a, f64x2.mul(v128.load_splat<f64>(at(c, n)), v128.load(p)));
      p += rowBytes;
    }
    v128.store(at(o, s), a);
  }
  for (; s <= t; s++) {
    let a = 0.0;
    let p = at(bt, s);
    for (let n = 0; n < N; n++) {
      a += load<f64>(at(c, n)) * load<f64>(p);
      p += rowBytes;
    }
    store<f64>(at(o, s), a);
  }
}

/**
 * Mamba2 head core rows [t0, t1): q[s] ← decay_t·q[s] (s < t), q[t] = Δ_t, out[t,s] = cb[t,s]·q[s].
 * decay, dt: [L]; state q: [L]; cb: the band of ssdProducts.
 */
export function ssdBand(L: i32, t0: i32, t1: i32, decay: usize, dt: usize, state: usize, cb: usize, out: usize): void {
  const rowBytes = <usize>L << 3;
  for (let t = t0; t < t1; t++) {
    const o = out + <usize>(t - t0) * rowBytes;
    const p = cb + <usize>(t - t0) * rowBytes;
    const d = v128.load_splat<f64>(at(decay, t));
    let s = 0;
    for (; s + 4 <= t; s += 4) {
      const x0 = f64x2.mul(v128.load(at(state, s)), d);
      const x1 = f64x2.mul(v128.load(at(state, s), 16), d);
      v128.store(at(state, s), x0);
      v128.store(at(state, s), x1, 16);
      v128.store(at(o, s), f64x2.mul(v128.load(at(p, s)), x0));
      v128.store(at(o, s), f64x2.mul(v128.load(at(p, s), 16), x1), 16);
    }
    for (; s < t; s++) {
      const x = load<f64>(at(state, s)) * load<f64>(at(decay, t));
      store<f64>(at(state, s), x);
      store<f64>(at(o, s), load<f64>(at(p, s)) * x);
    }
    const x = load<f64>(at(dt, t));
    store<f64>(at(state, t), x);
    store<f64>(at(o, t), load<f64>(at(p, t)) * x);
  }
}

/**
 * RWKV-4 softmax rows [t0, t1) (families/rwkv.ts coreMatrix). `scalars` [4×L] holds, per row t,
 * the outcome of the scalar part of the recurrence: shrink_t (q[s] ← shrink·q[s] for s < t−1,
 * 1 unless the running maximum grew), fresh_t (q[t−1]), scaleOff_t and diag_t =
 * exp(u + k_t − R_t). Row t: v_s = q[s]·scaleOff, z = diag + Σ v, α[t,·] = (v, diag)·(1/z).
 * out gets the unnormalised (v, diag) and scales[t − t0] = 1/z: the consumers multiply (as
 * transformBand's rowScale does), or normalise = 1 multiplies here.
 */
export function wkvBand(L: i32, t0: i32, t1: i32, scalars: usize, state: usize, out: usize, scales: usize, normalise: i32): void {
  const rowBytes = <usize>L << 3;
  for (let t = t0; t < t1; t++) {
    const o = out + <usize>(t - t0) * rowBytes;
    const diag = load<f64>(at(scalars, 3 * L + t));
    // q[s] ← shrink·q[s] (s < t − 1; ×1 leaves q as it is), q[t−1] = fresh, v = q·scaleOff.
    const shrink = load<f64>(at(scalars, t));
    const scale = load<f64>(at(scalars, 2 * L + t));
    const r = f64x2.splat(shrink);
    const m = f64x2.splat(scale);
    let z0 = f64x2.splat(0), z1 = z0;
    let s = 0;
    for (; s + 4 <= t - 1; s += 4) {
      const x0 = f64x2.mul(v128.load(at(state, s)), r);
      const x1 = f64x2.mul(v128.load(at(state, s), 16), r);
      v128.store(at(state, s), x0);
      v128.store(at(state, s), x1, 16);
      const v0 = f64x2.mul(x0, m);
      const v1 = f64x2.mul(x1, m);
      v128.store(at(o, s), v0);
      v128.store(at(o, s), v1, 16);
      z0 = f64x2.add(z0, v0);
      z1 = f64x2.add(z1, v1);
    }
    const zv = f64x2.add(z0, z1);
    let z = diag + (f64x2.extract_lane(zv, 0) + f64x2.extract_lane(zv, 1));
    for (; s < t - 1; s++) {
      const x = load<f64>(at(state, s)) * shrink;
      store<f64>(at(state, s), x);
      const v = x * scale;
      store<f64>(at(o, s), v);
      z += v;
    }
    if (t > 0) {
      const x = load<f64>(at(scalars, L + t));
      store<f64>(at(state, t - 1), x);
      const v = x * scale;
      store<f64>(at(o, t - 1), v);
      z += v;
    }
    store<f64>(at(o, t), diag);
    const inv = 1 / z;
    store<f64>(at(scales, t - t0), inv);
    if (normalise != 0) {
      const iv = f64x2.splat(inv);
      s = 0;
      for (; s + 2 <= t + 1; s += 2) v128.store(at(o, s), f64x2.mul(v128.load(at(o, s)), iv));
      for (; s <= t; s++) store<f64>(at(o, s), load<f64>(at(o, s)) * inv);
    }
  }
}

/** transformBand modes: write H (zeroing s > t), or accumulate weight·H, weight·|H|, weight·max(H, 0). */
const WRITE = 0;
const SUM = 1;
const ABS = 2;
const POSITIVE = 3;

/**
 * H rows [t0, t1) of one channel from a band of core rows (compose.ts transformRow):
 *   tmp[s] = ((core[t,s] + skip·[s = t]) · gate_t) · act_s   (s ≤ t),
 *   H[t,s] = Σ_{j=0..min(K−1, t−s)} tmp[s+j] · conv[K−1−j]   (tmp when conv = 0),
 * then by `mode` into dst (band rows, row stride L). rowScale: [T] factors of the core's rows
 * (WKV's 1/z, applied first, as the reference normalises its rows) or 0; gate, act: [L] or 0
 * (absent); conv: [K] taps or 0; tmp: scratch [L + 2]. Each mode has its own inner loops (the mode is a constant
 * in each inlined copy), and K = 4 (Mamba's, Mamba2's, Griffin's conv) keeps its taps in registers.
 */
export function transformBand(L: i32, t0: i32, t1: i32, core: usize, rowScale: usize, skip: f64, gate: usize, act: usize, conv: usize, K: i32, tmp: usize, mode: i32, weight: f64, dst: usize): void {
  if (mode == WRITE) transformRows(WRITE, L, t0, t1, core, rowScale, skip, gate, act, conv, K, tmp, weight, dst);
  else if (mode == SUM) transformRows(SUM, L, t0, t1, core, rowScale, skip, gate, act, conv, K, tmp, weight, dst);
  else if (mode == ABS) transformRows(ABS, L, t0, t1, core, rowScale, skip, gate, act, conv, K, tmp, weight, dst);
  else transformRows(POSITIVE, L, t0, t1, core, rowScale, skip, gate, act, conv, K, tmp, weight, dst);
}

// @ts-ignore: decorator
@inline function transformRows(mode: i32, L: i32, t0: i32, t1: i32, core: usize, rowScale: usize, skip: f64, gate: usize, act: usize, conv: usize, K: i32, tmp: usize, weight: f64, dst: usize): void {
  const rowBytes = <usize>L << 3;
  const w = f64x2.splat(weight);
  for (let t = t0; t < t1; t++) {
    let c = core + <usize>(t - t0) * rowBytes;
    const d = dst + <usize>(t - t0) * rowBytes;
    const g = gate != 0 ? load<f64>(at(gate, t)) : 1.0;
    const gv = f64x2.splat(g);
    let s = 0;
    if (rowScale != 0 && conv == 0 && act == 0) {
      // WKV's rows (gate only): H = (c·scale)·gate, straight into the reduction.
      const r = load<f64>(at(rowScale, t - t0));
      const rv = f64x2.splat(r);
      for (; s + 2 <= t; s += 2) reduceVector(mode, f64x2.mul(f64x2.mul(v128.load(at(c, s)), rv), gv), w, at(d, s));
      for (; s < t; s++) reduceScalar(mode, load<f64>(at(c, s)) * r * g, weight, at(d, s));
      reduceScalar(mode, (load<f64>(at(c, t)) * r + skip) * g, weight, at(d, t));
      if (mode == WRITE && t + 1 < L) memory.fill(at(d, t + 1), 0, <usize>(L - t - 1) << 3);
      continue;
    }
    if (rowScale != 0) {
      // The row's normaliser (WKV): core = c·scale, into tmp first.
      const r = load<f64>(at(rowScale, t - t0));
      const rv = f64x2.splat(r);
      for (; s + 2 <= t + 1; s += 2) v128.store(at(tmp, s), f64x2.mul(v128.load(at(c, s)), rv));
      for (; s <= t; s++) store<f64>(at(tmp, s), load<f64>(at(c, s)) * r);
      c = tmp;
      s = 0;
    }
    if (conv == 0) {
      // No conv: H straight from the core row.
      if (act != 0) {
        for (; s + 2 <= t; s += 2) reduceVector(mode, f64x2.mul(f64x2.mul(v128.load(at(c, s)), gv), v128.load(at(act, s))), w, at(d, s));
        for (; s < t; s++) reduceScalar(mode, load<f64>(at(c, s)) * g * load<f64>(at(act, s)), weight, at(d, s));
        reduceScalar(mode, (load<f64>(at(c, t)) + skip) * g * load<f64>(at(act, t)), weight, at(d, t));
      } else {
        for (; s + 2 <= t; s += 2) reduceVector(mode, f64x2.mul(v128.load(at(c, s)), gv), w, at(d, s));
        for (; s < t; s++) reduceScalar(mode, load<f64>(at(c, s)) * g, weight, at(d, s));
        reduceScalar(mode, (load<f64>(at(c, t)) + skip) * g, weight, at(d, t));
      }
      if (mode == WRITE && t + 1 < L) memory.fill(at(d, t + 1), 0, <usize>(L - t - 1) << 3);
      continue;
    }
    if (act != 0) {
      for (; s + 2 <= t; s += 2) v128.store(at(tmp, s), f64x2.mul(f64x2.mul(v128.load(at(c, s)), gv), v128.load(at(act, s))));
      for (; s < t; s++) store<f64>(at(tmp, s), load<f64>(at(c, s)) * g * load<f64>(at(act, s)));
      store<f64>(at(tmp, t), (load<f64>(at(c, t)) + skip) * g * load<f64>(at(act, t)));
    } else {
      for (; s + 2 <= t; s += 2) v128.store(at(tmp, s), f64x2.mul(v128.load(at(c, s)), gv));
      for (; s < t; s++) store<f64>(at(tmp, s), load<f64>(at(c, s)) * g);
      store<f64>(at(tmp, t), (load<f64>(at(c, t)) + skip) * g);
    }
    s = 0;
    if (K == 4) {
      // Full taps while s + 3 ≤ t, two columns at a time.
      const w0 = v128.load_splat<f64>(at(conv, 3));
      const w1 = v128.load_splat<f64>(at(conv, 2));
      const w2 = v128.load_splat<f64>(at(conv, 1));
      const w3 = v128.load_splat<f64>(at(conv, 0));
      const zero = f64x2.splat(0);
      for (; s + 4 <= t; s += 2) {
        const p = at(tmp, s);
        let a = f64x2.add(zero, f64x2.mul(v128.load(p), w0));
        a = f64x2.add(a, f64x2.mul(v128.load(p, 8), w1));
        a = f64x2.add(a, f64x2.mul(v128.load(p, 16), w2));
        a = f64x2.add(a, f64x2.mul(v128.load(p, 24), w3));
        reduceVector(mode, a, w, at(d, s));
      }
    } else {
      for (; s + 2 <= t - K + 2; s += 2) {
        let a = f64x2.splat(0);
        for (let j = 0; j < K; j++) a = f64x2.add(a, f64x2.mul(v128.load(at(tmp, s + j)), v128.load_splat<f64>(at(conv, K - 1 - j))));
        reduceVector(mode, a, w, at(d, s));
      }
    }
    // The last columns: fewer taps.
    for (; s <= t; s++) {
      let a = 0.0;
      const last = min(K - 1, t - s);
      for (let j = 0; j <= last; j++) a += load<f64>(at(tmp, s + j)) * load<f64>(at(conv, K - 1 - j));
      reduceScalar(mode, a, weight, at(d, s));
    }
    if (mode == WRITE && t + 1 < L) memory.fill(at(d, t + 1), 0, <usize>(L - t - 1) << 3);
  }
}

// @ts-ignore: decorator
@inline function reduceVector(mode: i32, h: v128, w: v128, p: usize): void {
  if (mode == WRITE) v128.store(p, h);
  else if (mode == SUM) v128.store(p, f64x2.add(v128.load(p), f64x2.mul(w, h)));
  else if (mode == ABS) v128.store(p, f64x2.add(v128.load(p), f64x2.mul(w, f64x2.abs(h))));
  else v128.store(p, f64x2.add(v128.load(p), f64x2.mul(w, f64x2.max(f64x2.splat(0), h))));
}

// @ts-ignore: decorator
@inline function reduceScalar(mode: i32, h: f64, weight: f64, p: usize): void {
  if (mode == WRITE) store<f64>(p, h);
  else if (mode == SUM) store<f64>(p, load<f64>(p) + weight * h);
  else if (mode == ABS) store<f64>(p, load<f64>(p) + weight * Math.abs(h));
  else store<f64>(p, load<f64>(p) + weight * max(0.0, h));
}

/**
 * The exact variant's bias at rows [t0, t1) of one channel (compose.ts biasOfRow):
 *   bias[t] = gate_t · (skip·act_t + Σ_{s≤t} core[t,s]·act_s) · convBias,
 * gate, act: [L] or 0 (absent); rowScale: [T] factors of the core's rows (WKV's 1/z) or 0;
 * tmp: scratch [L]; bias: [L], written at t0..t1−1.
 */
export function biasBand(L: i32, t0: i32, t1: i32, core: usize, rowScale: usize, skip: f64, gate: usize, act: usize, convBias: f64, tmp: usize, bias: usize): void {
  const rowBytes = <usize>L << 3;
  for (let t = t0; t < t1; t++) {
    let c = core + <usize>(t - t0) * rowBytes;
    if (rowScale != 0) {
      const r = load<f64>(at(rowScale, t - t0));
      for (let s = 0; s <= t; s++) store<f64>(at(tmp, s), load<f64>(at(c, s)) * r);
      c = tmp;
    }
    let acc = f64x2.splat(0);
    let s = 0;
    let sum = 0.0;
    if (act != 0) {
      for (; s + 2 <= t + 1; s += 2) acc = f64x2.add(acc, f64x2.mul(v128.load(at(c, s)), v128.load(at(act, s))));
      sum = skip * load<f64>(at(act, t)) + (f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1));
      for (; s <= t; s++) sum += load<f64>(at(c, s)) * load<f64>(at(act, s));
    } else {
      for (; s + 2 <= t + 1; s += 2) acc = f64x2.add(acc, v128.load(at(c, s)));
      sum = skip + (f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1));
      for (; s <= t; s++) sum += load<f64>(at(c, s));
    }
    const g = gate != 0 ? load<f64>(at(gate, t)) : 1.0;
    store<f64>(at(bias, t), g * sum * convBias);
  }
}
