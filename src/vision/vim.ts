/**
 * Vision Mamba (Vim; Zhu et al. 2024, "Vision Mamba: Efficient Visual Representation Learning
 * with Bidirectional State Space Model"), the `bimamba v2` classifier of hustvl/Vim
 * (`vim/models_mamba.py`, `mamba-1p1p1/mamba_ssm/modules/mamba_simple.py`), in the checkpoint
 * layout of its releases:
 *
 *   e  = patch_embed(image)                                   [B, M, E]   Conv2d(C, E, P, stride P)
 *   h  = [e_{<M/2} | cls_token | e_{≥M/2}] + pos_embed         [B, L, E]   L = M + 1, class token in the middle
 *   h ← h + mixer_ℓ(norm_ℓ(h))  for ℓ = 0 … depth−1           (the fused add-norm of the release, unfused)
 *   logits = head(norm_f(h)[:, cls])                           [B, K]
 *
 * Mixer (D = expand·E, N = d_state, R = dt_rank, K = d_conv):
 *   [X | Z] = in_proj(x)                                       shared by both branches
 *   y_f = Mamba branch (conv1d,   x_proj,   dt_proj,   A_log,   D)   on  X,   gate silu(Z)
 *   y_b = Mamba branch (conv1d_b, x_proj_b, dt_proj_b, A_b_log, D_b) on J·X, gate silu(J·Z)
 *   out = out_proj(s · (y_f + J·y_b)),  s = ½ with `if_divide_out` (the `div2` models), else 1
 * Each branch runs the project's fused selective scan (src/scans/selective-scan.ts); the
 * backward branch is the same scan on the reversed sequence.
 *
 * Tensor names (verified against hustvl/Vim): patch_embed.proj.{weight [E,C,P,P], bias [E]},
 * cls_token [1,1,E], pos_embed [1,L,E], layers.ℓ.norm.weight [E] (+ .bias without rms_norm),
 * layers.ℓ.mixer.{in_proj.weight [2D,E], conv1d.{weight [D,1,K], bias [D]}, x_proj.weight [R+2N,D],
 * dt_proj.{weight [D,R], bias [D]}, A_log [D,N], D [D], conv1d_b.*, x_proj_b.weight, dt_proj_b.*,
 * A_b_log [D,N], D_b [D], out_proj.weight [E,D]}, norm_f.weight [E], head.{weight [K,E], bias [K]}.
 */
import * as F from '../core/index.js';
import type { DType, Tensor } from '../core/index.js';
import type { NonCausalDecomposition } from '../implicit/decomposition.js';
import { vimDecomposition } from '../implicit/families/vim.js';
import { ConfigError, ConfigReader } from '../models/config.js';
import type { RawConfig } from '../models/config.js';
import { applyLinear, declareLayerNorm, declareLinear, declareRmsNorm } from '../models/layers.js';
import type { Linear, Norm } from '../models/layers.js';
import type { MambaInternals } from '../models/mamba.js';
import type { Trace } from '../models/model.js';
import { normal, ones, timeStepBiasInit, zeros } from '../models/parameters.js';
import type { Init, ParameterRegistry } from '../models/parameters.js';
import { selectiveScan } from '../scans/selective-scan.js';
import { declarePatchEmbed, imageConfigJson, parseImageConfig, readOut } from './model.js';
import type { ImageConfig, Readout, VisionModel } from './model.js';
import { expandBatch, reverseTokens } from './ops.js';

