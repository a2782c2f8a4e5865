/**
 * The implicit-attention block builders in WebAssembly SIMD (assembly/implicit.ts, embedded
 * in ./implicit-binary.ts) seen from JS: the cores described as plain data, the fills of the
 * kernels' inputs (every exp is taken here, with Math.exp, as the JS references do), and the
 * band driver `runFused` that builds or reduces the implicit attention of a layer's channels.
 * What to build (variants, which channels, which reduction) is decided by
 * src/implicit/compose.ts; the JS references of every core are the families' coreMatrix.
 *
 * The driver (H^c = diag(gate)·(core + skip·I)·diag(act)·M, implicit-attention.md §1):
 *
 *   for each chunk of cores (their state and inputs within `chunkBudget` bytes):
 *     fill every core's inputs and every entry's gate / act / conv columns
 *     for each band of T rows [t0, t1):
 *       for each core k of the chunk:   core band ← k's recurrence, advanced by T rows
 *         for each entry on core k:     H band → written out, or accumulated into its target's band
 *       copy the target bands out (float64 → the output dtype)
 *
 * so a band of the core, of H and of every aggregate stays in cache (T·L·8 bytes ≈ 256 KiB),
 * each core is computed once for all the channels that share it (Mamba2's heads, GLA's heads),
 * and no L×L matrix is ever materialised unless it is the output. Module memory holds the band
 * buffers, one chunk and the tiny per-entry columns: bounded by ≈ chunkBudget + (4 + targets)·T·L·8.
 * Pure module: no Node APIs.
 */
import type { FloatArray } from '../../dtype.js';
import { defineTask, isShared, parallelExecutor, shareable, sharedFloatArray } from '../../parallel.js';
import type { Range } from '../../parallel.js';
import { IMPLICIT_WASM_BASE64 } from './implicit-binary.js';
import { EmbeddedWasm, WasmLayout, WasmViews } from './runtime.js';
import type { WasmMemory } from './runtime.js';

interface ImplicitExports {
  memory: WasmMemory;
  heapBase(): number;
  diagonalBand(N: number, L: number, t0: number, t1: number, decay: number, input: number, query: number, state: number, out: number): void;
  ssdProducts(N: number, L: number, t0: number, t1: number, c: number, bt: number, out: number): void;
  ssdBand(L: number, t0: number, t1: number, decay: number, dt: number, state: number, cb: number, out: number): void;
  wkvBand(L: number, t0: number, t1: number, scalars: number, state: number, out: number, scales: number, normalise: number): void;
  transformBand(L: number, t0: number, t1: number, core: number, rowScale: number, skip: number, gate: number, act: number, conv: number, K: number, tmp: number, mode: number, weight: number, dst: number): void;
  biasBand(L: number, t0: number, t1: number, core: number, rowScale: number, skip: number, gate: number, act: number, convBias: number, tmp: number, bias: number): void;
}

const implicitModule = new EmbeddedWasm<ImplicitExports>(IMPLICIT_WASM_BASE64);

/** The embedded module's bytes. */
export function implicitWasmBytes(): Uint8Array {
  return implicitModule.bytes();
}

/** Whether the WASM block builders can run now (loads the module on first call). */
export function implicitWasmReady(): boolean {
  return implicitModule.get() !== null;
}

/** Why they are unavailable ('' when available or still loading). */
export function implicitWasmUnavailableReason(): string {
  return implicitModule.reason();
}

// ---- cores as data ---------------------------------------------------------------------------
// Arrays as the families hold them; B = batch, L = length. Each kind names its paper formula.

/** Mamba S6 per channel d: Σ_n C_t[n]·exp(A[d,n]·Σ_{k=s+1..t} Δ_k[d])·Δ_s[d]·B_s[n]. delta [B,L,D], A [D,N], B, C [B,L,N]. */
export interface S6Core {
  readonly kind: 's6';
  readonly D: number;
  readonly N: number;
  readonly delta: FloatArray;
  readonly A: FloatArray;
  readonly B: FloatArray;
  readonly C: FloatArray;
}

