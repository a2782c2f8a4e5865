/**
 * Explaining a vision classifier's class logit over the image patches, with the recipes of
 * explain-and-evaluate.md §1 adapted to NON-CAUSAL implicit attention. The target is the
 * logit of a class; the "target row" of the text recipes becomes the classifier's readout
 * as a query vector q ∈ R^L over tokens: e_cls for Vim (the CLS row is the image map, as in
 * the official Vim code), the uniform 𝟙/L for MLLA (its classifier averages all tokens, so
 * the mean of the rows is the row it reads). Relevance over tokens is computed first, then
 * read at the patch tokens (the CLS entry dropped) and laid out on the G×G patch grid.
 *
 * a_ℓ = channel mean of clamp(H^c, 0) (variant `paper`), h_ℓ the residual stream entering
 * block ℓ, s_ℓ[j] = max_k ReLU(∂target/∂h_ℓ[j, k]) min–max scaled over all tokens:
 *   raw           mean over ℓ ≥ start of minmax_patches(qᵀ a_ℓ)
 *   rollout       qᵀ · A_last ⋯ A_start,  A_ℓ = rownorm(a_ℓ + I)                     (Abnar & Zuidema 2020)
 *   hidden-attr   qᵀ · A_last ⋯ A_start,  A_ℓ = rownorm(M_ℓ diag(s_ℓ) + I),  M_ℓ = jointly min–max scaled
 *                 channel mean of clamp(S6-only / linear-attention-only H)          (Ali et al. 2024)
 *   unified-attr  qᵀ · A_last ⋯ A_start,  A_ℓ = rownorm(𝟙 w_ℓᵀ + I),  w_ℓ = minmax(qᵀa_ℓ ⊙ s_ℓ)  (Zimerman et al. 2025, official Vim recipe)
 *   grad-attn     qᵀ · (I + Ā_last) ⋯ (I + Ā_start),  Ā_ℓ[t,s] = mean_c clamp(g_t^c H^c[t,s] v_s^c, 0),
 *                 g = ∂target/∂pre_out (Chefer et al. 2021 with the exact gradient on H)
 *   grad-input    Σ_k ∂target/∂e_m[k] · e_m[k] on the patch embeddings e (before the class token and positions)
 *   saliency      ‖∂target/∂e_m‖₂
 *   integrated-gradients   Σ_k e_m[k] ∫₀¹ ∂target/∂e_m[k](α e) dα, zero patch embeddings as baseline,
 *                 Gauss–Legendre (≥ 32 nodes); completeness error reported
 *   random        U[0, 1) per patch, seeded
 * The text recipes' code (src/explain) is reused where it is position-agnostic: the rollout
 * helpers of vectors.ts, unified-attr's O(L) broadcast-row product, grad-attn's pull-back
 * through the output projection and the Gauss–Legendre rule.
 */
import * as F from '../core/index.js';
import { Random, Tensor } from '../core/index.js';
import type { FloatArray } from '../core/index.js';
import { pullBack } from '../explain/methods/grad-attn.js';
import { gaussLegendre } from '../explain/methods/integrated-gradients.js';
import { timesBroadcastRow } from '../explain/methods/unified-attr.js';
import { minMaxInPlace, rownormWithIdentity, rowTimesMatrix } from '../explain/vectors.js';
import type { NonCausalDecomposition, Variant } from '../implicit/decomposition.js';
import { extract } from '../implicit/extract.js';
import type { Trace } from '../models/model.js';
import type { VisionModel } from './model.js';

export const VISION_METHOD_NAMES = [
  'raw',
  'rollout',
  'hidden-attr',
  'unified-attr',
  'grad-attn',
  'grad-input',
  'saliency',
  'integrated-gradients',
  'random',
] as const;
export type VisionMethod = (typeof VISION_METHOD_NAMES)[number];

