/**
 * The work explanation methods share for one input sequence: the logits and the resolved
 * target, each mixer layer's decomposition (computed once, on demand), and one backward pass
 * per target giving ∂target/∂(embeddings, block inputs h_ℓ, mixer outputs). Running several
 * methods on one context (`iattn explain --method all`) does this work once.
 */
import * as F from '../core/index.js';
import type { FloatArray, Tensor } from '../core/index.js';
import type { LayerDecomposition } from '../implicit/decomposition.js';
import { mixerLayers, runForAttention } from '../implicit/model-layers.js';
import type { AttentionRun } from '../implicit/model-layers.js';
import type { DecoderLM, Trace } from '../models/index.js';
import { ExplainError } from './types.js';
import type { ResolvedTarget, TargetSpec } from './types.js';

/** A layer with a sequence mixer; its output is traced as `mixer_out.{layer}.{kind}`. */
export interface MixerRef {
  layer: number;
  kind: string;
}

/** Where decompositions come from: the model's own families by default, hand-made ones in tests. */
export interface LayerSource {
  readonly mixers: readonly MixerRef[];
  decompose(layer: number): LayerDecomposition;
}

/** ∂ logits[0, t, token] with respect to the inputs of the model's parts, all [L, H] row-major. */
export interface GradientPass {
  target: ResolvedTarget;
  /** The raw token embeddings e [L, H] (before any embedding scale). */
  embeddings: FloatArray;
  /** ∂target/∂e [L, H]. */
  embeddingGrad: FloatArray;
  /** ∂target/∂h_ℓ, h_ℓ the residual stream entering block ℓ [L, H], by layer. */
  blockIn: Map<number, FloatArray>;
  /** ∂target/∂mixer_out [L, H], by mixer layer. */
  mixerOut: Map<number, FloatArray>;
}

/** The model's own decompositions: one no-grad forward pass, decomposed layer by layer on demand. */
export function modelLayerSource(model: DecoderLM, ids: Int32Array): LayerSource {
  let run: AttentionRun | null = null;
  return {
    mixers: mixerLayers(model).map(({ layer, kind }) => ({ layer, kind })),
    decompose(layer) {
      run ??= runForAttention(model, ids, 1, ids.length);
      return run.decompose(layer);
    },
  };
}

export class ExplainContext {
  readonly length: number;
  private readonly source: LayerSource;
  private cachedLogits: Tensor | null = null;
  private readonly decompositions = new Map<number, LayerDecomposition>();
  private readonly passes = new Map<string, GradientPass>();

  /** ids [L] of one sequence; `source` overrides where layer decompositions come from. */
  constructor(
    readonly model: DecoderLM,
    readonly ids: Int32Array,
    source?: LayerSource,
  ) {
    if (ids.length === 0) throw new ExplainError('nothing to explain: the input has no tokens');
    this.length = ids.length;
    this.source = source ?? modelLayerSource(model, ids);
  }

  /** Logits [1, L, V] (no graph). */
  logits(): Tensor {
    this.cachedLogits ??= F.noGrad(() => this.model.forwardIds(this.ids, 1, this.length));
    return this.cachedLogits;
  }

  /** The target with defaults filled in: last position, the model's top token there. */
  target(spec: TargetSpec = {}): ResolvedTarget {
    const L = this.length;
    const position = spec.position ?? L - 1;
    if (!Number.isInteger(position) || position < 0 || position >= L) {
      throw new ExplainError(`target position ${position} is outside the input [0, ${L}) (${L} tokens)`);
    }
    const logits = this.logits();
    const V = logits.shape[2];
    const row = logits.data.subarray(position * V, (position + 1) * V);
    let top = 0;
    for (let v = 1; v < V; v++) if (row[v] > row[top]) top = v;
    const token = spec.token ?? top;
    if (!Number.isInteger(token) || token < 0 || token >= V) {
      throw new ExplainError(`target token ${token} is outside the vocabulary [0, ${V})`);
    }
    let z = 0;
    for (let v = 0; v < V; v++) z += Math.exp(row[v] - row[top]);
    const probability = (v: number) => Math.exp(row[v] - row[top]) / z;
    return { position, token, logit: row[token], probability: probability(token), topToken: top, topProbability: probability(top) };
  }

  /** Mixer layers at or after `startLayer`, checked. */
  mixers(startLayer: number): MixerRef[] {
    const n = this.model.numLayers;
    if (!Number.isInteger(startLayer) || startLayer < 0 || startLayer >= n) {
      throw new ExplainError(`start layer ${startLayer} is outside the model's layers [0, ${n})`);
    }
    if (this.source.mixers.length === 0) {
      throw new ExplainError(
        `the ${this.model.modelType} model has no layer with an implicit attention decomposition (layer kinds: ${this.model.layerKinds().map((k) => k.join('+')).join(', ')}); use a gradient method (grad-input, integrated-gradients, saliency)`,
      );
    }
    const chosen = this.source.mixers.filter((m) => m.layer >= startLayer);
    if (chosen.length === 0) {
      throw new ExplainError(`no mixer layer at or after start layer ${startLayer} (mixer layers: ${this.source.mixers.map((m) => m.layer).join(', ')})`);
    }
    return chosen;
  }

  /** Layer ℓ's decomposition, computed once. */
  decomposition(layer: number): LayerDecomposition {
    let d = this.decompositions.get(layer);
    if (d === undefined) {
      d = this.source.decompose(layer);
      if (d.batch !== 1 || d.length !== this.length) {
        throw new ExplainError(`layer ${layer}: decomposition of batch ${d.batch} × ${d.length} tokens, expected 1 × ${this.length}`);
      }
      this.decompositions.set(layer, d);
    }
    return d;
  }

  /**
   * One forward pass with gradients and one backward seeded with the one-hot on
   * logits[0, t, token]: gradients of the embeddings, of every block input (retainGrad on
   * `block_in.ℓ`) and of every mixer output (retainGrad on `mixer_out.ℓ.KIND`). Cached per target.
   */
  gradients(target: ResolvedTarget): GradientPass {
    const key = `${target.position}:${target.token}`;
    const cached = this.passes.get(key);
    if (cached !== undefined) return cached;
    const L = this.length;
    const trace: Trace = new Map();
    const embeds = this.model.embed(this.ids, 1, L).requireGrad(); // [1, L, H]
    const logits = this.model.forward(embeds, trace); // [1, L, V]
    const blockIn = new Map<number, Tensor>();
    const mixerOut = new Map<number, Tensor>();
    for (let i = 0; i < this.model.numLayers; i++) {
      const t = trace.get(`block_in.${i}`);
      if (t?.requiresGrad) blockIn.set(i, t.retainGrad());
    }
    for (const { layer, kind } of this.source.mixers) {
      const t = trace.get(`mixer_out.${layer}.${kind}`);
      if (t?.requiresGrad) mixerOut.set(layer, t.retainGrad());
    }
    const V = logits.shape[2];
    const seed = F.allocate(logits.dtype, logits.size);
    seed[target.position * V + target.token] = 1;
    F.backward(logits, seed);
    const gradOf = (t: Tensor): FloatArray => t.grad ?? F.allocate(t.dtype, t.size);
    const pass: GradientPass = {
      target,
      embeddings: embeds.data,
      embeddingGrad: gradOf(embeds),
      blockIn: new Map([...blockIn].map(([i, t]) => [i, gradOf(t)])),
      mixerOut: new Map([...mixerOut].map(([i, t]) => [i, gradOf(t)])),
    };
    this.passes.set(key, pass);
    return pass;
  }
}