/** Typed Vim config; comments give the config.json key, hustvl's argument and the default. */
export interface VimConfig extends ImageConfig {
  /** N, `state_size` (hustvl `d_state`, 16). */
  stateSize: number;
  /** `expand` (2). */
  expand: number;
  /** D, `intermediate_size` (expand·E). */
  intermediateSize: number;
  /** K, `conv_kernel` (`d_conv`, 4). */
  convKernel: number;
  /** R, `time_step_rank` (`dt_rank` "auto" = ⌈E/16⌉). */
  timeStepRank: number;
  /** `use_conv_bias` (`conv_bias`, true). */
  useConvBias: boolean;
  /** Biases of in_proj / out_proj, `use_bias` (`bias`, false). */
  useBias: boolean;
  /** s = ½ on the summed branches, `if_divide_out` (true: the `div2` releases). */
  divideOut: boolean;
  /** Class token in the middle (position ⌊M/2⌋) or first, `use_middle_cls_token` (true). */
  middleClsToken: boolean;
  /** RMSNorm (weight only) or LayerNorm (weight and bias), `rms_norm` (true). */
  rmsNorm: boolean;
  /** eps of every norm, `norm_epsilon` (1e-5). */
  normEpsilon: number;
}

export const VIM_MODEL_TYPE = 'vim';

export function parseVimConfig(raw: RawConfig): VimConfig {
  const r = new ConfigReader(raw, VIM_MODEL_TYPE);
  const image = parseImageConfig(r, { hiddenSize: 192, numLayers: 24 });
  const bimamba = r.string('bimamba_type', 'v2');
  if (bimamba !== 'v2') throw new ConfigError(`vim config: bimamba_type '${bimamba}' is not supported (only v2, the released models)`);
  const E = image.hiddenSize;
  const expand = r.number('expand', 2);
  const rank = raw.time_step_rank;
  return {
    ...image,
    stateSize: r.size('state_size', 16),
    expand,
    intermediateSize: r.size('intermediate_size', Math.floor(expand * E)),
    convKernel: r.size('conv_kernel', 4),
    timeStepRank: rank === undefined || rank === null || rank === 'auto' ? Math.ceil(E / 16) : r.size('time_step_rank'),
    useConvBias: r.boolean('use_conv_bias', true),
    useBias: r.boolean('use_bias', false),
    divideOut: r.boolean('if_divide_out', true),
    middleClsToken: r.boolean('use_middle_cls_token', true),
    rmsNorm: r.boolean('rms_norm', true),
    normEpsilon: r.number('norm_epsilon', 1e-5),
  };
}

export function vimConfigJson(c: VimConfig): RawConfig {
  return {
    architectures: ['VisionMamba'],
    model_type: VIM_MODEL_TYPE,
    ...imageConfigJson(c),
    state_size: c.stateSize,
    expand: c.expand,
    intermediate_size: c.intermediateSize,
    conv_kernel: c.convKernel,
    time_step_rank: c.timeStepRank,
    use_conv_bias: c.useConvBias,
    use_bias: c.useBias,
    if_divide_out: c.divideOut,
    use_middle_cls_token: c.middleClsToken,
    rms_norm: c.rmsNorm,
    norm_epsilon: c.normEpsilon,
    bimamba_type: 'v2',
  };
}

const uniform = (bound: number): Init => ({ kind: 'uniform', lo: -bound, hi: bound });

/** One scan branch: conv1d{suffix}, x_proj{suffix}, dt_proj{suffix}, A{_b}_log, D{_b}. */
class VimBranch {
  private readonly convWeight: Tensor; // [D, 1, K]
  private readonly convBias: Tensor | null; // [D]
  private readonly xProj: Linear; // [R + 2N, D]
  private readonly dtProj: Linear; // [D, R]
  private readonly aLog: Tensor; // [D, N]
  private readonly dSkip: Tensor; // [D]

