/**
 * The WebAssembly SIMD recurrences (assembly/rnn.ts, rnn-math.ts, rnn-gla.ts, embedded in
 * ./rnn-binary.ts) seen from JS: WKV (RWKV-4), RG-LRU (Griffin), HGRN and chunked gated linear
 * attention (GLA, RetNet), forward and backward. The scans in src/scans call these when the
 * kernel backend (IATTN_KERNELS, see ../gemm.ts) is not 'js'; each function returns false, doing
 * nothing, when the module is unavailable, and the scan then runs its JS kernel (the reference).
 *
 * Memory: one module instance per process. Each call lays out its buffers after the module's
 * static data, grows the memory if needed (never shrinks) and streams the sequence through it
 * in blocks of time steps: the element-wise scans carry their [C] state across blocks inside
 * the module, so a block of rows is one contiguous TypedArray.set in and out, and the footprint
 * is bounded by `blockBudget` (8 MiB of rows, plus O(C) state) whatever L is. The chunked GLA
 * streams one chunk of Q steps at a time with its [H, K, V] float64 state kept in the module.
 * The only JS-heap allocations are a few small objects per call (layout, slot lists, the
 * block visitor) and one subarray view per block and array.
 *
 * Shapes as in the scans: B batch, L time, C / W / E channels; GLA q, k, γ [B, L, H, K],
 * v, o [B, L, H, V], chunk-entry states [B, chunks, H, K, V] float64.
 */
import type { FloatArray } from '../../dtype.js';
import { gemmBackend } from '../gemm.js';
import { RNN_WASM_BASE64 } from './rnn-binary.js';
import { EmbeddedWasm, WasmLayout, WasmViews, alignUp } from './runtime.js';
import type { WasmMemory } from './runtime.js';

type Ptr = number;
interface RnnExports {
  memory: WasmMemory;
  heapBase(): number;
  wkv_forward_f32(n: number, C: number, decay: Ptr, u: Ptr, k: Ptr, v: Ptr, y: Ptr, logZ: Ptr, num: Ptr, den: Ptr, max: Ptr): void;
  wkv_forward_f64(n: number, C: number, decay: Ptr, u: Ptr, k: Ptr, v: Ptr, y: Ptr, logZ: Ptr, num: Ptr, den: Ptr, max: Ptr): void;
  wkv_backward_f32(n: number, C: number, decay: Ptr, u: Ptr, k: Ptr, v: Ptr, y: Ptr, logZ: Ptr, gy: Ptr, gk: Ptr, gv: Ptr, state: Ptr): void;
  wkv_backward_f64(n: number, C: number, decay: Ptr, u: Ptr, k: Ptr, v: Ptr, y: Ptr, logZ: Ptr, gy: Ptr, gk: Ptr, gv: Ptr, state: Ptr): void;
  rglru_forward_f32(n: number, W: number, first: number, logA: Ptr, x: Ptr, h: Ptr, prev: Ptr): void;
  rglru_forward_f64(n: number, W: number, first: number, logA: Ptr, x: Ptr, h: Ptr, prev: Ptr): void;
  rglru_backward_f32(n: number, W: number, first: number, logA: Ptr, x: Ptr, h: Ptr, before: Ptr, gOut: Ptr, gLogA: Ptr, gX: Ptr, carry: Ptr): void;
  rglru_backward_f64(n: number, W: number, first: number, logA: Ptr, x: Ptr, h: Ptr, before: Ptr, gOut: Ptr, gLogA: Ptr, gX: Ptr, carry: Ptr): void;
  hgrn_forward_f32(n: number, E: number, logDecay: Ptr, x: Ptr, h: Ptr, state: Ptr): void;
  hgrn_forward_f64(n: number, E: number, logDecay: Ptr, x: Ptr, h: Ptr, state: Ptr): void;
  hgrn_backward_f32(n: number, E: number, logDecay: Ptr, h: Ptr, before: Ptr, gOut: Ptr, gLogDecay: Ptr, gX: Ptr, carry: Ptr): void;
  hgrn_backward_f64(n: number, E: number, logDecay: Ptr, h: Ptr, before: Ptr, gOut: Ptr, gLogDecay: Ptr, gX: Ptr, carry: Ptr): void;
  glaWorkBytes(Q: number, K: number, V: number): number;
  gla_forward_f32(n: number, H: number, K: number, V: number, hasIn: number, hasOut: number, q: Ptr, k: Ptr, g: Ptr, v: Ptr, o: Ptr, S: Ptr, work: Ptr): void;
  gla_forward_f64(n: number, H: number, K: number, V: number, hasIn: number, hasOut: number, q: Ptr, k: Ptr, g: Ptr, v: Ptr, o: Ptr, S: Ptr, work: Ptr): void;
  gla_backward_f32(n: number, H: number, K: number, V: number, hasIn: number, hasOut: number, q: Ptr, k: Ptr, g: Ptr, v: Ptr, dO: Ptr, gq: Ptr, gk: Ptr, gg: Ptr, gv: Ptr, Sin: Ptr, dS: Ptr, work: Ptr): void;
  gla_backward_f64(n: number, H: number, K: number, V: number, hasIn: number, hasOut: number, q: Ptr, k: Ptr, g: Ptr, v: Ptr, dO: Ptr, gq: Ptr, gk: Ptr, gg: Ptr, gv: Ptr, Sin: Ptr, dS: Ptr, work: Ptr): void;
  math_f64(fn: number, src: Ptr, dst: Ptr, n: number): void;
  gemm64_nn(transA: number, M: number, N: number, K: number, A: Ptr, lda: number, B: Ptr, ldb: number, C: Ptr, ldc: number, pack: Ptr): void;
  gemm64_nt(M: number, N: number, K: number, A: Ptr, lda: number, B: Ptr, ldb: number, C: Ptr, ldc: number): void;
}