/** Mamba2 per head h: (C_t·B_s)·exp(A_h·Σ_{k=s+1..t} Δ_k[h])·Δ_s[h] over h's group. dt [B,L,H], A [H], B, C [B,L,G,N]. */
export interface SsdCore {
  readonly kind: 'ssd';
  readonly heads: number;
  readonly groups: number;
  readonly N: number;
  readonly dt: FloatArray;
  readonly A: FloatArray;
  readonly B: FloatArray;
  readonly C: FloatArray;
}

/** RWKV-4 per channel: softmax_{s≤t} of −(t−1−s)·e^{w} + k_s (s < t), u + k_t (s = t). k [B,L,C], decay = e^w [C], bonus = u [C]. */
export interface WkvCore {
  readonly kind: 'wkv';
  readonly C: number;
  readonly k: FloatArray;
  readonly decay: FloatArray;
  readonly bonus: FloatArray;
}

/** RG-LRU, HGRN per channel: exp(Σ_{k=s+1..t} log a_k)·w_s. logDecay, weight [B,L,C]. */
export interface DecayCore {
  readonly kind: 'decay';
  readonly C: number;
  readonly logDecay: FloatArray;
  readonly weight: FloatArray;
}

/** GLA, RetNet per head h: Σ_j q_t[j]·k_s[j]·exp(Σ_{k=s+1..t} γ_k[j]). q, k, logDecay [B,L,H,dk]. */
export interface GlaCore {
  readonly kind: 'gla';
  readonly heads: number;
  readonly dk: number;
  readonly q: FloatArray;
  readonly k: FloatArray;
  readonly logDecay: FloatArray;
}

export type KernelCore = S6Core | SsdCore | WkvCore | DecayCore | GlaCore;

/** State dimension of the diagonal recurrence (S6: N, GLA: dk, decay: 1); 0 for the other kinds. */
function diagonalN(core: KernelCore): number {
  return core.kind === 's6' ? core.N : core.kind === 'gla' ? core.dk : core.kind === 'decay' ? 1 : 0;
}

/** Float64 elements of one core's state + inputs in module memory. */
function coreElements(core: KernelCore, L: number): number {
  const N = diagonalN(core);
  if (N > 0) return L * N * (core.kind === 'decay' ? 3 : 4); // state X, decay, input (+ query)
  if (core.kind === 'ssd') return 3 * L; // state q, decay, Δ
  return 5 * L; // wkv: state q, 4 row scalars
}

/** One core's slots in module memory (byte addresses). */
interface CoreSlots {
  state: number;
  a: number;
  b: number;
  c: number;
}

/**
 * Writes core k of batch b's inputs into module memory (views a, b, c of L·N or L elements):
 * the same expressions as the families' JS coreMatrix, so the kernels see the same numbers.
 */
