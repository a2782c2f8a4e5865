/**
 * The WebAssembly SIMD state-space scans (assembly/ssm.ts, embedded in ./ssm-binary.ts) seen
 * from JS: Mamba's selective scan and Mamba-2's chunked SSD, forward and backward, for
 * Float32Array (four lanes) and Float64Array (two lanes) operands. The ops, their JS reference
 * kernels and the choice between the two live in src/scans/selective-scan.ts and
 * src/scans/ssd.ts; this module only moves data.
 *
 * Memory: one module instance per process; each call lays its buffers out from the module's
 * heap base, grown on demand and reused by every call (never shrunk). The operands go in one
 * chunk of time steps at a time (TypedArray.set of whole rows), so the module holds
 *   selective scan: O(SCAN_CHUNK · D + D · N) values,   SSD: O(Q · Hd · P + Hd · P · N) values,
 * whatever the sequence length. Each call allocates only its few JS views; the kernels allocate
 * nothing.
 *
 * Saved for the backward (only when a gradient will be needed): the selective scan keeps its
 * state at the start of every chunk of SCAN_CHUNK steps ([B, ⌈L/SCAN_CHUNK⌉, D, N], about
 * 1/SCAN_CHUNK of the B·L·D·N states), the SSD its chunk-entry states [B, chunks, Hd, N, P] —
 * the transpose of the JS path's [.., P, N] (the kernels' products are then all of one form).
 */
import type { FloatArray } from '../../dtype.js';
import { SSM_WASM_BASE64 } from './ssm-binary.js';
import { EmbeddedWasm, WasmLayout, WasmViews, alignUp } from './runtime.js';
import type { WasmMemory } from './runtime.js';

type ScanForwardFn = (T: number, Dp: number, N: number, u: number, dt: number, At: number, bm: number, cm: number, ds: number, h: number, y: number) => void;
type ScanBackwardFn = (T: number, Dp: number, N: number, u: number, dt: number, At: number, bm: number, cm: number, ds: number, h0: number, gy: number, adj: number, gu: number, gdt: number, gA: number, gD: number, gb: number, gc: number, work: number) => void;
type SsdForwardFn = (n: number, Hd: number, P: number, G: number, N: number, x: number, dt: number, A: number, bm: number, cm: number, dsk: number, S: number, y: number, hasIn: number, hasOut: number, work: number) => void;
type ScanStepFn = (D: number, N: number, u: number, dt: number, A: number, bm: number, cm: number, ds: number, h: number, y: number) => void;
type SsdStepFn = (Hd: number, P: number, G: number, N: number, x: number, dt: number, A: number, bm: number, cm: number, dsk: number, S: number, y: number) => void;
type SsdBackwardFn = (n: number, Hd: number, P: number, G: number, N: number, x: number, dt: number, A: number, bm: number, cm: number, dsk: number, Sin: number, dS: number, gy: number, gx: number, gdt: number, gA: number, gb: number, gc: number, gD: number, hasIn: number, hasOut: number, work: number) => void;

interface SsmExports {
  memory: WasmMemory;
  heapBase(): number;
  scanWorkBytes(T: number, N: number): number;
  ssdWorkBytes(Q: number, P: number, N: number): number;
  exp_f32(n: number, src: number, dst: number): void;
  exp_f64(n: number, src: number, dst: number): void;
  scan_fwd_f32: ScanForwardFn;
  scan_fwd_f64: ScanForwardFn;
  scan_bwd_f32: ScanBackwardFn;
  scan_bwd_f64: ScanBackwardFn;
  ssd_fwd_f32: SsdForwardFn;
  ssd_fwd_f64: SsdForwardFn;
  ssd_bwd_f32: SsdBackwardFn;
  ssd_bwd_f64: SsdBackwardFn;
  scan_step_f32: ScanStepFn;
  scan_step_f64: ScanStepFn;
  ssd_step_f32: SsdStepFn;
  ssd_step_f64: SsdStepFn;
}

