/**
 * The viewer's JSON API (documented in src/viewer/README.md): request and response types
 * shared by the server (src/viewer/server) and the browser client (src/viewer/client).
 * Types and constants only — no Node or DOM APIs — so both sides compile against one file.
 *
 * Shapes: L input tokens (one sequence), C matrices of a layer (channels, cores for the
 * `hidden` variant, heads for a real attention layer). Matrices travel as base64 of
 * little-endian float32, row-major: [L, L] (`mode: 'matrix'`) or [L] (`mode: 'row'`).
 */

/** Implicit-attention formulations (src/implicit/decomposition.ts VARIANTS). */
export const VIEWER_VARIANTS = ['paper', 'exact', 'hidden', 'without-conv', 'without-gate', 'without-act'] as const;
export type ViewerVariant = (typeof VIEWER_VARIANTS)[number];

/**
 * How a layer's matrices are reduced to the one that is drawn:
 * mean-abs: mean over channels of |H^c| (the paper's figures); mean: signed mean;
 * mean-positive: mean of clamp(H^c, 0) (the explanation recipes' a_ℓ);
 * channel: the single matrix `channel`; head: the mean over head `channel`'s channels.
 */
export const VIEWER_REDUCTIONS = ['mean-abs', 'mean', 'mean-positive', 'channel', 'head'] as const;
export type ViewerReduce = (typeof VIEWER_REDUCTIONS)[number];

/** Channel aggregation of the attention-based explanation recipes (src/explain AGGREGATIONS). */
export const VIEWER_AGGREGATIONS = ['positive', 'signed', 'abs'] as const;
export type ViewerAggregation = (typeof VIEWER_AGGREGATIONS)[number];

/** How a perturbed token is removed: deleted from the sequence, or replaced by the pad id. */
export const PERTURBATION_KINDS = ['delete', 'replace'] as const;
export type PerturbationKind = (typeof PERTURBATION_KINDS)[number];

/** What a method costs, which decides the limit that applies to it. */
export type MethodCost = 'free' | 'row' | 'gradient' | 'matrix' | 'steps';

export interface ModelSummary {
  /** What requests name the model by (the folder name, made unique). */
  id: string;
  /** Display name. */
  name: string;
  modelType: string;
  layers: number;
  hasTokenizer: boolean;
  isDefault: boolean;
}

export interface MethodSummary {
  name: string;
  description: string;
  recipe: string;
  cost: MethodCost;
}

/** Limits the server enforces (HTTP 413 for the body, 400 for the rest). */
export interface ViewerLimits {
  /** Largest request body in bytes. */
  maxBodyBytes: number;
  /** Longest input in tokens. */
  maxTokens: number;
  /** Longest input for the methods that build full L×L matrices of every layer (rollout, hidden-attr, grad-attn). */
  maxMatrixMethodTokens: number;
  /** Longest input for integrated gradients. */
  maxStepsMethodTokens: number;
  /** Most integrated-gradients steps. */
  maxSteps: number;
  /** Most matrix entries composed for one attention request (matrices composed × L², or × L in row mode). */
  maxMatrixWork: number;
  /** Longest input for a perturbation curve. */
  maxPerturbationTokens: number;
  /** Seconds a computation may run before it is stopped. */
  timeoutSeconds: number;
}

export interface InfoResponse {
  version: string;
  models: ModelSummary[];
  methods: MethodSummary[];
  variants: readonly ViewerVariant[];
  reductions: readonly ViewerReduce[];
  aggregations: readonly ViewerAggregation[];
  limits: ViewerLimits;
}

export interface ModelsResponse {
  models: ModelSummary[];
}

/** The input: text (tokenised with the model's tokenizer.json) or token ids. */
export interface InputSpec {
  /** A model id from GET /api/models (never a path). */
  model: string;
  text?: string;
  ids?: number[];
}

export interface TargetSpecJson {
  /** Query position t (default last). */
  position?: number;
  /** Token id whose logit is explained (default: the model's top token at t). */
  token?: number;
}

export interface ExplainOptionsJson {
  variant?: ViewerVariant;
  aggregation?: ViewerAggregation;
  startLayer?: number;
  /** Integrated-gradients steps. */
  steps?: number;
  seed?: number;
}