function fillCore(core: KernelCore, L: number, b: number, k: number, a: Float64Array, bv: Float64Array, cv: Float64Array): void {
  switch (core.kind) {
    case 's6': {
      // decay exp(A[d,n]·Δ_t), input Δ_t·B_t[n], query C_t[n]
      const { D, N, delta, A, B, C } = core;
      for (let t = 0; t < L; t++) {
        const dt = delta[(b * L + t) * D + k];
        for (let n = 0; n < N; n++) {
          a[t * N + n] = Math.exp(A[k * N + n] * dt);
          bv[t * N + n] = dt * B[(b * L + t) * N + n];
          cv[t * N + n] = C[(b * L + t) * N + n];
        }
      }
      return;
    }
    case 'gla': {
      // decay exp(γ_t[j]), input k_t[j], query q_t[j]
      const { heads, dk, q, k: keys, logDecay } = core;
      for (let t = 0; t < L; t++) {
        const row = ((b * L + t) * heads + k) * dk;
        for (let j = 0; j < dk; j++) {
          a[t * dk + j] = Math.exp(logDecay[row + j]);
          bv[t * dk + j] = keys[row + j];
          cv[t * dk + j] = q[row + j];
        }
      }
      return;
    }
    case 'decay': {
      for (let t = 0; t < L; t++) {
        const idx = (b * L + t) * core.C + k;
        a[t] = Math.exp(core.logDecay[idx]);
        bv[t] = core.weight[idx];
      }
      return;
    }
    case 'ssd': {
      // decay exp(A_h·Δ_t), Δ_t
      const { heads, dt, A } = core;
      for (let t = 0; t < L; t++) {
        const dtt = dt[(b * L + t) * heads + k];
        a[t] = Math.exp(A[k] * dtt);
        bv[t] = dtt;
      }
      return;
    }
    case 'wkv': {
      // The scalar part of families/rwkv.ts's rescaled recurrence: a_s = k_s + s·e^w, running
      // maximum M of a_{s<t}, row maximum R = max(M − (t−1)·e^w, u + k_t).
      const { C, k: keys } = core;
      const w = core.decay[k];
      const u = core.bonus[k];
      let M = -Infinity;
      for (let t = 0; t < L; t++) {
        let shrink = 1;
        let fresh = 0;
        if (t > 0) {
          const aPrev = keys[(b * L + t - 1) * C + k] + (t - 1) * w;
          if (aPrev > M) {
            shrink = Math.exp(M - aPrev);
            M = aPrev;
          }
          fresh = Math.exp(aPrev - M);
        }
        const offMax = M - (t - 1) * w;
        const diag = u + keys[(b * L + t) * C + k];
        const R = Math.max(offMax, diag);
        a[t] = shrink;
        a[L + t] = fresh;
        a[2 * L + t] = t > 0 ? Math.exp(offMax - R) : 0;
        a[3 * L + t] = Math.exp(diag - R);
      }
      return;
    }
  }
}

/** Mamba2: C [L×N] and Bᵀ [N×L] of group g of batch b. */
function fillGroup(core: SsdCore, L: number, b: number, g: number, c: Float64Array, bt: Float64Array): void {
  const { groups: G, N, B, C } = core;
  for (let t = 0; t < L; t++) {
    const at = ((b * L + t) * G + g) * N;
    for (let n = 0; n < N; n++) {
      c[t * N + n] = C[at + n];
      bt[n * L + t] = B[at + n];
    }
  }
}

// ---- the layer and its entries ---------------------------------------------------------------

/** A layer's implicit attention as data: the core and the per-channel factors. */
export interface FusedLayer {
  readonly batch: number;
  readonly length: number;
  readonly channels: number;
  readonly core: KernelCore;
  /** Output gate [B, L, C] or null. */
  readonly gate: FloatArray | null;
  /** Activation diagonal [B, L, C] or null. */
  readonly act: FloatArray | null;
  /** Conv taps [C, K] (index K−1 = current token) or null. */
  readonly conv: FloatArray | null;
  readonly convK: number;
  /** Conv bias [C] or null (bias entries need it). */
  readonly convBias: FloatArray | null;
}

export type FusedMode = 'write' | 'sum' | 'abs' | 'positive';
const MODE_CODE: Record<FusedMode, number> = { write: 0, sum: 1, abs: 2, positive: 3 };

/**
 * One H to build: core `core` with the factors of channel `channel`; written to output matrix
 * `target` (mode 'write') or accumulated into it as weight·H, weight·|H|, weight·max(H, 0);
 * target −1: none. `bias`: also the exact bias of `channel` (factors gate/act as present in
 * the layer, skip `biasSkip`).
 */
export interface FusedEntry {
  core: number;
  channel: number;
  skip: number;
  gate: boolean;
  act: boolean;
  conv: boolean;
  target: number;
  mode: FusedMode;
  weight: number;
  bias: boolean;
  biasSkip: number;
}

/**
 * Where runFused writes: target g at out[outBase + g·L·L + t·L + s] (the first chunk of cores
 * that has entries of g sets it, later chunks add); bias[(b·L + t)·C + c]. Targets in
 * `partialAt` (g → offset) go to partial[offset + t·L + s] instead, in float64, for the caller
 * to sum (the targets that parallel parts share).
 */