  constructor(params: ParameterRegistry, prefix: string, backward: boolean, private readonly c: VimConfig) {
    const { intermediateSize: D, stateSize: N, timeStepRank: R, convKernel: K } = c;
    const sfx = backward ? '_b' : '';
    this.convWeight = params.take(`${prefix}.conv1d${sfx}.weight`, [D, 1, K], uniform(1 / Math.sqrt(K)));
    this.convBias = params.optional(c.useConvBias, `${prefix}.conv1d${sfx}.bias`, [D], zeros);
    this.xProj = declareLinear(params, `${prefix}.x_proj${sfx}`, D, R + 2 * N, false, 1 / Math.sqrt(3 * D));
    this.dtProj = {
      weight: params.take(`${prefix}.dt_proj${sfx}.weight`, [D, R], uniform(R ** -0.5)),
      bias: params.take(`${prefix}.dt_proj${sfx}.bias`, [D], timeStepBiasInit(D, 0.001, 0.1, 1e-4)), // mamba_ssm's dt_min, dt_max, dt_init_floor
    };
    // S4D-real initialisation: A[d, n] = −(n + 1).
    this.aLog = params.take(backward ? `${prefix}.A_b_log` : `${prefix}.A_log`, [D, N], { kind: 'formula', at: (i) => Math.log((i % N) + 1) });
    this.dSkip = params.take(backward ? `${prefix}.D_b` : `${prefix}.D`, [D], ones);
  }

  /** The branch's frozen quantities on its own input order: X, Z [B, L, D] (already reversed for the backward branch). */
  internals(X: Tensor, Z: Tensor): MambaInternals {
    const { intermediateSize: D, stateSize: N, timeStepRank: R, convKernel: K } = this.c;
    const convWeight = F.reshape(this.convWeight, [D, K]);
    const convPre = F.causalConv1d(X, convWeight, this.convBias);
    const u = F.silu(convPre);
    const [dt, B, C] = F.split(applyLinear(this.xProj, u), [R, N, N], -1);
    const delta = F.softplus(applyLinear(this.dtProj, dt));
    return { x: X, z: Z, convPre, u, delta, B, C, A: F.neg(F.exp(this.aLog)), Dskip: this.dSkip, convWeight, convBias: this.convBias };
  }

  /** silu(Z) ⊙ scan: the branch's pre-output [B, L, D]. */
  output(m: MambaInternals): Tensor {
    return F.mul(selectiveScan(m.u, m.delta, m.A, m.B, m.C, m.Dskip), F.silu(m.z));
  }
}

/** The bidirectional mixer `layers.ℓ.mixer` (hustvl's `Mamba(bimamba_type="v2")`). */
export class VimMixer {
  readonly kind = 'vim';
  private readonly inProj: Linear;
  private readonly forwardBranch: VimBranch;
  private readonly backwardBranch: VimBranch;
  private readonly outProj: Linear;

  constructor(params: ParameterRegistry, prefix: string, private readonly c: VimConfig) {
    const { hiddenSize: E, intermediateSize: D } = c;
    this.inProj = declareLinear(params, `${prefix}.in_proj`, E, 2 * D, c.useBias, 1 / Math.sqrt(3 * E));
    this.forwardBranch = new VimBranch(params, prefix, false, c);
    this.backwardBranch = new VimBranch(params, prefix, true, c);
    // PyTorch's default Linear init rescaled by 1/√depth, as Vim's `_init_weights` does for out_proj.
    this.outProj = declareLinear(params, `${prefix}.out_proj`, D, E, c.useBias, 1 / Math.sqrt(3 * D * c.numLayers));
  }

  /** Both branches' internals on x [B, L, E]: the backward one on the reversed sequence. */
  internals(x: Tensor): { forward: MambaInternals; backward: MambaInternals } {
    const D = this.c.intermediateSize;
    const [X, Z] = F.split(applyLinear(this.inProj, x), [D, D], -1); // [B, L, D] each
    return {
      forward: this.forwardBranch.internals(X, Z),
      backward: this.backwardBranch.internals(reverseTokens(X), reverseTokens(Z)),
    };
  }

  get outputScale(): number {
    return this.c.divideOut ? 0.5 : 1;
  }

  /** x [B, L, E] → [B, L, E]. */
  forward(x: Tensor): Tensor {
    const m = this.internals(x);
    const both = F.add(this.forwardBranch.output(m.forward), reverseTokens(this.backwardBranch.output(m.backward)));
    return this.projectOutput(this.c.divideOut ? F.scale(both, 0.5) : both);
  }