export interface AttentionSpec {
  variant?: ViewerVariant;
  reduce?: ViewerReduce;
  /** The channel (reduce `channel`) or head (reduce `head`). */
  channel?: number;
  /** matrix: L×L; row: only the target row [L]; auto (default): matrix when the work fits the limit, else row. */
  mode?: 'matrix' | 'row' | 'auto';
  /**
   * Matrix mode: at most this many rows and columns; a longer input is pooled (each cell the
   * mean of the causal entries s ≤ t of its block; blocks entirely above the diagonal are NaN).
   * Default: full resolution.
   */
  maxSide?: number;
}

export interface AnalyzeRequest extends InputSpec {
  /** Methods to run (default: every method). */
  methods?: string[];
  target?: TargetSpecJson;
  options?: ExplainOptionsJson;
  /** Also return these layers' matrices (default: none; the client asks /api/attention per layer). */
  attention?: AttentionSpec & { layers?: number[] | 'all' };
}

export interface AttentionRequest extends InputSpec, AttentionSpec {
  layer: number;
  target?: TargetSpecJson;
}

export interface PerturbationRequest extends InputSpec {
  method: string;
  target?: TargetSpecJson;
  options?: ExplainOptionsJson;
  /** delete (default) or replace by the pad token. */
  perturbation?: PerturbationKind;
}

export interface TokenJson {
  id: number;
  text: string;
}

export interface TargetJson {
  position: number;
  token: number;
  text: string;
  logit: number;
  probability: number;
  topToken: number;
  topText: string;
  topProbability: number;
}

export interface ExplanationJson {
  method: string;
  description: string;
  recipe: string;
  cost: MethodCost;
  /** Relevance of each input position [L] (absent when `error` says why the method did not run). */
  scores?: number[];
  elapsedMs?: number;
  error?: string;
}

export interface LayerJson {
  layer: number;
  /** The mixer kind (mamba2, rwkv, rglru, local_attention …). */
  mixer: string;
}

export interface AttentionJson {
  layer: number;
  mixer: string;
  /** recurrent: an implicit attention; attention: real softmax heads. */
  kind: 'recurrent' | 'attention';
  variant: ViewerVariant;
  reduce: ViewerReduce;
  channel?: number;
  mode: 'matrix' | 'row';
  /** The query row in row mode. */
  row?: number;
  /** Tokens of the input, L. */
  length: number;
  /** [L, L], [L] (row mode), or [P, P] when pooled: cell i covers positions ⌊i·L/P⌋ … ⌊(i+1)·L/P⌋ − 1. */
  shape: number[];
  pooled: boolean;
  /** base64 of little-endian float32, row-major. */
  data: string;
  min: number;
  max: number;
  /** Matrices this layer has for the variant (channels, cores for hidden, heads for attention). */
  channels: number;
  /** Heads (for reduce `head`). */
  heads: number;
  /** Why `auto` chose row mode, when it did. */
  note?: string;
  elapsedMs: number;
}

export interface AnalyzeResponse {
  model: ModelSummary;
  tokens: TokenJson[];
  target: TargetJson;
  explanations: ExplanationJson[];
  layers: LayerJson[];
  attention?: AttentionJson[];
  elapsedMs: number;
}

export interface AttentionResponse extends AttentionJson {
  model: string;
}

export interface PerturbationResponse {
  model: string;
  method: string;
  perturbation: PerturbationKind;
  target: TargetJson;
  /** Fractions of the perturbable positions removed: 0, 0.1, …, 0.9. */
  fractions: number[];
  /** Target probability normalised by its unperturbed value, most relevant removed first. */
  morf: number[];
  /** The same, least relevant first. */
  lerf: number[];
  /** Trapezoid areas over the fractions: MoRF (lower is better), LeRF (higher is better), LeRF − MoRF. */
  auc: { morf: number; lerf: number; delta: number };
  /** Positions that may be perturbed (every position before the target position). */
  perturbable: number;
  elapsedMs: number;
}

export interface ErrorResponse {
  error: string;
}