export interface FusedSink {
  out: FloatArray;
  outBase: number;
  bias: FloatArray | null;
  partial?: Float64Array;
  partialAt?: ReadonlyMap<number, number>;
}

/** Rows per band: about 256 KiB of float64 per band buffer, between 4 and 64 rows. */
let bandOverride: number | null = null;
export function bandRows(L: number): number {
  return bandOverride ?? Math.max(4, Math.min(64, Math.floor(32768 / Math.max(L, 1))));
}

/** Forces the band height (tests: odd bands), null to restore; returns the old override. */
export function setBandRows(rows: number | null): number | null {
  const old = bandOverride;
  bandOverride = rows;
  return old;
}

/** Bytes of core state + inputs + entry columns per chunk. */
let chunkBudget = 32 << 20;

/** Sets the chunk budget in bytes (tests force many chunks); returns the old one. */
export function setChunkBudget(bytes: number): number {
  const old = chunkBudget;
  chunkBudget = Math.max(1, bytes);
  return old;
}

/** The entries of each core, in their order. */
function entriesByCore(entries: readonly FusedEntry[]): Map<number, FusedEntry[]> {
  const byCore = new Map<number, FusedEntry[]>();
  for (const e of entries) {
    const list = byCore.get(e.core);
    if (list === undefined) byCore.set(e.core, [e]);
    else list.push(e);
  }
  return byCore;
}

/** The runtime's bump layout counted in float64 elements: take(elements) returns a 16-byte aligned byte address. */
class Layout {
  private readonly bytes: WasmLayout;
  constructor(base: number) {
    this.bytes = new WasmLayout(base, 16);
  }
  get top(): number {
    return this.bytes.top;
  }
  take(elements: number): number {
    return this.bytes.take(elements * 8);
  }
}

/** Views over the module's memory (refreshed by `views.ensure` before a call's copies). */
const views = new WasmViews();

function entryElements(layer: FusedLayer, e: FusedEntry): number {
  const L = layer.length;
  let n = 0;
  if ((e.gate || e.bias) && layer.gate !== null) n += L;
  if ((e.act || e.bias) && layer.act !== null) n += L;
  if (e.conv) n += layer.convK + 1;
  if (e.bias) n += L;
  return n + 8;
}

/** Columns of one entry in module memory (0: absent). */
interface EntrySlots {
  gate: number;
  act: number;
  conv: number;
  bias: number;
}

/**
 * Builds the entries of batch b (see FusedEntry) into `sink`. Returns false, doing nothing,
 * when the WASM module is unavailable.
 */
