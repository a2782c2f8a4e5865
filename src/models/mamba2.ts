/**
 * Mamba-2 (`model_type: mamba2`, HF `Mamba2ForCausalLM`; Dao & Gu 2024, state-space duality).
 * Semantics: spec models.md §Mamba2 and implicit-attention.md §2.2, as transformers 5.17's
 * `Mamba2Mixer` torch path computes them.
 *
 * Mixer on x [B, L, H] (after the block's RMS pre-norm); D = expand·H = Hd·P channels in Hd
 * heads of P, G = n_groups, N = state_size, K = conv_kernel, C = D + 2GN conv channels:
 *   [z | xBC | dt] = in_proj(x)                        [B, L, D], [B, L, C], [B, L, Hd]
 *   [u | B | C] = silu(M xBC + b_conv)                 depthwise causal conv; [B, L, D], [B, L, G·N] twice
 *   Δ = clamp(softplus(dt + dt_bias), time_step_limit) [B, L, Hd]
 *   y = ssd(u, Δ, −exp(A_log), B, C, D_skip)           [B, L, D]; head h reads group ⌊h/(Hd/G)⌋
 *   out = out_proj(w ⊙ (y ⊙ silu z) / rms(y ⊙ silu z)) gated RMS norm over the full width D
 * (HF 5.17 normalises over all D channels even when n_groups > 1; mamba_ssm does it per group).
 */
import * as F from '../core/index.js';
import { Tensor } from '../core/index.js';
import { DEFAULT_CHUNK_SIZE, ssd, ssdStep } from '../scans/ssd.js';
import { ConfigError, ConfigReader } from './config.js';
import type { RawConfig } from './config.js';
import type { Family } from './family.js';
import { applyLinear, declareLinear, declareRmsNorm } from './layers.js';
import type { Linear } from './layers.js';
import { DecoderLM, MixerSublayer } from './model.js';
import type { CommonConfig, Layer, Mixer } from './model.js';
import { normal, ones, timeStepBiasInit } from './parameters.js';
import type { ParameterRegistry } from './parameters.js';

/** Typed config; field comments give the config.json key and transformers' default. */
export interface Mamba2Config extends CommonConfig {
  /** `expand` (2); D = ⌊expand·hidden_size⌋ must equal num_heads·head_dim. */
  expand: number;
  /** D, the mixer width (derived). */
  intermediateSize: number;
  /** N, `state_size` (128). */
  stateSize: number;
  /** G, `n_groups` (8): heads share B and C within a group. */
  nGroups: number;
  /** Hd, `num_heads` (128). */
  numHeads: number;
  /** P, `head_dim` (64). */
  headDim: number;
  /** K, `conv_kernel` (4). */
  convKernel: number;
  /** Q, `chunk_size` (256): the SSD chunk length. */
  chunkSize: number;
  /** Biases of in_proj and out_proj, `use_bias` (false). */
  useBias: boolean;
  /** `use_conv_bias` (true). */
  useConvBias: boolean;
  /** `hidden_act` (silu): the conv activation. */
  hiddenAct: Mamba2Activation;
  /** [lo, hi] clamp of Δ, `time_step_limit` ([0, ∞]). */
  timeStepLimit: [number, number];
  /** Initialisation range of Δ: `time_step_min` (0.001), `time_step_max` (0.1), `time_step_floor` (1e-4). */
  timeStepMin: number;
  timeStepMax: number;
  timeStepFloor: number;
  /** `rms_norm` (true). Kept for config.json only: HF 5.17 applies the gated norm either way. */
  rmsNorm: boolean;
  /** eps of the block, final and gated RMS norms, `layer_norm_epsilon` (1e-5). */
  layerNormEpsilon: number;
  /** `residual_in_fp32` (true). No effect here: the stream is never narrower than float32. */
  residualInFp32: boolean;
  /** `tie_word_embeddings` (false): the head is the embedding matrix. */
  tieWordEmbeddings: boolean;
  /** Std of the normal initialisers, `initializer_range` (0.1). */
  initializerRange: number;
  /** Special token ids, `bos_token_id` (0), `eos_token_id` (2), `pad_token_id` (1). */
  bosTokenId: number;
  eosTokenId: number;
  padTokenId: number;
  /** `time_step_rank` ("auto" = ⌈H/16⌉): stored by transformers, unused by the Mamba-2 mixer. */
  timeStepRank: number;
}