/** First byte the calls may use (64-byte aligned heap base). */
let heapStart = 0;

const ssmModule = new EmbeddedWasm<SsmExports>(SSM_WASM_BASE64, (w) => {
  heapStart = alignUp(w.heapBase(), 64);
});

/** The embedded module's bytes. */
export function ssmWasmBytes(): Uint8Array {
  return ssmModule.bytes();
}

/** Whether the WASM scans can run now (loads the module on first call). */
export function ssmWasmReady(): boolean {
  return ssmModule.get() !== null;
}

/** Why the WASM scans are unavailable ('' when they are available or still loading). */
export function ssmWasmUnavailableReason(): string {
  return ssmModule.reason();
}

// ---- memory -------------------------------------------------------------------------------

const views = new WasmViews();

/** Grows the module's memory to `bytes` and returns the view of the call's element type. */
function view(w: SsmExports, bytes: number, double: boolean): FloatArray {
  views.ensure(w.memory, bytes);
  return double ? views.f64 : views.f32;
}

/**
 * rows × cols values at src[off], row stride cols, into dst at element `at` with row stride
 * ld ≥ cols; padding columns are zeroed. One memcpy when there is no padding (the usual case:
 * channel counts of real models are multiples of four), else an element loop (no views per row).
 */
function rowsIn(dst: FloatArray, at: number, src: FloatArray, off: number, rows: number, cols: number, ld: number): void {
  if (ld === cols) {
    dst.set(src.subarray(off, off + rows * cols), at);
    return;
  }
  dst.fill(0, at, at + rows * ld);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < cols; k++) dst[at + r * ld + k] = src[off + r * cols + k];
  }
}

/** The inverse of rowsIn: rows × cols values from src (row stride ld) to dst[off] (row stride cols). */
function rowsOut(dst: FloatArray, off: number, src: FloatArray, at: number, rows: number, cols: number, ld: number): void {
  if (ld === cols) {
    dst.set(src.subarray(at, at + rows * cols), off);
    return;
  }
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < cols; k++) dst[off + r * cols + k] = src[at + r * ld + k];
  }
}

/** rowsIn of an accumulator, or zeros when the gradient is not wanted (null). */
function gradIn(dst: FloatArray, at: number, src: FloatArray | null, off: number, rows: number, cols: number, ld: number): void {
  if (src === null) dst.fill(0, at, at + rows * ld);
  else rowsIn(dst, at, src, off, rows, cols, ld);
}

/** rowsOut into an accumulator, skipped when the gradient is not wanted (null). */
function gradOut(dst: FloatArray | null, off: number, src: FloatArray, at: number, rows: number, cols: number, ld: number): void {
  if (dst !== null) rowsOut(dst, off, src, at, rows, cols, ld);
}

/** e^x lane-wise by the kernels' routine (tests): x of length divisible by the lanes. */
export function expWasm(x: FloatArray): FloatArray | null {
  const w = ssmModule.get();
  if (w === null) return null;
  const double = x instanceof Float64Array;
  const S = double ? 8 : 4;
  const lay = new WasmLayout(heapStart);
  const src = lay.take(x.length * S);
  const dst = lay.take(x.length * S);
  const mem = view(w, lay.top, double);
  mem.set(x, src / S);
  (double ? w.exp_f64 : w.exp_f32)(x.length, src, dst);
  return mem.slice(dst / S, dst / S + x.length);
}

// ---- selective scan -----------------------------------------------------------------------

/** Sizes of a selective scan: u, Δ, y [B, L, D]; A [D, N]; B_t, C_t [B, L, N]; D_skip [D]. */
export interface ScanDims {
  B: number;
  L: number;
  D: number;
  N: number;
}

/**
 * Time steps per kernel call, and the spacing of the states the forward saves: the backward
 * recomputes one chunk's states and decays of a block of channels (2·SCAN_CHUNK·N vectors,
 * 32 KiB at N = 16) while they stay in cache.
 */
export const SCAN_CHUNK = 64;

