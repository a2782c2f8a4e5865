/**
 * Mamba (`model_type: mamba`, HF `MambaForCausalLM`; Gu & Dao 2023) and FalconMamba
 * (`falcon_mamba`): one module, one flag. FalconMamba only adds a weightless RMS norm of
 * δ, B and C (eps `mixer_rms_eps`) after x_proj. Semantics: spec models.md §Mamba and
 * implicit-attention.md §2.1.
 *
 * Mixer on x [B, L, H] (after the block's RMS pre-norm), D = intermediate_size, N = state_size,
 * R = time_step_rank, K = conv_kernel:
 *   [X | Z] = in_proj(x)                 X, Z [B, L, D]
 *   c = M X + b_conv,  u = silu(c)         depthwise causal conv1d  [B, L, D]
 *   [δ | B | C] = x_proj(u)               [B, L, R], [B, L, N], [B, L, N]   (Falcon: each RMS-normalised)
 *   Δ = softplus(dt_proj(δ))              [B, L, D]
 *   y = selectiveScan(u, Δ, −exp(A_log), B, C, D_skip)
 *   out = out_proj(y ⊙ silu(Z))           [B, L, H]
 */
import * as F from '../core/index.js';
import { Tensor } from '../core/index.js';
import { selectiveScan, selectiveScanState, selectiveScanStep } from '../scans/selective-scan.js';
import { ConfigError, ConfigReader, specialTokens } from './config.js';
import type { RawConfig, SpecialTokens } from './config.js';
import type { Family } from './family.js';
import { applyLinear, declareLinear, declareRmsNorm } from './layers.js';
import type { Linear } from './layers.js';
import { DecoderLM, MixerSublayer } from './model.js';
import type { CommonConfig, Layer, Mixer } from './model.js';
import { constant, normal, ones, timeStepBiasInit, zeros } from './parameters.js';
import type { Init, ParameterRegistry } from './parameters.js';

/** Typed config; field comments give the config.json key and transformers' default. */
export interface MambaConfig extends CommonConfig {
  /** N, `state_size` (16). */
  stateSize: number;
  /** `expand` (2). */
  expand: number;
  /** D, `intermediate_size` (expand·H). */
  intermediateSize: number;
  /** K, `conv_kernel` (4). */
  convKernel: number;
  /** R, `time_step_rank` ("auto" = ⌈H/16⌉). */
  timeStepRank: number;
  /** Biases of in_proj and out_proj, `use_bias` (false). */
  useBias: boolean;
  /** `use_conv_bias` (true). */
  useConvBias: boolean;
  /** `hidden_act` (silu): the conv activation and the gate. */
  hiddenAct: MambaActivation;
  /** eps of the block and final RMS norms, `layer_norm_epsilon` (1e-5). */
  layerNormEpsilon: number;
  /** `tie_word_embeddings` (true): the head is the embedding matrix. */
  tieWordEmbeddings: boolean;
  /** Std of the normal initialisers, `initializer_range` (0.1). */
  initializerRange: number;
  /** Initialisation of dt_proj: `time_step_scale` (1), `_min` (0.001), `_max` (0.1), `_floor` (1e-4), `_init_scheme` (random). */
  timeStepScale: number;
  timeStepMin: number;
  timeStepMax: number;
  timeStepFloor: number;
  timeStepInitScheme: 'random' | 'constant';
  /** FalconMamba: eps of the weightless RMS norm of δ, B, C, `mixer_rms_eps` (1e-6); null for Mamba. */
  mixerRmsEps: number | null;
  /** `bos_token_id`, `eos_token_id`, `pad_token_id` (0, 0, 0), carried into config.json. */
  specialTokens: SpecialTokens;
}

/** transformers' ACT2FN names that mean SiLU. */
const ACTIVATIONS = ['silu', 'swish'] as const;
type MambaActivation = (typeof ACTIVATIONS)[number];

/**
 * The frozen, data-dependent quantities of one mixer on one input, computed by the same code
 * as the forward (implicit-attention.md §2.1). All [B, L, ·] except the parameters.
 */
