/**
 * Element-wise recurrences in WebAssembly SIMD (AssemblyScript source of
 * src/core/kernels/wasm/rnn-binary.ts together with rnn-math.ts and rnn-gla.ts; rebuild with
 * `npm run build:wasm`): RWKV-4's WKV, Griffin's RG-LRU and HGRN, forward and backward, the
 * same equations and operation order as the JS kernels in src/scans/{wkv,rglru,hgrn}.ts
 * (their references). Each channel is an independent recurrence over time; the kernels walk
 * time outermost and channels two at a time in f64x2 lanes (both dtypes: the recurrences carry
 * float64 state, see rnn-math.ts), the odd last channel in a one-lane tail.
 *
 * Every kernel processes one block of n consecutive time steps of one batch row: its arrays
 * are [n, C] row-major (C channels; pointers are byte addresses in this module's memory), its
 * carried state is a [C] float64 array that the next block continues from, so the JS side
 * (src/core/kernels/wasm/rnn-wasm.ts) can stream long sequences through a bounded memory.
 * Backward kernels accumulate into their gradient arrays (+=) and walk their block in reverse
 * time. Nothing is allocated: every buffer is laid out by the caller.
 */
import { acc, lastExpm1, ld, st, vexp, vexpBoth, vlog } from './rnn-math';

/** Bytes per f64. */
const F8: usize = 8;

/** First free byte after the module's static data (the JS side lays its buffers from here). */
export function heapBase(): usize {
  return __heap_base;
}

// ---- WKV (RWKV-4) ---------------------------------------------------------------------------

/**
 * e^{−|d|}: with q = max(x, y), the pair e^{x−q}, e^{y−q} is (1, e^{−|x−y|}) or (e^{−|x−y|}, 1)
 * (the same arguments the JS kernel exponentiates: y − x = −(x − y) exactly), so the WKV
 * recurrences need one exp per pair instead of two.
 */
// @ts-ignore: decorator
@inline function expNegAbs(d: v128): v128 {
  return vexp(f64x2.neg(f64x2.abs(d)));
}

/**
 * Forward over n steps: y [n, C] from k, v [n, C]; decay λ = e^w and bonus u are [C] f64; the
 * state (num, den, max) [C] f64 is advanced in place; logZ [n, C] f64 is written when ≠ 0.
 *   q = max(p, u + k_t);  y_t = (e^{p−q} a + e^{u+k_t−q} v_t) / (e^{p−q} d + e^{u+k_t−q})
 *   q' = max(p − λ, k_t); a ← e^{p−λ−q'} a + e^{k_t−q'} v_t; d likewise with 1; p ← q'
 */
export function wkv_forward_f32(n: i32, C: i32, decay: usize, u: usize, k: usize, v: usize, y: usize, logZ: usize, num: usize, den: usize, max: usize): void {
  wkvForward<f32>(n, C, decay, u, k, v, y, logZ, num, den, max);
}

export function wkv_forward_f64(n: i32, C: i32, decay: usize, u: usize, k: usize, v: usize, y: usize, logZ: usize, num: usize, den: usize, max: usize): void {
  wkvForward<f64>(n, C, decay, u, k, v, y, logZ, num, den, max);
}

function wkvForward<T>(n: i32, C: i32, decay: usize, u: usize, k: usize, v: usize, y: usize, logZ: usize, num: usize, den: usize, max: usize): void {
  for (let t = 0; t < n; t++) {
    const row = <usize>t * <usize>C;
    let c = 0;
    for (; c + 2 <= C; c += 2) wkvForwardLanes<T>(row, c, 2, decay, u, k, v, y, logZ, num, den, max);
    if (c < C) wkvForwardLanes<T>(row, c, 1, decay, u, k, v, y, logZ, num, den, max);
  }
}

