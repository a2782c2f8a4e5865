/**
 * The shape every family shares: embedding → layers of residual sublayers
 * (h ← h + mixer(norm(h))) → final norm → language-model head. A family builds its layers
 * from its own mixers and hands them to `DecoderLM`; forward, tracing, recurrent stepping and
 * parameter bookkeeping live here once.
 */
import * as F from '../core/index.js';
import { ShapeError, Tensor } from '../core/index.js';
import type { DType } from '../core/index.js';

/** Records intermediate tensors under the fixture key names (`block_in.i`, `mixer_out.i.KIND`, …). */
export type Trace = Map<string, Tensor>;

/**
 * One residual branch h ← h + forward(norm(h)). `kind` names it in traces (mamba, rwkv,
 * rwkv_ffn, rglru, local_attention, mlp …). `step` is the recurrent form for one token:
 * x [B, H] → [B, H], updating `state` in place.
 */
export interface Sublayer<S = unknown> {
  readonly kind: string;
  readonly norm: (x: Tensor) => Tensor;
  forward(x: Tensor): Tensor; // [B, L, H] → [B, L, H]
  initialState(batch: number): S;
  step(x: Tensor, state: S): Tensor; // [B, H] → [B, H]
}

/** What a residual branch runs: a parallel forward and its one-token recurrent form. */
export interface Mixer<S = unknown> {
  /** Names the branch in traces (mamba, rwkv, rglru, mlp, …). */
  readonly kind: string;
  forward(x: Tensor): Tensor; // [B, L, H] → [B, L, H]
  initialState(batch: number): S;
  step(x: Tensor, state: S): Tensor; // [B, H] → [B, H]
}

/** The usual sublayer: h ← h + mixer(norm(h)); `mixer` stays reachable for implicit attention. */
export class MixerSublayer<M extends Mixer<S>, S = unknown> implements Sublayer<S> {
  readonly kind: string;

  constructor(
    readonly norm: (x: Tensor) => Tensor,
    readonly mixer: M,
  ) {
    this.kind = mixer.kind;
  }

  forward(x: Tensor): Tensor {
    return this.mixer.forward(x);
  }

  initialState(batch: number): S {
    return this.mixer.initialState(batch);
  }

  step(x: Tensor, state: S): Tensor {
    return this.mixer.step(x, state);
  }
}

export interface Layer {
  /** Applied to the stream before the sublayers (RWKV's pre_ln in block 0). */
  readonly before?: (h: Tensor) => Tensor;
  readonly sublayers: readonly Sublayer[];
  /** Applied to the stream after the sublayers (RWKV-4's rescale halving). */
  readonly after?: (h: Tensor) => Tensor;
}

/** Whether HF's `hidden_states.i` is the input (RecurrentGemma) or output (others) of layer i. */
export type HiddenStatesConvention = 'layer-inputs' | 'layer-outputs';

export interface DecoderParts {
  embedding: Tensor; // [V, H]
  /** Multiplies the embedding output (RecurrentGemma: sqrt(H) rounded to bfloat16). */
  embeddingScale?: number;
  layers: Layer[];
  finalNorm: (x: Tensor) => Tensor;
  head: Tensor; // [V, H], the embedding itself when tied
  /** Logit soft-cap c: logits ← c·tanh(logits / c). */
  logitSoftCap?: number;
  hiddenStates: HiddenStatesConvention;
  /** The longest context the family supports, if bounded. */
  maxContext?: number;
}

export interface CommonConfig {
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
}

/** Recurrent state of a whole model: one entry per sublayer, layer-major. */
export type ModelState = unknown[][];

export class DecoderLM {
  constructor(
    readonly modelType: string,
    readonly config: CommonConfig,
    /** The configuration as Hugging Face writes it (config.json). */
    readonly hfConfig: Record<string, unknown>,
    readonly parameters: Map<string, Tensor>,
    private readonly parts: DecoderParts,
  ) {}

  get dtype(): DType {
    return this.parts.embedding.dtype;
  }

  get numLayers(): number {
    return this.parts.layers.length;
  }

  /** Mixer kinds of each layer, e.g. [['mamba'], …] or [['rwkv', 'rwkv_ffn'], …]. */
  layerKinds(): string[][] {
    return this.parts.layers.map((l) => l.sublayers.map((s) => s.kind));
  }

  sublayer(layer: number, index = 0): Sublayer {
    return this.parts.layers[layer].sublayers[index];
  }