/** Channels rounded up to whole vectors (4 float32 or 2 float64 lanes). */
function paddedChannels(D: number, double: boolean): number {
  const V = double ? 2 : 4;
  return Math.ceil(D / V) * V;
}

/** Length of the array of chunk-entry states the forward saves for the backward. */
export function scanCheckpointLength({ B, L, D, N }: ScanDims, double: boolean): number {
  return B * Math.ceil(L / SCAN_CHUNK) * paddedChannels(D, double) * N;
}

/** The six scan inputs in the op's order. */
export type ScanInputs = readonly [u: FloatArray, delta: FloatArray, A: FloatArray, Bm: FloatArray, Cm: FloatArray, Dskip: FloatArray];

/** A [D, N] into blocks [Dp/V, N, V] (lane ℓ of block k is channel k·V + ℓ), zero padded. */
function blockA(dst: FloatArray, at: number, A: FloatArray, D: number, Dp: number, N: number, V: number): void {
  dst.fill(0, at, at + Dp * N);
  for (let d = 0; d < D; d++) {
    const base = at + (Math.floor(d / V) * N) * V + (d % V);
    for (let n = 0; n < N; n++) dst[base + n * V] = A[d * N + n];
  }
}

/** Shared part of the forward and backward layouts. */
function scanCommon(dims: ScanDims, double: boolean) {
  const S = double ? 8 : 4;
  const Dp = paddedChannels(dims.D, double);
  const T = Math.min(SCAN_CHUNK, Math.max(dims.L, 1));
  const lay = new WasmLayout(heapStart);
  const at = {
    At: lay.take(Dp * dims.N * S),
    ds: lay.take(Dp * S),
    h: lay.take(Dp * dims.N * S),
    u: lay.take(T * Dp * S),
    dt: lay.take(T * Dp * S),
    bm: lay.take(T * dims.N * S),
    cm: lay.take(T * dims.N * S),
  };
  return { S, Dp, T, lay, at, V: 16 / S, chunks: Math.ceil(dims.L / SCAN_CHUNK) };
}

/**
 * Forward of the selective scan into y [B, L, D] (overwritten); when `checkpoints` is given
 * (length scanCheckpointLength) the state at the start of every chunk is saved there for
 * selectiveScanBackwardWasm. Returns false (doing nothing) when the module is unavailable.
 */
export function selectiveScanForwardWasm(y: FloatArray, checkpoints: FloatArray | null, inputs: ScanInputs, dims: ScanDims): boolean {
  const w = ssmModule.get();
  if (w === null) return false;
  const [u, delta, A, Bm, Cm, Dskip] = inputs;
  const { B, L, D, N } = dims;
  const double = y instanceof Float64Array;
  const { S, Dp, T, lay, at, V, chunks } = scanCommon(dims, double);
  const yAt = lay.take(T * Dp * S);
  const mem = view(w, lay.top, double);
  const e = (byte: number) => byte / S;
  blockA(mem, e(at.At), A, D, Dp, N, V);
  rowsIn(mem, e(at.ds), Dskip, 0, 1, D, Dp);
  const kernel = double ? w.scan_fwd_f64 : w.scan_fwd_f32;
  const DpN = Dp * N;
  for (let b = 0; b < B; b++) {
    mem.fill(0, e(at.h), e(at.h) + DpN);
    for (let c = 0; c < chunks; c++) {
      const t0 = c * SCAN_CHUNK;
      const n = Math.min(SCAN_CHUNK, L - t0);
      if (checkpoints !== null) checkpoints.set(mem.subarray(e(at.h), e(at.h) + DpN), (b * chunks + c) * DpN);
      const row = b * L + t0;
      rowsIn(mem, e(at.u), u, row * D, n, D, Dp);
      rowsIn(mem, e(at.dt), delta, row * D, n, D, Dp);
      mem.set(Bm.subarray(row * N, (row + n) * N), e(at.bm));
      mem.set(Cm.subarray(row * N, (row + n) * N), e(at.cm));
      kernel(n, Dp, N, at.u, at.dt, at.At, at.bm, at.cm, at.ds, at.h, yAt);
      rowsOut(y, row * D, mem, e(yAt), n, D, Dp);
    }
  }
  return true;
}