// @ts-ignore: decorator
@inline function wkvForwardLanes<T>(row: usize, c: i32, lanes: i32, decay: usize, u: usize, k: usize, v: usize, y: usize, logZ: usize, num: usize, den: usize, max: usize): void {
  const S = sizeof<T>();
  const i = row + <usize>c;
  const sc = <usize>c * F8;
  const kk = ld<T>(k + i * S, lanes);
  const vv = ld<T>(v + i * S, lanes);
  const p = ld<f64>(max + sc, lanes);
  const a = ld<f64>(num + sc, lanes);
  const d = ld<f64>(den + sc, lanes);
  const bonus = f64x2.add(ld<f64>(u + sc, lanes), kk);
  let q = f64x2.max(p, bonus);
  // e^{p−q} and e^{bonus−q}: one of the two is e^0 = 1, the other e^{−|p − bonus|}
  const firstIsMax = f64x2.ge(p, bonus);
  let e = expNegAbs(f64x2.sub(p, bonus));
  let e1 = v128.bitselect(f64x2.splat(1), e, firstIsMax);
  let e2 = v128.bitselect(e, f64x2.splat(1), firstIsMax);
  const norm = f64x2.add(f64x2.mul(e1, d), e2);
  st<T>(y + i * S, f64x2.div(f64x2.add(f64x2.mul(e1, a), f64x2.mul(e2, vv)), norm), lanes);
  if (logZ != 0) st<f64>(logZ + i * F8, f64x2.add(q, vlog(norm)), lanes);
  const decayed = f64x2.sub(p, ld<f64>(decay + sc, lanes));
  q = f64x2.max(decayed, kk);
  const decayedIsMax = f64x2.ge(decayed, kk);
  e = expNegAbs(f64x2.sub(decayed, kk));
  e1 = v128.bitselect(f64x2.splat(1), e, decayedIsMax);
  e2 = v128.bitselect(e, f64x2.splat(1), decayedIsMax);
  st<f64>(num + sc, f64x2.add(f64x2.mul(e1, a), f64x2.mul(e2, vv)), lanes);
  st<f64>(den + sc, f64x2.add(f64x2.mul(e1, d), e2), lanes);
  st<f64>(max + sc, q, lanes);
}

/**
 * Backward over the n steps of a block, last step first (blocks of a sequence in reverse).
 * Accumulates gk, gv [n, C] (T) and dDecay, dU [C] f64; the reverse-time sums (future,
 * futureOut, lagged, laggedOut) and their log-scale m, each [C] f64, carry into the previous
 * block. Derivation: `wkvBackward` in src/scans/wkv.ts.
 */
export function wkv_backward_f32(n: i32, C: i32, decay: usize, u: usize, k: usize, v: usize, y: usize, logZ: usize, gy: usize, gk: usize, gv: usize, state: usize): void {
  wkvBackward<f32>(n, C, decay, u, k, v, y, logZ, gy, gk, gv, state);
}

export function wkv_backward_f64(n: i32, C: i32, decay: usize, u: usize, k: usize, v: usize, y: usize, logZ: usize, gy: usize, gk: usize, gv: usize, state: usize): void {
  wkvBackward<f64>(n, C, decay, u, k, v, y, logZ, gy, gk, gv, state);
}

/** `state` holds seven [C] f64 arrays: future, futureOut, lagged, laggedOut, scale, dDecay, dU. */
function wkvBackward<T>(n: i32, C: i32, decay: usize, u: usize, k: usize, v: usize, y: usize, logZ: usize, gy: usize, gk: usize, gv: usize, state: usize): void {
  for (let t = n - 1; t >= 0; t--) {
    const row = <usize>t * <usize>C;
    let c = 0;
    for (; c + 2 <= C; c += 2) wkvBackwardLanes<T>(row, c, 2, C, decay, u, k, v, y, logZ, gy, gk, gv, state);
    if (c < C) wkvBackwardLanes<T>(row, c, 1, C, decay, u, k, v, y, logZ, gy, gk, gv, state);
  }
}

