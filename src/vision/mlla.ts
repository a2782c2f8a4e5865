/**
 * MLLA, Mamba-Like Linear Attention (Han et al. 2024, "Demystify Mamba in Vision: A Linear
 * Attention Perspective", NeurIPS 2024; official LeapLabTHU/MLLA `models/mlla.py`), as a
 * small isotropic classifier: ONE stage of MLLA blocks on a G×G patch grid (the official
 * model is a four-stage pyramid with patch merging and a conv stem; one stage keeps the
 * token grid fixed so every layer's attention lives on the same L = G² patches).
 *
 *   h = patch_embed(image)                              [B, L, E]   Conv2d(C, E, P, stride P), no class token
 *   per block (official `MLLABlock`):
 *     h ← h + cpe1(h)                                    depthwise 3×3 conv positional encoding
 *     h ← h + out_proj(mixer(norm1(h)))                  the Mamba-like linear attention (below)
 *     h ← h + cpe2(h)
 *     h ← h + mlp(norm2(h))                              fc1 → GELU → fc2
 *   logits = head(mean_t norm(h)[:, t])                 average pool, as the official model
 *
 * Mixer on x [B, L, E], heads of P = E/heads channels (official `LinearAttention`, with both
 * of its position encodings, LePE and RoPE):
 *   g = silu(act_proj x);  u = silu(dwc(in_proj x));  q, k = elu(qk(u)) + 1
 *   o = z ⊙ (RoPE(q) · (RoPE(k)ᵀ u) / L) + LePE(u),   z_t = 1 / (q_t · mean_s k_s + 1e-6)
 *   pre_out = g ⊙ o
 * Non-causal: every token attends to every token, so each channel's implicit attention is a
 * full L×L matrix (src/implicit/families/mlla.ts).
 *
 * Deviations from the official code, all documented in docs/vision.md: one stage instead of
 * four; the ViT/Vim patch embedding instead of the conv stem; GELU in its tanh form
 * (src/core has no erf); tensor names `layers.0.blocks.ℓ.*` follow the official layout of a
 * one-stage model (`patch_embed.proj.*` is ours).
 */
import * as F from '../core/index.js';
import { Tensor } from '../core/index.js';
import type { DType } from '../core/index.js';
import type { NonCausalDecomposition } from '../implicit/decomposition.js';
import { mllaDecomposition } from '../implicit/families/mlla.js';
import type { MllaInternals } from '../implicit/families/mlla.js';
import { ConfigError, ConfigReader } from '../models/config.js';
import type { RawConfig } from '../models/config.js';
import { applyLinear, declareLayerNorm, declareLinear } from '../models/layers.js';
import type { Linear, Norm } from '../models/layers.js';
import type { Trace } from '../models/model.js';
import { zeros } from '../models/parameters.js';
import type { Init, ParameterRegistry } from '../models/parameters.js';
import { declarePatchEmbed, imageConfigJson, parseImageConfig, readOut } from './model.js';
import type { ImageConfig, Readout, VisionModel } from './model.js';
import { depthwiseConv2d, eluPlusOne, rope2d, rope2dAngles } from './ops.js';

export interface MllaConfig extends ImageConfig {
  /** `num_attention_heads` (4). */
  numHeads: number;
  /** fc1 width / E, `mlp_ratio` (2; official 4). */
  mlpRatio: number;
  /** Bias of attn.qk, `qkv_bias` (true). */
  qkvBias: boolean;
  /** Side of the depthwise kernels (dwc, LePE, CPE), `conv_kernel` (3). */
  convKernel: number;
  /** eps of the LayerNorms, `layer_norm_eps` (1e-5). */
  layerNormEps: number;
  /** RoPE base, `rope_theta` (10000). */
  ropeTheta: number;
}

export const MLLA_MODEL_TYPE = 'mlla';

/** The z normaliser's ε (official 1e-6). */
const Z_EPS = 1e-6;

export function parseMllaConfig(raw: RawConfig): MllaConfig {
  const r = new ConfigReader(raw, MLLA_MODEL_TYPE);
  const image = parseImageConfig(r, { hiddenSize: 64, numLayers: 4 });
  const numHeads = r.size('num_attention_heads', 4);
  if (image.hiddenSize % numHeads !== 0 || (image.hiddenSize / numHeads) % 2 !== 0 || image.hiddenSize % 4 !== 0) {
    throw new ConfigError(`mlla config: hidden_size ${image.hiddenSize} should be divisible by 4 and by 2·num_attention_heads (${numHeads})`);
  }
  const convKernel = r.size('conv_kernel', 3);
  if (convKernel % 2 !== 1) throw new ConfigError(`mlla config: conv_kernel should be odd, got ${convKernel}`);
  return {
    ...image,
    numHeads,
    mlpRatio: r.number('mlp_ratio', 2),
    qkvBias: r.boolean('qkv_bias', true),
    convKernel,
    layerNormEps: r.number('layer_norm_eps', 1e-5),
    ropeTheta: r.number('rope_theta', 10000),
  };
}