export function runFused(layer: FusedLayer, b: number, entries: readonly FusedEntry[], sink: FusedSink): boolean {
  const w = implicitModule.get();
  if (w === null) return false;
  const { length: L, core } = layer;
  const T = Math.min(bandRows(L), L);
  const byCore = entriesByCore(entries);
  const cores = [...byCore.keys()].sort((x, y) => x - y);
  // Accumulated targets get a band buffer each.
  const accSlot = new Map<number, number>();
  for (const e of entries) if (e.target >= 0 && e.mode !== 'write' && !accSlot.has(e.target)) accSlot.set(e.target, accSlot.size);

  // Chunks of cores within the budget.
  const chunks: number[][] = [];
  const chunkElements: number[] = [];
  let current: number[] = [];
  let size = 0;
  for (const k of cores) {
    const need = coreElements(core, L) + 8 + byCore.get(k)!.reduce((n, e) => n + entryElements(layer, e), 0);
    if (current.length > 0 && (size + need) * 8 > chunkBudget) {
      chunks.push(current);
      chunkElements.push(size);
      current = [];
      size = 0;
    }
    current.push(k);
    size += need;
  }
  if (current.length > 0) {
    chunks.push(current);
    chunkElements.push(size);
  }

  // Fixed slots: core band, products band (SSD), write band, row scratch, target bands, SSD groups.
  const layout = new Layout(w.heapBase());
  const coreBand = layout.take(T * L);
  const cbBand = core.kind === 'ssd' ? layout.take(T * L) : 0;
  const writeBand = layout.take(T * L);
  const tmp = layout.take(L + 2);
  const scales = core.kind === 'wkv' ? layout.take(T) : 0;
  const accBase = layout.take(accSlot.size * T * L);
  const groupSlots: { c: number; bt: number }[] = [];
  if (core.kind === 'ssd') for (let g = 0; g < core.groups; g++) groupSlots.push({ c: layout.take(L * core.N), bt: layout.take(L * core.N) });
  const chunkBase = layout.top;
  views.ensure(w.memory, chunkBase + Math.max(0, ...chunkElements) * 8 + 64);
  const heap = views.f64;
  const view = (ptr: number, n: number) => heap.subarray(ptr / 8, ptr / 8 + n);

  if (core.kind === 'ssd') {
    const used = new Set(cores.map((k) => Math.floor(k / (core.heads / core.groups))));
    for (const g of used) fillGroup(core, L, b, g, view(groupSlots[g].c, L * core.N), view(groupSlots[g].bt, L * core.N));
  }
  const N = diagonalN(core);
  const { out, outBase, bias } = sink;
  const written = new Set<number>();

  for (const chunk of chunks) {
    const mem = new Layout(chunkBase);
    const coreSlots = new Map<number, CoreSlots>();
    const entrySlots = new Map<FusedEntry, EntrySlots>();
    const targets = new Set<number>();
    for (const k of chunk) {
      const slots = allocateCore(mem, core, L, N);
      coreSlots.set(k, slots);
      fillSlots(core, L, b, k, slots, view);
      for (const e of byCore.get(k)!) {
        entrySlots.set(e, allocateEntry(mem, layer, b, e, view));
        if (accSlot.has(e.target)) targets.add(e.target);
      }
    }
    for (let t0 = 0; t0 < L; t0 += T) {
      const t1 = Math.min(L, t0 + T);
      const rows = (t1 - t0) * L;
      if (accSlot.size > 0) heap.fill(0, accBase / 8, accBase / 8 + accSlot.size * T * L);
      let group = -1;
      for (const k of chunk) {
        const s = coreSlots.get(k)!;
        switch (core.kind) {
          case 'ssd': {
            const g = Math.floor(k / (core.heads / core.groups));
            if (g !== group) {
              w.ssdProducts(core.N, L, t0, t1, groupSlots[g].c, groupSlots[g].bt, cbBand);
              group = g;
            }
            w.ssdBand(L, t0, t1, s.a, s.b, s.state, cbBand, coreBand);
            break;
          }
          case 'wkv':
            w.wkvBand(L, t0, t1, s.a, s.state, coreBand, scales, 0);
            break;
          default:
            w.diagonalBand(N, L, t0, t1, s.a, s.b, s.c, s.state, coreBand);
        }
        for (const e of byCore.get(k)!) {
          const slots = entrySlots.get(e)!;
          if (e.target >= 0) {
            const write = e.mode === 'write';
            const dst = write ? writeBand : accBase + accSlot.get(e.target)! * T * L * 8;
            w.transformBand(L, t0, t1, coreBand, scales, e.skip, e.gate ? slots.gate : 0, e.act ? slots.act : 0, e.conv ? slots.conv : 0, layer.convK, tmp, MODE_CODE[e.mode], e.weight, dst);
            if (write) out.set(view(writeBand, rows), outBase + e.target * L * L + t0 * L);
          }
          if (e.bias) w.biasBand(L, t0, t1, coreBand, scales, e.biasSkip, slots.gate, slots.act, layer.convBias![e.channel], tmp, slots.bias);
        }
      }
      for (const target of targets) {
        const band = view(accBase + accSlot.get(target)! * T * L * 8, rows);
        const shared = sink.partialAt?.get(target);
        const dst: FloatArray = shared === undefined ? out : sink.partial!;
        const at = shared === undefined ? outBase + target * L * L + t0 * L : shared + t0 * L;
        if (!written.has(target)) dst.set(band, at);
        else for (let i = 0; i < rows; i++) dst[at + i] += band[i];
      }
    }
    for (const target of targets) written.add(target);
    if (bias !== null) {
      const C = layer.channels;
      for (const [e, slots] of entrySlots) {
        if (!e.bias) continue;
        const column = view(slots.bias, L);
        for (let t = 0; t < L; t++) bias[(b * L + t) * C + e.channel] = column[t];
      }
    }
  }
  return true;
}

