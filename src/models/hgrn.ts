/**
 * HGRN v1 (`model_type: hgrn`, fla's HGRNForCausalLM with HGRNAttention; Qin et al. 2023,
 * "Hierarchically Gated Recurrent Neural Network for Sequence Modeling", §3). Semantics: spec
 * fla-families.md §HGRN; model shell (embeddings, SwiGLU MLP, norms, head) in fla-common.ts.
 *
 * Layer l on x [B, L, D] (E = int(D·expand_ratio)):
 *   i, f, g = W_i x, W_f x, W_g x                                  [B, L, E] each, no bias
 *   λ = σ(f)                                 layer 0, or without use_lower_bound
 *   λ = β_l + (1 − β_l) σ(f)                 layers above, β_l ∈ [0, 1) [D] (E = D)
 *   x̂ = silu(i) ⊙ (1 − λ);   h_t = λ_t ⊙ h_{t−1} + x̂_t           (hgrnScan, on log λ)
 *   out = o_proj(RMSNorm_E(h) ⊙ w ⊙ silu(g))                       one norm group over all E
 * Lower bounds (the paper's §3, forget-gate lower bound; fla's HGRNModel): P = softmax over layers of
 * `model.lower_bounds` [num_layers, D], Γ = cumsum(P) − P[0], β_l = Γ[l]; so β_0 = 0 and
 * the bounds grow with depth (upper layers keep longer memory).
 *
 * Numerics: fla forms log λ = logaddexp(log β, log(1 − β) + logsigmoid(f)) and 1 − λ as
 * 1 − exp(log λ). Here λ = β + (1 − β)σ(f) is a sum of non-negative terms (relative precision
 * at any size), log λ is its log, and 1 − λ = (1 − β)σ(−f) is formed directly, so neither
 * cancels when λ is close to 1; on layer 0 log λ = logsigmoid(f), 1 − λ = σ(−f). The same
 * numbers as fla's to rounding (the test's plain recurrence uses fla's form).
 *
 * [U] fla code before mid-2024 swapped the gated norm's inputs (RMSNorm(g) ⊙ silu(o)); this
 * implements the current semantics RMSNorm(o) ⊙ silu(g). No released checkpoint has been
 * compared against yet (fla-hub/hgrn-1.3B-100B is the one to check the logits on).
 */
import * as F from '../core/index.js';
import type { Tensor } from '../core/index.js';
import { hgrnInitialState, hgrnScan, hgrnStep } from '../scans/hgrn.js';
import { ConfigError, ConfigReader } from './config.js';
import type { RawConfig } from './config.js';
import type { Family } from './family.js';
import { buildFlaModel, flaHfConfig, GatedRmsNorm, readFlaConfig } from './fla-common.js';
import type { FlaConfig, FlaMixer } from './fla-common.js';
import { applyLinear, declareLinear } from './layers.js';
import type { Linear } from './layers.js';
import type { DecoderLM } from './model.js';
import { zeros } from './parameters.js';
import type { ParameterRegistry } from './parameters.js';

export interface HgrnConfig extends FlaConfig {
  /** `expand_ratio` (1): E = int(D·expand_ratio). */
  expandRatio: number;
  /** E, the recurrence width, fla's input_dim (derived). */
  inputDim: number;
  /** `use_lower_bound` (true): the per-layer lower bounds β_l of the forget gate. */
  useLowerBound: boolean;
}

// ---------------------------------------------------------------------------------------
// Forget gate and lower bounds

/**
 * β for every layer [num_layers, D] from the raw `model.lower_bounds` [num_layers, D]:
 * P = softmax over layers (axis 0), Γ = cumsum(P) − P[0]; row 0 is exactly 0.
 */
export function lowerBounds(raw: Tensor): Tensor {
  const P = F.softmax(raw, 0);
  return F.sub(F.cumsum(P, 0), F.slice(P, 0, 0, 1)); // [n, D] − [1, D]
}

