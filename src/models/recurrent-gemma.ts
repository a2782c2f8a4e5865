/**
 * RecurrentGemma / Griffin (`model_type: recurrent_gemma`, HF `RecurrentGemmaForCausalLM`;
 * De et al. 2024). Semantics: spec models.md §RecurrentGemma, implicit-attention.md §2.4.
 *
 * Layer i (kind cycling through `block_types`):
 *   h ← h + temporal(temporal_pre_norm h)     RG-LRU recurrent block or local attention
 *   h ← h + mlp(channel_pre_norm h)           down(gelu_tanh(gate x) ⊙ up x), width I/2
 * Gemma RMS norms (1 + w), embedding × bf16(√H), tied head (unless `tie_word_embeddings` is
 * false), logits c·tanh(logits / c).
 *
 * Recurrent block on x [B, L, H] (after the pre-norm), W = lru_width, K = conv1d_width,
 * nh = num_attention_heads gate blocks of width W/nh:
 *   g = gelu_tanh(linear_y x),  X = linear_x x,  c = M X + b_conv      [B, L, W]
 *   i = σ(blockdiag(W_i) c + b_i),  r = σ(blockdiag(W_a) c + b_a)      [B, L, W]
 *   log a = −8 r ⊙ softplus(Λ),  h = rglru(log a, i ⊙ c)               (scans/rglru.ts)
 *   y = linear_out(g ⊙ h)                                               [B, L, H]
 */
import * as F from '../core/index.js';
import { Tensor } from '../core/index.js';
import { bf16ToNumber, numberToBf16 } from '../io/half.js';
import { rglru, rglruCoefficients, rglruInitialState, rglruStep } from '../scans/rglru.js';
import type { RgLruState } from '../scans/rglru.js';
import { ConfigError, ConfigReader, specialTokens } from './config.js';
import type { RawConfig, SpecialTokens } from './config.js';
import type { Family } from './family.js';
import { applyLinear, declareGatedMlp, declareGemmaRmsNorm, declareLinear } from './layers.js';
import type { Linear } from './layers.js';
import { LocalAttention } from './local-attention.js';
import { DecoderLM, MixerSublayer } from './model.js';
import type { CommonConfig, Layer, Mixer } from './model.js';
import { normal, zeros } from './parameters.js';
import type { Init, ParameterRegistry } from './parameters.js';

const BLOCK_TYPES = ['recurrent', 'attention'] as const;
type BlockType = (typeof BLOCK_TYPES)[number];

/** Typed config; field comments give the config.json key and transformers' default. */
export interface RecurrentGemmaConfig extends CommonConfig {
  /** `intermediate_size` (3·H); the MLP is half as wide. */
  intermediateSize: number;
  /** `num_attention_heads` (10): attention heads and RG-LRU gate blocks. */
  numHeads: number;
  /** `num_key_value_heads` (num_attention_heads). */
  numKvHeads: number;
  /** H / num_attention_heads. */
  headDim: number;
  /** W, `lru_width` (H). */
  lruWidth: number;
  /** `attention_window_size` (2048). */
  attentionWindow: number;
  /** K, `conv1d_width` (4). */
  convWidth: number;
  /** `logits_soft_cap` (30). */
  logitSoftCap: number;
  /** `rms_norm_eps` (1e-6). */
  rmsNormEps: number;
  /** `partial_rotary_factor` (0.5), also read from `rope_parameters`. */
  partialRotaryFactor: number;
  /** `rope_parameters.rope_theta` or `rope_theta` (10000). */
  ropeTheta: number;
  /** `block_types` (recurrent, recurrent, attention), cycled over the layers. */
  blockTypes: BlockType[];
  /** `attention_bias` (false): biases of q/k/v_proj. */
  attentionBias: boolean;
  /** `hidden_activation` (gelu_pytorch_tanh). */
  hiddenActivation: 'gelu_pytorch_tanh';
  /** `tie_word_embeddings` (true): the head is the embedding matrix (google/recurrentgemma-* are tied). */
  tieWordEmbeddings: boolean;
  /** Initialisation variances: `w_init_variance_scale` (0.01), `final_w_init_variance_scale` (2 / layers). */
  wInitVarianceScale: number;
  finalWInitVarianceScale: number;
  /** `bos_token_id`, `eos_token_id`, `pad_token_id` (2, 1, 0), carried into config.json. */
  specialTokens: SpecialTokens;
}