/** transformers' ACT2FN names that mean SiLU. */
const ACTIVATIONS = ['silu', 'swish'] as const;
type Mamba2Activation = (typeof ACTIVATIONS)[number];

/**
 * The frozen, data-dependent quantities of one mixer on one input, computed by the same code
 * as the forward (implicit-attention.md §2.2). With them, pre_out = normGain ⊙ y and
 * y^c = Σ_s core^{h(c)}[t, s] u_s^c + Dskip[h(c)] u_t^c, u = silu(M x + b_conv).
 */
export interface Mamba2Internals {
  /** The value channels of xBC before the conv, what H acts on [B, L, D]. */
  x: Tensor;
  /** The gate pre-activation [B, L, D]. */
  z: Tensor;
  /** Conv output of the value channels before silu [B, L, D]. */
  convPre: Tensor;
  /** u = silu(convPre), the scan input [B, L, D]. */
  u: Tensor;
  /** B and C after conv and silu [B, L, G, N]. */
  B: Tensor;
  C: Tensor;
  /** Δ after softplus and clamp [B, L, Hd]. */
  dt: Tensor;
  /** A = −exp(A_log) [Hd]. */
  A: Tensor;
  /** D_skip [Hd]. */
  Dskip: Tensor;
  /** SSD output including the D skip, before the gated norm [B, L, D]. */
  y: Tensor;
  /** g_t^c = w^c · silu(z_t^c) / rms_t(y ⊙ silu z), so pre_out = g ⊙ y [B, L, D]. */
  normGain: Tensor;
  /** Depthwise conv weight of the value channels [D, K]; index K−1 multiplies the current token. */
  convWeight: Tensor;
  /** Conv bias of the value channels [D], or null without `use_conv_bias`. */
  convBias: Tensor | null;
  /** P, channels per head: channel c belongs to head ⌊c/P⌋. */
  headDim: number;
  /** G: head h reads B, C of group ⌊h/(Hd/G)⌋. */
  nGroups: number;
}

/** Recurrent state of one mixer: the last K−1 conv inputs and the SSD state. */
export interface Mamba2State {
  /** xBC of the previous K−1 tokens [B, K−1, C] (zeros before the sequence). */
  conv: Tensor;
  /** S [B, Hd, P, N], updated in place. */
  ssm: Tensor;
}

/** Everything the scan reads, from the projection and the conv. */
interface ScanInputs {
  convPre: Tensor; // [..., D]
  u: Tensor; // [..., D]
  B: Tensor; // [..., G·N]
  C: Tensor; // [..., G·N]
  dt: Tensor; // [..., Hd]
  A: Tensor; // [Hd]
}

/** One Mamba-2 mixer (HF `Mamba2Mixer`) with its parameters under `prefix`. */
export class Mamba2Mixer implements Mixer<Mamba2State> {
  readonly kind = 'mamba2';
  private readonly inProj: Linear;
  private readonly convWeight: Tensor; // [C, 1, K] as stored
  private readonly convBias: Tensor | null; // [C]
  private readonly dtBias: Tensor; // [Hd]
  private readonly aLog: Tensor; // [Hd]
  private readonly dSkip: Tensor; // [Hd]
  private readonly normWeight: Tensor; // [D]
  private readonly outProj: Linear;

  constructor(
    params: ParameterRegistry,
    prefix: string,
    private readonly config: Mamba2Config,
  ) {
    const { hiddenSize: H, intermediateSize: D, numHeads: Hd, convKernel: K } = config;
    const std = config.initializerRange;
    const C = this.convChannels;
    this.inProj = declareLinear(params, `${prefix}.in_proj`, H, D + C + Hd, config.useBias, std);
    // PyTorch's Conv1d default (kaiming_uniform, a = √5): U(±1/√fan_in), fan_in = K.
    const bound = 1 / Math.sqrt(K);
    this.convWeight = params.take(`${prefix}.conv1d.weight`, [C, 1, K], { kind: 'uniform', lo: -bound, hi: bound });
    this.convBias = params.optional(config.useConvBias, `${prefix}.conv1d.bias`, [C], { kind: 'uniform', lo: -bound, hi: bound });
    this.dtBias = params.take(`${prefix}.dt_bias`, [Hd], timeStepBiasInit(config.numHeads, config.timeStepMin, config.timeStepMax, config.timeStepFloor));
    // A_h = −(h + 1), as HF's _init_weights.
    this.aLog = params.take(`${prefix}.A_log`, [Hd], { kind: 'formula', at: (h) => Math.log(h + 1) });
    this.dSkip = params.take(`${prefix}.D`, [Hd], ones);
    this.normWeight = params.take(`${prefix}.norm.weight`, [D], ones);
    this.outProj = declareLinear(params, `${prefix}.out_proj`, D, H, config.useBias, std);
  }

