/**
 * RWKV-4 (`model_type: rwkv`, HF `RwkvForCausalLM`; Peng et al. 2023, "RWKV: Reinventing
 * RNNs for the Transformer Era", §3). Semantics: spec models.md §RWKV-4 and
 * implicit-attention.md §2.3.
 *
 * Block i on the stream h [B, L, H] (C = attention_hidden_size, I = intermediate_size):
 *   (block 0) h ← pre_ln(h)
 *   h ← h + timeMix(ln1 h);   h ← h + channelMix(ln2 h);   (every rescale_every-th block) h ← h / 2
 * Token shift x'_t = x_{t−1} (x'_{−1} = 0) and mix_μ(x) = μ ⊙ x + (1 − μ) ⊙ x' (eq. 11–13):
 *   time mix:    k, v = key(mix_k x), value(mix_v x) [B, L, C];  r = σ(receptance(mix_r x))
 *                out = output(r ⊙ wkv(time_decay, time_first, k, v))                  [B, L, H]
 *   channel mix: out = σ(receptance(mix_r x)) ⊙ value(relu(key(mix_k x))²)            [B, L, H]
 * HF eval mode with rescale_every = R > 0 divides block i's attention.output and
 * feed_forward.value weights by 2^⌊i/R⌋; we apply that factor to their outputs instead (exact:
 * a power of two), so the parameters stay the stored, unscaled weights for training and saving.
 */
import * as F from '../core/index.js';
import { Tensor } from '../core/index.js';
import { wkv, wkvState, wkvStep } from '../scans/wkv.js';
import type { WkvState } from '../scans/wkv.js';
import { ConfigError, ConfigReader, specialTokens } from './config.js';
import type { RawConfig, SpecialTokens } from './config.js';
import type { Family } from './family.js';
import { applyLinear, declareLayerNorm, declareLinear } from './layers.js';
import type { Linear } from './layers.js';
import { DecoderLM, MixerSublayer } from './model.js';
import type { CommonConfig, Layer, Mixer } from './model.js';
import { normal } from './parameters.js';
import type { Init, ParameterRegistry } from './parameters.js';

/** Typed config; field comments give the config.json key and transformers' default. */
export interface RwkvConfig extends CommonConfig {
  /** C, the width of k, v, r and the WKV scan, `attention_hidden_size` (hidden_size). */
  attentionHiddenSize: number;
  /** I, the channel-mix width, `intermediate_size` (4·hidden_size). */
  intermediateSize: number;
  /** eps of every LayerNorm, `layer_norm_epsilon` (1e-5). */
  layerNormEpsilon: number;
  /** R, `rescale_every` (6); 0 disables the rescaling. */
  rescaleEvery: number;
  /** `tie_word_embeddings` (false): the head is the embedding matrix. */
  tieWordEmbeddings: boolean;
  /** The training context, `context_length` (1024). Informational: RWKV-4 runs any length. */
  contextLength: number;
  /** `bos_token_id`, `eos_token_id` (0, 0), and `pad_token_id` when given (RwkvConfig has none), carried into config.json. */
  specialTokens: SpecialTokens;
}

/**
 * The frozen, data-dependent quantities of one time-mix layer on one input, computed by the
 * same code as the forward (implicit-attention.md §2.3: H^c = diag(r^c)·α^c acting on v^c).
 */
export interface RwkvInternals {
  /** Keys [B, L, C]. */
  k: Tensor;
  /** Values, what the implicit attention multiplies [B, L, C]. */
  v: Tensor;
  /** Receptance after the sigmoid [B, L, C]. */
  r: Tensor;
  /** time_decay [C]; each step decays by exp(w). */
  w: Tensor;
  /** time_first, the bonus of the current token [C]. */
  u: Tensor;
  /** The WKV scan output [B, L, C]. */
  wkv: Tensor;
}

/** Recurrent state of a time mix: the previous input (token shift) and the WKV state. */
export interface TimeMixState {
  /** The previous token's mixer input [B, 1, H] (zeros before the sequence). */
  previous: Tensor;
  scan: WkvState;
}

/** Recurrent state of a channel mix: the previous input (token shift). */
export interface ChannelMixState {
  /** The previous token's mixer input [B, 1, H] (zeros before the sequence). */
  previous: Tensor;
}

/** x'_t = x_{t−1} with x'_0 = `first` [B, 1, H]: [B, L, H] → [B, L, H]. */
function tokenShift(x: Tensor, first: Tensor): Tensor {
  const L = x.shape[1];
  return L === 1 ? first : F.concat([first, F.slice(x, 1, 0, L - 1)], 1);
}