function allocateCore(mem: Layout, core: KernelCore, L: number, N: number): CoreSlots {
  if (N > 0) return { state: mem.take(N * L), a: mem.take(N * L), b: mem.take(N * L), c: core.kind === 'decay' ? 0 : mem.take(N * L) };
  if (core.kind === 'ssd') return { state: mem.take(L), a: mem.take(L), b: mem.take(L), c: 0 };
  return { state: mem.take(L), a: mem.take(4 * L), b: 0, c: 0 };
}

/** fillCore into a core's slots. */
function fillSlots(core: KernelCore, L: number, b: number, k: number, slots: CoreSlots, view: (ptr: number, n: number) => Float64Array): void {
  const n = L * Math.max(diagonalN(core), 1);
  const empty = new Float64Array(0);
  const part = (ptr: number, size: number) => (ptr === 0 ? empty : view(ptr, size));
  fillCore(core, L, b, k, part(slots.a, core.kind === 'wkv' ? 4 * L : n), part(slots.b, n), part(slots.c, n));
}

/** Gathers channel columns [L] of gate and act (and the conv taps) of entry e into module memory. */
function allocateEntry(mem: Layout, layer: FusedLayer, b: number, e: FusedEntry, view: (ptr: number, n: number) => Float64Array): EntrySlots {
  const { length: L, channels: C } = layer;
  const slots: EntrySlots = { gate: 0, act: 0, conv: 0, bias: 0 };
  const column = (src: FloatArray) => {
    const ptr = mem.take(L);
    const v = view(ptr, L);
    for (let t = 0; t < L; t++) v[t] = src[(b * L + t) * C + e.channel];
    return ptr;
  };
  if ((e.gate || e.bias) && layer.gate !== null) slots.gate = column(layer.gate);
  if ((e.act || e.bias) && layer.act !== null) slots.act = column(layer.act);
  if (e.conv) {
    const K = layer.convK;
    slots.conv = mem.take(K);
    view(slots.conv, K).set(layer.conv!.subarray(e.channel * K, e.channel * K + K));
  }
  if (e.bias) slots.bias = mem.take(L);
  return slots;
}

/**
 * Core k of batch b as a full L×L matrix into out (rows t: entries s ≤ t written, the rest
 * left as they are), by the same band kernels. Returns false when the module is unavailable.
 */
export function wasmCoreMatrix(core: KernelCore, L: number, b: number, k: number, out: Float64Array): boolean {
  const w = implicitModule.get();
  if (w === null) return false;
  const T = Math.min(bandRows(L), L);
  const N = diagonalN(core);
  const layout = new Layout(w.heapBase());
  const coreBand = layout.take(T * L);
  const cbBand = core.kind === 'ssd' ? layout.take(T * L) : 0;
  const group = core.kind === 'ssd' ? { c: layout.take(L * core.N), bt: layout.take(L * core.N) } : null;
  const scales = layout.take(T);
  const slots = allocateCore(layout, core, L, N);
  views.ensure(w.memory, layout.top + 64);
  const heap = views.f64;
  const view = (ptr: number, n: number) => heap.subarray(ptr / 8, ptr / 8 + n);
  fillSlots(core, L, b, k, slots, view);
  if (core.kind === 'ssd') fillGroup(core, L, b, Math.floor(k / (core.heads / core.groups)), view(group!.c, L * core.N), view(group!.bt, L * core.N));
  const band = view(coreBand, T * L);
  for (let t0 = 0; t0 < L; t0 += T) {
    const t1 = Math.min(L, t0 + T);
    if (core.kind === 'ssd') {
      w.ssdProducts(core.N, L, t0, t1, group!.c, group!.bt, cbBand);
      w.ssdBand(L, t0, t1, slots.a, slots.b, slots.state, cbBand, coreBand);
    } else if (core.kind === 'wkv') w.wkvBand(L, t0, t1, slots.a, slots.state, coreBand, scales, 1);
    else w.diagonalBand(N, L, t0, t1, slots.a, slots.b, slots.c, slots.state, coreBand);
    for (let t = t0; t < t1; t++) out.set(band.subarray((t - t0) * L, (t - t0) * L + t + 1), t * L);
  }
  return true;
}

