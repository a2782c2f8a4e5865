/**
 * The vocabulary every explanation method shares (explain-and-evaluate.md §1): one options
 * type, one result type, the target being explained, and the errors.
 *
 * Shapes: L input tokens (one sequence; batch 1), H hidden size, C mixer channels (heads for
 * real attention layers), V vocabulary. Positions are 0-based; the target at position t is
 * the logit of the token predicted *after* token t (logits[t, token]).
 */
import type { Variant } from '../implicit/decomposition.js';
import type { ExplainContext } from './context.js';

/**
 * How channels (or heads) are averaged into one L×L map a_ℓ:
 * - `positive`: mean of clamp(H^c, 0) — the spec's default;
 * - `signed`: plain mean of H^c;
 * - `abs`: mean of |H^c|.
 */
export const AGGREGATIONS = ['positive', 'signed', 'abs'] as const;
export type ChannelAggregation = (typeof AGGREGATIONS)[number];

/** What is explained: the logit of `token` at `position`. */
export interface TargetSpec {
  /** Query position t (default: the last position, L − 1). */
  position?: number;
  /** Token id whose logit at t is explained (default: the model's top token at t). */
  token?: number;
}

/** The options every method honours (those that do not apply to a method are recorded and ignored). */
export interface ExplainOptions {
  /** Implicit-attention formulation (default `paper`; `hidden` for hidden-attr). */
  variant?: Variant;
  /** First model layer whose mixer enters the attention-based recipes (default 0). */
  startLayer?: number;
  target?: TargetSpec;
  /** Channel aggregation of the attention-based recipes (default `positive`). */
  aggregation?: ChannelAggregation;
  /** Integration steps of integrated-gradients (default 32; Gauss–Legendre nodes). */
  steps?: number;
  /** Seed of the random baseline (default 0). */
  seed?: number;
}

/** The options after defaults, as recorded in every result. */
export interface ResolvedOptions {
  variant: Variant;
  startLayer: number;
  aggregation: ChannelAggregation;
  steps: number;
  seed: number;
}

/** The explained output: logits[position, token], its softmax probability, and the model's own top token there. */
export interface ResolvedTarget {
  position: number;
  token: number;
  logit: number;
  probability: number;
  /** The model's most probable token at `position` (equal to `token` unless a token was asked for). */
  topToken: number;
  topProbability: number;
}

/** One layer's contribution as a map over input positions (e.g. the target row of a_ℓ). */
export interface LayerScores {
  layer: number;
  /** The mixer kind (mamba2, rwkv, local_attention …). */
  kind: string;
  /** [L] */
  scores: Float64Array;
}

export interface ExplanationMetadata {
  method: string;
  target: ResolvedTarget;
  options: ResolvedOptions;
  /** Integrated gradients: Σ_j attribution_j − (f(x) − f(baseline)). */
  completenessError?: number;
  /** Integrated gradients: |completenessError| / |f(x) − f(baseline)|. */
  relativeCompletenessError?: number;
  /** Integrated gradients: f(baseline), the target logit for all-zero embeddings. */
  baselineLogit?: number;
  /** Wall-clock time of the method (excluding work shared with other methods through the context). */
  elapsedMs: number;
}

export interface Explanation {
  method: string;
  /** Relevance of each input position [L]; positions after the target position are 0. */
  scores: Float64Array;
  /** Per-layer maps, for the layer-wise recipes. */
  layers?: LayerScores[];
  metadata: ExplanationMetadata;
}

/** What a method's `run` returns; the registry adds the shared metadata. */
export interface MethodOutput {
  scores: Float64Array;
  layers?: LayerScores[];
  extra?: Partial<Pick<ExplanationMetadata, 'completenessError' | 'relativeCompletenessError' | 'baselineLogit'>>;
}

/** An explanation request that cannot be served (bad option, unknown method, missing model support). */
export class ExplainError extends Error {
  override name = 'ExplainError';
}

/**
 * One explanation method: its registry name (plus accepted aliases), a one-line description,
 * its exact recipe, and `run`, which receives the shared context, the resolved target and the
 * resolved options.
 */
export interface ExplainMethod {
  readonly name: string;
  readonly aliases?: readonly string[];
  readonly description: string;
  readonly recipe: string;
  /** Formulation used when the options name none (default `paper`). */
  readonly defaultVariant?: Variant;
  run(context: ExplainContext, target: ResolvedTarget, options: ResolvedOptions): MethodOutput;
}