export const VISION_RECIPES: Record<VisionMethod, string> = {
  raw: 'mean over layers ≥ start of minmax(qᵀ a_ℓ) over patches; a_ℓ = channel mean of clamp(H^c, 0)',
  rollout: 'qᵀ · Π_ℓ rownorm(a_ℓ + I), last layer first',
  'hidden-attr': 'qᵀ · Π_ℓ rownorm(M_ℓ·diag(s_ℓ) + I), M_ℓ = jointly min–max scaled channel mean of clamp(hidden H, 0)',
  'unified-attr': 'qᵀ · Π_ℓ rownorm(𝟙·w_ℓᵀ + I), w_ℓ = minmax(qᵀa_ℓ ⊙ s_ℓ), s_ℓ = minmax(max_k ReLU(∂target/∂h_ℓ))',
  'grad-attn': 'qᵀ · Π_ℓ (I + Ā_ℓ), Ā_ℓ = channel mean of clamp(g_t·H[t,s]·v_s, 0), g = ∂target/∂pre_out',
  'grad-input': 'Σ_k ∂target/∂e_m[k]·e_m[k] on the patch embeddings',
  saliency: '‖∂target/∂e_m‖₂ on the patch embeddings',
  'integrated-gradients': 'Σ_k e_m[k]·∫₀¹ ∂target/∂e_m[k](α·e) dα, zero patch embeddings as baseline (Gauss–Legendre)',
  random: 'U[0, 1) per patch (seeded)',
};

export interface VisionExplainOptions {
  /** First block entering the attention-based recipes (default 0). */
  startLayer?: number;
  /** Implicit-attention formulation (default `paper`; `hidden` for hidden-attr). */
  variant?: Variant;
  /** Class to explain (default: the predicted class). */
  label?: number;
  /** Integrated-gradients nodes (default 32). */
  steps?: number;
  /** Seed of `random` (default 0). */
  seed?: number;
}

export interface VisionTarget {
  label: number;
  logit: number;
  probability: number;
  predicted: number;
  predictedProbability: number;
}

export interface VisionExplanation {
  method: VisionMethod;
  /** Relevance per patch [M], row-major over the G×G grid. */
  patchScores: Float64Array;
  /** Per-layer patch maps of the layer-wise recipes. */
  layers?: { layer: number; scores: Float64Array }[];
  target: VisionTarget;
  /** Integrated gradients: Σ relevance − (f(e) − f(0)). */
  completenessError?: number;
  elapsedMs: number;
}

/** ∂target/∂(patch embeddings, block inputs, mixer outputs), row-major [·, E]. */
interface GradientPass {
  embeddings: FloatArray; // [M, E]
  embeddingGrad: FloatArray; // [M, E]
  blockIn: Map<number, FloatArray>; // [L, E]
  mixerOut: Map<number, FloatArray>; // [L, E]
}

/** One image: logits, the layers' decompositions (once) and one gradient pass per target (once). */
export class VisionExplainContext {
  readonly layers: number;
  readonly query: Float64Array;
  private readonly trace: Trace = new Map();
  private readonly logitsData: FloatArray;
  private readonly decompositions = new Map<number, NonCausalDecomposition>();
  private readonly passes = new Map<number, GradientPass>();

  /** `image` [1, C, S, S], normalised. */
  constructor(
    readonly model: VisionModel,
    readonly image: Tensor,
  ) {
    if (image.rank !== 4 || image.shape[0] !== 1) throw new F.ShapeError(`explain: one image [1, C, S, S] expected, got [${image.shape.join(', ')}]`);
    this.logitsData = F.noGrad(() => model.forward(model.embedPatches(image), this.trace)).data;
    this.layers = model.image.numLayers;
    const L = model.length;
    this.query = new Float64Array(L);
    if (model.readout.kind === 'token') this.query[model.readout.position] = 1;
    else this.query.fill(1 / L);
  }

  get logits(): FloatArray {
    return this.logitsData;
  }

  target(label?: number): VisionTarget {
    const z = this.logitsData;
    const K = z.length;
    let top = 0;
    for (let k = 1; k < K; k++) if (z[k] > z[top]) top = k;
    const chosen = label ?? top;
    if (!Number.isInteger(chosen) || chosen < 0 || chosen >= K) throw new F.ShapeError(`explain: class ${chosen} is outside [0, ${K})`);
    let sum = 0;
    for (let k = 0; k < K; k++) sum += Math.exp(z[k] - z[top]);
    const p = (k: number) => Math.exp(z[k] - z[top]) / sum;
    return { label: chosen, logit: z[chosen], probability: p(chosen), predicted: top, predictedProbability: p(top) };
  }