// ---- across threads --------------------------------------------------------------------------

/** Smallest work (entries · L²) split across threads: below it, posting the job costs more. */
let PARALLEL_MIN_WORK = 1 << 22;
/**
 * Largest float64 scratch (the parts' sums of the targets they share) of a parallel run: 256 MiB,
 * or three L×L matrices (what extract's memory estimate counts for scratch) when that is more.
 * Fewer parts are used when the sums of as many parts as threads would not fit.
 */
const partialBudget = (L: number) => Math.max(256 << 20, 3 * L * L * 8);

/** Sets the split threshold in entries·L² (tests); returns the old one. */
export function setFusedParallelMinWork(work: number): number {
  const old = PARALLEL_MIN_WORK;
  PARALLEL_MIN_WORK = work;
  return old;
}

interface FusedTaskArgs {
  layer: FusedLayer;
  b: number;
  /** Entries of each part (part 0 runs on the calling thread). */
  parts: FusedEntry[][];
  out: FloatArray;
  outBase: number;
  bias: FloatArray | null;
  /** Targets with entries in more than one part, summed in `partial` [parts × shared × L·L]. */
  shared: number[];
  partial: Float64Array | null;
}

function partSink(a: FusedTaskArgs, part: number): FusedSink {
  const L2 = a.layer.length * a.layer.length;
  const partialAt = new Map(a.shared.map((g, i) => [g, (part * a.shared.length + i) * L2]));
  return { out: a.out, outBase: a.outBase, bias: a.bias, partial: a.partial ?? undefined, partialAt };
}

const fusedParts = defineTask(import.meta.url, 'implicit-fused-parts', (a: FusedTaskArgs, start: number, end: number) => {
  for (let p = start; p < end; p++) {
    if (!runFused(a.layer, a.b, a.parts[p], partSink(a, p))) throw new Error('the WebAssembly implicit-attention builders are unavailable in this worker');
  }
});

/** Shared copies of the layer's arrays, made once per array. */
const sharedCopies = new WeakMap<FloatArray, FloatArray>();
function share<T extends FloatArray | null>(a: T): T {
  if (a === null) return a;
  let copy = sharedCopies.get(a);
  if (copy === undefined) sharedCopies.set(a, (copy = shareable(a)));
  return copy as T;
}

function sharedLayer(layer: FusedLayer): FusedLayer {
  const c = layer.core;
  const core: KernelCore =
    c.kind === 's6' ? { ...c, delta: share(c.delta), A: share(c.A), B: share(c.B), C: share(c.C) }
    : c.kind === 'ssd' ? { ...c, dt: share(c.dt), A: share(c.A), B: share(c.B), C: share(c.C) }
    : c.kind === 'wkv' ? { ...c, k: share(c.k), decay: share(c.decay), bonus: share(c.bonus) }
    : c.kind === 'decay' ? { ...c, logDecay: share(c.logDecay), weight: share(c.weight) }
    : { ...c, q: share(c.q), k: share(c.k), logDecay: share(c.logDecay) };
  return { ...layer, core, gate: share(layer.gate), act: share(layer.act), conv: share(layer.conv), convBias: share(layer.convBias) };
}

