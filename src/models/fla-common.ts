/**
 * What the flash-linear-attention (fla-hub) families GLA, RetNet and HGRN share (spec
 * fla-families.md §Shared pieces): the config fields of their model classes, the SwiGLU MLP,
 * the gated RMSNorm ("swish gate") in front of o_proj, and the block and model assembly with
 * fla's tensor names. A family module supplies only its token mixer (`attn`) and its own
 * config fields; see gla.ts and retnet.ts for the pattern.
 *
 * Model (D = hidden_size, I = MLP width, V = vocab_size), tensors under `model.`:
 *   h₀ = E[ids]                                         embeddings.weight [V, D], no scale
 *   block i:  h ← h + attn(attn_norm h)                 layers.i.attn_norm.weight [D], layers.i.attn.*
 *             h ← h + mlp(mlp_norm h)                   layers.i.mlp_norm.weight [D], layers.i.mlp.*
 *   logits = lm_head(norm h)                            norm.weight [D]; lm_head.weight [V, D] (E if tied)
 * Every RMSNorm (including the one inside the mixer) uses ε = norm_eps.
 */
import * as F from '../core/index.js';
import type { Tensor } from '../core/index.js';
import { ConfigError } from './config.js';
import type { ConfigReader, RawConfig } from './config.js';
import { applyLinear, declareGatedMlp, declareLinear, declareRmsNorm } from './layers.js';
import { DecoderLM, MixerSublayer } from './model.js';
import type { CommonConfig, Layer } from './model.js';
import { normal, ones } from './parameters.js';
import type { ParameterRegistry } from './parameters.js';

// ---------------------------------------------------------------------------------------
// Config

/** Activations fla's GatedMLP accepts for the SwiGLU MLP and the output gate ('swish' = SiLU). */
const ACTIVATIONS = ['swish'] as const;

/** The model-level config every fla family reads; comments give the config.json key and fla's default. */
export interface FlaConfig extends CommonConfig {
  /** `hidden_ratio` (family default when absent; null means 4, as GatedMLP reads it). */
  hiddenRatio: number;
  /** I, `intermediate_size`, or derived from hidden_ratio by `mlpWidth`. */
  intermediateSize: number;
  /** `hidden_act` ('swish'): the MLP activation and the mixer's output gate. */
  hiddenAct: (typeof ACTIVATIONS)[number];
  /** ε of every RMSNorm, `norm_eps` (1e-6). */
  normEps: number;
  /** Whether the mixer's gated norm has a weight, `elementwise_affine` (true; null means false). */
  elementwiseAffine: boolean;
  /** `fuse_norm` (true): decides GLA/RetNet's gated-norm tensor name; numerically the same. */
  fuseNorm: boolean;
  /** `tie_word_embeddings` (false): the head is the embedding matrix. */
  tieWordEmbeddings: boolean;
  /** Std of the normal initialisers, `initializer_range` (0.02). */
  initializerRange: number;
  /** `max_position_embeddings` (2048). Informational: the recurrences run any length. */
  maxPositionEmbeddings: number;
  /** fla's kernel choice, `attn_mode` (family default). Informational: one exact kernel here. */
  attnMode: string;
  /** Special token ids: `bos_token_id` (1), `eos_token_id` (2), `pad_token_id` (null). */
  bosTokenId: number;
  eosTokenId: number;
  padTokenId: number | null;
}

/** Family defaults that differ between GLA, RetNet and HGRN. */
export interface FlaDefaults {
  hiddenRatio: number;
  attnMode: string;
}

/**
 * MLP width when `intermediate_size` is null: 256·⌈int(D·ratio·2/3)/256⌉, fla's GatedMLP
 * (D = 2048, ratio 4 → 5632).
 */
export function mlpWidth(hiddenSize: number, hiddenRatio: number): number {
  return 256 * Math.ceil(Math.floor((hiddenSize * hiddenRatio * 2) / 3) / 256);
}

/**
 * Reads the shared fields and rejects what these models do not implement (hybrid softmax
 * `attn` layers, attention residuals, short convolutions), each with a ConfigError naming
 * the key. Keys that only steer fla's kernels (`fuse_swiglu`, `fuse_cross_entropy`,
 * `use_l2warp`, `use_cache` …) are ignored.
 */