/**
 * Backward of the selective scan: accumulates (+=) into the gradients of the six inputs (null:
 * not wanted) from gy [B, L, D] and the checkpoints saved by the forward.
 */
export function selectiveScanBackwardWasm(grads: readonly (FloatArray | null)[], gy: FloatArray, inputs: ScanInputs, checkpoints: FloatArray, dims: ScanDims): boolean {
  const w = ssmModule.get();
  if (w === null) return false;
  const [u, delta, A, Bm, Cm, Dskip] = inputs;
  const [gu, gDelta, gA, gB, gC, gD] = grads;
  const { B, L, D, N } = dims;
  const double = gy instanceof Float64Array;
  const { S, Dp, T, lay, at, V, chunks } = scanCommon(dims, double);
  const more = {
    gy: lay.take(T * Dp * S),
    adj: lay.take(Dp * N * S),
    gu: lay.take(T * Dp * S),
    gdt: lay.take(T * Dp * S),
    gA: lay.take(Dp * N * S),
    gD: lay.take(Dp * S),
    gb: lay.take(T * N * S),
    gc: lay.take(T * N * S),
    work: lay.take(w.scanWorkBytes(T, N)),
  };
  const mem = view(w, lay.top, double);
  const e = (byte: number) => byte / S;
  const DpN = Dp * N;
  blockA(mem, e(at.At), A, D, Dp, N, V);
  rowsIn(mem, e(at.ds), Dskip, 0, 1, D, Dp);
  mem.fill(0, e(more.gA), e(more.gA) + DpN);
  mem.fill(0, e(more.gD), e(more.gD) + Dp);
  const kernel = double ? w.scan_bwd_f64 : w.scan_bwd_f32;
  for (let b = 0; b < B; b++) {
    mem.fill(0, e(more.adj), e(more.adj) + DpN);
    for (let c = chunks - 1; c >= 0; c--) {
      const t0 = c * SCAN_CHUNK;
      const n = Math.min(SCAN_CHUNK, L - t0);
      const row = b * L + t0;
      mem.set(checkpoints.subarray((b * chunks + c) * DpN, (b * chunks + c + 1) * DpN), e(at.h));
      rowsIn(mem, e(at.u), u, row * D, n, D, Dp);
      rowsIn(mem, e(at.dt), delta, row * D, n, D, Dp);
      rowsIn(mem, e(more.gy), gy, row * D, n, D, Dp);
      mem.set(Bm.subarray(row * N, (row + n) * N), e(at.bm));
      mem.set(Cm.subarray(row * N, (row + n) * N), e(at.cm));
      gradIn(mem, e(more.gu), gu, row * D, n, D, Dp);
      gradIn(mem, e(more.gdt), gDelta, row * D, n, D, Dp);
      gradIn(mem, e(more.gb), gB, row * N, n, N, N);
      gradIn(mem, e(more.gc), gC, row * N, n, N, N);
      kernel(n, Dp, N, at.u, at.dt, at.At, at.bm, at.cm, at.ds, at.h, more.gy, more.adj, more.gu, more.gdt, more.gA, more.gD, more.gb, more.gc, more.work);
      gradOut(gu, row * D, mem, e(more.gu), n, D, Dp);
      gradOut(gDelta, row * D, mem, e(more.gdt), n, D, Dp);
      gradOut(gB, row * N, mem, e(more.gb), n, N, N);
      gradOut(gC, row * N, mem, e(more.gc), n, N, N);
    }
  }
  if (gA !== null) {
    const base = e(more.gA);
    for (let d = 0; d < D; d++) {
      const blk = base + Math.floor(d / V) * N * V + (d % V);
      for (let n = 0; n < N; n++) gA[d * N + n] += mem[blk + n * V];
    }
  }
  if (gD !== null) for (let d = 0; d < D; d++) gD[d] += mem[e(more.gD) + d];
  return true;
}