export function mllaConfigJson(c: MllaConfig): RawConfig {
  return {
    architectures: ['MLLA'],
    model_type: MLLA_MODEL_TYPE,
    ...imageConfigJson(c),
    num_attention_heads: c.numHeads,
    mlp_ratio: c.mlpRatio,
    qkv_bias: c.qkvBias,
    conv_kernel: c.convKernel,
    layer_norm_eps: c.layerNormEps,
    rope_theta: c.ropeTheta,
  };
}

const uniform = (bound: number): Init => ({ kind: 'uniform', lo: -bound, hi: bound });

interface DepthwiseConv {
  weight: Tensor; // [E, 1, k, k]
  bias: Tensor | null; // [E]
}

function declareDepthwise(params: ParameterRegistry, name: string, E: number, k: number): DepthwiseConv {
  // PyTorch's Conv2d default: U(±1/√fan_in), fan_in = k² for a depthwise kernel.
  return {
    weight: params.take(`${name}.weight`, [E, 1, k, k], uniform(1 / k)),
    bias: params.take(`${name}.bias`, [E], zeros),
  };
}

/** The attention branch of an MLLA block (everything between norm1 and the residual add). */
export class MllaMixer {
  readonly kind = 'mlla';
  private readonly inProj: Linear;
  private readonly actProj: Linear;
  private readonly dwc: DepthwiseConv;
  private readonly qk: Linear;
  private readonly lepe: DepthwiseConv;
  private readonly outProj: Linear;
  private readonly angles: { cos: Float64Array; sin: Float64Array };

  constructor(params: ParameterRegistry, prefix: string, private readonly c: MllaConfig) {
    const { hiddenSize: E, convKernel: k } = c;
    const std = 1 / Math.sqrt(3 * E); // variance of PyTorch's default Linear init
    this.inProj = declareLinear(params, `${prefix}.in_proj`, E, E, true, std);
    this.actProj = declareLinear(params, `${prefix}.act_proj`, E, E, true, std);
    this.dwc = declareDepthwise(params, `${prefix}.dwc`, E, k);
    this.qk = declareLinear(params, `${prefix}.attn.qk`, E, 2 * E, c.qkvBias, std);
    this.lepe = declareDepthwise(params, `${prefix}.attn.lepe`, E, k);
    this.outProj = declareLinear(params, `${prefix}.out_proj`, E, E, true, std);
    this.angles = rope2dAngles(c.imageSize / c.patchSize, E, c.ropeTheta);
  }

  private get grid(): number {
    return this.c.imageSize / this.c.patchSize;
  }

  /** Every frozen quantity of the implicit attention, from the same ops as `forward`. */
  internals(x: Tensor): MllaInternals {
    const { hiddenSize: E, numHeads: Hd } = this.c;
    const [B, L] = x.shape;
    const P = E / Hd;
    const gate = F.silu(applyLinear(this.actProj, x)); // [B, L, E]
    const X = applyLinear(this.inProj, x); // [B, L, E]
    const convPre = depthwiseConv2d(X, this.dwc.weight, this.dwc.bias, this.grid);
    const u = F.silu(convPre);
    const [qRaw, kRaw] = F.split(applyLinear(this.qk, u), [E, E], -1);
    const q = eluPlusOne(qRaw);
    const k = eluPlusOne(kRaw);
    const qRope = rope2d(q, this.angles);
    const kRope = rope2d(k, this.angles);
    const heads = (t: Tensor) => F.permute(F.reshape(t, [B, L, Hd, P]), [0, 2, 1, 3]); // [B, L, E] → [B, Hd, L, P]
    const kMean = F.mean(heads(k), 2, true); // [B, Hd, 1, P]
    const z = F.div(Tensor.scalar(1, x.dtype), F.affine(F.sum(F.mul(heads(q), kMean), 3, true), 1, Z_EPS)); // [B, Hd, L, 1]
    const kv = F.scale(F.matmul(F.transpose(heads(kRope), 2, 3), heads(u)), 1 / L); // [B, Hd, P, P]
    const attn = F.mul(F.matmul(heads(qRope), kv), z); // [B, Hd, L, P]
    const o = F.add(F.reshape(F.permute(attn, [0, 2, 1, 3]), [B, L, E]), depthwiseConv2d(u, this.lepe.weight, this.lepe.bias, this.grid));
    return {
      gate,
      x: X,
      convPre,
      qRope,
      kRope,
      z: F.reshape(z, [B, Hd, L]),
      convWeight: this.dwc.weight,
      convBias: this.dwc.bias,
      lepeWeight: this.lepe.weight,
      lepeBias: this.lepe.bias,
      heads: Hd,
      grid: this.grid,
      preOut: F.mul(o, gate),
    };
  }