const ALIGN = 64;

/** First byte the JS side may use (after the module's static data). */
let base = 0;
const rnnModule = new EmbeddedWasm<RnnExports>(RNN_WASM_BASE64, (w) => {
  base = alignUp(w.heapBase(), ALIGN);
});

/** The embedded module's bytes. */
export function rnnWasmBytes(): Uint8Array {
  return rnnModule.bytes();
}

/** Whether the WASM recurrences can run now (loads the module on first call). */
export function rnnWasmReady(): boolean {
  return rnnModule.get() !== null;
}

/** Why the WASM recurrences are unavailable ('' when they are available or still loading). */
export function rnnWasmUnavailableReason(): string {
  return rnnModule.reason();
}

// ---- memory ---------------------------------------------------------------------------------

/** Bytes of time-step rows streamed through the module per call of an element-wise kernel. */
let blockBudget = 8 << 20;

/** Sets the block budget in bytes (tests use a tiny one to exercise blocking); returns the old one. */
export function setRnnBlockBudget(bytes: number): number {
  const old = blockBudget;
  blockBudget = Math.max(1, bytes);
  return old;
}

/** Rows of `bytesPerRow` per block: as many as the budget allows, at least 1, at most L. */
function blockRows(L: number, bytesPerRow: number): number {
  return Math.max(1, Math.min(L, Math.floor(blockBudget / Math.max(1, bytesPerRow))));
}

/** Views over the module's memory (refreshed by `views.ensure` before a call's copies). */
const views = new WasmViews();

/**
 * Copies src[from : from + count] to the module at byte address `at`, converting to the view's
 * type (a float32 op may get a float64 upstream gradient, e.g. a backward seed).
 */
function put(src: FloatArray, from: number, count: number, at: Ptr, view: FloatArray): void {
  view.set(src.subarray(from, from + count), at / view.BYTES_PER_ELEMENT);
}

/** Copies count elements at byte address `at` to dst[from …]. */
function take(dst: FloatArray, from: number, count: number, at: Ptr, view: FloatArray): void {
  const i = at / view.BYTES_PER_ELEMENT;
  dst.set(view.subarray(i, i + count), from);
}

/** An array and the module address of its block; a null array (gradient not wanted) is skipped. */
type Slot = readonly [FloatArray | null, Ptr];

/** `put` of elements [from, from + count) of every slot's array. */
function putSlots(slots: readonly Slot[], from: number, count: number, view: FloatArray): void {
  for (const [src, at] of slots) if (src !== null) put(src, from, count, at, view);
}

