/**
 * Assembling H^c = diag(gate)·(core + skip·I)·diag(act)·M for one channel (or one row of it),
 * per variant, from a family's decomposition. Matrices are L×L row-major Float64Arrays.
 *
 * Two implementations with the same results: the plain JS below (channelMatrix, channelRow:
 * the reference), and the WebAssembly SIMD band builders (src/core/kernels/wasm/implicit-wasm.ts)
 * for decompositions whose family recorded its core as data (withKernelCore): every core
 * matrix, and `fusedMatrices`, which builds or reduces the full matrices of many channels in
 * one pass. IATTN_KERNELS=js (the gemm backend switch, src/core/kernels/gemm.ts) forces the JS.
 */
import { gemmBackend } from '../core/kernels/gemm.js';
import { implicitWasmReady, runFusedParallel, wasmCoreMatrix } from '../core/kernels/wasm/implicit-wasm.js';
import type { FusedEntry, FusedMode, KernelCore } from '../core/kernels/wasm/implicit-wasm.js';
import type { FloatArray } from '../core/index.js';
import type { RecurrentDecomposition, Variant } from './decomposition.js';

const kernelCores = new WeakMap<RecurrentDecomposition, KernelCore>();

/** Whether implicit attention is built by the WASM kernels now (backend not 'js', module loaded). */
export function wasmBuilders(): boolean {
  return gemmBackend() !== 'js' && implicitWasmReady();
}

/**
 * Records a family's core as data for the WASM builders and routes d.coreMatrix to them (the
 * family's JS coreMatrix stays the reference and the fallback). Returns d.
 */
export function withKernelCore(d: RecurrentDecomposition, core: KernelCore): RecurrentDecomposition {
  const reference = d.coreMatrix;
  const routed: RecurrentDecomposition = {
    ...d,
    coreMatrix: (b, k, out) => {
      if (!(wasmBuilders() && wasmCoreMatrix(core, d.length, b, k, out))) reference(b, k, out);
    },
  };
  kernelCores.set(routed, core);
  return routed;
}

/** The core of d as data, if its family recorded one. */
export function kernelCoreOf(d: RecurrentDecomposition): KernelCore | undefined {
  return kernelCores.get(d);
}

/** How many matrices a variant has: one per channel, or one per core for `hidden`. */
export function matrixCount(d: RecurrentDecomposition, variant: Variant): number {
  return variant === 'hidden' ? d.cores : d.channels;
}

interface Factors {
  core: number;
  skip: number;
  gate: boolean;
  act: boolean;
  conv: boolean;
}

function factors(d: RecurrentDecomposition, variant: Variant, c: number): Factors {
  if (variant === 'hidden') return { core: c, skip: 0, gate: false, act: false, conv: false };
  return {
    core: d.coreIndex(c),
    skip: variant === 'exact' && d.skip !== null ? d.skip[c] : 0,
    gate: d.gate !== null && variant !== 'without-gate',
    act: d.act !== null && variant !== 'without-act',
    conv: d.convWeight !== null && variant !== 'without-conv',
  };
}

/**
 * Reuses the last computed core (or core row) when consecutive channels share it (Mamba2's
 * heads), so a sweep over channels computes each core once.
 */
export class CoreCache {
  private key = '';
  readonly buffer: Float64Array;

  constructor(
    private readonly d: RecurrentDecomposition,
    private readonly row?: number,
  ) {
    this.buffer = new Float64Array(row === undefined ? d.length * d.length : d.length);
  }

  get(b: number, k: number): Float64Array {
    const key = `${b}:${k}`;
    if (key !== this.key) {
      this.buffer.fill(0);
      if (this.row === undefined) this.d.coreMatrix(b, k, this.buffer);
      else this.d.coreRow(b, k, this.row, this.buffer);
      this.key = key;
    }
    return this.buffer;
  }
}

/** H of channel c (core c for `hidden`) of batch b into `out` [L·L]. */
export function channelMatrix(d: RecurrentDecomposition, b: number, c: number, variant: Variant, out: Float64Array, cache?: CoreCache): void {
  const L = d.length;
  const f = factors(d, variant, c);
  if (cache !== undefined) {
    out.set(cache.get(b, f.core));
  } else {
    out.fill(0);
    d.coreMatrix(b, f.core, out);
  }
  for (let t = 0; t < L; t++) transformRow(d, b, c, t, f, out, t * L);
}

/** Row t of H of channel c (core c for `hidden`) of batch b into `out` [L] (zero after t). */
export function channelRow(d: RecurrentDecomposition, b: number, c: number, t: number, variant: Variant, out: Float64Array, cache?: CoreCache): void {
  const f = factors(d, variant, c);
  if (cache !== undefined) {
    out.set(cache.get(b, f.core));
  } else {
    out.fill(0);
    d.coreRow(b, f.core, t, out);
  }
  transformRow(d, b, c, t, f, out, 0);
}