  /** C = D + 2·G·N, the conv's channels (values, B, C). */
  private get convChannels(): number {
    const { intermediateSize: D, nGroups: G, stateSize: N } = this.config;
    return D + 2 * G * N;
  }

  /** The mixer's data-dependent quantities on x [B, L, H] (no graph); `forward` runs the same steps. */
  internals(x: Tensor): Mamba2Internals {
    return F.noGrad(() => {
      const { intermediateSize: D, headDim, nGroups, layerNormEpsilon: eps } = this.config;
      const { xBC, z, scan } = this.prepare(x);
      const y = this.scan(scan);
      // g = w ⊙ silu(z) / sqrt(mean((y ⊙ silu z)²) + eps), the gated norm as a diagonal.
      const gate = F.silu(z);
      const invRms = F.rsqrt(F.affine(F.mean(F.square(F.mul(y, gate)), -1, true), 1, eps)); // [B, L, 1]
      const convWeight = F.slice(this.depthwiseConvWeight(), 0, 0, D);
      return {
        x: F.slice(xBC, -1, 0, D),
        z,
        convPre: scan.convPre,
        u: scan.u,
        B: this.grouped(scan.B),
        C: this.grouped(scan.C),
        dt: scan.dt,
        A: scan.A,
        Dskip: this.dSkip,
        y,
        normGain: F.mul(F.mul(gate, invRms), this.normWeight),
        convWeight,
        convBias: this.convBias === null ? null : F.slice(this.convBias, 0, 0, D),
        headDim,
        nGroups,
      };
    });
  }

  /** x [B, L, H] → [B, L, H]: projection, conv, scan, gated norm, out_proj. */
  forward(x: Tensor): Tensor {
    const { z, scan } = this.prepare(x);
    return this.output(this.scan(scan), z);
  }

  initialState(batch: number): Mamba2State {
    const { numHeads: Hd, headDim: P, stateSize: N, convKernel: K } = this.config;
    const dtype = this.aLog.dtype;
    return { conv: Tensor.zeros([batch, K - 1, this.convChannels], dtype), ssm: Tensor.zeros([batch, Hd, P, N], dtype) };
  }

  /** One token: x [B, H] → [B, H], advancing `state` (same projection, activations and norm as `forward`). */
  step(x: Tensor, state: Mamba2State): Tensor {
    const [batch] = x.shape;
    const { numHeads: Hd, headDim: P, nGroups: G, stateSize: N, convKernel: K } = this.config;
    const C = this.convChannels;
    const { xBC, dtRaw, z } = this.project(x); // [B, C], [B, Hd], [B, D]
    const window = F.concat([state.conv, F.reshape(xBC, [batch, 1, C])], 1); // [B, K, C]
    state.conv = F.slice(window, 1, 1, K);
    const convOut = F.slice(F.causalConv1d(window, this.depthwiseConvWeight(), this.convBias), 1, K - 1, K); // [B, 1, C]
    const s = this.activate(F.reshape(convOut, [batch, C]), dtRaw);
    const y = ssdStep(
      F.reshape(s.u, [batch, Hd, P]),
      s.dt,
      s.A,
      F.reshape(s.B, [batch, G, N]),
      F.reshape(s.C, [batch, G, N]),
      this.dSkip,
      state.ssm,
    ); // [B, Hd, P]
    return this.output(F.reshape(y, [batch, Hd * P]), z);
  }