/** `take` of elements [from, from + count) into every slot's array. */
function takeSlots(slots: readonly Slot[], from: number, count: number, view: FloatArray): void {
  for (const [dst, at] of slots) if (dst !== null) take(dst, from, count, at, view);
}

/** A region of `bytes` in the layout for each array, in order. */
function slotsOf(lay: WasmLayout, bytes: number, arrays: readonly (FloatArray | null)[]): Slot[] {
  return arrays.map((a) => [a, lay.take(bytes)] as const);
}

/**
 * Walks a sequence of L time steps in blocks of `rows`: visit(t0, n) for each block
 * [t0, t0 + n), first to last, or last to first when `reverse` (a backward scan carries its
 * state from the end).
 */
function forEachTimeBlock(L: number, rows: number, reverse: boolean, visit: (t0: number, n: number) => void): void {
  const blocks = Math.ceil(L / rows);
  for (let i = 0; i < blocks; i++) {
    const t0 = (reverse ? blocks - 1 - i : i) * rows;
    visit(t0, Math.min(rows, L - t0));
  }
}

// ---- WKV ------------------------------------------------------------------------------------

/**
 * WKV forward (src/scans/wkv.ts `scanForward`): y [B, L, C] from decay λ [C] f64, u [C],
 * k, v [B, L, C]; logZ [B, L, C] f64 written when given; state (num, den, max) [B, C] f64
 * advanced in place.
 */
export function wkvForwardWasm(decay: Float64Array, u: FloatArray, k: FloatArray, v: FloatArray, y: FloatArray, logZ: Float64Array | null, num: Float64Array, den: Float64Array, max: Float64Array, B: number, L: number, C: number): boolean {
  const w = rnnModule.get();
  if (w === null) return false;
  if (B * L * C === 0) return true;
  const S = y.BYTES_PER_ELEMENT;
  const rows = blockRows(L, C * (3 * S + (logZ === null ? 0 : 8)));
  const lay = new WasmLayout(base, ALIGN);
  const decayAt = lay.take(C * 8);
  const uAt = lay.take(C * 8);
  const state = slotsOf(lay, C * 8, [num, den, max]);
  const [[, numAt], [, denAt], [, maxAt]] = state;
  const inputs = slotsOf(lay, rows * C * S, [k, v]);
  const [[, kAt], [, vAt]] = inputs;
  const yAt = lay.take(rows * C * S);
  const zAt = logZ === null ? 0 : lay.take(rows * C * 8);
  views.ensure(w.memory, lay.top);
  const { f64 } = views;
  const T = views.floats(S);
  const kernel = S === 8 ? w.wkv_forward_f64 : w.wkv_forward_f32;
  put(decay, 0, C, decayAt, f64);
  put(u, 0, C, uAt, f64);
  for (let b = 0; b < B; b++) {
    putSlots(state, b * C, C, f64);
    forEachTimeBlock(L, rows, false, (t0, n) => {
      const from = (b * L + t0) * C;
      putSlots(inputs, from, n * C, T);
      kernel(n, C, decayAt, uAt, kAt, vAt, yAt, zAt, numAt, denAt, maxAt);
      take(y, from, n * C, yAt, T);
      if (logZ !== null) take(logZ, from, n * C, zAt, f64);
    });
    takeSlots(state, b * C, C, f64);
  }
  return true;
}

/**
 * WKV backward (src/scans/wkv.ts `wkvBackward`): accumulates gw, gu [C] and gk, gv [B, L, C]
 * (each may be null) from gy, the forward's inputs, y and logZ.
 */
