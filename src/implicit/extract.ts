/**
 * Extracting implicit attention from a layer's decomposition without waste: full matrices or
 * one query row, for all or selected channels, kept whole or aggregated while streaming over
 * channels (mean, mean |·|, per head), with a memory estimate checked before allocating.
 */
import { allocate, ShapeError } from '../core/index.js';
import { parallelThreads, sharedFloatArray } from '../core/parallel.js';
import type { DType, FloatArray } from '../core/index.js';
import type { FusedMode } from '../core/kernels/wasm/implicit-wasm.js';
import { channelBias, channelMatrix, channelRow, CoreCache, fusedMatrices, matrixCount, rowBias } from './compose.js';
import type { FusedGroup } from './compose.js';
import type { AnyLayerDecomposition, NonCausalDecomposition, RecurrentDecomposition, Variant } from './decomposition.js';

/**
 * none: every selected channel; mean: signed channel mean; mean-abs: mean of |H| (what the
 * paper's figures show); mean-positive: mean of clamp(H, 0) (the explanation recipes' a_ℓ);
 * head-mean: mean over each head's channels (heads for attention layers).
 */
export const REDUCTIONS = ['none', 'mean', 'mean-abs', 'mean-positive', 'head-mean'] as const;
export type Reduce = (typeof REDUCTIONS)[number];

export interface ExtractOptions {
  variant: Variant;
  reduce: Reduce;
  /** A query position: only row t of every matrix (O(L) memory per channel). Omit for full matrices. */
  row?: number;
  /** Restrict to these channels (cores for `hidden`, heads for attention layers). */
  channels?: number[];
  /** Refuse work whose result would exceed this many bytes (default 1 GiB). */
  memoryBudget?: number;
  dtype?: DType;
}

export interface Extraction {
  /** [B, C, L, L] / [B, L, L] / [B, heads, L, L], or with `row`: [B, C, L] / [B, L] / [B, heads, L]. */
  shape: number[];
  data: FloatArray;
  /** The exact variant's bias [B, L, C] (all channels), when the variant is `exact` and full matrices were asked. */
  bias?: FloatArray;
}

export const DEFAULT_MEMORY_BUDGET = 1024 ** 3;