  /** Raw token embeddings (HF's `inputs_embeds`): ids [B·L] → [B, L, H]. */
  embed(ids: Int32Array, batch: number, length: number): Tensor {
    if (ids.length !== batch * length) throw new ShapeError(`embed: ${ids.length} ids do not fill [${batch}, ${length}]`);
    if (length === 0) throw new ShapeError('embed: empty input (no tokens)');
    if (this.parts.maxContext !== undefined && length > this.parts.maxContext) {
      throw new ShapeError(`embed: ${length} tokens exceed this model's context of ${this.parts.maxContext}`);
    }
    return F.embedding(this.parts.embedding, ids, [batch, length]);
  }

  /** Logits [B, L, V] from embeddings [B, L, H]; fills `trace` with fixture-named intermediates. */
  forward(embeds: Tensor, trace?: Trace): Tensor {
    return this.head(this.hidden(embeds, trace));
  }

  /**
   * Logits [B, C] of one position per sequence, positions[b] — the head runs on those rows
   * only (what scoring perturbed inputs needs; the LM head is most of a small model's work).
   */
  forwardAt(embeds: Tensor, positions: ArrayLike<number>): Tensor {
    const [B, L, H] = embeds.shape;
    if (positions.length !== B) throw new ShapeError(`forwardAt: ${positions.length} positions for a batch of ${B}`);
    const normed = this.hidden(embeds);
    const rows = new Int32Array(B);
    for (let b = 0; b < B; b++) {
      if (!(Number.isInteger(positions[b]) && positions[b] >= 0 && positions[b] < L)) throw new ShapeError(`forwardAt: position ${positions[b]} is outside [0, ${L})`);
      rows[b] = b * L + positions[b];
    }
    return this.head(F.embedding(F.reshape(normed, [B * L, H]), rows, [B])); // rows of normed: [B, H]
  }

  /** The final-norm hidden states [B, L, H] (`hidden_states.{numLayers}`) from embeddings [B, L, H]. */
  hidden(embeds: Tensor, trace?: Trace): Tensor {
    let h = this.scaleEmbeddings(embeds);
    const layers = this.parts.layers;
    const inputsConvention = this.parts.hiddenStates === 'layer-inputs';
    layers.forEach((layer, i) => {
      trace?.set(`block_in.${i}`, h);
      if (inputsConvention) trace?.set(`hidden_states.${i}`, h);
      if (layer.before) h = layer.before(h);
      for (const sub of layer.sublayers) {
        const x = sub.norm(h);
        const y = sub.forward(x);
        trace?.set(`mixer_in.${i}.${sub.kind}`, x);
        trace?.set(`mixer_out.${i}.${sub.kind}`, y);
        h = F.add(h, y);
      }
      if (layer.after) h = layer.after(h);
      if (!inputsConvention) trace?.set(`hidden_states.${i}`, h);
    });
    const normed = this.parts.finalNorm(h);
    trace?.set(`hidden_states.${layers.length}`, normed);
    return normed;
  }

  /** Logits [B, L, V] for token ids. */
  forwardIds(ids: Int32Array, batch: number, length: number, trace?: Trace): Tensor {
    const embeds = this.embed(ids, batch, length);
    trace?.set('inputs_embeds', embeds);
    return this.forward(embeds, trace);
  }

  initialState(batch: number): ModelState {
    return this.parts.layers.map((l) => l.sublayers.map((s) => s.initialState(batch)));
  }

  /** One token per sequence: ids [B] → logits [B, V], advancing `state`. Equals `forward` row by row. */
  step(ids: Int32Array, state: ModelState): Tensor {
    return F.noGrad(() => {
      const B = ids.length;
      let h = F.reshape(this.scaleEmbeddings(F.embedding(this.parts.embedding, ids, [B, 1])), [B, this.config.hiddenSize]);
      this.parts.layers.forEach((layer, i) => {
        if (layer.before) h = layer.before(h);
        layer.sublayers.forEach((sub, j) => {
          h = F.add(h, sub.step(sub.norm(h), state[i][j]));
        });
        if (layer.after) h = layer.after(h);
      });
      return this.head(this.parts.finalNorm(h));
    });
  }

  private scaleEmbeddings(embeds: Tensor): Tensor {
    const s = this.parts.embeddingScale;
    return s === undefined ? embeds : F.scale(embeds, s);
  }

  /** The output head: final-norm hidden states [..., H] → logits [..., V] (soft-capped where the family does). */
  head(normed: Tensor): Tensor {
    const logits = F.linear(normed, this.parts.head);
    const cap = this.parts.logitSoftCap;
    return cap === undefined ? logits : F.scale(F.tanh(F.scale(logits, 1 / cap)), cap);
  }

  parameterCount(): number {
    let n = 0;
    for (const t of this.parameters.values()) n += t.size;
    return n;
  }
}