  decomposition(layer: number): NonCausalDecomposition {
    let d = this.decompositions.get(layer);
    if (d === undefined) {
      d = this.model.decompose(layer, this.trace.get(`mixer_in.${layer}.${this.model.mixerKind}`)!);
      this.decompositions.set(layer, d);
    }
    return d;
  }

  gradients(label: number): GradientPass {
    const cached = this.passes.get(label);
    if (cached !== undefined) return cached;
    const trace: Trace = new Map();
    const embeds = F.noGrad(() => this.model.embedPatches(this.image)).requireGrad(); // [1, M, E]
    const logits = this.model.forward(embeds, trace); // [1, K]
    const retained = (prefix: (i: number) => string) => {
      const out = new Map<number, Tensor>();
      for (let i = 0; i < this.layers; i++) {
        const t = trace.get(prefix(i));
        if (t?.requiresGrad) out.set(i, t.retainGrad());
      }
      return out;
    };
    const blockIn = retained((i) => `block_in.${i}`);
    const mixerOut = retained((i) => `mixer_out.${i}.${this.model.mixerKind}`);
    const seed = F.allocate(logits.dtype, logits.size);
    seed[label] = 1;
    F.backward(logits, seed);
    const grad = (t: Tensor) => t.grad ?? F.allocate(t.dtype, t.size);
    const pass = {
      embeddings: embeds.data,
      embeddingGrad: grad(embeds),
      blockIn: new Map([...blockIn].map(([i, t]) => [i, grad(t)])),
      mixerOut: new Map([...mixerOut].map(([i, t]) => [i, grad(t)])),
    };
    this.passes.set(label, pass);
    return pass;
  }
}

/** Runs one method on the context's image. */
export function explainVision(context: VisionExplainContext, method: VisionMethod, options: VisionExplainOptions = {}): VisionExplanation {
  const started = performance.now();
  const target = context.target(options.label);
  const startLayer = options.startLayer ?? 0;
  if (!Number.isInteger(startLayer) || startLayer < 0 || startLayer >= context.layers) {
    throw new F.ShapeError(`explain: start layer ${startLayer} is outside the model's layers [0, ${context.layers})`);
  }
  const variant = options.variant ?? (method === 'hidden-attr' ? 'hidden' : 'paper');
  const layers = Array.from({ length: context.layers - startLayer }, (_, i) => startLayer + i);
  const toPatches = (tokens: Float64Array) => Float64Array.from(context.model.patchTokens, (t) => tokens[t]);
  let patchScores: Float64Array;
  let perLayer: { layer: number; scores: Float64Array }[] | undefined;
  let completenessError: number | undefined;
  switch (method) {
    case 'raw': {
      perLayer = layers.map((layer) => ({ layer, scores: minMaxInPlace(toPatches(queryRow(context, aggregated(context, layer, variant)))) }));
      patchScores = new Float64Array(context.model.patchTokens.length);
      for (const l of perLayer) for (let m = 0; m < patchScores.length; m++) patchScores[m] += l.scores[m] / perLayer.length;
      break;
    }
    case 'rollout':
    case 'hidden-attr':
    case 'unified-attr':
    case 'grad-attn': {
      const result = rolloutRecipe(context, method, variant, target.label, layers);
      patchScores = toPatches(result.tokens);
      perLayer = result.layers.map((l) => ({ layer: l.layer, scores: toPatches(l.scores) }));
      break;
    }
    case 'grad-input':
    case 'saliency': {
      const { embeddings, embeddingGrad } = context.gradients(target.label);
      patchScores = embeddingScores(embeddings, embeddingGrad, context.model.image.hiddenSize, method === 'saliency');
      break;
    }
    case 'integrated-gradients': {
      const ig = integratedGradients(context, target, options.steps ?? 32);
      patchScores = ig.scores;
      completenessError = ig.completenessError;
      break;
    }
    case 'random': {
      const rng = new Random(options.seed ?? 0);
      patchScores = Float64Array.from(context.model.patchTokens, () => rng.next());
      break;
    }
  }
  return {
    method,
    patchScores,
    ...(perLayer === undefined ? {} : { layers: perLayer }),
    target,
    ...(completenessError === undefined ? {} : { completenessError }),
    elapsedMs: performance.now() - started,
  };
}