export function wkvBackwardWasm(gy: FloatArray, decay: Float64Array, u: FloatArray, k: FloatArray, v: FloatArray, y: FloatArray, logZ: Float64Array, gw: FloatArray | null, gu: FloatArray | null, gk: FloatArray | null, gv: FloatArray | null, B: number, L: number, C: number): boolean {
  const w = rnnModule.get();
  if (w === null) return false;
  if (B * L * C === 0) return true;
  const S = y.BYTES_PER_ELEMENT;
  const rows = blockRows(L, C * (6 * S + 8));
  const lay = new WasmLayout(base, ALIGN);
  const decayAt = lay.take(C * 8);
  const uAt = lay.take(C * 8);
  const stateAt = lay.take(7 * C * 8); // future, futureOut, lagged, laggedOut, scale, dDecay, dU
  const inputs = slotsOf(lay, rows * C * S, [k, v, y, gy]);
  const [[, kAt], [, vAt], [, yAt], [, gyAt]] = inputs;
  const grads = slotsOf(lay, rows * C * S, [gk, gv]);
  const [[, gkAt], [, gvAt]] = grads;
  const zAt = lay.take(rows * C * 8);
  views.ensure(w.memory, lay.top);
  const { f64 } = views;
  const T = views.floats(S);
  const kernel = S === 8 ? w.wkv_backward_f64 : w.wkv_backward_f32;
  put(decay, 0, C, decayAt, f64);
  put(u, 0, C, uAt, f64);
  const s0 = stateAt / 8;
  f64.fill(0, s0 + 5 * C, s0 + 7 * C); // dDecay, dU: summed over the batch
  for (let b = 0; b < B; b++) {
    f64.fill(0, s0, s0 + 4 * C);
    f64.fill(-Infinity, s0 + 4 * C, s0 + 5 * C);
    forEachTimeBlock(L, rows, true, (t0, n) => {
      const from = (b * L + t0) * C;
      const count = n * C;
      putSlots(inputs, from, count, T);
      put(logZ, from, count, zAt, f64);
      putSlots(grads, from, count, T);
      kernel(n, C, decayAt, uAt, kAt, vAt, yAt, zAt, gyAt, gkAt, gvAt, stateAt);
      takeSlots(grads, from, count, T);
    });
  }
  if (gw !== null) for (let c = 0; c < C; c++) gw[c] += decay[c] * f64[s0 + 5 * C + c];
  if (gu !== null) for (let c = 0; c < C; c++) gu[c] += f64[s0 + 6 * C + c];
  return true;
}

// ---- RG-LRU ---------------------------------------------------------------------------------

/** RG-LRU forward (src/scans/rglru.ts): h [B, L, W] from the log-decay ℓ and input x [B, L, W]. */
export function rglruForwardWasm(h: FloatArray, logA: FloatArray, x: FloatArray, B: number, L: number, W: number): boolean {
  const w = rnnModule.get();
  if (w === null) return false;
  if (B * L * W === 0) return true;
  const S = h.BYTES_PER_ELEMENT;
  const rows = blockRows(L, 3 * W * S);
  const lay = new WasmLayout(base, ALIGN);
  const prevAt = lay.take(W * S);
  const inputs = slotsOf(lay, rows * W * S, [logA, x]);
  const [[, lAt], [, xAt]] = inputs;
  const hAt = lay.take(rows * W * S);
  views.ensure(w.memory, lay.top);
  const T = views.floats(S);
  const kernel = S === 8 ? w.rglru_forward_f64 : w.rglru_forward_f32;
  for (let b = 0; b < B; b++) {
    forEachTimeBlock(L, rows, false, (t0, n) => {
      const from = (b * L + t0) * W;
      putSlots(inputs, from, n * W, T);
      kernel(n, W, t0 === 0 ? 1 : 0, lAt, xAt, hAt, prevAt);
      take(h, from, n * W, hAt, T);
    });
  }
  return true;
}