  /** x [B, L, E] → [B, L, E]. */
  forward(x: Tensor): Tensor {
    return this.projectOutput(this.internals(x).preOut);
  }

  projectOutput(preOut: Tensor): Tensor {
    return applyLinear(this.outProj, preOut);
  }

  decompose(x: Tensor): NonCausalDecomposition {
    return F.noGrad(() => mllaDecomposition(this.internals(x), (p) => this.projectOutput(p)));
  }
}

interface MllaBlock {
  cpe1: DepthwiseConv;
  norm1: Norm;
  mixer: MllaMixer;
  cpe2: DepthwiseConv;
  norm2: Norm;
  fc1: Linear;
  fc2: Linear;
}

export class Mlla implements VisionModel {
  readonly modelType = 'mlla' as const;
  readonly mixerKind = 'mlla';
  readonly grid: number;
  readonly length: number;
  readonly readout: Readout = { kind: 'mean' };
  readonly patchTokens: Int32Array;
  readonly parameters: Map<string, Tensor>;
  readonly hfConfig: RawConfig;
  readonly embedPatches: (images: Tensor) => Tensor;
  readonly blocks: MllaBlock[] = [];
  private readonly finalNorm: Norm;
  private readonly head: Linear;

  constructor(
    readonly config: MllaConfig,
    params: ParameterRegistry,
  ) {
    const { hiddenSize: E, convKernel: k, layerNormEps: eps } = config;
    this.grid = config.imageSize / config.patchSize;
    this.length = this.grid * this.grid;
    this.patchTokens = Int32Array.from({ length: this.length }, (_, m) => m);
    this.embedPatches = declarePatchEmbed(params, config);
    const hidden = Math.round(E * config.mlpRatio);
    for (let i = 0; i < config.numLayers; i++) {
      const p = `layers.0.blocks.${i}`;
      this.blocks.push({
        cpe1: declareDepthwise(params, `${p}.cpe1`, E, k),
        norm1: declareLayerNorm(params, `${p}.norm1`, E, eps),
        mixer: new MllaMixer(params, p, config),
        cpe2: declareDepthwise(params, `${p}.cpe2`, E, k),
        norm2: declareLayerNorm(params, `${p}.norm2`, E, eps),
        fc1: declareLinear(params, `${p}.mlp.fc1`, E, hidden, true, 0.02),
        fc2: declareLinear(params, `${p}.mlp.fc2`, hidden, E, true, 0.02),
      });
    }
    this.finalNorm = declareLayerNorm(params, 'norm', E, eps);
    this.head = declareLinear(params, 'head', E, config.labels.length, true, 0.02);
    this.parameters = params.tensors;
    this.hfConfig = mllaConfigJson(config);
  }

  get image(): ImageConfig {
    return this.config;
  }

  get dtype(): DType {
    return this.head.weight.dtype;
  }

  forward(patchEmbeds: Tensor, trace?: Trace): Tensor {
    trace?.set('patch_embeds', patchEmbeds);
    trace?.set('tokens', patchEmbeds);
    let h = patchEmbeds; // [B, L, E]
    const conv = (x: Tensor, c: DepthwiseConv) => depthwiseConv2d(x, c.weight, c.bias, this.grid);
    this.blocks.forEach((block, i) => {
      trace?.set(`block_in.${i}`, h);
      h = F.add(h, conv(h, block.cpe1));
      const x = block.norm1(h);
      const y = block.mixer.forward(x);
      trace?.set(`mixer_in.${i}.mlla`, x);
      trace?.set(`mixer_out.${i}.mlla`, y);
      h = F.add(h, y);
      h = F.add(h, conv(h, block.cpe2));
      h = F.add(h, applyLinear(block.fc2, F.geluTanh(applyLinear(block.fc1, block.norm2(h)))));
    });
    const normed = this.finalNorm(h);
    trace?.set(`hidden_states.${this.blocks.length}`, normed);
    return applyLinear(this.head, readOut(normed, this.readout)); // [B, K]
  }

  decompose(layer: number, mixerInput: Tensor): NonCausalDecomposition {
    return this.blocks[layer].mixer.decompose(mixerInput);
  }
}
