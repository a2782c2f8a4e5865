/**
 * The viewer's JSON API (documented in src/viewer/README.md): request and response types
 * shared by the server (src/viewer/server) and the browser client (src/viewer/client).
 * Types and constants only — no Node or DOM APIs — so both sides compile against one file.
 *
 * Shapes: L input tokens (one sequence), C matrices of a layer (channels, cores for the
 * `hidden` variant, heads for a real attention layer). Matrices travel as base64 of
 * little-endian float32, row-major: [L, L] (`mode: 'matrix'`) or [L] (`mode: 'row'`).
 * Images (vision models, POST /api/image): S×S pixels, a G×G grid of P×P patches, M = G²
 * patch maps as plain number arrays, row-major over the grid.
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

/** What a model reads: text (a language model; /api/analyze …) or images (a vision classifier; /api/image). */
export type ModelKind = 'text' | 'vision';

/** The input side of a vision model. */
export interface ImageModelInfo {
  /** S: the model's input is S×S pixels (other images are resized). */
  imageSize: number;
  /** P: patch side. */
  patchSize: number;
  /** G = S / P: the patch grid side. */
  grid: number;
  /** Class names, index order. */
  labels: string[];
}

export interface ModelSummary {
  /** What requests name the model by (the folder name, made unique). */
  id: string;
  /** Display name. */
  name: string;
  modelType: string;
  kind: ModelKind;
  layers: number;
  hasTokenizer: boolean;
  isDefault: boolean;
  /** Vision models only. */
  image?: ImageModelInfo;
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
  /** Largest uploaded PNG file in bytes (POST /api/image; its JSON body may be 4/3 of this, base64, plus 64 KiB). */
  maxImageBytes: number;
  /** Most pixels (width × height, read from the PNG header before decoding) of an uploaded image. */
  maxImagePixels: number;
}

export interface InfoResponse {
  version: string;
  models: ModelSummary[];
  methods: MethodSummary[];
  /** The explanation methods of vision models (src/vision/explain.ts). */
  visionMethods: MethodSummary[];
  /** The synthetic shapes generator (src/vision/data.ts): its classes and the seed of the held-out stream. */
  samples: { classes: string[]; testSeed: number; trainSeed: number };
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

/** An image of the project's synthetic shapes generator: image `index` of the stream seeded `seed`, or with `class`, the first image of that class from `index` on. */
export interface SampleSpec {
  /** Default 2, the held-out stream. */
  seed?: number;
  /** Default 0. */
  index?: number;
  /** A class name of the generator (circle, square, triangle, cross). */
  class?: string;
}

/** Exactly one of a generated sample and an uploaded PNG (base64 of the file's bytes). */
export interface ImageSource {
  sample?: SampleSpec;
  png?: string;
  /** The uploaded file's name (shown, never used as a path). */
  name?: string;
}

export interface ImageAttentionSpec {
  variant?: ViewerVariant;
  /** mean-abs | mean | mean-positive | channel (with `channel`). */
  reduce?: ViewerReduce;
  channel?: number;
}

export interface ImageRequest {
  /** A vision model id from GET /api/models. */
  model: string;
  image: ImageSource;
  /** Vision methods to run (default: every one). */
  methods?: string[];
  /** The class whose logit is explained (default: the predicted class). */
  target?: { label?: number };
  options?: { startLayer?: number; steps?: number; seed?: number };
  /** The per-layer maps: which variant and channel reduction of the implicit attention. */
  attention?: ImageAttentionSpec;
}

export interface ImageJson {
  source: 'sample' | 'upload';
  /** What to call it: `seed 2 · image 3` or the uploaded file's name. */
  name: string;
  /** The size of the image as given (before resizing to the model's S×S). */
  width: number;
  height: number;
  /** S. */
  size: number;
  /** The model's input: base64 of 8-bit RGB, [S, S, 3] row-major. */
  pixels: string;
  /** Samples: the seed and index, the true class and the object mask (base64 of bytes 0/1, [S, S]). */
  seed?: number;
  index?: number;
  label?: number;
  labelName?: string;
  mask?: string;
}

export interface ImagePredictionJson {
  predicted: number;
  predictedName: string;
  predictedProbability: number;
  /** The explained class. */
  label: number;
  labelName: string;
  probability: number;
  logit: number;
  /** Softmax over the classes, index order. */
  probabilities: number[];
}

export interface ImageExplanationJson {
  method: string;
  description: string;
  recipe: string;
  cost: MethodCost;
  /** Relevance per patch [M] (absent when `error` says why the method did not run). */
  scores?: number[];
  /** Per-layer patch maps of the layer-wise recipes. */
  layers?: { layer: number; scores: number[] }[];
  /** Integrated gradients: Σ relevance − (f(x) − f(0)). */
  completenessError?: number;
  elapsedMs?: number;
  error?: string;
}

/** One layer's implicit attention as seen by the classifier's readout, over the patches. */
export interface ImageLayerJson {
  layer: number;
  mixer: string;
  /** qᵀ·H over the patch tokens [M] (H reduced over channels as asked). */
  scores: number[];
  /** Vim: the class token's entry qᵀ·H[cls] (not a patch); absent for MLLA. */
  cls?: number;
  min: number;
  max: number;
}

export interface ImageResponse {
  model: ModelSummary;
  image: ImageJson;
  grid: number;
  patchSize: number;
  labels: string[];
  prediction: ImagePredictionJson;
  explanations: ImageExplanationJson[];
  /** `cls`: the class token's row (Vim); `mean`: the mean of the rows (MLLA reads the average token). */
  query: 'cls' | 'mean';
  attention: { variant: ViewerVariant; reduce: ViewerReduce; channel?: number; channels: number; layers: ImageLayerJson[] };
  elapsedMs: number;
}

export interface ErrorResponse {
  error: string;
}