/** RG-LRU backward: accumulates gLogA, gX [B, L, W] (either may be null). */
export function rglruBackwardWasm(gLogA: FloatArray | null, gX: FloatArray | null, gOut: FloatArray, h: FloatArray, logA: FloatArray, x: FloatArray, B: number, L: number, W: number): boolean {
  const w = rnnModule.get();
  if (w === null) return false;
  if (B * L * W === 0) return true;
  const S = h.BYTES_PER_ELEMENT;
  const rows = blockRows(L, 6 * W * S);
  const lay = new WasmLayout(base, ALIGN);
  const carryAt = lay.take(W * 8);
  const beforeAt = lay.take(W * S);
  const inputs = slotsOf(lay, rows * W * S, [logA, x, h, gOut]);
  const [[, lAt], [, xAt], [, hAt], [, gAt]] = inputs;
  const grads = slotsOf(lay, rows * W * S, [gLogA, gX]);
  const [[, glAt], [, gxAt]] = grads;
  views.ensure(w.memory, lay.top);
  const { f64 } = views;
  const T = views.floats(S);
  const kernel = S === 8 ? w.rglru_backward_f64 : w.rglru_backward_f32;
  for (let b = 0; b < B; b++) {
    f64.fill(0, carryAt / 8, carryAt / 8 + W);
    forEachTimeBlock(L, rows, true, (t0, n) => {
      const from = (b * L + t0) * W;
      const count = n * W;
      putSlots(inputs, from, count, T);
      if (t0 > 0) put(h, from - W, W, beforeAt, T);
      putSlots(grads, from, count, T);
      kernel(n, W, t0 === 0 ? 1 : 0, lAt, xAt, hAt, beforeAt, gAt, glAt, gxAt, carryAt);
      takeSlots(grads, from, count, T);
    });
  }
  return true;
}

// ---- HGRN -----------------------------------------------------------------------------------

/** HGRN forward (src/scans/hgrn.ts): h [B, L, E] from ℓ, x [B, L, E] and h₀ [B, E] or null. */
export function hgrnForwardWasm(h: FloatArray, logDecay: FloatArray, x: FloatArray, h0: FloatArray | null, B: number, L: number, E: number): boolean {
  const w = rnnModule.get();
  if (w === null) return false;
  if (B * L * E === 0) return true;
  const S = h.BYTES_PER_ELEMENT;
  const rows = blockRows(L, 3 * E * S);
  const lay = new WasmLayout(base, ALIGN);
  const stateAt = lay.take(E * 8);
  const inputs = slotsOf(lay, rows * E * S, [logDecay, x]);
  const [[, lAt], [, xAt]] = inputs;
  const hAt = lay.take(rows * E * S);
  views.ensure(w.memory, lay.top);
  const { f64 } = views;
  const T = views.floats(S);
  const kernel = S === 8 ? w.hgrn_forward_f64 : w.hgrn_forward_f32;
  for (let b = 0; b < B; b++) {
    if (h0 === null) f64.fill(0, stateAt / 8, stateAt / 8 + E);
    else put(h0, b * E, E, stateAt, f64);
    forEachTimeBlock(L, rows, false, (t0, n) => {
      const from = (b * L + t0) * E;
      putSlots(inputs, from, n * E, T);
      kernel(n, E, lAt, xAt, hAt, stateAt);
      take(h, from, n * E, hAt, T);
    });
  }
  return true;
}

/** HGRN backward: accumulates gLogDecay, gX [B, L, E] and gH0 [B, E] (any may be null). */
export function hgrnBackwardWasm(gLogDecay: FloatArray | null, gX: FloatArray | null, gH0: FloatArray | null, gOut: FloatArray, h: FloatArray, logDecay: FloatArray, h0: FloatArray | null, B: number, L: number, E: number): boolean {
  const w = rnnModule.get();
  if (w === null) return false;
  if (B * L * E === 0) return true;
  const S = h.BYTES_PER_ELEMENT;
  const rows = blockRows(L, 5 * E * S);
  const lay = new WasmLayout(base, ALIGN);
  const carryAt = lay.take(E * 8);
  const beforeAt = lay.take(E * S);
  const inputs = slotsOf(lay, rows * E * S, [logDecay, h, gOut]);
  const [[, lAt], [, hAt], [, gAt]] = inputs;
  const grads = slotsOf(lay, rows * E * S, [gLogDecay, gX]);
  const [[, glAt], [, gxAt]] = grads;
  views.ensure(w.memory, lay.top);
  const { f64 } = views;
  const T = views.floats(S);
  const kernel = S === 8 ? w.hgrn_backward_f64 : w.hgrn_backward_f32;
  const c0 = carryAt / 8;
  for (let b = 0; b < B; b++) {
    f64.fill(0, c0, c0 + E);
    forEachTimeBlock(L, rows, true, (t0, n) => {
      const from = (b * L + t0) * E;
      const count = n * E;
      putSlots(inputs, from, count, T);
      if (t0 > 0) put(h, from - E, E, beforeAt, T);
      else if (h0 !== null) put(h0, b * E, E, beforeAt, T);
      else T.fill(0, beforeAt / S, beforeAt / S + E);
      putSlots(grads, from, count, T);
      kernel(n, E, lAt, hAt, beforeAt, gAt, glAt, gxAt, carryAt);
      takeSlots(grads, from, count, T);
    });
    if (gH0 !== null) for (let e = 0; e < E; e++) gH0[b * E + e] += f64[c0 + e];
  }
  return true;
}