// ---- SSD ----------------------------------------------------------------------------------

/** Sizes of an SSD problem: x [B, L, Hd, P], dt [B, L, Hd], B_t, C_t [B, L, G, N]. */
export interface SsdShape {
  B: number;
  L: number;
  Hd: number;
  P: number;
  G: number;
  N: number;
}

/** Sizes of an SSD scan (as in src/scans/ssd.ts): chunk length Q, `chunks` of them. */
export interface SsdKernelDims extends SsdShape {
  Q: number;
  chunks: number;
}

/** x, Δ, A, B_t, C_t, D_skip of ssd, in the op's order. */
export type SsdKernelInputs = readonly [x: FloatArray, dt: FloatArray, A: FloatArray, Bm: FloatArray, Cm: FloatArray, Dskip: FloatArray];

/** Length of the chunk-entry states [B, chunks, Hd, N, P] the forward saves for the backward. */
export function ssdStatesLength({ B, chunks, Hd, P, N }: SsdKernelDims): number {
  return B * chunks * Hd * N * P;
}

function ssdCommon(dims: SsdKernelDims, double: boolean) {
  const S = double ? 8 : 4;
  const { Q, Hd, P, G, N } = dims;
  const lay = new WasmLayout(heapStart);
  const at = {
    A: lay.take(Hd * S),
    dsk: lay.take(Hd * S),
    S: lay.take(Hd * N * P * S),
    x: lay.take(Q * Hd * P * S),
    dt: lay.take(Q * Hd * S),
    bm: lay.take(Q * G * N * S),
    cm: lay.take(Q * G * N * S),
  };
  return { S, lay, at };
}

/**
 * Forward of the SSD scan into y [B, L, Hd, P] (overwritten); when `states` is given (length
 * ssdStatesLength) the chunk-entry states are saved there for ssdBackwardWasm.
 */
export function ssdForwardWasm(y: FloatArray, states: FloatArray | null, inputs: SsdKernelInputs, dims: SsdKernelDims): boolean {
  const w = ssmModule.get();
  if (w === null) return false;
  const [x, dt, A, Bm, Cm, Dskip] = inputs;
  const { B, L, Hd, P, G, N, Q, chunks } = dims;
  const double = y instanceof Float64Array;
  const { S, lay, at } = ssdCommon(dims, double);
  const yAt = lay.take(Q * Hd * P * S);
  const work = lay.take(w.ssdWorkBytes(Q, P, N));
  const mem = view(w, lay.top, double);
  const e = (byte: number) => byte / S;
  mem.set(A, e(at.A));
  mem.set(Dskip, e(at.dsk));
  const kernel = double ? w.ssd_fwd_f64 : w.ssd_fwd_f32;
  const HNP = Hd * N * P;
  const xRow = Hd * P;
  const gRow = G * N;
  for (let b = 0; b < B; b++) {
    mem.fill(0, e(at.S), e(at.S) + HNP);
    for (let c = 0; c < chunks; c++) {
      const t0 = c * Q;
      const n = Math.min(Q, L - t0);
      const row = b * L + t0;
      if (states !== null) states.set(mem.subarray(e(at.S), e(at.S) + HNP), (b * chunks + c) * HNP);
      mem.set(x.subarray(row * xRow, (row + n) * xRow), e(at.x));
      mem.set(dt.subarray(row * Hd, (row + n) * Hd), e(at.dt));
      mem.set(Bm.subarray(row * gRow, (row + n) * gRow), e(at.bm));
      mem.set(Cm.subarray(row * gRow, (row + n) * gRow), e(at.cm));
      kernel(n, Hd, P, G, N, at.x, at.dt, at.A, at.bm, at.cm, at.dsk, at.S, yAt, c > 0 ? 1 : 0, c + 1 < chunks ? 1 : 0, work);
      y.set(mem.subarray(e(yAt), e(yAt) + n * xRow), row * xRow);
    }
  }
  return true;
}