/** mix_μ(x) = μ ⊙ x + (1 − μ) ⊙ x', written x' + μ ⊙ (x − x') with `change` = x − x'. */
function interpolate(shifted: Tensor, change: Tensor, mix: Tensor): Tensor {
  return F.add(shifted, F.mul(mix, change));
}

/** Multiplies by a constant unless it is 1 (the rescale_every factors). */
function scaled(x: Tensor, factor: number): Tensor {
  return factor === 1 ? x : F.scale(x, factor);
}

/**
 * Std of the normal initialisers of embeddings and linears (GPT-2 style; HF uses orthogonal
 * init, which we do not have). The residual outputs (attention.output, feed_forward.value) use
 * STD / √(2·layers) so the stream's variance does not grow with depth.
 */
const STD = 0.02;

/** Where a layer sits, for the depth-dependent initialisers of RWKV-4 (HF `_init_weights`). */
interface Depth {
  /** layer / (layers − 1), 0 → 1. */
  ratio0To1: number;
  /** 1 − layer / layers, 1 → almost 0. */
  ratio1ToAlmost0: number;
}

function depthOf(layer: number, layers: number): Depth {
  return { ratio0To1: layer / Math.max(1, layers - 1), ratio1ToAlmost0: 1 - layer / layers };
}

/** Token-shift mix μ[h] = (h / H)^power + offset, a [1, 1, H] parameter. */
function mixInit(H: number, power: number, offset = 0): Init {
  return { kind: 'formula', at: (h) => (h / H) ** power + offset };
}

/** One time-mix layer (HF `RwkvSelfAttention`) with its parameters under `prefix`. */
export class RwkvTimeMix implements Mixer<TimeMixState> {
  readonly kind = 'rwkv';
  private readonly timeDecay: Tensor; // [C]
  private readonly timeFirst: Tensor; // [C]
  private readonly mixKey: Tensor; // [1, 1, H]
  private readonly mixValue: Tensor; // [1, 1, H]
  private readonly mixReceptance: Tensor; // [1, 1, H]
  private readonly key: Linear;
  private readonly value: Linear;
  private readonly receptance: Linear;
  private readonly outputProj: Linear;

  constructor(
    params: ParameterRegistry,
    prefix: string,
    private readonly config: RwkvConfig,
    depth: Depth,
    /** 2^−⌊i/R⌋, HF's eval-mode division of output.weight. */
    private readonly outputScale: number,
  ) {
    const { hiddenSize: H, attentionHiddenSize: C, numLayers } = config;
    const { ratio0To1, ratio1ToAlmost0 } = depth;
    // Decay speeds from −5 to 3 across channels; bonus log(0.3) with a ±0.5 zigzag (RWKV-4 init).
    this.timeDecay = params.take(`${prefix}.time_decay`, [C], {
      kind: 'formula',
      at: (c) => -5 + 8 * (c / Math.max(1, C - 1)) ** (0.7 + 1.3 * ratio0To1),
    });
    this.timeFirst = params.take(`${prefix}.time_first`, [C], { kind: 'formula', at: (c) => Math.log(0.3) + 0.5 * (((c + 1) % 3) - 1) });
    this.mixKey = params.take(`${prefix}.time_mix_key`, [1, 1, H], mixInit(H, ratio1ToAlmost0));
    this.mixValue = params.take(`${prefix}.time_mix_value`, [1, 1, H], mixInit(H, ratio1ToAlmost0, 0.3 * ratio0To1));
    this.mixReceptance = params.take(`${prefix}.time_mix_receptance`, [1, 1, H], mixInit(H, 0.5 * ratio1ToAlmost0));
    this.key = declareLinear(params, `${prefix}.key`, H, C, false, STD);
    this.value = declareLinear(params, `${prefix}.value`, H, C, false, STD);
    this.receptance = declareLinear(params, `${prefix}.receptance`, H, C, false, STD);
    this.outputProj = declareLinear(params, `${prefix}.output`, C, H, false, STD / Math.sqrt(2 * numLayers));
  }

  /** The layer's data-dependent quantities on x [B, L, H]; `forward` is built from exactly these. */
  internals(x: Tensor): RwkvInternals {
    return this.mix(x, this.zeroToken(x.shape[0]), (k, v) => wkv(this.timeDecay, this.timeFirst, k, v));
  }

  /** x [B, L, H] → [B, L, H]: internals, scan, output. */
  forward(x: Tensor): Tensor {
    return this.output(this.internals(x));
  }