export interface MambaInternals {
  /** X, the values v the implicit attention acts on [B, L, D]. */
  x: Tensor;
  /** Z, the gate pre-activation [B, L, D]. */
  z: Tensor;
  /** c = M X + b_conv, the conv output before silu [B, L, D]. */
  convPre: Tensor;
  /** u = silu(c), the scan input [B, L, D]. */
  u: Tensor;
  /** Δ after softplus [B, L, D]. */
  delta: Tensor;
  /** B [B, L, N] (FalconMamba: after its RMS normalisation). */
  B: Tensor;
  /** C [B, L, N] (FalconMamba: after its RMS normalisation). */
  C: Tensor;
  /** A = −exp(A_log) [D, N]. */
  A: Tensor;
  /** D_skip [D]. */
  Dskip: Tensor;
  /** Depthwise conv weight [D, K]; index K−1 multiplies the current token. */
  convWeight: Tensor;
  /** Conv bias [D], or null without `use_conv_bias`. */
  convBias: Tensor | null;
}

/** Recurrent state of one mixer: the last K−1 conv inputs and the scan state. */
export interface MambaState {
  /** X of the previous K−1 tokens [B, K−1, D] (zeros before the sequence). */
  conv: Tensor;
  /** h [B, D, N], float64. */
  ssm: Float64Array;
}

const uniform = (bound: number): Init => ({ kind: 'uniform', lo: -bound, hi: bound });

/** One Mamba / FalconMamba mixer (HF `MambaMixer`) with its parameters under `prefix`. */
export class MambaMixer implements Mixer<MambaState> {
  private readonly inProj: Linear;
  private readonly convWeight: Tensor; // [D, 1, K] as stored
  private readonly convBias: Tensor | null; // [D]
  private readonly xProj: Linear;
  private readonly dtProj: Linear;
  private readonly aLog: Tensor; // [D, N]
  private readonly dSkip: Tensor; // [D]
  private readonly outProj: Linear;

  constructor(
    /** The trace kind: 'mamba' or 'falcon_mamba'. */
    readonly kind: string,
    params: ParameterRegistry,
    prefix: string,
    private readonly config: MambaConfig,
  ) {
    const { hiddenSize: H, intermediateSize: D, stateSize: N, timeStepRank: R, convKernel: K } = config;
    const std = config.initializerRange;
    this.inProj = declareLinear(params, `${prefix}.in_proj`, H, 2 * D, config.useBias, std);
    // PyTorch's Conv1d default (kaiming_uniform, a = √5): U(±1/√fan_in), fan_in = K.
    this.convWeight = params.take(`${prefix}.conv1d.weight`, [D, 1, K], uniform(1 / Math.sqrt(K)));
    this.convBias = params.optional(config.useConvBias, `${prefix}.conv1d.bias`, [D], zeros);
    this.xProj = declareLinear(params, `${prefix}.x_proj`, D, R + 2 * N, false, std);
    const dtStd = R ** -0.5 * config.timeStepScale;
    this.dtProj = {
      weight: params.take(`${prefix}.dt_proj.weight`, [D, R], config.timeStepInitScheme === 'constant' ? constant(dtStd) : uniform(dtStd)),
      bias: params.take(`${prefix}.dt_proj.bias`, [D], timeStepBiasInit(config.intermediateSize, config.timeStepMin, config.timeStepMax, config.timeStepFloor)),
    };
    // S4D-real initialisation: A[d, n] = −(n + 1).
    this.aLog = params.take(`${prefix}.A_log`, [D, N], { kind: 'formula', at: (i) => Math.log((i % N) + 1) });
    this.dSkip = params.take(`${prefix}.D`, [D], ones);
    // Same variance as out_proj's kaiming_uniform in HF's _init_weights, U(±1/√D).
    this.outProj = declareLinear(params, `${prefix}.out_proj`, D, H, config.useBias, 1 / Math.sqrt(3 * D));
  }

  /** The mixer's data-dependent quantities on x [B, L, H]; `forward` is built from exactly these. */
  internals(x: Tensor): MambaInternals {
    const { x: X, z } = this.project(x);
    const convWeight = this.depthwiseConvWeight();
    const convPre = F.causalConv1d(X, convWeight, this.convBias);
    const u = F.silu(convPre);
    const { delta, B, C } = this.select(u);
    return { x: X, z, convPre, u, delta, B, C, A: this.decayRates(), Dskip: this.dSkip, convWeight, convBias: this.convBias };
  }

  /** x [B, L, H] → [B, L, H]: internals, scan, gated output. */
  forward(x: Tensor): Tensor {
    const m = this.internals(x);
    return this.output(selectiveScan(m.u, m.delta, m.A, m.B, m.C, m.Dskip), m.z);
  }