  /** in_proj, split into z [..., D], xBC [..., C], dt [..., Hd] (d_mlp = 0, as HF's in_proj size). */
  private project(x: Tensor): { z: Tensor; xBC: Tensor; dtRaw: Tensor } {
    const [z, xBC, dtRaw] = F.split(applyLinear(this.inProj, x), [this.config.intermediateSize, this.convChannels, this.config.numHeads], -1);
    return { z, xBC, dtRaw };
  }

  /** Everything before the scan on x [B, L, H]: in_proj, depthwise causal conv of xBC, activations. */
  private prepare(x: Tensor): { xBC: Tensor; z: Tensor; scan: ScanInputs } {
    const { xBC, dtRaw, z } = this.project(x);
    const convOut = F.causalConv1d(xBC, this.depthwiseConvWeight(), this.convBias); // [B, L, C]
    return { xBC, z, scan: this.activate(convOut, dtRaw) };
  }

  /** Conv output [..., C] and raw dt [..., Hd] → the scan's inputs. */
  private activate(convOut: Tensor, dtRaw: Tensor): ScanInputs {
    const { intermediateSize: D, nGroups: G, stateSize: N, timeStepLimit: [lo, hi] } = this.config;
    const [convPre, bPre, cPre] = F.split(convOut, [D, G * N, G * N], -1);
    return {
      convPre,
      u: F.silu(convPre),
      B: F.silu(bPre),
      C: F.silu(cPre),
      dt: F.clamp(F.softplus(F.add(dtRaw, this.dtBias)), lo, hi),
      A: F.neg(F.exp(this.aLog)),
    };
  }

  /** The chunked SSD scan over a whole sequence: y [B, L, D]. */
  private scan(s: ScanInputs): Tensor {
    const { intermediateSize: D, numHeads: Hd, headDim: P, chunkSize } = this.config;
    const [batch, length] = s.u.shape;
    const u = F.reshape(s.u, [batch, length, Hd, P]);
    return F.reshape(ssd(u, s.dt, s.A, this.grouped(s.B), this.grouped(s.C), this.dSkip, chunkSize), [batch, length, D]);
  }

  /** [B, L, G·N] viewed as [B, L, G, N]. */
  private grouped(t: Tensor): Tensor {
    const { nGroups: G, stateSize: N } = this.config;
    return F.reshape(t, [...t.shape.slice(0, -1), G, N]);
  }

  /** Gated RMS norm w ⊙ (y ⊙ silu z) / rms over the full width D, then out_proj → [..., H]. */
  private output(y: Tensor, z: Tensor): Tensor {
    return this.projectOutput(F.rmsNorm(F.mul(y, F.silu(z)), this.normWeight, this.config.layerNormEpsilon));
  }

  /** The linear map from the pre-output (what the implicit attention reconstructs) to the mixer output: out_proj. */
  projectOutput(preOut: Tensor): Tensor {
    return applyLinear(this.outProj, preOut);
  }

  /** conv1d.weight [C, 1, K] viewed as [C, K]. */
  private depthwiseConvWeight(): Tensor {
    return F.reshape(this.convWeight, [this.convChannels, this.config.convKernel]);
  }
}