/**
 * The frozen, data-dependent quantities of one recurrent block on one input, computed by the
 * same code as the forward (implicit-attention.md §2.4). All [B, L, W] unless noted; a and m
 * carry no gradient.
 */
export interface RgLruInternals {
  /** X = linear_x x, the values v [B, L, W]. */
  x: Tensor;
  /** c = M X + b_conv [B, L, W]. */
  convPre: Tensor;
  /** g = gelu_tanh(linear_y x), the output gate [B, L, W]. */
  gate: Tensor;
  /** i, the input gate [B, L, W]. */
  inputGate: Tensor;
  /** log a = −8 r softplus(Λ) [B, L, W]; position 0 is unused (reset). */
  logA: Tensor;
  /** a [B, L, W] with a_0 = 0 (reset). */
  a: Tensor;
  /** m = sqrt(1 − a²) [B, L, W] with m_0 = 1. */
  m: Tensor;
  /** h, the scan output [B, L, W]. */
  h: Tensor;
  /** Depthwise conv weight [W, K]; index K−1 multiplies the current token. */
  convWeight: Tensor;
  /** Conv bias [W]. */
  convBias: Tensor;
}

/** Recurrent state of one recurrent block: the last K−1 conv inputs and the scan state. */
export interface RecurrentBlockState {
  /** X of the previous K−1 tokens [B, K−1, W] (zeros before the sequence). */
  conv: Tensor;
  scan: RgLruState;
}

/**
 * recurrent_param Λ with softplus(Λ) = −log a₀, a₀ log-spaced over [0.9, 0.999] across
 * channels, so a = a₀^{8r}: the deterministic counterpart of HF's random draw of a₀².
 * softplus⁻¹(y) = log(expm1(y)).
 */
function recurrentParamInit(width: number): Init {
  const [lo, hi] = [Math.log(0.9), Math.log(0.999)];
  return { kind: 'formula', at: (w) => Math.log(Math.expm1(-(lo + ((w + 0.5) / width) * (hi - lo)))) };
}

/** Griffin's recurrent block (HF `RecurrentGemmaRecurrentBlock`) with its parameters under `prefix`. */
export class RecurrentBlock {
  readonly kind = 'rglru';
  private readonly linearX: Linear;
  private readonly linearY: Linear;
  private readonly linearOut: Linear;
  private readonly convWeight: Tensor; // [W, 1, K] as stored
  private readonly convBias: Tensor; // [W]
  private readonly recurrentParam: Tensor; // Λ [W]
  private readonly inputGateWeight: Tensor; // [nh, W/nh, W/nh]
  private readonly inputGateBias: Tensor; // [nh, W/nh]
  private readonly recurrentGateWeight: Tensor;
  private readonly recurrentGateBias: Tensor;

  constructor(
    params: ParameterRegistry,
    prefix: string,
    private readonly config: RecurrentGemmaConfig,
  ) {
    const { hiddenSize: H, lruWidth: W, convWidth: K, numHeads: nh, wInitVarianceScale: scale } = config;
    const bw = W / nh;
    this.linearY = declareLinear(params, `${prefix}.linear_y`, H, W, true, Math.sqrt(1 / H));
    this.linearX = declareLinear(params, `${prefix}.linear_x`, H, W, true, Math.sqrt(1 / H));
    this.linearOut = declareLinear(params, `${prefix}.linear_out`, W, H, true, Math.sqrt(config.finalWInitVarianceScale / W));
    this.convWeight = params.take(`${prefix}.conv_1d.weight`, [W, 1, K], normal(Math.sqrt(scale / K)));
    this.convBias = params.take(`${prefix}.conv_1d.bias`, [W], zeros);
    const lru = `${prefix}.rg_lru`;
    this.recurrentParam = params.take(`${lru}.recurrent_param`, [W], recurrentParamInit(W));
    this.inputGateWeight = params.take(`${lru}.input_gate_weight`, [nh, bw, bw], normal(Math.sqrt(scale / bw)));
    this.inputGateBias = params.take(`${lru}.input_gate_bias`, [nh, bw], zeros);
    this.recurrentGateWeight = params.take(`${lru}.recurrent_gate_weight`, [nh, bw, bw], normal(Math.sqrt(scale / bw)));
    this.recurrentGateBias = params.take(`${lru}.recurrent_gate_bias`, [nh, bw], zeros);
  }