// @ts-ignore: decorator
@inline function wkvBackwardLanes<T>(row: usize, c: i32, lanes: i32, C: i32, decay: usize, u: usize, k: usize, v: usize, y: usize, logZ: usize, gy: usize, gk: usize, gv: usize, state: usize): void {
  const S = sizeof<T>();
  const i = row + <usize>c;
  const sc = <usize>c * F8;
  const plane = <usize>C * F8;
  const future = state + sc;
  const futureOut = future + plane;
  const lagged = futureOut + plane;
  const laggedOut = lagged + plane;
  const scale = laggedOut + plane;
  const dDecay = scale + plane;
  const dU = dDecay + plane;
  const kk = ld<T>(k + i * S, lanes);
  const vv = ld<T>(v + i * S, lanes);
  const yy = ld<T>(y + i * S, lanes);
  const g = ld<T>(gy + i * S, lanes);
  const z = ld<f64>(logZ + i * F8, lanes);
  const m = ld<f64>(scale, lanes);
  const bs = ld<f64>(future, lanes);
  const cs = ld<f64>(futureOut, lanes);
  const lg = ld<f64>(lagged, lanes);
  const lgOut = ld<f64>(laggedOut, lanes);
  const diagonal = f64x2.mul(g, vexp(f64x2.sub(f64x2.add(ld<f64>(u + sc, lanes), kk), z)));
  const past = vexp(f64x2.add(kk, m));
  const vMinusY = f64x2.sub(vv, yy);
  acc<T>(gv + i * S, f64x2.add(diagonal, f64x2.mul(past, bs)), lanes);
  acc<T>(gk + i * S, f64x2.add(f64x2.mul(diagonal, vMinusY), f64x2.mul(past, f64x2.sub(f64x2.mul(vv, bs), cs))), lanes);
  st<f64>(dU, f64x2.add(ld<f64>(dU, lanes), f64x2.mul(diagonal, vMinusY)), lanes);
  st<f64>(dDecay, f64x2.sub(ld<f64>(dDecay, lanes), f64x2.mul(past, f64x2.sub(f64x2.mul(vv, lg), lgOut))), lanes);
  // Fold token t into the sums over t' > t − 1.
  const decayed = f64x2.sub(m, ld<f64>(decay + sc, lanes));
  const negZ = f64x2.neg(z);
  const mNew = f64x2.max(decayed, negZ);
  // e^{decayed − mNew} and e^{−z − mNew}: one is 1 (see expNegAbs)
  const decayedIsMax = f64x2.ge(decayed, negZ);
  const e = expNegAbs(f64x2.sub(decayed, negZ));
  const keep = v128.bitselect(f64x2.splat(1), e, decayedIsMax);
  const add = f64x2.mul(g, v128.bitselect(e, f64x2.splat(1), decayedIsMax));
  st<f64>(lagged, f64x2.mul(keep, f64x2.add(lg, bs)), lanes);
  st<f64>(laggedOut, f64x2.mul(keep, f64x2.add(lgOut, cs)), lanes);
  st<f64>(future, f64x2.add(f64x2.mul(keep, bs), add), lanes);
  st<f64>(futureOut, f64x2.add(f64x2.mul(keep, cs), f64x2.mul(add, yy)), lanes);
  st<f64>(scale, mNew, lanes);
}

// ---- RG-LRU (Griffin) -----------------------------------------------------------------------

/** Largest |d√u/du| in the backward (HF `_MAX_SQRT_GRADIENT`), as in src/scans/rglru.ts. */
const MAX_SQRT_GRADIENT: f64 = 1000;

/**
 * m = sqrt(1 − a²) for a = vexpBoth(ℓ), as sqrt(−expm1(ℓ)·(1 + a)): the JS kernel's
 * sqrt(−expm1(2ℓ)) from the one exp evaluation, precise when a is close to 1.
 */
// @ts-ignore: decorator
@inline function normalizer(a: v128): v128 {
  return f64x2.sqrt(f64x2.neg(f64x2.mul(lastExpm1(), f64x2.add(a, f64x2.splat(1.0)))));
}

/**
 * Forward over n steps: h_t = e^{ℓ_t} h_{t−1} + sqrt(−expm1(2ℓ_t)) x_t, with ℓ, x, h [n, W]
 * (T). `prev` [W] (T) holds h of the step before the block and receives the block's last row;
 * `first` ≠ 0 when the block starts the sequence (reset: h_0 = x_0).
 */
export function rglru_forward_f32(n: i32, W: i32, first: i32, logA: usize, x: usize, h: usize, prev: usize): void {
  rglruForward<f32>(n, W, first, logA, x, h, prev);
}

export function rglru_forward_f64(n: i32, W: i32, first: i32, logA: usize, x: usize, h: usize, prev: usize): void {
  rglruForward<f64>(n, W, first, logA, x, h, prev);
}

function rglruForward<T>(n: i32, W: i32, first: i32, logA: usize, x: usize, h: usize, prev: usize): void {
  const S = sizeof<T>();
  const rowBytes = <usize>W * S;
  for (let t = 0; t < n; t++) {
    const row = <usize>t * rowBytes;
    if (t == 0 && first != 0) {
      memory.copy(h, x, rowBytes); // reset: h_0 = x_0
      continue;
    }
    const before = t == 0 ? prev : h + row - rowBytes;
    let w = 0;
    for (; w + 2 <= W; w += 2) rglruForwardLanes<T>(row, <usize>w * S, 2, logA, x, h, before);
    if (w < W) rglruForwardLanes<T>(row, <usize>w * S, 1, logA, x, h, before);
  }
  if (n > 0) memory.copy(prev, h + <usize>(n - 1) * rowBytes, rowBytes);
}