/** a_ℓ: channel mean of clamp(H^c, 0) over the full L×L matrices (the query row only, for a token readout). */
function aggregated(context: VisionExplainContext, layer: number, variant: Variant): { row: Float64Array } | { matrix: Float64Array } {
  const d = context.decomposition(layer);
  const readout = context.model.readout;
  if (readout.kind === 'token') return { row: extract(d, { variant, reduce: 'mean-positive', row: readout.position, dtype: 'float64' }).data as Float64Array };
  return { matrix: extract(d, { variant, reduce: 'mean-positive', dtype: 'float64' }).data as Float64Array };
}

/** qᵀ a_ℓ [L]. */
function queryRow(context: VisionExplainContext, a: { row: Float64Array } | { matrix: Float64Array }): Float64Array {
  return 'row' in a ? a.row : rowTimesMatrix(context.query, a.matrix, context.model.length);
}

/** The four layer-product recipes, streamed from the last layer down as r ← r·A_ℓ from r = q. */
function rolloutRecipe(
  context: VisionExplainContext,
  method: 'rollout' | 'hidden-attr' | 'unified-attr' | 'grad-attn',
  variant: Variant,
  label: number,
  layers: number[],
): { tokens: Float64Array; layers: { layer: number; scores: Float64Array }[] } {
  const L = context.model.length;
  const E = context.model.image.hiddenSize;
  const needsGradient = method !== 'rollout';
  const pass = needsGradient ? context.gradients(label) : null;
  const perLayer: { layer: number; scores: Float64Array }[] = new Array(layers.length);
  let r: Float64Array = context.query.slice();
  for (let i = layers.length - 1; i >= 0; i--) {
    const layer = layers[i];
    const d = context.decomposition(layer);
    if (method === 'rollout') {
      const a = extract(d, { variant, reduce: 'mean-positive', dtype: 'float64' }).data as Float64Array;
      perLayer[i] = { layer, scores: rowTimesMatrix(context.query, a, L) };
      r = rowTimesMatrix(r, rownormWithIdentity(a, L), L);
    } else if (method === 'unified-attr') {
      const s = tokenSensitivity(pass!.blockIn.get(layer)!, L, E);
      const v = queryRow(context, aggregated(context, layer, variant));
      const w = minMaxInPlace(v.map((x, j) => x * s[j]));
      perLayer[i] = { layer, scores: w };
      r = timesBroadcastRow(r, w);
    } else if (method === 'hidden-attr') {
      const s = tokenSensitivity(pass!.blockIn.get(layer)!, L, E);
      const fused = jointlyScaledMean(d, variant);
      for (let t = 0; t < L; t++) for (let j = 0; j < L; j++) fused[t * L + j] *= s[j];
      perLayer[i] = { layer, scores: rowTimesMatrix(context.query, fused, L) };
      r = rowTimesMatrix(r, rownormWithIdentity(fused, L), L);
    } else {
      const g = pullBack((p) => d.projectOutput(p), d.preOut, pass!.mixerOut.get(layer)!);
      const bar = gradientWeightedMap(d, g, variant);
      perLayer[i] = { layer, scores: rowTimesMatrix(context.query, bar, L) };
      const rBar = rowTimesMatrix(r, bar, L);
      for (let j = 0; j < L; j++) r[j] += rBar[j];
    }
  }
  return { tokens: r, layers: perLayer };
}

/** s_ℓ[j] = max_k ReLU(∂target/∂h_ℓ[j, k]), min–max scaled over all tokens. */
export function tokenSensitivity(grad: FloatArray, L: number, E: number): Float64Array {
  const s = new Float64Array(L);
  for (let j = 0; j < L; j++) {
    let m = 0;
    for (let k = 0; k < E; k++) m = Math.max(m, grad[j * E + k]);
    s[j] = m;
  }
  return minMaxInPlace(s);
}