/**
 * log λ and 1 − λ [..., E] from the forget logits f [..., E] and the layer's lower bound
 * β [E] (null: none, λ = σ(f)). λ = β + (1 − β)σ(f), 1 − λ = (1 − β)σ(−f); see the header.
 */
export function forgetGate(f: Tensor, beta: Tensor | null): { logDecay: Tensor; inputGate: Tensor } {
  if (beta === null) return { logDecay: F.logSigmoid(f), inputGate: F.sigmoid(F.neg(f)) };
  const span = F.affine(beta, -1, 1); // 1 − β
  return {
    logDecay: F.log(F.add(beta, F.mul(span, F.sigmoid(f)))),
    inputGate: F.mul(span, F.sigmoid(F.neg(f))),
  };
}

// ---------------------------------------------------------------------------------------
// The layer

/**
 * The frozen, data-dependent quantities of one layer on one input, computed by the code the
 * forward runs (implicit-attention.md §2.5): per channel c, with λ, 1 − λ frozen,
 *   h^c = A^c x̂^c,  A^c[t, s] = Π_{k=s+1..t} λ_k[c],   x̂ = σ(i) ⊙ (1 − λ) ⊙ i,
 *   pre_out = normGain ⊙ h.
 */
export interface HgrnInternals {
  /** i = W_i x, the input projection: what the implicit attention multiplies [B, L, E]. */
  values: Tensor;
  /** σ(i): silu(i) = σ(i)·i folded as a diagonal [B, L, E]. */
  activation: Tensor;
  /** log λ ≤ 0 [B, L, E]. */
  logDecay: Tensor;
  /** 1 − λ, the input gate [B, L, E]. */
  inputGate: Tensor;
  /** h, the recurrence's output before the gated norm [B, L, E]. */
  h: Tensor;
  /** The gated norm as a diagonal: w ⊙ silu(g) / rms_t(h) over E [B, L, E]. */
  normGain: Tensor;
  /** The input of o_proj [B, L, E]. */
  preOut: Tensor;
}

/** Recurrent state of one layer: h [B, E], updated in place. */
export interface HgrnState {
  h: Tensor;
}

interface Projected {
  i: Tensor; // [..., E]
  g: Tensor; // [..., E]
  logDecay: Tensor; // [..., E]
  inputGate: Tensor; // [..., E]
}

/**
 * fla's HGRNAttention (no short convolution) with its parameters under `prefix`: `i_proj`,
 * `f_proj`, `g_proj` [E, D], `g_norm` [E], `o_proj` [D, E]. `bounds` is the model's raw
 * `model.lower_bounds` (null without use_lower_bound); layer 0 ignores it, as fla does.
 */
export class HgrnAttention implements FlaMixer<HgrnState> {
  readonly kind = 'hgrn';
  private readonly iProj: Linear;
  private readonly fProj: Linear;
  private readonly gProj: Linear;
  private readonly oProj: Linear;
  private readonly norm: GatedRmsNorm;

  constructor(
    params: ParameterRegistry,
    prefix: string,
    private readonly config: HgrnConfig,
    private readonly layer: number,
    private readonly bounds: Tensor | null,
  ) {
    const { hiddenSize: D, inputDim: E, initializerRange: std } = config;
    this.iProj = declareLinear(params, `${prefix}.i_proj`, D, E, false, std);
    this.fProj = declareLinear(params, `${prefix}.f_proj`, D, E, false, std);
    this.gProj = declareLinear(params, `${prefix}.g_proj`, D, E, false, std);
    this.norm = new GatedRmsNorm(params, `${prefix}.g_norm`, E, config.normEps, config.elementwiseAffine);
    this.oProj = declareLinear(params, `${prefix}.o_proj`, E, D, false, std);
  }

  /** x [B, L, D] → [B, L, D]. */
  forward(x: Tensor): Tensor {
    const p = this.project(x);
    const h = hgrnScan(p.logDecay, F.mul(F.silu(p.i), p.inputGate));
    return this.projectOutput(this.norm.apply(h, p.g));
  }

  /** o_proj: the mixer's linear output map, pre_out [..., E] → [..., D]. */
  projectOutput(preOut: Tensor): Tensor {
    return applyLinear(this.oProj, preOut);
  }