// @ts-ignore: decorator
@inline function rglruForwardLanes<T>(row: usize, at: usize, lanes: i32, logA: usize, x: usize, h: usize, before: usize): void {
  const a = vexpBoth(ld<T>(logA + row + at, lanes));
  const m = normalizer(a);
  st<T>(h + row + at, f64x2.add(f64x2.mul(a, ld<T>(before + at, lanes)), f64x2.mul(m, ld<T>(x + row + at, lanes))), lanes);
}

/**
 * Backward over the n steps of a block, last first: with ĝ_t = gOut_t + carry,
 *   ∂x_t += ĝ_t m_t,  ∂ℓ_t += ĝ_t (a_t h_{t−1} + x_t dm/dℓ),  carry ← a_t ĝ_t;
 * at the sequence start (`first` ≠ 0) ∂x_0 += gOut_0 + carry. `before` [W] (T) is h of the
 * step before the block (unused when first); carry [W] f64 continues into the previous block.
 */
export function rglru_backward_f32(n: i32, W: i32, first: i32, logA: usize, x: usize, h: usize, before: usize, gOut: usize, gLogA: usize, gX: usize, carry: usize): void {
  rglruBackward<f32>(n, W, first, logA, x, h, before, gOut, gLogA, gX, carry);
}

export function rglru_backward_f64(n: i32, W: i32, first: i32, logA: usize, x: usize, h: usize, before: usize, gOut: usize, gLogA: usize, gX: usize, carry: usize): void {
  rglruBackward<f64>(n, W, first, logA, x, h, before, gOut, gLogA, gX, carry);
}

function rglruBackward<T>(n: i32, W: i32, first: i32, logA: usize, x: usize, h: usize, before: usize, gOut: usize, gLogA: usize, gX: usize, carry: usize): void {
  const S = sizeof<T>();
  const rowBytes = <usize>W * S;
  const last = first != 0 ? 1 : 0;
  for (let t = n - 1; t >= last; t--) {
    const row = <usize>t * rowBytes;
    const hPrev = t == 0 ? before : h + row - rowBytes;
    let w = 0;
    for (; w + 2 <= W; w += 2) rglruBackwardLanes<T>(row, w, 2, logA, x, hPrev, gOut, gLogA, gX, carry);
    if (w < W) rglruBackwardLanes<T>(row, w, 1, logA, x, hPrev, gOut, gLogA, gX, carry);
  }
  if (first != 0 && n > 0) {
    let w = 0;
    for (; w + 2 <= W; w += 2) acc<T>(gX + <usize>w * S, f64x2.add(ld<T>(gOut + <usize>w * S, 2), ld<f64>(carry + <usize>w * F8, 2)), 2);
    if (w < W) acc<T>(gX + <usize>w * S, f64x2.add(ld<T>(gOut + <usize>w * S, 1), ld<f64>(carry + <usize>w * F8, 1)), 1);
  }
}

// @ts-ignore: decorator
@inline function rglruBackwardLanes<T>(row: usize, w: i32, lanes: i32, logA: usize, x: usize, hPrev: usize, gOut: usize, gLogA: usize, gX: usize, carry: usize): void {
  const at = <usize>w * sizeof<T>();
  const cw = carry + <usize>w * F8;
  const g = f64x2.add(ld<T>(gOut + row + at, lanes), ld<f64>(cw, lanes));
  const a = vexpBoth(ld<T>(logA + row + at, lanes));
  const m = normalizer(a);
  acc<T>(gX + row + at, f64x2.mul(g, m), lanes);
  // dm/dℓ = −2a² / max(2m, 1/1000)
  const slope = f64x2.div(f64x2.mul(f64x2.mul(f64x2.splat(-2.0), a), a), f64x2.max(f64x2.add(m, m), f64x2.splat(1.0 / MAX_SQRT_GRADIENT)));
  acc<T>(gLogA + row + at, f64x2.mul(g, f64x2.add(f64x2.mul(a, ld<T>(hPrev + at, lanes)), f64x2.mul(ld<T>(x + row + at, lanes), slope))), lanes);
  st<f64>(cw, f64x2.mul(a, g), lanes);
}