export class MemoryBudgetError extends Error {
  override name = 'MemoryBudgetError';
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (bytes >= 1024 && i < units.length - 1) {
    bytes /= 1024;
    i++;
  }
  return `${bytes.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function extract(d: AnyLayerDecomposition, options: ExtractOptions): Extraction {
  const dtype = options.dtype ?? 'float32';
  const L = d.length;
  const count = d.kind === 'recurrent' ? matrixCount(d, options.variant) : d.kind === 'non-causal' ? d.matrixCount(options.variant) : d.heads;
  const selected = options.channels ?? range(count);
  for (const c of selected) if (!(Number.isInteger(c) && c >= 0 && c < count)) throw new ShapeError(`channel ${c} is outside [0, ${count})`);
  if (options.row !== undefined && !(Number.isInteger(options.row) && options.row >= 0 && options.row < L)) {
    throw new ShapeError(`row ${options.row} is outside the sequence [0, ${L})`);
  }
  const groups = outputGroups(d, options, selected);
  const perMatrix = options.row === undefined ? L * L : L;
  // The result plus three float64 scratch matrices (or rows): the channel being built, the
  // cached core and the group's sum (the WASM builders need bands of rows, and across threads
  // at most max(256 MiB, three matrices) of float64 partial sums: implicit-wasm.ts).
  const bytes = d.batch * groups.length * perMatrix * (dtype === 'float64' ? 8 : 4) + 3 * perMatrix * 8;
  const budget = options.memoryBudget ?? DEFAULT_MEMORY_BUDGET;
  if (bytes > budget) {
    throw new MemoryBudgetError(
      `implicit attention of ${groups.length} matrices × ${options.row === undefined ? `${L}×${L}` : `${L}`} × batch ${d.batch} needs about ${formatBytes(bytes)} (budget ${formatBytes(budget)}); ` +
        'use row mode (--row last), an aggregate (--reduce mean or mean-abs), fewer channels (--channel) or fewer layers, or raise the budget',
    );
  }
  // Full matrices of a recurrent layer may be built by worker threads, straight into shared memory.
  const fusedLayer = d.kind === 'recurrent' && options.row === undefined;
  const alloc = fusedLayer && parallelThreads() > 1 ? sharedFloatArray : allocate;
  const out = alloc(dtype, d.batch * groups.length * perMatrix);
  const shape = options.reduce === 'mean' || options.reduce === 'mean-abs' || options.reduce === 'mean-positive' ? [d.batch] : [d.batch, groups.length];
  const result: Extraction = { shape: options.row === undefined ? [...shape, L, L] : [...shape, L], data: out };
  const withBias = d.kind !== 'attention' && options.variant === 'exact' && options.row === undefined;
  if (fusedLayer) {
    // Full matrices by the WASM band builders, where the family's core has a kernel.
    const bias = withBias ? alloc(dtype, d.batch * L * d.channels) : null;
    const fused: FusedGroup[] = groups.map((members) => ({ members, mode: fusedMode(options.reduce, members.length) }));
    let done = true;
    for (let b = 0; b < d.batch && done; b++) done = fusedMatrices(d, b, options.variant, fused, out, b * groups.length * perMatrix, bias);
    if (done) return bias === null ? result : { ...result, bias };
  }
  const buffer = new Float64Array(perMatrix);
  const sum = new Float64Array(perMatrix);
  const cache = d.kind === 'recurrent' ? new CoreCache(d, options.row) : null;
  for (let b = 0; b < d.batch; b++) {
    groups.forEach((members, g) => {
      // Each group is summed in float64 and stored once (in the output dtype).
      sum.fill(0);
      for (const c of members) {
        matrixOf(d, b, c, options, buffer, cache);
        const weight = 1 / members.length;
        if (options.reduce === 'mean-abs') for (let i = 0; i < perMatrix; i++) sum[i] += weight * Math.abs(buffer[i]);
        else if (options.reduce === 'mean-positive') for (let i = 0; i < perMatrix; i++) sum[i] += weight * Math.max(0, buffer[i]);
        else for (let i = 0; i < perMatrix; i++) sum[i] += weight * buffer[i];
      }
      out.set(sum, (b * groups.length + g) * perMatrix);
    });
  }
  if (withBias) result.bias = biasOf(d as RecurrentDecomposition | NonCausalDecomposition, cache, dtype);
  return result;
}

/** How a fused pass combines a group: one member's H as it is (signed reductions), or the reduction's sum. */
function fusedMode(reduce: Reduce, members: number): FusedMode {
  if (reduce === 'mean-abs') return 'abs';
  if (reduce === 'mean-positive') return 'positive';
  return members === 1 ? 'write' : 'sum';
}

/** Which source matrices are averaged into each output matrix. */
function outputGroups(d: AnyLayerDecomposition, options: ExtractOptions, selected: number[]): number[][] {
  switch (options.reduce) {
    case 'none':
      return selected.map((c) => [c]);
    case 'mean':
    case 'mean-abs':
    case 'mean-positive':
      return [selected];
    case 'head-mean': {
      const perHead = d.kind !== 'attention' && options.variant !== 'hidden' ? d.channelsPerHead : 1;
      const heads = new Map<number, number[]>();
      for (const c of selected) heads.set(Math.floor(c / perHead), [...(heads.get(Math.floor(c / perHead)) ?? []), c]);
      return [...heads.values()];
    }
  }
}

function matrixOf(d: AnyLayerDecomposition, b: number, c: number, options: ExtractOptions, out: Float64Array, cache: CoreCache | null): void {
  if (d.kind === 'attention') {
    const L = d.length;
    const base = ((b * d.heads + c) * L + (options.row ?? 0)) * L;
    out.set(d.weights.data.subarray(base, base + out.length));
    return;
  }
  if (d.kind === 'non-causal') {
    if (options.row === undefined) d.matrix(b, c, options.variant, out);
    else d.row(b, c, options.row, options.variant, out);
    return;
  }
  if (options.row === undefined) channelMatrix(d, b, c, options.variant, out, cache ?? undefined);
  else channelRow(d, b, c, options.row, options.variant, out, cache ?? undefined);
}

function biasOf(d: RecurrentDecomposition | NonCausalDecomposition, cache: CoreCache | null, dtype: DType): FloatArray {
  const { batch: B, length: L, channels: C } = d;
  const bias = allocate(dtype, B * L * C);
  const column = new Float64Array(L);
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      if (d.kind === 'non-causal') d.bias(b, c, column);
      else channelBias(d, b, c, column, cache ?? undefined);
      for (let t = 0; t < L; t++) bias[(b * L + t) * C + c] = column[t];
    }
  }
  return bias;
}

/** The exact variant's bias at row t for every channel: [B, C]. */
export function rowBiasAll(d: RecurrentDecomposition, t: number): Float64Array {
  const out = new Float64Array(d.batch * d.channels);
  for (let b = 0; b < d.batch; b++) for (let c = 0; c < d.channels; c++) out[b * d.channels + c] = rowBias(d, b, c, t);
  return out;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