function parseConfig(raw: RawConfig): Mamba2Config {
  const r = new ConfigReader(raw, 'mamba2');
  const hiddenSize = r.size('hidden_size', 4096);
  const expand = r.number('expand', 2);
  const intermediateSize = Math.floor(expand * hiddenSize);
  const numHeads = r.size('num_heads', 128);
  const headDim = r.size('head_dim', 64);
  const nGroups = r.size('n_groups', 8);
  if (numHeads * headDim !== intermediateSize) {
    throw new ConfigError(`mamba2 config: num_heads·head_dim = ${numHeads}·${headDim} should equal expand·hidden_size = ${intermediateSize}`);
  }
  if (numHeads % nGroups !== 0) throw new ConfigError(`mamba2 config: num_heads = ${numHeads} is not a multiple of n_groups = ${nGroups}`);
  const limit = r.numberArray('time_step_limit', [0, Infinity]);
  if (limit.length !== 2 || !(limit[0] <= limit[1])) {
    throw new ConfigError(`mamba2 config: 'time_step_limit' should be [lo, hi] with lo ≤ hi, got ${JSON.stringify(raw.time_step_limit)}`);
  }
  return {
    vocabSize: r.size('vocab_size', 32768),
    hiddenSize,
    numLayers: r.size('num_hidden_layers', 64),
    expand,
    intermediateSize,
    stateSize: r.size('state_size', 128),
    nGroups,
    numHeads,
    headDim,
    convKernel: r.size('conv_kernel', 4),
    chunkSize: r.size('chunk_size', DEFAULT_CHUNK_SIZE),
    useBias: r.boolean('use_bias', false),
    useConvBias: r.boolean('use_conv_bias', true),
    hiddenAct: r.oneOf('hidden_act', ACTIVATIONS, 'silu'),
    timeStepLimit: [limit[0], limit[1]],
    timeStepMin: r.number('time_step_min', 0.001),
    timeStepMax: r.number('time_step_max', 0.1),
    timeStepFloor: r.number('time_step_floor', 1e-4),
    rmsNorm: r.boolean('rms_norm', true),
    layerNormEpsilon: r.number('layer_norm_epsilon', 1e-5),
    residualInFp32: r.boolean('residual_in_fp32', true),
    tieWordEmbeddings: r.boolean('tie_word_embeddings', false),
    initializerRange: r.number('initializer_range', 0.1),
    bosTokenId: r.number('bos_token_id', 0),
    eosTokenId: r.number('eos_token_id', 2),
    padTokenId: r.number('pad_token_id', 1),
    timeStepRank: raw.time_step_rank === undefined || raw.time_step_rank === null || raw.time_step_rank === 'auto' ? Math.ceil(hiddenSize / 16) : r.size('time_step_rank'),
  };
}

function toHfConfig(config: Mamba2Config): RawConfig {
  return {
    architectures: ['Mamba2ForCausalLM'],
    model_type: 'mamba2',
    vocab_size: config.vocabSize,
    hidden_size: config.hiddenSize,
    num_hidden_layers: config.numLayers,
    expand: config.expand,
    state_size: config.stateSize,
    n_groups: config.nGroups,
    num_heads: config.numHeads,
    head_dim: config.headDim,
    conv_kernel: config.convKernel,
    chunk_size: config.chunkSize,
    use_bias: config.useBias,
    use_conv_bias: config.useConvBias,
    hidden_act: config.hiddenAct,
    time_step_limit: [...config.timeStepLimit],
    time_step_min: config.timeStepMin,
    time_step_max: config.timeStepMax,
    time_step_floor: config.timeStepFloor,
    rms_norm: config.rmsNorm,
    layer_norm_epsilon: config.layerNormEpsilon,
    residual_in_fp32: config.residualInFp32,
    tie_word_embeddings: config.tieWordEmbeddings,
    initializer_range: config.initializerRange,
    bos_token_id: config.bosTokenId,
    eos_token_id: config.eosTokenId,
    pad_token_id: config.padTokenId,
    time_step_rank: config.timeStepRank,
    // transformers' values of keys that do not change the computation.
    rescale_prenorm_residual: false,
    use_cache: true,
  };
}

function build(config: Mamba2Config, params: ParameterRegistry): DecoderLM {
  const { vocabSize: V, hiddenSize: H, layerNormEpsilon: eps } = config;
  const embedding = params.take('backbone.embeddings.weight', [V, H], normal(config.initializerRange));
  const layers: Layer[] = [];
  for (let i = 0; i < config.numLayers; i++) {
    const prefix = `backbone.layers.${i}`;
    const norm = declareRmsNorm(params, `${prefix}.norm`, H, eps);
    layers.push({ sublayers: [new MixerSublayer(norm, new Mamba2Mixer(params, `${prefix}.mixer`, config))] });
  }
  const finalNorm = declareRmsNorm(params, 'backbone.norm_f', H, eps);
  const head = config.tieWordEmbeddings ? embedding : params.take('lm_head.weight', [V, H], normal(config.initializerRange));
  return new DecoderLM('mamba2', config, toHfConfig(config), params.tensors, {
    embedding,
    layers,
    finalNorm,
    head,
    hiddenStates: 'layer-outputs',
  });
}

export const mamba2Family: Family<Mamba2Config> = {
  modelType: 'mamba2',
  description: 'Mamba-2 (state-space duality, SSD) language model, e.g. Mamba2 HF ports of mamba-codestral',
  parseConfig,
  build,
  toHfConfig,
};