// ---- HGRN -----------------------------------------------------------------------------------

/**
 * Forward over n steps: s ← e^{ℓ_t} s + x_t, h_t = s, with ℓ, x, h [n, E] (T) and the running
 * state s [E] f64 (rounded to T only when stored in h).
 */
export function hgrn_forward_f32(n: i32, E: i32, logDecay: usize, x: usize, h: usize, state: usize): void {
  hgrnForward<f32>(n, E, logDecay, x, h, state);
}

export function hgrn_forward_f64(n: i32, E: i32, logDecay: usize, x: usize, h: usize, state: usize): void {
  hgrnForward<f64>(n, E, logDecay, x, h, state);
}

function hgrnForward<T>(n: i32, E: i32, logDecay: usize, x: usize, h: usize, state: usize): void {
  const S = sizeof<T>();
  for (let t = 0; t < n; t++) {
    const row = <usize>t * <usize>E * S;
    let e = 0;
    for (; e + 2 <= E; e += 2) hgrnForwardLanes<T>(row, e, 2, logDecay, x, h, state);
    if (e < E) hgrnForwardLanes<T>(row, e, 1, logDecay, x, h, state);
  }
}

// @ts-ignore: decorator
@inline function hgrnForwardLanes<T>(row: usize, e: i32, lanes: i32, logDecay: usize, x: usize, h: usize, state: usize): void {
  const at = row + <usize>e * sizeof<T>();
  const se = state + <usize>e * F8;
  const s = f64x2.add(f64x2.mul(vexp(ld<T>(logDecay + at, lanes)), ld<f64>(se, lanes)), ld<T>(x + at, lanes));
  st<f64>(se, s, lanes);
  st<T>(h + at, s, lanes);
}

/**
 * Backward over the n steps of a block, last first: ĝ_t = gOut_t + carry, ∂x_t += ĝ_t,
 * ∂ℓ_t += ĝ_t e^{ℓ_t} h_{t−1}, carry ← e^{ℓ_t} ĝ_t. `before` [E] (T) is h of the step before the
 * block (h₀ or zeros at the sequence start); carry [E] f64 continues into the previous block
 * (at the start it is ∂h₀).
 */
export function hgrn_backward_f32(n: i32, E: i32, logDecay: usize, h: usize, before: usize, gOut: usize, gLogDecay: usize, gX: usize, carry: usize): void {
  hgrnBackward<f32>(n, E, logDecay, h, before, gOut, gLogDecay, gX, carry);
}

export function hgrn_backward_f64(n: i32, E: i32, logDecay: usize, h: usize, before: usize, gOut: usize, gLogDecay: usize, gX: usize, carry: usize): void {
  hgrnBackward<f64>(n, E, logDecay, h, before, gOut, gLogDecay, gX, carry);
}

function hgrnBackward<T>(n: i32, E: i32, logDecay: usize, h: usize, before: usize, gOut: usize, gLogDecay: usize, gX: usize, carry: usize): void {
  const S = sizeof<T>();
  const rowBytes = <usize>E * S;
  for (let t = n - 1; t >= 0; t--) {
    const row = <usize>t * rowBytes;
    const hPrev = t == 0 ? before : h + row - rowBytes;
    let e = 0;
    for (; e + 2 <= E; e += 2) hgrnBackwardLanes<T>(row, e, 2, logDecay, hPrev, gOut, gLogDecay, gX, carry);
    if (e < E) hgrnBackwardLanes<T>(row, e, 1, logDecay, hPrev, gOut, gLogDecay, gX, carry);
  }
}

// @ts-ignore: decorator
@inline function hgrnBackwardLanes<T>(row: usize, e: i32, lanes: i32, logDecay: usize, hPrev: usize, gOut: usize, gLogDecay: usize, gX: usize, carry: usize): void {
  const at = <usize>e * sizeof<T>();
  const ce = carry + <usize>e * F8;
  const g = f64x2.add(ld<T>(gOut + row + at, lanes), ld<f64>(ce, lanes));
  const decay = vexp(ld<T>(logDecay + row + at, lanes));
  acc<T>(gX + row + at, g, lanes);
  acc<T>(gLogDecay + row + at, f64x2.mul(f64x2.mul(g, decay), ld<T>(hPrev + at, lanes)), lanes);
  st<f64>(ce, f64x2.mul(decay, g), lanes);
}