// ---- gated linear attention -----------------------------------------------------------------

/** Dimensions of a chunked gated linear attention call (as in src/scans/gated-linear-attention.ts). */
export interface GlaWasmDims {
  B: number;
  L: number;
  H: number;
  K: number;
  V: number;
  /** Chunk length and number of chunks. */
  Q: number;
  chunks: number;
}

/**
 * GLA forward: o [B, L, H, V] from q, k, γ [B, L, H, K] and v [B, L, H, V]; when `states` is
 * given, the chunk-entry states [B, chunks, H, K, V] float64 the backward needs.
 */
export function glaForwardWasm(o: FloatArray, states: Float64Array | null, q: FloatArray, k: FloatArray, v: FloatArray, logDecay: FloatArray, dims: GlaWasmDims): boolean {
  const w = rnnModule.get();
  if (w === null) return false;
  const { B, L, H, K, V, Q, chunks } = dims;
  if (B * L * H === 0) return true;
  const S = o.BYTES_PER_ELEMENT;
  const HKV = H * K * V;
  const lay = new WasmLayout(base, ALIGN);
  const workAt = lay.take(w.glaWorkBytes(Q, K, V));
  const stateAt = lay.take(HKV * 8);
  const kInputs = slotsOf(lay, Q * H * K * S, [q, k, logDecay]);
  const [[, qAt], [, kAt], [, gAt]] = kInputs;
  const vAt = lay.take(Q * H * V * S);
  const oAt = lay.take(Q * H * V * S);
  views.ensure(w.memory, lay.top);
  const { f64 } = views;
  const T = views.floats(S);
  const kernel = S === 8 ? w.gla_forward_f64 : w.gla_forward_f32;
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < chunks; c++) {
      const t0 = c * Q;
      const n = Math.min(Q, L - t0);
      const kFrom = (b * L + t0) * H * K;
      const vFrom = (b * L + t0) * H * V;
      putSlots(kInputs, kFrom, n * H * K, T);
      put(v, vFrom, n * H * V, vAt, T);
      if (states !== null && c > 0) take(states, (b * chunks + c) * HKV, HKV, stateAt, f64);
      kernel(n, H, K, V, c > 0 ? 1 : 0, c + 1 < chunks ? 1 : 0, qAt, kAt, gAt, vAt, oAt, stateAt, workAt);
      take(o, vFrom, n * H * V, oAt, T);
    }
  }
  return true;
}