/** Mamba-Attr's M_ℓ on full matrices: channel mean of clamp(H^c, 0), scaled by one min and max over all channels' entries. */
function jointlyScaledMean(d: NonCausalDecomposition, variant: Variant): Float64Array {
  const L = d.length;
  const count = d.matrixCount(variant);
  const sum = new Float64Array(L * L);
  const buffer = new Float64Array(L * L);
  let [lo, hi] = [Infinity, -Infinity];
  for (let m = 0; m < count; m++) {
    d.matrix(0, m, variant, buffer);
    for (let i = 0; i < buffer.length; i++) {
      const v = Math.max(0, buffer[i]);
      sum[i] += v;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  const range = hi - lo;
  for (let i = 0; i < sum.length; i++) sum[i] = range > 0 ? (sum[i] / count - lo) / range : 0;
  return sum;
}

/** Chefer's Ā[t, s] = mean_c clamp(g_t^c · H^c[t, s] · v_s^c, 0) on full (non-causal) matrices. */
export function gradientWeightedMap(d: NonCausalDecomposition, g: FloatArray, variant: Variant): Float64Array {
  const { length: L, channels: C } = d;
  const out = new Float64Array(L * L);
  const buffer = new Float64Array(L * L);
  const v = d.values.data;
  const perCore = variant === 'hidden' ? d.channelsPerHead : 1;
  for (let c = 0; c < C; c++) {
    d.matrix(0, Math.floor(c / perCore), variant, buffer);
    for (let t = 0; t < L; t++) {
      const gt = g[t * C + c];
      if (gt === 0) continue;
      for (let s = 0; s < L; s++) out[t * L + s] += Math.max(0, gt * buffer[t * L + s] * v[s * C + c]) / C;
    }
  }
  return out;
}

/** grad × input (Σ_k g·e) or saliency (‖g‖) per patch from [M, E] rows. */
function embeddingScores(e: FloatArray, g: FloatArray, E: number, norm: boolean): Float64Array {
  const M = e.length / E;
  const out = new Float64Array(M);
  for (let m = 0; m < M; m++) {
    let acc = 0;
    for (let k = 0; k < E; k++) acc += norm ? g[m * E + k] ** 2 : g[m * E + k] * e[m * E + k];
    out[m] = norm ? Math.sqrt(acc) : acc;
  }
  return out;
}

const IG_BATCH = 8;

function integratedGradients(context: VisionExplainContext, target: VisionTarget, steps: number): { scores: Float64Array; completenessError: number } {
  const { model, image } = context;
  const e = F.noGrad(() => model.embedPatches(image)); // [1, M, E]
  const [, M, E] = e.shape;
  const K = context.logits.length;
  const { nodes, weights } = gaussLegendre(steps);
  const meanGrad = new Float64Array(M * E);
  for (let start = 0; start < steps; start += IG_BATCH) {
    const B = Math.min(IG_BATCH, steps - start);
    const data = F.allocate(e.dtype, B * M * E);
    for (let b = 0; b < B; b++) for (let i = 0; i < M * E; i++) data[b * M * E + i] = nodes[start + b] * e.data[i];
    const x = new Tensor(data, [B, M, E]).requireGrad();
    const logits = model.forward(x); // [B, K]
    const seed = F.allocate(logits.dtype, logits.size);
    for (let b = 0; b < B; b++) seed[b * K + target.label] = 1;
    F.backward(logits, seed);
    for (let b = 0; b < B; b++) for (let i = 0; i < M * E; i++) meanGrad[i] += weights[start + b] * x.grad![b * M * E + i];
  }
  const scores = new Float64Array(M);
  for (let m = 0; m < M; m++) for (let k = 0; k < E; k++) scores[m] += e.data[m * E + k] * meanGrad[m * E + k];
  const baseline = F.noGrad(() => model.forward(Tensor.zeros([1, M, E], e.dtype))).data[target.label];
  const total = scores.reduce((a, b) => a + b, 0);
  return { scores, completenessError: total - (target.logit - baseline) };
}
