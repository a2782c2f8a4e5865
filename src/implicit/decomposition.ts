/**
 * The unified implicit-attention formulation (Zimerman, Ali & Wolf, ICLR 2025, §3; spec
 * implicit-attention.md §1): after freezing every data-dependent quantity, a gated-linear
 * mixer's channel c maps its values v^c to its pre-output by a lower-triangular matrix
 *
 *     H^c = diag(gate^c) · (core^c + skip^c·I) · diag(act^c) · M^c,   pre_out^c = H^c v^c + bias^c
 *
 * Each family supplies the pieces (its `core` is what differs: S6, SSD head, WKV softmax,
 * RG-LRU decay products); the variants, rows, bias and aggregations are built once, here
 * and in compose.ts.
 */
import type { FloatArray, Tensor } from '../core/index.js';

/**
 * Variants of the formulation:
 * - `paper`: what the official code builds — gate · core · act · conv (no skip, no conv bias);
 * - `exact`: adds the skip (Mamba's D) and the conv-bias vector, reconstructing pre_out exactly;
 * - `hidden`: the core alone (S6 of "The Hidden Attention of Mamba Models"; per head for Mamba2);
 * - ablations of the paper variant without the conv (M → I), the gate, or the activation.
 */
export const VARIANTS = ['paper', 'exact', 'hidden', 'without-conv', 'without-gate', 'without-act'] as const;
export type Variant = (typeof VARIANTS)[number];

/** Per-channel decomposition of one recurrent mixer on one input batch. Arrays are [B, L, C] row-major. */
export interface RecurrentDecomposition {
  readonly kind: 'recurrent';
  /** The mixer kind (mamba, falcon_mamba, mamba2, rwkv, rglru, …). */
  readonly mixer: string;
  readonly batch: number;
  readonly length: number;
  readonly channels: number;
  /** Number of distinct core matrices (= channels, or heads when channels share one). */
  readonly cores: number;
  /** Which core channel c uses. */
  coreIndex(c: number): number;
  /** Row t of core k for batch b: out[s] for s ≤ t (entries s > t are left as they are). */
  coreRow(b: number, k: number, t: number, out: Float64Array): void;
  /** Core k for batch b as a full L×L matrix: out[t·L + s], zero above the diagonal. */
  coreMatrix(b: number, k: number, out: Float64Array): void;
  /** Left diagonal (output gate) [B, L, C], or null. */
  readonly gate: FloatArray | null;
  /** Right diagonal (the activation folded as σ(c)) [B, L, C], or null. */
  readonly act: FloatArray | null;
  /** Depthwise causal conv taps [C, K] (index K−1 = current token), or null. */
  readonly convWeight: FloatArray | null;
  readonly convK: number;
  /** Conv bias [C], or null. */
  readonly convBias: FloatArray | null;
  /** Skip added to the core's diagonal in the exact variant [C], or null. */
  readonly skip: FloatArray | null;
  /** v: what H multiplies [B, L, C]. */
  readonly values: Tensor;
  /** The mixer's real pre-output [B, L, C] (what H·v + bias must reconstruct). */
  readonly preOut: Tensor;
  /** Channels per head, for per-head aggregation (1 when there are no heads). */
  readonly channelsPerHead: number;
  /** The mixer's linear output map pre_out [B, L, C] → mixer output [B, L, H] (for gradient-based methods). */
  projectOutput(preOut: Tensor): Tensor;
}

/** A real softmax attention layer (RecurrentGemma's local attention), per head. */
export interface AttentionDecomposition {
  readonly kind: 'attention';
  readonly mixer: string;
  readonly batch: number;
  readonly length: number;
  readonly heads: number;
  /** Softmax probabilities [B, heads, L, L], zero outside the causal window. */
  readonly weights: Tensor;
  /** The value vectors the weights average [B, L, kv heads, P] (query head h reads kv head ⌊h/(heads/kv)⌋). */
  readonly values: Tensor;
  /** The output map of the concatenated heads [B, L, heads·P] → mixer output [B, L, H] (o_proj). */
  projectOutput(heads: Tensor): Tensor;
}

export type LayerDecomposition = RecurrentDecomposition | AttentionDecomposition;

/**
 * A mixer whose implicit attention is a FULL L×L matrix per channel (bidirectional or
 * non-causal mixers: Vision Mamba, MLLA). The causal factorisation above does not fit (its
 * rows stop at t and its conv is causal), so such a family composes its own rows and
 * matrices and hands them over ready-made, per variant; `extract` streams, aggregates and
 * budgets them like any other layer. Kept out of `LayerDecomposition`, whose consumers
 * (the text explanation recipes) assume causal matrices; `extract` takes either.
 *
 *   pre_out^c = H^c · v^c + bias^c   with H^c ∈ R^{L×L}, any entry may be non-zero.
 */
export interface NonCausalDecomposition {
  readonly kind: 'non-causal';
  /** The mixer kind (vim, mlla). */
  readonly mixer: string;
  readonly batch: number;
  readonly length: number;
  /** C, channels of v and pre_out. */
  readonly channels: number;
  /** Channels per head, for per-head aggregation (1 when there are no heads). */
  readonly channelsPerHead: number;
  /** Matrices of a variant: one per channel, or one per core (head or channel) for `hidden`. */
  matrixCount(variant: Variant): number;
  /** Row t of matrix m (channel, or core for `hidden`) of batch b into out [L], every entry written. */
  row(b: number, m: number, t: number, variant: Variant, out: Float64Array): void;
  /** Matrix m of batch b into out [L·L] (out[t·L + s]), every entry written. */
  matrix(b: number, m: number, variant: Variant, out: Float64Array): void;
  /** The exact variant's bias of channel c of batch b at every position into out [L]. */
  bias(b: number, c: number, out: Float64Array): void;
  /** v: what H multiplies [B, L, C]. */
  readonly values: Tensor;
  /** The mixer's real pre-output [B, L, C] (what H·v + bias must reconstruct). */
  readonly preOut: Tensor;
  /** The mixer's linear output map pre_out [B, L, C] → mixer output [B, L, H]. */
  projectOutput(preOut: Tensor): Tensor;
}

/** Any layer `extract` can read: causal (recurrent or attention) or non-causal. */
export type AnyLayerDecomposition = LayerDecomposition | NonCausalDecomposition;