  /** out_proj: pre_out [B, L, D] → [B, L, E]. */
  projectOutput(preOut: Tensor): Tensor {
    return applyLinear(this.outProj, preOut);
  }

  decompose(x: Tensor): NonCausalDecomposition {
    return F.noGrad(() => {
      const m = this.internals(x);
      return vimDecomposition(m.forward, m.backward, this.outputScale, (p) => this.projectOutput(p));
    });
  }
}

export class VisionMamba implements VisionModel {
  readonly modelType = 'vim' as const;
  readonly mixerKind = 'vim';
  readonly grid: number;
  readonly length: number;
  readonly readout: Readout;
  readonly patchTokens: Int32Array;
  readonly parameters: Map<string, Tensor>;
  readonly hfConfig: RawConfig;
  readonly embedPatches: (images: Tensor) => Tensor;
  private readonly clsToken: Tensor; // [1, 1, E]
  private readonly posEmbed: Tensor; // [1, L, E]
  private readonly norms: Norm[];
  readonly mixers: VimMixer[];
  private readonly finalNorm: Norm;
  private readonly head: Linear;

  constructor(
    readonly config: VimConfig,
    params: ParameterRegistry,
  ) {
    const { hiddenSize: E, normEpsilon: eps } = config;
    this.grid = config.imageSize / config.patchSize;
    const M = this.grid * this.grid;
    this.length = M + 1;
    const cls = config.middleClsToken ? Math.floor(M / 2) : 0;
    this.readout = { kind: 'token', position: cls };
    this.patchTokens = Int32Array.from({ length: M }, (_, m) => (m < cls ? m : m + 1));
    this.embedPatches = declarePatchEmbed(params, config);
    this.clsToken = params.take('cls_token', [1, 1, E], normal(0.02));
    this.posEmbed = params.take('pos_embed', [1, this.length, E], normal(0.02));
    const norm = (name: string): Norm => (config.rmsNorm ? declareRmsNorm(params, name, E, eps) : declareLayerNorm(params, name, E, eps));
    this.norms = [];
    this.mixers = [];
    for (let i = 0; i < config.numLayers; i++) {
      this.mixers.push(new VimMixer(params, `layers.${i}.mixer`, config));
      this.norms.push(norm(`layers.${i}.norm`));
    }
    this.finalNorm = norm('norm_f');
    this.head = declareLinear(params, 'head', E, config.labels.length, true, 0.02);
    this.parameters = params.tensors;
    this.hfConfig = vimConfigJson(config);
  }

  get image(): ImageConfig {
    return this.config;
  }

  get dtype(): DType {
    return this.posEmbed.dtype;
  }

  /** Logits [B, K] from patch embeddings [B, M, E]. */
  forward(patchEmbeds: Tensor, trace?: Trace): Tensor {
    const [B, M] = patchEmbeds.shape;
    const cls = this.readout.kind === 'token' ? this.readout.position : 0;
    trace?.set('patch_embeds', patchEmbeds);
    const parts = [F.slice(patchEmbeds, 1, 0, cls), expandBatch(this.clsToken, B), F.slice(patchEmbeds, 1, cls, M)].filter((t) => t.shape[1] > 0);
    let h = F.add(F.concat(parts, 1), this.posEmbed); // [B, L, E]
    trace?.set('tokens', h);
    this.mixers.forEach((mixer, i) => {
      trace?.set(`block_in.${i}`, h);
      const x = this.norms[i](h);
      const y = mixer.forward(x);
      trace?.set(`mixer_in.${i}.vim`, x);
      trace?.set(`mixer_out.${i}.vim`, y);
      h = F.add(h, y);
    });
    const normed = this.finalNorm(h);
    trace?.set(`hidden_states.${this.mixers.length}`, normed);
    return applyLinear(this.head, readOut(normed, this.readout)); // [B, K]
  }

  decompose(layer: number, mixerInput: Tensor): NonCausalDecomposition {
    return this.mixers[layer].decompose(mixerInput);
  }
}