  /** The block's data-dependent quantities on x [B, L, H], from the same steps as `forward`. */
  internals(x: Tensor): RgLruInternals {
    const inputs = this.scanInputs(x);
    const { a, m } = rglruCoefficients(inputs.logA);
    return { ...inputs, a, m, h: this.scan(inputs), convBias: this.convBias };
  }

  /** x [B, L, H] → [B, L, H]: scan inputs, scan, gated output. */
  forward(x: Tensor): Tensor {
    const inputs = this.scanInputs(x);
    return this.output(this.scan(inputs), inputs.gate);
  }

  /** The linear map from the pre-output g ⊙ h [..., W] (what the implicit attention reconstructs) to the block output [..., H]: linear_out. */
  projectOutput(preOut: Tensor): Tensor {
    return applyLinear(this.linearOut, preOut);
  }

  initialState(batch: number): RecurrentBlockState {
    const { lruWidth: W, convWidth: K } = this.config;
    const dtype = this.convBias.dtype;
    return { conv: Tensor.zeros([batch, K - 1, W], dtype), scan: rglruInitialState(batch, W, dtype) };
  }

  /** One token: x [B, H] → [B, H], advancing `state` (same projections and gates as `forward`). */
  step(x: Tensor, state: RecurrentBlockState): Tensor {
    const [batch] = x.shape;
    const { lruWidth: W, convWidth: K } = this.config;
    const { gate, x: X } = this.project(x); // [B, W] each
    const window = F.concat([state.conv, F.reshape(X, [batch, 1, W])], 1); // [B, K, W]
    state.conv = F.slice(window, 1, 1, K);
    const convOut = F.causalConv1d(window, this.depthwiseConvWeight(), this.convBias); // [B, K, W]
    const convPre = F.reshape(F.slice(convOut, 1, K - 1, K), [batch, W]);
    const { inputGate, logA } = this.gates(convPre);
    return this.output(rglruStep(logA, F.mul(inputGate, convPre), state.scan), gate);
  }

  /** Everything the scan and the output gate read, on x [B, L, H]. */
  private scanInputs(x: Tensor) {
    const { gate, x: X } = this.project(x);
    const convWeight = this.depthwiseConvWeight();
    const convPre = F.causalConv1d(X, convWeight, this.convBias);
    return { x: X, convPre, gate, ...this.gates(convPre), convWeight };
  }

  /** h = rglru(log a, i ⊙ c) [B, L, W]. */
  private scan(p: { logA: Tensor; inputGate: Tensor; convPre: Tensor }): Tensor {
    return rglru(p.logA, F.mul(p.inputGate, p.convPre));
  }

  /** x [..., H] → output gate g and values X [..., W]. */
  private project(x: Tensor): { gate: Tensor; x: Tensor } {
    return { gate: F.geluTanh(applyLinear(this.linearY, x)), x: applyLinear(this.linearX, x) };
  }

  /** c [..., W] → input gate i and log-decay −8 r softplus(Λ) [..., W]. */
  private gates(c: Tensor): { inputGate: Tensor; logA: Tensor } {
    const { lruWidth: W, numHeads: nh } = this.config;
    const bw = W / nh;
    const rows = c.size / W;
    const blocks = F.permute(F.reshape(c, [rows, nh, bw]), [1, 0, 2]); // [nh, rows, bw]
    // σ(c_blk · W_blk + b_blk) per block (HF's baddbmm), back to [..., W].
    const blockGate = (weight: Tensor, bias: Tensor) =>
      F.sigmoid(F.reshape(F.permute(F.add(F.matmul(blocks, weight), F.reshape(bias, [nh, 1, bw])), [1, 0, 2]), c.shape));
    const inputGate = blockGate(this.inputGateWeight, this.inputGateBias);
    const recurrentGate = blockGate(this.recurrentGateWeight, this.recurrentGateBias);
    return { inputGate, logA: F.scale(F.mul(recurrentGate, F.softplus(this.recurrentParam)), -8) };
  }

  /** h [..., W] gated by g, then linear_out → [..., H]. */
  private output(h: Tensor, gate: Tensor): Tensor {
    return this.projectOutput(F.mul(gate, h));
  }

  /** conv_1d.weight [W, 1, K] viewed as [W, K]. */
  private depthwiseConvWeight(): Tensor {
    const { lruWidth: W, convWidth: K } = this.config;
    return F.reshape(this.convWeight, [W, K]);
  }
}