export function readFlaConfig(r: ConfigReader, modelType: string, defaults: FlaDefaults): FlaConfig {
  const unsupported = (key: string, why: string): never => {
    throw new ConfigError(`${modelType} config: '${key}' = ${JSON.stringify(r.raw[key])} is not supported (${why})`);
  };
  if (r.raw.attn !== undefined && r.raw.attn !== null) unsupported('attn', 'hybrid softmax-attention layers');
  if (r.raw.attnres_block_size !== undefined && r.raw.attnres_block_size !== null) unsupported('attnres_block_size', 'attention residuals');
  if (r.boolean('use_short_conv', false)) unsupported('use_short_conv', 'short convolutions');
  const hiddenSize = r.size('hidden_size', 2048);
  // An absent key takes the config class's default; an explicit null reaches the layers as
  // None, which GatedMLP reads as ratio 4 and the gated norm as "no weight".
  const hiddenRatio = r.raw.hidden_ratio === null ? 4 : r.number('hidden_ratio', defaults.hiddenRatio);
  const elementwiseAffine = r.raw.elementwise_affine === null ? false : r.boolean('elementwise_affine', true);
  const pad = r.raw.pad_token_id;
  return {
    vocabSize: r.size('vocab_size', 32000),
    hiddenSize,
    numLayers: r.size('num_hidden_layers', 24),
    hiddenRatio,
    intermediateSize: r.size('intermediate_size', mlpWidth(hiddenSize, hiddenRatio)),
    hiddenAct: r.oneOf('hidden_act', ACTIVATIONS, 'swish'),
    normEps: r.number('norm_eps', 1e-6),
    elementwiseAffine,
    fuseNorm: r.boolean('fuse_norm', true),
    tieWordEmbeddings: r.boolean('tie_word_embeddings', false),
    initializerRange: r.number('initializer_range', 0.02),
    maxPositionEmbeddings: r.size('max_position_embeddings', 2048),
    attnMode: r.string('attn_mode', defaults.attnMode),
    bosTokenId: r.number('bos_token_id', 1),
    eosTokenId: r.number('eos_token_id', 2),
    padTokenId: pad === undefined || pad === null ? null : r.number('pad_token_id'),
  };
}

/** The shared fields as config.json keys (a family adds its own and `model_type`). */
export function flaHfConfig(c: FlaConfig): RawConfig {
  return {
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    num_hidden_layers: c.numLayers,
    hidden_ratio: c.hiddenRatio,
    intermediate_size: c.intermediateSize,
    hidden_act: c.hiddenAct,
    norm_eps: c.normEps,
    elementwise_affine: c.elementwiseAffine,
    fuse_norm: c.fuseNorm,
    tie_word_embeddings: c.tieWordEmbeddings,
    initializer_range: c.initializerRange,
    max_position_embeddings: c.maxPositionEmbeddings,
    attn_mode: c.attnMode,
    bos_token_id: c.bosTokenId,
    eos_token_id: c.eosTokenId,
    pad_token_id: c.padTokenId,
    use_short_conv: false,
    // fla's values of keys that do not change the computation here (no short convolution,
    // no hybrid attention layers; kernel fusion and training-loss options).
    conv_size: 4,
    attn: null,
    use_cache: true,
    fuse_swiglu: true,
    fuse_cross_entropy: true,
    fuse_linear_cross_entropy: false,
    use_l2warp: false,
  };
}

// ---------------------------------------------------------------------------------------
// SwiGLU MLP

/**
 * fla's GatedMLP: down(silu(gate x) ⊙ up x), x [..., D] → [..., D], under `prefix` (`…mlp`).
 * Older checkpoints store one `gate_proj.weight` [2I, D] = [gate; up] and no `up_proj`;
 * that layout is recognised by the missing `up_proj.weight` and split after the projection.
 */
export function declareSwiGluMlp(params: ParameterRegistry, prefix: string, hidden: number, intermediate: number): (x: Tensor) => Tensor {
  if (params.has(`${prefix}.up_proj.weight`)) return declareGatedMlp(params, prefix, hidden, intermediate, F.silu, false);
  const gateUp = declareLinear(params, `${prefix}.gate_proj`, hidden, 2 * intermediate, false);
  const down = declareLinear(params, `${prefix}.down_proj`, intermediate, hidden, false);
  return (x) => {
    const [gate, up] = F.split(applyLinear(gateUp, x), [intermediate, intermediate], -1);
    return applyLinear(down, F.mul(F.silu(gate), up));
  };
}

// ---------------------------------------------------------------------------------------
// Gated RMSNorm ("swish gate")