  initialState(batch: number): TimeMixState {
    return { previous: this.zeroToken(batch), scan: wkvState(batch, this.config.attentionHiddenSize) };
  }

  /** One token: x [B, H] → [B, H], advancing `state` (same projections and kernel as `forward`). */
  step(x: Tensor, state: TimeMixState): Tensor {
    const [batch, H] = x.shape;
    const token = F.reshape(x, [batch, 1, H]);
    const inner = this.mix(token, state.previous, (k, v) => wkvStep(this.timeDecay, this.timeFirst, k, v, state.scan));
    state.previous = token;
    return F.reshape(this.output(inner), [batch, H]);
  }

  /** Token shift, mixes, projections and the scan, with x'_0 = `first` [B, 1, H]. */
  private mix(x: Tensor, first: Tensor, scan: (k: Tensor, v: Tensor) => Tensor): RwkvInternals {
    const shifted = tokenShift(x, first);
    const change = F.sub(x, shifted);
    const k = applyLinear(this.key, interpolate(shifted, change, this.mixKey));
    const v = applyLinear(this.value, interpolate(shifted, change, this.mixValue));
    const r = F.sigmoid(applyLinear(this.receptance, interpolate(shifted, change, this.mixReceptance)));
    return { k, v, r, w: this.timeDecay, u: this.timeFirst, wkv: scan(k, v) };
  }

  /** The pre-output r ⊙ wkv [B, L, C] through `projectOutput` → [B, L, H]. */
  private output({ r, wkv: y }: RwkvInternals): Tensor {
    return this.projectOutput(F.mul(r, y));
  }

  /**
   * The linear map from the pre-output (what the implicit attention reconstructs, [..., C]) to
   * the mixer output [..., H]: attention.output, times the rescale_every factor.
   */
  projectOutput(preOut: Tensor): Tensor {
    return scaled(applyLinear(this.outputProj, preOut), this.outputScale);
  }

  private zeroToken(batch: number): Tensor {
    return Tensor.zeros([batch, 1, this.config.hiddenSize], this.timeDecay.dtype);
  }
}

/** One channel-mix layer (HF `RwkvFeedForward`) with its parameters under `prefix`. */
export class RwkvChannelMix implements Mixer<ChannelMixState> {
  readonly kind = 'rwkv_ffn';
  private readonly mixKey: Tensor; // [1, 1, H]
  private readonly mixReceptance: Tensor; // [1, 1, H]
  private readonly key: Linear;
  private readonly receptance: Linear;
  private readonly value: Linear;

  constructor(
    params: ParameterRegistry,
    prefix: string,
    private readonly config: RwkvConfig,
    depth: Depth,
    /** 2^−⌊i/R⌋, HF's eval-mode division of value.weight. */
    private readonly outputScale: number,
  ) {
    const { hiddenSize: H, intermediateSize: I, numLayers } = config;
    this.mixKey = params.take(`${prefix}.time_mix_key`, [1, 1, H], mixInit(H, depth.ratio1ToAlmost0));
    this.mixReceptance = params.take(`${prefix}.time_mix_receptance`, [1, 1, H], mixInit(H, depth.ratio1ToAlmost0));
    this.key = declareLinear(params, `${prefix}.key`, H, I, false, STD);
    this.receptance = declareLinear(params, `${prefix}.receptance`, H, H, false, STD);
    this.value = declareLinear(params, `${prefix}.value`, I, H, false, STD / Math.sqrt(2 * numLayers));
  }

  /** x [B, L, H] → [B, L, H]. */
  forward(x: Tensor): Tensor {
    return this.mix(x, this.zeroToken(x.shape[0]));
  }

  initialState(batch: number): ChannelMixState {
    return { previous: this.zeroToken(batch) };
  }

  /** One token: x [B, H] → [B, H], advancing `state`. */
  step(x: Tensor, state: ChannelMixState): Tensor {
    const [batch, H] = x.shape;
    const token = F.reshape(x, [batch, 1, H]);
    const out = this.mix(token, state.previous);
    state.previous = token;
    return F.reshape(out, [batch, H]);
  }

  /** σ(receptance(mix_r x)) ⊙ value(relu(key(mix_k x))²), with x'_0 = `first` [B, 1, H]. */
  private mix(x: Tensor, first: Tensor): Tensor {
    const shifted = tokenShift(x, first);
    const change = F.sub(x, shifted);
    const k = F.reluSquared(applyLinear(this.key, interpolate(shifted, change, this.mixKey))); // [B, L, I]
    const r = F.sigmoid(applyLinear(this.receptance, interpolate(shifted, change, this.mixReceptance)));
    return F.mul(r, scaled(applyLinear(this.value, k), this.outputScale));
  }