  initialState(batch: number): MambaState {
    const { intermediateSize: D, stateSize: N, convKernel: K } = this.config;
    return {
      conv: Tensor.zeros([batch, K - 1, D], this.aLog.dtype),
      ssm: selectiveScanState(batch, D, N),
    };
  }

  /** One token: x [B, H] → [B, H], advancing `state` (same projections and kernel as `forward`). */
  step(x: Tensor, state: MambaState): Tensor {
    const [batch] = x.shape;
    const { intermediateSize: D, convKernel: K } = this.config;
    const { x: X, z } = this.project(x); // [B, D] each
    const window = F.concat([state.conv, F.reshape(X, [batch, 1, D])], 1); // [B, K, D]
    state.conv = F.slice(window, 1, 1, K);
    const convOut = F.causalConv1d(window, this.depthwiseConvWeight(), this.convBias); // [B, K, D]
    const u = F.silu(F.reshape(F.slice(convOut, 1, K - 1, K), [batch, D])); // [B, D]
    const { delta, B, C } = this.select(u);
    return this.output(selectiveScanStep(u, delta, this.decayRates(), B, C, this.dSkip, state.ssm), z);
  }

  /** in_proj, split into X and Z: [..., H] → [..., D] twice. */
  private project(x: Tensor): { x: Tensor; z: Tensor } {
    const D = this.config.intermediateSize;
    const [X, Z] = F.split(applyLinear(this.inProj, x), [D, D], -1);
    return { x: X, z: Z };
  }

  /** The selection mechanism: u [..., D] → Δ [..., D], B, C [..., N]. */
  private select(u: Tensor): { delta: Tensor; B: Tensor; C: Tensor } {
    const { timeStepRank: R, stateSize: N, mixerRmsEps: eps } = this.config;
    const parts = F.split(applyLinear(this.xProj, u), [R, N, N], -1);
    const [dt, B, C] = eps === null ? parts : parts.map((p) => F.rmsNorm(p, null, eps));
    return { delta: F.softplus(applyLinear(this.dtProj, dt)), B, C };
  }

  /** y [..., D] gated by silu(Z), then out_proj → [..., H]. */
  private output(y: Tensor, z: Tensor): Tensor {
    return this.projectOutput(F.mul(y, F.silu(z)));
  }

  /** The linear map from the pre-output (what the implicit attention reconstructs) to the mixer output: out_proj. */
  projectOutput(preOut: Tensor): Tensor {
    return applyLinear(this.outProj, preOut);
  }

  /** A = −exp(A_log) [D, N]. */
  private decayRates(): Tensor {
    return F.neg(F.exp(this.aLog));
  }

  /** conv1d.weight [D, 1, K] viewed as [D, K]. */
  private depthwiseConvWeight(): Tensor {
    const { intermediateSize: D, convKernel: K } = this.config;
    return F.reshape(this.convWeight, [D, K]);
  }
}

interface Variant {
  modelType: 'mamba' | 'falcon_mamba';
  architecture: string;
  description: string;
  /** Whether δ, B, C are RMS-normalised (FalconMamba). */
  normalizesSelection: boolean;
}

function parseConfig(raw: RawConfig, variant: Variant): MambaConfig {
  const r = new ConfigReader(raw, variant.modelType);
  const hiddenSize = r.size('hidden_size', 768);
  const expand = r.number('expand', 2);
  const rank = raw.time_step_rank;
  if (typeof rank === 'string' && rank !== 'auto') {
    throw new ConfigError(`${variant.modelType} config: 'time_step_rank' should be a positive integer or "auto", got ${JSON.stringify(rank)}`);
  }
  return {
    vocabSize: r.size('vocab_size', 50280),
    hiddenSize,
    numLayers: r.size('num_hidden_layers', 32),
    stateSize: r.size('state_size', 16),
    expand,
    intermediateSize: r.size('intermediate_size', Math.floor(expand * hiddenSize)),
    convKernel: r.size('conv_kernel', 4),
    timeStepRank: rank === undefined || rank === null || rank === 'auto' ? Math.ceil(hiddenSize / 16) : r.size('time_step_rank'),
    useBias: r.boolean('use_bias', false),
    useConvBias: r.boolean('use_conv_bias', true),
    hiddenAct: r.oneOf('hidden_act', ACTIVATIONS, 'silu'),
    layerNormEpsilon: r.number('layer_norm_epsilon', 1e-5),
    tieWordEmbeddings: r.boolean('tie_word_embeddings', true),
    initializerRange: r.number('initializer_range', 0.1),
    timeStepScale: r.number('time_step_scale', 1),
    timeStepMin: r.number('time_step_min', 0.001),
    timeStepMax: r.number('time_step_max', 0.1),
    timeStepFloor: r.number('time_step_floor', 1e-4),
    timeStepInitScheme: r.oneOf('time_step_init_scheme', ['random', 'constant'] as const, 'random'),
    mixerRmsEps: variant.normalizesSelection ? r.number('mixer_rms_eps', 1e-6) : null,
    specialTokens: specialTokens(raw, variant.modelType, { bos_token_id: 0, eos_token_id: 0, pad_token_id: 0 }),
  };
}