/**
 * fla's gated RMSNorm (FusedRMSNormGated, or RMSNorm followed by ⊙ silu(g)) over groups of
 * `groupSize` consecutive channels — one group per head for GLA/RetNet (dv), one group of
 * the whole width for HGRN — with a weight [groupSize] shared by the groups:
 *   y = o / sqrt(mean_group(o²) + ε) ⊙ w ⊙ silu(g)
 * Without a gate (use_output_gate = false) the silu(g) factor is dropped; without
 * elementwise_affine, w. As a data-dependent diagonal (implicit-attention.md §2.2, §2.5):
 * y = gain ⊙ o with gain = w ⊙ silu(g) / rms_group(o).
 */
export class GatedRmsNorm {
  readonly weight: Tensor | null; // [groupSize]
  /** w, or ones without elementwise_affine: the per-channel factor of `gain`. */
  private readonly scale: Tensor; // [groupSize]

  constructor(
    params: ParameterRegistry,
    name: string,
    private readonly groupSize: number,
    private readonly eps: number,
    affine: boolean,
  ) {
    this.weight = params.optional(affine, `${name}.weight`, [groupSize], ones);
    this.scale = this.weight ?? F.Tensor.full([groupSize], 1, params.dtype);
  }

  /** o, g [..., n·groupSize] (g null: no gate) → y [..., n·groupSize]. */
  apply(o: Tensor, g: Tensor | null): Tensor {
    const normed = F.reshape(F.rmsNorm(this.grouped(o), this.weight, this.eps), o.shape);
    return g === null ? normed : F.mul(normed, F.silu(g));
  }

  /** The diagonal gain [..., n·groupSize] with apply(o, g) = gain ⊙ o. */
  gain(o: Tensor, g: Tensor | null): Tensor {
    const invRms = F.rsqrt(F.affine(F.mean(F.square(this.grouped(o)), -1, true), 1, this.eps)); // [..., n, 1]
    const perChannel = F.reshape(F.mul(invRms, this.scale), o.shape); // [..., n, groupSize] → [..., n·groupSize]
    return g === null ? perChannel : F.mul(perChannel, F.silu(g));
  }

  /** [..., n·G] viewed as [..., n, G]. */
  private grouped(o: Tensor): Tensor {
    return F.reshape(o, [...o.shape.slice(0, -1), -1, this.groupSize]);
  }
}

// ---------------------------------------------------------------------------------------
// Model assembly

/** What a family's token mixer must offer: a parallel forward and its one-token recurrent form. */
export interface FlaMixer<S> {
  readonly kind: string;
  forward(x: Tensor): Tensor; // [B, L, D] → [B, L, D]
  initialState(batch: number): S;
  step(x: Tensor, state: S): Tensor; // [B, D] → [B, D]
}

/**
 * Declares the shared tensors and assembles the model around the family's mixers:
 * `attention(prefix, i)` builds layer i's mixer with its parameters under `prefix`
 * (`model.layers.i.attn`). Sublayer kinds are the mixer's kind and `mlp`; `hidden_states.i`
 * is the input of layer i, as fla's output_hidden_states.
 */
export function buildFlaModel(
  modelType: string,
  config: FlaConfig,
  hfConfig: RawConfig,
  params: ParameterRegistry,
  attention: (prefix: string, layer: number) => FlaMixer<unknown>,
): DecoderLM {
  const { vocabSize: V, hiddenSize: D, normEps: eps, initializerRange: std } = config;
  const embedding = params.take('model.embeddings.weight', [V, D], normal(std));
  const layers: Layer[] = [];
  for (let i = 0; i < config.numLayers; i++) {
    const prefix = `model.layers.${i}`;
    const attn = new MixerSublayer(declareRmsNorm(params, `${prefix}.attn_norm`, D, eps), attention(`${prefix}.attn`, i));
    const mlpNorm = declareRmsNorm(params, `${prefix}.mlp_norm`, D, eps);
    const mlp = declareSwiGluMlp(params, `${prefix}.mlp`, D, config.intermediateSize);
    const mlpMixer: FlaMixer<null> = { kind: 'mlp', forward: mlp, initialState: () => null, step: (x) => mlp(x) };
    layers.push({ sublayers: [attn, new MixerSublayer(mlpNorm, mlpMixer)] });
  }
  const finalNorm = declareRmsNorm(params, 'model.norm', D, eps);
  const head = config.tieWordEmbeddings ? embedding : params.take('lm_head.weight', [V, D], normal(std));
  return new DecoderLM(modelType, config, hfConfig, params.tensors, { embedding, layers, finalNorm, head, hiddenStates: 'layer-inputs' });
}