/** The channel-mixing MLP as a stateless mixer. */
function mlpMixer(mlp: (x: Tensor) => Tensor): Mixer<null> {
  return { kind: 'mlp', forward: mlp, initialState: () => null, step: (x) => mlp(x) };
}

function parseConfig(raw: RawConfig): RecurrentGemmaConfig {
  const r = new ConfigReader(raw, 'recurrent_gemma');
  const rope = raw.rope_parameters;
  if (rope !== undefined && rope !== null && (typeof rope !== 'object' || Array.isArray(rope))) {
    throw new ConfigError(`recurrent_gemma config: 'rope_parameters' should be an object, got ${JSON.stringify(rope)}`);
  }
  const ropeReader = new ConfigReader((rope ?? {}) as RawConfig, 'recurrent_gemma rope_parameters');
  ropeReader.oneOf('rope_type', ['default'] as const, 'default');
  const hiddenSize = r.size('hidden_size', 2560);
  const numLayers = r.size('num_hidden_layers', 26);
  const numHeads = r.size('num_attention_heads', 10);
  const config: RecurrentGemmaConfig = {
    vocabSize: r.size('vocab_size', 256000),
    hiddenSize,
    numLayers,
    intermediateSize: r.size('intermediate_size', 3 * hiddenSize),
    numHeads,
    numKvHeads: r.size('num_key_value_heads', numHeads),
    headDim: hiddenSize / numHeads,
    lruWidth: r.size('lru_width', hiddenSize),
    attentionWindow: r.size('attention_window_size', 2048),
    convWidth: r.size('conv1d_width', 4),
    logitSoftCap: r.number('logits_soft_cap', 30),
    rmsNormEps: r.number('rms_norm_eps', 1e-6),
    partialRotaryFactor: ropeReader.number('partial_rotary_factor', r.number('partial_rotary_factor', 0.5)),
    ropeTheta: ropeReader.number('rope_theta', r.number('rope_theta', 10000)),
    blockTypes: r.stringArray('block_types', ['recurrent', 'recurrent', 'attention']) as BlockType[],
    attentionBias: r.boolean('attention_bias', false),
    hiddenActivation: r.oneOf('hidden_activation', ['gelu_pytorch_tanh'] as const, 'gelu_pytorch_tanh'),
    tieWordEmbeddings: r.boolean('tie_word_embeddings', true),
    wInitVarianceScale: r.number('w_init_variance_scale', 0.01),
    finalWInitVarianceScale: r.number('final_w_init_variance_scale', 2 / numLayers),
    specialTokens: specialTokens(raw, 'recurrent_gemma', { bos_token_id: 2, eos_token_id: 1, pad_token_id: 0 }),
  };
  validate(config, r);
  return config;
}

function validate(c: RecurrentGemmaConfig, r: ConfigReader): void {
  const fail = (message: string): never => {
    throw new ConfigError(`recurrent_gemma config: ${message}`);
  };
  const bad = c.blockTypes.find((t) => !(BLOCK_TYPES as readonly string[]).includes(t));
  if (bad !== undefined || c.blockTypes.length === 0) fail(`'block_types' should list ${BLOCK_TYPES.join(' / ')}, got ${JSON.stringify(c.blockTypes)}`);
  if (!Number.isInteger(c.headDim)) fail(`'hidden_size' ${c.hiddenSize} is not a multiple of 'num_attention_heads' ${c.numHeads}`);
  if (r.raw.head_dim !== undefined && r.raw.head_dim !== c.headDim) fail(`'head_dim' ${JSON.stringify(r.raw.head_dim)} should equal hidden_size / num_attention_heads = ${c.headDim}`);
  if (c.lruWidth % c.numHeads !== 0) fail(`'lru_width' ${c.lruWidth} is not a multiple of 'num_attention_heads' ${c.numHeads}`);
  if (c.numHeads % c.numKvHeads !== 0) fail(`'num_attention_heads' ${c.numHeads} is not a multiple of 'num_key_value_heads' ${c.numKvHeads}`);
  if (c.intermediateSize % 2 !== 0) fail(`'intermediate_size' ${c.intermediateSize} should be even (the MLP is half as wide)`);
  const rotary = rotaryDim(c);
  if (!(rotary > 0 && rotary % 2 === 0 && rotary <= c.headDim)) fail(`partial_rotary_factor ${c.partialRotaryFactor} gives ${rotary} rotary dims of head_dim ${c.headDim}; need an even number in [2, head_dim]`);
}