  /** The layer's data-dependent quantities on x [B, L, D] (no graph); `forward` runs the same steps. */
  internals(x: Tensor): HgrnInternals {
    return F.noGrad(() => {
      const p = this.project(x);
      const h = hgrnScan(p.logDecay, F.mul(F.silu(p.i), p.inputGate));
      return {
        values: p.i,
        activation: F.sigmoid(p.i),
        logDecay: p.logDecay,
        inputGate: p.inputGate,
        h,
        normGain: this.norm.gain(h, p.g),
        preOut: this.norm.apply(h, p.g),
      };
    });
  }

  initialState(batch: number): HgrnState {
    return { h: hgrnInitialState(batch, this.config.inputDim, this.iProj.weight.dtype) };
  }

  /** One token: x [B, D] → [B, D], advancing `state` (same projections and norm as `forward`). */
  step(x: Tensor, state: HgrnState): Tensor {
    const p = this.project(x);
    const h = hgrnStep(p.logDecay, F.mul(F.silu(p.i), p.inputGate), state.h);
    return this.projectOutput(this.norm.apply(h, p.g));
  }

  /** Projections and gates of x [..., D]. */
  private project(x: Tensor): Projected {
    const f = applyLinear(this.fProj, x);
    const { logDecay, inputGate } = forgetGate(f, this.layerBound());
    return { i: applyLinear(this.iProj, x), g: applyLinear(this.gProj, x), logDecay, inputGate };
  }

  /** β_l [E] from the current lower-bound parameter (recomputed each call: it may be training), or null. */
  private layerBound(): Tensor | null {
    if (this.bounds === null || this.layer === 0) return null;
    const D = this.config.hiddenSize;
    return F.reshape(F.slice(lowerBounds(this.bounds), 0, this.layer, this.layer + 1), [D]);
  }
}

// ---------------------------------------------------------------------------------------
// Family

function parseConfig(raw: RawConfig): HgrnConfig {
  const r = new ConfigReader(raw, 'hgrn');
  const base = readFlaConfig(r, 'hgrn', { hiddenRatio: 4, attnMode: 'fused_recurrent' });
  const expandRatio = r.number('expand_ratio', 1);
  const inputDim = Math.floor(base.hiddenSize * expandRatio);
  const useLowerBound = r.boolean('use_lower_bound', true);
  if (inputDim <= 0) throw new ConfigError(`hgrn config: expand_ratio = ${expandRatio} leaves no channels (int(hidden_size·expand_ratio) = ${inputDim})`);
  if (useLowerBound && inputDim !== base.hiddenSize) {
    throw new ConfigError(
      `hgrn config: use_lower_bound needs int(hidden_size·expand_ratio) = hidden_size (model.lower_bounds is [num_hidden_layers, hidden_size]), got ${inputDim} ≠ ${base.hiddenSize}`,
    );
  }
  return { ...base, expandRatio, inputDim, useLowerBound };
}

function toHfConfig(c: HgrnConfig): RawConfig {
  return {
    architectures: ['HGRNForCausalLM'],
    model_type: 'hgrn',
    ...flaHfConfig(c),
    expand_ratio: c.expandRatio,
    use_lower_bound: c.useLowerBound,
  };
}

function build(c: HgrnConfig, params: ParameterRegistry): DecoderLM {
  // fla initialises the bounds to zeros (uniform softmax: β_l = l / num_layers).
  const bounds = c.useLowerBound ? params.take('model.lower_bounds', [c.numLayers, c.hiddenSize], zeros) : null;
  return buildFlaModel('hgrn', c, toHfConfig(c), params, (prefix, layer) => new HgrnAttention(params, prefix, c, layer, bounds));
}

export const hgrnFamily: Family<HgrnConfig> = {
  modelType: 'hgrn',
  description: 'HGRN, hierarchically gated recurrent network (flash-linear-attention), e.g. fla-hub/hgrn-1.3B-100B',
  parseConfig,
  build,
  toHfConfig,
};
