/**
 * Assembling H^c = diag(gate)·(core + skip·I)·diag(act)·M for one channel (or one row of it),
 * per variant, from a family's decomposition. Matrices are L×L row-major Float64Arrays.
 */
import type { RecurrentDecomposition, Variant } from './decomposition.js';

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