/** Applies skip, gate, act and conv to core row t stored at out[offset .. offset+L). */
function transformRow(d: RecurrentDecomposition, b: number, c: number, t: number, f: Factors, out: Float64Array, offset: number): void {
  const { length: L, channels: C } = d;
  out[offset + t] += f.skip;
  if (f.gate) {
    const g = d.gate![(b * L + t) * C + c];
    for (let s = 0; s <= t; s++) out[offset + s] *= g;
  }
  if (f.act) {
    const act = d.act!;
    for (let s = 0; s <= t; s++) out[offset + s] *= act[(b * L + s) * C + c];
  }
  if (f.conv) {
    // (row · M)[s] = Σ_j row[s+j] · w[c, K−1−j]; ascending s reads only entries not yet overwritten.
    const K = d.convK;
    const w = d.convWeight!;
    for (let s = 0; s <= t; s++) {
      let acc = 0;
      const last = Math.min(K - 1, t - s);
      for (let j = 0; j <= last; j++) acc += out[offset + s + j] * w[c * K + K - 1 - j];
      out[offset + s] = acc;
    }
  }
}

/**
 * The exact variant's bias of channel c at every position:
 * bias_t = gate_t · Σ_s (core[t,s] + skip·δ_ts) · act_s · b_conv. Zero without a conv bias.
 */
export function channelBias(d: RecurrentDecomposition, b: number, c: number, out: Float64Array, cache?: CoreCache): void {
  out.fill(0);
  if (d.convBias === null) return;
  const L = d.length;
  const core = cache !== undefined ? cache.get(b, d.coreIndex(c)) : computeCore(d, b, d.coreIndex(c));
  const row = new Float64Array(L);
  const f = factors(d, 'exact', c);
  for (let t = 0; t < L; t++) {
    row.set(core.subarray(t * L, t * L + L));
    out[t] = biasOfRow(d, b, c, t, f, row);
  }
}

/** The exact bias at one position t, from core row t (used by row mode). */
export function rowBias(d: RecurrentDecomposition, b: number, c: number, t: number): number {
  if (d.convBias === null) return 0;
  const row = new Float64Array(d.length);
  d.coreRow(b, d.coreIndex(c), t, row);
  return biasOfRow(d, b, c, t, factors(d, 'exact', c), row);
}

function biasOfRow(d: RecurrentDecomposition, b: number, c: number, t: number, f: Factors, coreRow: Float64Array): number {
  const { length: L, channels: C } = d;
  let acc = f.skip * (f.act ? d.act![(b * L + t) * C + c] : 1);
  for (let s = 0; s <= t; s++) acc += coreRow[s] * (f.act ? d.act![(b * L + s) * C + c] : 1);
  const g = f.gate ? d.gate![(b * L + t) * C + c] : 1;
  return g * acc * d.convBias![c];
}

function computeCore(d: RecurrentDecomposition, b: number, k: number): Float64Array {
  const out = new Float64Array(d.length * d.length);
  d.coreMatrix(b, k, out);
  return out;
}

/** Output matrices of a fused pass: the channels (cores for `hidden`) each one combines, and how. */
export interface FusedGroup {
  members: readonly number[];
  /** write: the one member's H; sum / abs / positive: Σ H / |H| / max(H, 0) over members, divided by their count. */
  mode: FusedMode;
}

/**
 * The full matrices of `groups` of batch b built by the WASM band kernels: group g into
 * out[outBase + g·L·L …]; with `bias` [B, L, C], also every channel's exact bias (zero
 * without a conv bias). Split across the threads of the installed executor (src/core/parallel.ts)
 * when the work is large enough; out and bias on SharedArrayBuffers (sharedFloatArray) let the
 * workers write them directly. Returns false, doing nothing, when d has no kernel core or the
 * kernels are off or unavailable; the caller then uses channelMatrix / channelBias.
 */
export function fusedMatrices(d: RecurrentDecomposition, b: number, variant: Variant, groups: readonly FusedGroup[], out: FloatArray, outBase: number, bias: FloatArray | null): boolean {
  const core = kernelCores.get(d);
  if (core === undefined || !wasmBuilders()) return false;
  const entries: FusedEntry[] = [];
  groups.forEach(({ members, mode }, target) => {
    for (const c of members) {
      const f = factors(d, variant, c);
      entries.push({ core: f.core, channel: c, skip: f.skip, gate: f.gate, act: f.act, conv: f.conv, target, mode, weight: 1 / members.length, bias: false, biasSkip: 0 });
    }
  });
  if (bias !== null && d.convBias !== null) {
    // The exact bias of every channel: on an entry of the exact variant, or a bias-only entry.
    const exact = variant === 'exact' ? new Map(entries.map((e) => [e.channel, e])) : new Map<number, FusedEntry>();
    for (let c = 0; c < d.channels; c++) {
      const f = factors(d, 'exact', c);
      const e = exact.get(c);
      if (e !== undefined) Object.assign(e, { bias: true, biasSkip: f.skip });
      else entries.push({ core: f.core, channel: c, skip: 0, gate: false, act: false, conv: false, target: -1, mode: 'write', weight: 0, bias: true, biasSkip: f.skip });
    }
  }
  const layer = { batch: d.batch, length: d.length, channels: d.channels, core, gate: d.gate, act: d.act, conv: d.convWeight, convK: d.convK, convBias: d.convBias };
  return runFusedParallel(layer, b, entries, { out, outBase, bias });
}