  private zeroToken(batch: number): Tensor {
    return Tensor.zeros([batch, 1, this.config.hiddenSize], this.mixKey.dtype);
  }
}

function parseConfig(raw: RawConfig): RwkvConfig {
  const r = new ConfigReader(raw, 'rwkv');
  const hiddenSize = r.size('hidden_size', 4096);
  const rescaleEvery = r.number('rescale_every', 6);
  if (!Number.isInteger(rescaleEvery) || rescaleEvery < 0) {
    throw new ConfigError(`rwkv config: 'rescale_every' should be a non-negative integer, got ${JSON.stringify(raw.rescale_every)}`);
  }
  return {
    vocabSize: r.size('vocab_size', 50277),
    hiddenSize,
    numLayers: r.size('num_hidden_layers', 32),
    attentionHiddenSize: r.size('attention_hidden_size', hiddenSize),
    intermediateSize: r.size('intermediate_size', 4 * hiddenSize),
    layerNormEpsilon: r.number('layer_norm_epsilon', 1e-5),
    rescaleEvery,
    tieWordEmbeddings: r.boolean('tie_word_embeddings', false),
    contextLength: r.size('context_length', 1024),
    specialTokens: specialTokens(raw, 'rwkv', { bos_token_id: 0, eos_token_id: 0, pad_token_id: undefined }),
  };
}

function toHfConfig(config: RwkvConfig): RawConfig {
  return {
    architectures: ['RwkvForCausalLM'],
    model_type: 'rwkv',
    vocab_size: config.vocabSize,
    hidden_size: config.hiddenSize,
    num_hidden_layers: config.numLayers,
    attention_hidden_size: config.attentionHiddenSize,
    intermediate_size: config.intermediateSize,
    layer_norm_epsilon: config.layerNormEpsilon,
    rescale_every: config.rescaleEvery,
    tie_word_embeddings: config.tieWordEmbeddings,
    context_length: config.contextLength,
    ...config.specialTokens,
    use_cache: true, // transformers' value; caching does not change the computation
  };
}

/** Block i: LayerNorms, time mix, channel mix, and the rescale_every bookkeeping. */
function block(params: ParameterRegistry, config: RwkvConfig, i: number): Layer {
  const { hiddenSize: H, layerNormEpsilon: eps, rescaleEvery: R } = config;
  const prefix = `rwkv.blocks.${i}`;
  const before = i === 0 ? declareLayerNorm(params, `${prefix}.pre_ln`, H, eps) : undefined;
  const ln1 = declareLayerNorm(params, `${prefix}.ln1`, H, eps);
  const ln2 = declareLayerNorm(params, `${prefix}.ln2`, H, eps);
  const outputScale = R > 0 ? 2 ** -Math.floor(i / R) : 1;
  const depth = depthOf(i, config.numLayers);
  const timeMix = new RwkvTimeMix(params, `${prefix}.attention`, config, depth, outputScale);
  const channelMix = new RwkvChannelMix(params, `${prefix}.feed_forward`, config, depth, outputScale);
  const halves = R > 0 && (i + 1) % R === 0;
  return {
    before,
    sublayers: [new MixerSublayer(ln1, timeMix), new MixerSublayer(ln2, channelMix)],
    after: halves ? (h) => F.scale(h, 0.5) : undefined,
  };
}

function build(config: RwkvConfig, params: ParameterRegistry): DecoderLM {
  const { vocabSize: V, hiddenSize: H } = config;
  const embedding = params.take('rwkv.embeddings.weight', [V, H], normal(STD));
  const layers = Array.from({ length: config.numLayers }, (_, i) => block(params, config, i));
  const finalNorm = declareLayerNorm(params, 'rwkv.ln_out', H, config.layerNormEpsilon);
  const head = config.tieWordEmbeddings ? embedding : params.take('head.weight', [V, H], normal(STD));
  return new DecoderLM('rwkv', config, toHfConfig(config), params.tensors, { embedding, layers, finalNorm, head, hiddenStates: 'layer-outputs' });
}

export const rwkvFamily: Family<RwkvConfig> = {
  modelType: 'rwkv',
  description: 'RWKV-4 (linear attention with time decay, WKV) language model, e.g. RWKV/rwkv-4-169m-pile',
  parseConfig,
  build,
  toHfConfig,
};