/** GLA backward: accumulates the gradients (any may be null) from do and the saved states. */
export function glaBackwardWasm(
  grads: { q: FloatArray | null; k: FloatArray | null; v: FloatArray | null; logDecay: FloatArray | null },
  go: FloatArray,
  q: FloatArray,
  k: FloatArray,
  v: FloatArray,
  logDecay: FloatArray,
  states: Float64Array,
  dims: GlaWasmDims,
): boolean {
  const w = rnnModule.get();
  if (w === null) return false;
  const { B, L, H, K, V, Q, chunks } = dims;
  if (B * L * H === 0) return true;
  const S = go.BYTES_PER_ELEMENT;
  const HKV = H * K * V;
  const lay = new WasmLayout(base, ALIGN);
  const workAt = lay.take(w.glaWorkBytes(Q, K, V));
  const sInAt = lay.take(HKV * 8);
  const dSAt = lay.take(HKV * 8);
  const rowsK = Q * H * K * S;
  const rowsV = Q * H * V * S;
  const kInputs = slotsOf(lay, rowsK, [q, k, logDecay]);
  const [[, qAt], [, kAt], [, gAt]] = kInputs;
  const kGrads = slotsOf(lay, rowsK, [grads.q, grads.k, grads.logDecay]);
  const [[, gqAt], [, gkAt], [, ggAt]] = kGrads;
  const vInputs = slotsOf(lay, rowsV, [v, go]);
  const [[, vAt], [, doAt]] = vInputs;
  const vGrads = slotsOf(lay, rowsV, [grads.v]);
  const [[, gvAt]] = vGrads;
  views.ensure(w.memory, lay.top);
  const { f64 } = views;
  const T = views.floats(S);
  const kernel = S === 8 ? w.gla_backward_f64 : w.gla_backward_f32;
  for (let b = 0; b < B; b++) {
    f64.fill(0, dSAt / 8, dSAt / 8 + HKV);
    for (let c = chunks - 1; c >= 0; c--) {
      const t0 = c * Q;
      const n = Math.min(Q, L - t0);
      const kFrom = (b * L + t0) * H * K;
      const vFrom = (b * L + t0) * H * V;
      const nK = n * H * K;
      const nV = n * H * V;
      putSlots(kInputs, kFrom, nK, T);
      putSlots(vInputs, vFrom, nV, T);
      if (c > 0) put(states, (b * chunks + c) * HKV, HKV, sInAt, f64);
      putSlots(kGrads, kFrom, nK, T);
      putSlots(vGrads, vFrom, nV, T);
      kernel(n, H, K, V, c > 0 ? 1 : 0, c + 1 < chunks ? 1 : 0, qAt, kAt, gAt, vAt, doAt, gqAt, gkAt, ggAt, gvAt, sInAt, dSAt, workAt);
      takeSlots(kGrads, kFrom, nK, T);
      takeSlots(vGrads, vFrom, nV, T);
    }
  }
  return true;
}

// ---- test hooks -----------------------------------------------------------------------------

/** The module's vector exp (0), expm1 (1) or log (2) applied to float64 values (tests). */
export function rnnWasmMath(fn: 0 | 1 | 2, x: Float64Array): Float64Array | null {
  const w = rnnModule.get();
  if (w === null) return null;
  const lay = new WasmLayout(base, ALIGN);
  const src = lay.take(x.length * 8);
  const dst = lay.take(x.length * 8);
  views.ensure(w.memory, lay.top);
  const { f64 } = views;
  put(x, 0, x.length, src, f64);
  w.math_f64(fn, src, dst, x.length);
  const out = new Float64Array(x.length);
  take(out, 0, x.length, dst, f64);
  return out;
}

/**
 * The module's float64 products (tests): C[M,N] += op(A)·op(B) for 'NN' (A[M,K], B[K,N]),
 * 'TN' (A[K,M]ᵀ, B[K,N]) and 'NT' (A[M,K], B[N,K]ᵀ), dense row-major.
 */
export function rnnWasmGemm64(variant: 'NN' | 'TN' | 'NT', M: number, N: number, K: number, A: Float64Array, B: Float64Array, C: Float64Array): boolean {
  const w = rnnModule.get();
  if (w === null) return false;
  const lay = new WasmLayout(base, ALIGN);
  const aAt = lay.take(A.length * 8);
  const bAt = lay.take(B.length * 8);
  const cAt = lay.take(C.length * 8);
  const packAt = lay.take(B.length * 8);
  views.ensure(w.memory, lay.top);
  const { f64 } = views;
  put(A, 0, A.length, aAt, f64);
  put(B, 0, B.length, bAt, f64);
  put(C, 0, C.length, cAt, f64);
  if (variant === 'NT') w.gemm64_nt(M, N, K, aAt, K, bAt, K, cAt, N);
  else w.gemm64_nn(variant === 'TN' ? 1 : 0, M, N, K, aAt, variant === 'TN' ? M : K, bAt, N, cAt, N, packAt);
  take(C, 0, C.length, cAt, f64);
  return true;
}

/**
 * Whether the scans should try these kernels: the kernel backend (IATTN_KERNELS, or
 * setGemmBackend) is 'auto' or 'wasm'. With 'js' the scans run their JS kernels.
 */
export function rnnWasmEnabled(): boolean {
  return gemmBackend() !== 'js';
}