/** Rotated dims at the start of each head: head_dim · partial_rotary_factor (HF's int()). */
function rotaryDim(c: RecurrentGemmaConfig): number {
  return Math.floor(c.headDim * c.partialRotaryFactor);
}

function toHfConfig(c: RecurrentGemmaConfig): RawConfig {
  return {
    architectures: ['RecurrentGemmaForCausalLM'],
    model_type: 'recurrent_gemma',
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    num_hidden_layers: c.numLayers,
    intermediate_size: c.intermediateSize,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads,
    head_dim: c.headDim,
    lru_width: c.lruWidth,
    attention_window_size: c.attentionWindow,
    conv1d_width: c.convWidth,
    logits_soft_cap: c.logitSoftCap,
    rms_norm_eps: c.rmsNormEps,
    partial_rotary_factor: c.partialRotaryFactor,
    rope_parameters: { rope_type: 'default', rope_theta: c.ropeTheta, partial_rotary_factor: c.partialRotaryFactor },
    block_types: c.blockTypes,
    attention_bias: c.attentionBias,
    hidden_activation: c.hiddenActivation,
    w_init_variance_scale: c.wInitVarianceScale,
    final_w_init_variance_scale: c.finalWInitVarianceScale,
    tie_word_embeddings: c.tieWordEmbeddings,
    ...c.specialTokens,
    // transformers' values of keys that do not change inference.
    attention_dropout: 0,
    use_cache: true,
  };
}

/** The temporal block of layer i: RG-LRU recurrent block or local attention. */
function temporalBlock(c: RecurrentGemmaConfig, params: ParameterRegistry, prefix: string, type: BlockType): RecurrentBlock | LocalAttention {
  if (type === 'recurrent') return new RecurrentBlock(params, prefix, c);
  return new LocalAttention(params, prefix, {
    hiddenSize: c.hiddenSize,
    numHeads: c.numHeads,
    numKvHeads: c.numKvHeads,
    headDim: c.headDim,
    window: c.attentionWindow,
    rotaryDim: rotaryDim(c),
    ropeTheta: c.ropeTheta,
    qkvBias: c.attentionBias,
    inputStd: Math.sqrt(1 / c.hiddenSize),
    outputStd: Math.sqrt(c.finalWInitVarianceScale / c.hiddenSize),
  });
}

function build(c: RecurrentGemmaConfig, params: ParameterRegistry): DecoderLM {
  const { vocabSize: V, hiddenSize: H, rmsNormEps: eps } = c;
  // HF initialises the embedding (and every other plain Linear) with std √(w_init_variance_scale / K).
  const plainInit = normal(Math.sqrt(c.wInitVarianceScale / c.convWidth));
  const embedding = params.take('model.embed_tokens.weight', [V, H], plainInit);
  const layers: Layer[] = [];
  for (let i = 0; i < c.numLayers; i++) {
    const prefix = `model.layers.${i}`;
    const temporal = temporalBlock(c, params, `${prefix}.temporal_block`, c.blockTypes[i % c.blockTypes.length]);
    const temporalNorm = declareGemmaRmsNorm(params, `${prefix}.temporal_pre_norm`, H, eps);
    const channelNorm = declareGemmaRmsNorm(params, `${prefix}.channel_pre_norm`, H, eps);
    const mlp = declareGatedMlp(params, `${prefix}.mlp_block`, H, c.intermediateSize / 2, F.geluTanh, true);
    layers.push({ sublayers: [new MixerSublayer(temporalNorm, temporal), new MixerSublayer(channelNorm, mlpMixer(mlp))] });
  }
  const finalNorm = declareGemmaRmsNorm(params, 'model.final_norm', H, eps);
  const head = c.tieWordEmbeddings ? embedding : params.take('lm_head.weight', [V, H], plainInit);
  return new DecoderLM('recurrent_gemma', c, toHfConfig(c), params.tensors, {
    embedding,
    embeddingScale: bf16ToNumber(numberToBf16(Math.sqrt(H))),
    layers,
    finalNorm,
    head,
    logitSoftCap: c.logitSoftCap,
    hiddenStates: 'layer-inputs',
  });
}

export const recurrentGemmaFamily: Family<RecurrentGemmaConfig> = {
  modelType: 'recurrent_gemma',
  description: 'RecurrentGemma / Griffin: RG-LRU recurrent blocks and local attention, e.g. google/recurrentgemma-2b',
  parseConfig,
  build,
  toHfConfig,
};