function toHfConfig(config: MambaConfig, variant: Variant): RawConfig {
  return {
    architectures: [variant.architecture],
    model_type: variant.modelType,
    vocab_size: config.vocabSize,
    hidden_size: config.hiddenSize,
    num_hidden_layers: config.numLayers,
    state_size: config.stateSize,
    expand: config.expand,
    intermediate_size: config.intermediateSize,
    conv_kernel: config.convKernel,
    time_step_rank: config.timeStepRank,
    use_bias: config.useBias,
    use_conv_bias: config.useConvBias,
    hidden_act: config.hiddenAct,
    layer_norm_epsilon: config.layerNormEpsilon,
    tie_word_embeddings: config.tieWordEmbeddings,
    initializer_range: config.initializerRange,
    time_step_scale: config.timeStepScale,
    time_step_min: config.timeStepMin,
    time_step_max: config.timeStepMax,
    time_step_floor: config.timeStepFloor,
    time_step_init_scheme: config.timeStepInitScheme,
    ...(config.mixerRmsEps === null ? {} : { mixer_rms_eps: config.mixerRmsEps }),
    ...config.specialTokens,
    // transformers' values of keys that do not change the computation (initialisation,
    // kernels, caching); written so the file has every key transformers writes.
    residual_in_fp32: true,
    rescale_prenorm_residual: false,
    use_associative_scan: true,
    use_mambapy: false,
    use_cache: true,
  };
}

function build(config: MambaConfig, params: ParameterRegistry, variant: Variant): DecoderLM {
  const { vocabSize: V, hiddenSize: H, layerNormEpsilon: eps } = config;
  const embedding = params.take('backbone.embeddings.weight', [V, H], normal(config.initializerRange));
  const layers: Layer[] = [];
  for (let i = 0; i < config.numLayers; i++) {
    const prefix = `backbone.layers.${i}`;
    const norm = declareRmsNorm(params, `${prefix}.norm`, H, eps);
    layers.push({ sublayers: [new MixerSublayer(norm, new MambaMixer(variant.modelType, params, `${prefix}.mixer`, config))] });
  }
  const finalNorm = declareRmsNorm(params, 'backbone.norm_f', H, eps);
  const head = config.tieWordEmbeddings ? embedding : params.take('lm_head.weight', [V, H], normal(config.initializerRange));
  return new DecoderLM(variant.modelType, config, toHfConfig(config, variant), params.tensors, {
    embedding,
    layers,
    finalNorm,
    head,
    hiddenStates: 'layer-outputs',
  });
}

function mambaVariant(variant: Variant): Family<MambaConfig> {
  return {
    modelType: variant.modelType,
    description: variant.description,
    parseConfig: (raw) => parseConfig(raw, variant),
    build: (config, params) => build(config, params, variant),
    toHfConfig: (config) => toHfConfig(config, variant),
  };
}

export const mambaFamily = mambaVariant({
  modelType: 'mamba',
  architecture: 'MambaForCausalLM',
  description: 'Mamba (selective state space, S6) language model, e.g. state-spaces/mamba-130m-hf',
  normalizesSelection: false,
});

export const falconMambaFamily = mambaVariant({
  modelType: 'falcon_mamba',
  architecture: 'FalconMambaForCausalLM',
  description: 'FalconMamba: Mamba with RMS-normalised δ, B, C, e.g. tiiuae/falcon-mamba-7b',
  normalizesSelection: true,
});