/**
 * runFused with the cores cut into one contiguous part per thread of the installed executor
 * (./parallel.ts), balanced by entries; each part runs the same kernels in its own module
 * instance. Written targets and bias columns belong to one part each and go straight to the
 * outputs, which must then live on SharedArrayBuffers (sharedFloatArray); a target whose
 * entries fall in several parts (a channel mean), or any accumulated target when the output is
 * not shared, is summed per part in float64 and added up here. Runs on the calling thread
 * alone when there is no ready executor, the work is small, a written output is not shared, or
 * even two parts' sums would exceed partialBudget. Returns false when the WASM module is
 * unavailable.
 */
export function runFusedParallel(layer: FusedLayer, b: number, entries: readonly FusedEntry[], sink: FusedSink): boolean {
  const ex = parallelExecutor();
  const L = layer.length;
  const writes = entries.some((e) => e.target >= 0 && e.mode === 'write');
  const biases = entries.some((e) => e.bias);
  if (
    ex === null || ex.threads < 2 || entries.length * L * L < PARALLEL_MIN_WORK || !ex.ready() || implicitModule.get() === null ||
    (writes && !isShared(sink.out)) || (biases && sink.bias !== null && !isShared(sink.bias))
  ) {
    return runFused(layer, b, entries, sink);
  }
  // As many parts as threads, or fewer when their partial sums would not fit.
  let parts: FusedEntry[][] = [];
  let shared: number[] = [];
  for (let n = ex.threads; n >= 2; n--) {
    parts = partition(entries, n);
    shared = sharedTargets(parts, isShared(sink.out));
    if (parts.length * shared.length * L * L * 8 <= partialBudget(L)) break;
    parts = [];
  }
  if (parts.length < 2) return runFused(layer, b, entries, sink);
  const partial = shared.length > 0 ? sharedFloatArray('float64', parts.length * shared.length * L * L) : null;
  const args: FusedTaskArgs = { layer: sharedLayer(layer), b, parts, out: sink.out, outBase: sink.outBase, bias: sink.bias, shared, partial };
  const theirs: Range[] = parts.slice(1).map((_, i) => ({ start: i + 1, end: i + 2 }));
  let ok = true;
  ex.run(fusedParts, args, theirs, () => {
    ok = runFused(layer, b, parts[0], partSink(args, 0));
  });
  if (!ok) return false;
  // Shared targets: the parts' float64 sums, in part order, stored once in the output dtype.
  const L2 = L * L;
  const sum = new Float64Array(L2);
  shared.forEach((g, i) => {
    sum.fill(0);
    for (let p = 0; p < parts.length; p++) {
      const at = (p * shared.length + i) * L2;
      for (let j = 0; j < L2; j++) sum[j] += partial![at + j];
    }
    sink.out.set(sum, sink.outBase + g * L2);
  });
  return true;
}

/**
 * Accumulated targets that more than one part contributes to: they go through float64 partial
 * sums, as all accumulated targets do when the output is not shared.
 */
function sharedTargets(parts: FusedEntry[][], outShared: boolean): number[] {
  const owners = new Map<number, Set<number>>();
  parts.forEach((part, p) => {
    for (const e of part) if (e.target >= 0 && e.mode !== 'write') owners.set(e.target, (owners.get(e.target) ?? new Set()).add(p));
  });
  return [...owners].filter(([, ps]) => ps.size > 1 || !outShared).map(([g]) => g);
}

/** Cuts the entries, grouped by core in core order, into at most `n` contiguous parts of nearly equal size. */
function partition(entries: readonly FusedEntry[], n: number): FusedEntry[][] {
  const byCore = entriesByCore(entries);
  const cores = [...byCore.keys()].sort((x, y) => x - y);
  const parts: FusedEntry[][] = [];
  let current: FusedEntry[] = [];
  let done = 0;
  for (const k of cores) {
    const group = byCore.get(k)!;
    // Close the part once it holds its share of all entries (what is left is cut the same way).
    const share = (entries.length - done) / (n - parts.length);
    if (current.length > 0 && parts.length < n - 1 && current.length + group.length / 2 > share) {
      parts.push(current);
      done += current.length;
      current = [];
    }
    current.push(...group);
  }
  if (current.length > 0) parts.push(current);
  return parts;
}