/**
 * Backward of the SSD scan: accumulates (+=) into the gradients of the six inputs (null: not
 * wanted) from gy [B, L, Hd, P] and the states saved by ssdForwardWasm.
 */
export function ssdBackwardWasm(grads: readonly (FloatArray | null)[], gy: FloatArray, inputs: SsdKernelInputs, states: FloatArray, dims: SsdKernelDims): boolean {
  const w = ssmModule.get();
  if (w === null) return false;
  const [x, dt, A, Bm, Cm, Dskip] = inputs;
  const [gx, gdt, gA, gB, gC, gD] = grads;
  const { B, L, Hd, P, G, N, Q, chunks } = dims;
  const double = gy instanceof Float64Array;
  const { S, lay, at } = ssdCommon(dims, double);
  const HNP = Hd * N * P;
  const more = {
    dS: lay.take(HNP * S),
    gy: lay.take(Q * Hd * P * S),
    gx: lay.take(Q * Hd * P * S),
    gdt: lay.take(Q * Hd * S),
    gb: lay.take(Q * G * N * S),
    gc: lay.take(Q * G * N * S),
    gA: lay.take(Hd * S),
    gD: lay.take(Hd * S),
    work: lay.take(w.ssdWorkBytes(Q, P, N)),
  };
  const mem = view(w, lay.top, double);
  const e = (byte: number) => byte / S;
  mem.set(A, e(at.A));
  mem.set(Dskip, e(at.dsk));
  mem.fill(0, e(more.gA), e(more.gA) + Hd);
  mem.fill(0, e(more.gD), e(more.gD) + Hd);
  const kernel = double ? w.ssd_bwd_f64 : w.ssd_bwd_f32;
  const xRow = Hd * P;
  const gRow = G * N;
  for (let b = 0; b < B; b++) {
    mem.fill(0, e(more.dS), e(more.dS) + HNP);
    for (let c = chunks - 1; c >= 0; c--) {
      const t0 = c * Q;
      const n = Math.min(Q, L - t0);
      const row = b * L + t0;
      mem.set(states.subarray((b * chunks + c) * HNP, (b * chunks + c + 1) * HNP), e(at.S));
      mem.set(x.subarray(row * xRow, (row + n) * xRow), e(at.x));
      mem.set(dt.subarray(row * Hd, (row + n) * Hd), e(at.dt));
      mem.set(Bm.subarray(row * gRow, (row + n) * gRow), e(at.bm));
      mem.set(Cm.subarray(row * gRow, (row + n) * gRow), e(at.cm));
      mem.set(gy.subarray(row * xRow, (row + n) * xRow), e(more.gy));
      gradIn(mem, e(more.gx), gx, row * xRow, n, xRow, xRow);
      gradIn(mem, e(more.gdt), gdt, row * Hd, n, Hd, Hd);
      gradIn(mem, e(more.gb), gB, row * gRow, n, gRow, gRow);
      gradIn(mem, e(more.gc), gC, row * gRow, n, gRow, gRow);
      kernel(n, Hd, P, G, N, at.x, at.dt, at.A, at.bm, at.cm, at.dsk, at.S, more.dS, more.gy, more.gx, more.gdt, more.gA, more.gb, more.gc, more.gD, c > 0 ? 1 : 0, c + 1 < chunks ? 1 : 0, more.work);
      gradOut(gx, row * xRow, mem, e(more.gx), n, xRow, xRow);
      gradOut(gdt, row * Hd, mem, e(more.gdt), n, Hd, Hd);
      gradOut(gB, row * gRow, mem, e(more.gb), n, gRow, gRow);
      gradOut(gC, row * gRow, mem, e(more.gc), n, gRow, gRow);
    }
  }
  if (gA !== null) for (let h = 0; h < Hd; h++) gA[h] += mem[e(more.gA) + h];
  if (gD !== null) for (let h = 0; h < Hd; h++) gD[h] += mem[e(more.gD) + h];
  return true;
}

// ---- one-token steps (generation) -----------------------------------------------------------

/**
 * One step of the selective scan for every sequence: u, Δ, y [B, D], A [D, N], Bm, Cm [B, N],
 * Dskip [D] (all one float type), advancing `state` [B, D, N] (float64, in place) and writing y.
 */
export function selectiveScanStepWasm(y: FloatArray, state: Float64Array, inputs: ScanInputs, B: number, D: number, N: number): boolean {
  const w = ssmModule.get();
  if (w === null) return false;
  const [u, delta, A, Bm, Cm, Dskip] = inputs;
  const double = y instanceof Float64Array;
  const S = double ? 8 : 4;
  const lay = new WasmLayout(heapStart);
  const at = {
    A: lay.take(D * N * S),
    ds: lay.take(D * S),
    u: lay.take(B * D * S),
    dt: lay.take(B * D * S),
    bm: lay.take(B * N * S),
    cm: lay.take(B * N * S),
    y: lay.take(B * D * S),
    h: lay.take(B * D * N * 8),
  };
  const mem = view(w, lay.top, double);
  const e = (byte: number) => byte / S;
  mem.set(A, e(at.A));
  mem.set(Dskip, e(at.ds));
  mem.set(u, e(at.u));
  mem.set(delta, e(at.dt));
  mem.set(Bm, e(at.bm));
  mem.set(Cm, e(at.cm));
  const h = views.f64;
  h.set(state, at.h / 8);
  const kernel = double ? w.scan_step_f64 : w.scan_step_f32;
  for (let b = 0; b < B; b++) {
    kernel(D, N, at.u + b * D * S, at.dt + b * D * S, at.A, at.bm + b * N * S, at.cm + b * N * S, at.ds, at.h + b * D * N * 8, at.y + b * D * S);
  }
  state.set(h.subarray(at.h / 8, at.h / 8 + B * D * N));
  y.set(mem.subarray(e(at.y), e(at.y) + B * D));
  return true;
}

/**
 * One SSD step for every sequence: x, y [B, Hd, P], dt [B, Hd], A [Hd], Bm, Cm [B, G, N],
 * Dskip [Hd], advancing `state` [B, Hd, P, N] (same float type, in place) and writing y.
 */
export function ssdStepWasm(y: FloatArray, state: FloatArray, inputs: SsdKernelInputs, B: number, Hd: number, P: number, G: number, N: number): boolean {
  const w = ssmModule.get();
  if (w === null) return false;
  const [x, dt, A, Bm, Cm, Dskip] = inputs;
  const double = y instanceof Float64Array;
  const S = double ? 8 : 4;
  const lay = new WasmLayout(heapStart);
  const at = {
    A: lay.take(Hd * S),
    dsk: lay.take(Hd * S),
    x: lay.take(B * Hd * P * S),
    dt: lay.take(B * Hd * S),
    bm: lay.take(B * G * N * S),
    cm: lay.take(B * G * N * S),
    y: lay.take(B * Hd * P * S),
    S: lay.take(B * Hd * P * N * S),
  };
  const mem = view(w, lay.top, double);
  const e = (byte: number) => byte / S;
  mem.set(A, e(at.A));
  mem.set(Dskip, e(at.dsk));
  mem.set(x, e(at.x));
  mem.set(dt, e(at.dt));
  mem.set(Bm, e(at.bm));
  mem.set(Cm, e(at.cm));
  mem.set(state, e(at.S));
  const kernel = double ? w.ssd_step_f64 : w.ssd_step_f32;
  const HP = Hd * P;
  for (let b = 0; b < B; b++) {
    kernel(Hd, P, G, N, at.x + b * HP * S, at.dt + b * Hd * S, at.A, at.bm + b * G * N * S, at.cm + b * G * N * S, at.dsk, at.S + b * HP * N * S, at.y + b * HP * S);
  }
  state.set(mem.subarray(e(at.S), e(at.S) + B * HP * N));
  y.set(mem.subarray(e(at.y), e(at.y) + B * HP));
  return true;
}
