/**
 * Gated Linear Attention (`model_type: gla`, fla's GLAForCausalLM; Yang et al. 2024, "Gated
 * Linear Attention Transformers with Hardware-Efficient Training") and the multi-head
 * gated-linear-attention layer it shares with RetNet (retnet.ts). Semantics: spec
 * fla-families.md §GLA, §RetNet; model shell in fla-common.ts.
 *
 * Layer on x [B, L, D] (H heads, Hkv key/value heads, dk = K/H, dv = V/H; K = int(D·expand_k),
 * V = int(D·expand_v)):
 *   q = W_q x [B, L, H, dk];  k = W_k x, v = W_v x  [B, L, Hkv, dk|dv], repeated to H heads
 *   (q̃, k̃, γ) = the family's map: GLA keeps q, k and takes γ = logsigmoid(W_gk2 W_gk1 x + b)/16;
 *                RetNet rotates q, k and takes γ = log γ_h in every key dim
 *   o = gatedLinearAttention(q̃·dk^−½, k̃, v, γ)   per head S_t = diag(e^{γ_t}) S_{t−1} + k̃_t v_tᵀ, o_t = S_tᵀ q̃_t
 *   out = o_proj(gatedRmsNorm_per head(o, g)),  g = W_g x  [B, L, V]
 * Query head h reads key/value head ⌊h/(H/Hkv)⌋ (fla's repeat '(h d) -> (h g) d').
 */
import * as F from '../core/index.js';
import { Tensor } from '../core/index.js';
import { gatedLinearAttention, gatedLinearAttentionStep } from '../scans/gated-linear-attention.js';
import { ConfigError, ConfigReader } from './config.js';
import type { RawConfig } from './config.js';
import type { Family } from './family.js';
import { buildFlaModel, flaHfConfig, GatedRmsNorm, readFlaConfig } from './fla-common.js';
import type { FlaConfig, FlaMixer } from './fla-common.js';
import { applyLinear, declareLinear } from './layers.js';
import type { Linear } from './layers.js';
import type { DecoderLM } from './model.js';
import type { ParameterRegistry } from './parameters.js';

// ---------------------------------------------------------------------------------------
// The multi-head layer shared by GLA and RetNet

/** Head layout of GLA and RetNet; comments give the config.json key. */
export interface GatedAttentionConfig {
  /** H, `num_heads`. */
  numHeads: number;
  /** Hkv, `num_kv_heads` (null → H); H must be a multiple. */
  numKvHeads: number;
  /** `expand_k`, `expand_v`: K = int(D·expand_k), V = int(D·expand_v). */
  expandK: number;
  expandV: number;
  /** K, V and the per-head dk = K/H, dv = V/H (derived). */
  keyDim: number;
  valueDim: number;
  headKDim: number;
  headVDim: number;
  /** `use_output_gate` (true): the silu(g) factor of the gated norm (and g_proj). */
  useOutputGate: boolean;
}

export type GatedAttentionModelConfig = FlaConfig & GatedAttentionConfig;

/** Reads the head layout; an unsupported `feature_map` or a layout that does not divide is a ConfigError. */
export function readGatedAttentionConfig(
  r: ConfigReader,
  modelType: string,
  hiddenSize: number,
  defaults: { expandK: number; expandV: number; numHeads: number },
): GatedAttentionConfig {
  const fail = (why: string): never => {
    throw new ConfigError(`${modelType} config: ${why}`);
  };
  if (r.raw.feature_map !== undefined && r.raw.feature_map !== null) fail(`'feature_map' = ${JSON.stringify(r.raw.feature_map)} is not supported (only null)`);
  const numHeads = r.size('num_heads', defaults.numHeads);
  const numKvHeads = r.size('num_kv_heads', numHeads);
  const expandK = r.number('expand_k', defaults.expandK);
  const expandV = r.number('expand_v', defaults.expandV);
  const keyDim = Math.floor(hiddenSize * expandK);
  const valueDim = Math.floor(hiddenSize * expandV);
  if (keyDim % numHeads !== 0) fail(`key dim int(hidden_size·expand_k) = ${keyDim} is not a multiple of num_heads = ${numHeads}`);
  if (valueDim % numHeads !== 0) fail(`value dim int(hidden_size·expand_v) = ${valueDim} is not a multiple of num_heads = ${numHeads}`);
  if (numHeads % numKvHeads !== 0) fail(`num_heads = ${numHeads} is not a multiple of num_kv_heads = ${numKvHeads}`);
  if (keyDim === 0 || valueDim === 0) fail(`expand_k = ${expandK} and expand_v = ${expandV} leave no key or value channels`);
  return {
    numHeads,
    numKvHeads,
    expandK,
    expandV,
    keyDim,
    valueDim,
    headKDim: keyDim / numHeads,
    headVDim: valueDim / numHeads,
    useOutputGate: r.boolean('use_output_gate', true),
  };
}

/** The head layout as config.json keys. */
export function gatedAttentionHfConfig(c: GatedAttentionConfig): RawConfig {
  return {
    num_heads: c.numHeads,
    num_kv_heads: c.numKvHeads === c.numHeads ? null : c.numKvHeads,
    expand_k: c.expandK,
    expand_v: c.expandV,
    use_output_gate: c.useOutputGate,
    feature_map: null,
  };
}

/** x [..., Hkv, d] → [..., Hkv·groups, d], each key/value head repeated for its `groups` query heads. */
export function repeatKvHeads(x: Tensor, groups: number): Tensor {
  if (groups === 1) return x;
  const shape = x.shape;
  const [Hkv, d] = shape.slice(-2);
  const single = F.reshape(x, [...shape.slice(0, -2), Hkv, 1, d]);
  return F.reshape(F.concat(new Array<Tensor>(groups).fill(single), -2), [...shape.slice(0, -2), Hkv * groups, d]);
}

/** What differs between GLA and RetNet: how q, k are placed and where the log-decay comes from. */
export interface QueryKeyDecay {
  /**
   * From the layer input x [B, L, D] and q, k [B, L, H, dk] at absolute positions start,
   * start+1, …: the queries and keys the recurrence reads and the log-decay γ ≤ 0, all
   * [B, L, H, dk]. Queries are scaled by dk^−½ afterwards, by the layer.
   */
  apply(x: Tensor, q: Tensor, k: Tensor, start: number): { q: Tensor; k: Tensor; logDecay: Tensor };
}

/**
 * The frozen, data-dependent quantities of one layer on one input, computed by the code the
 * forward runs (implicit-attention.md §2.5): per head, o = core^h v with
 * core^h[t, s] = Σ_j q_t[j] k_s[j] exp(b_t[j] − b_s[j]) (b = cumsum γ), and pre_out = gain ⊙ o.
 */
export interface GatedAttentionInternals {
  /** Queries as the recurrence reads them: rotated (RetNet) and scaled by dk^−½ [B, L, H, dk]. */
  q: Tensor;
  /** Keys (rotated for RetNet), repeated to the H query heads [B, L, H, dk]. */
  k: Tensor;
  /** γ ≤ 0 [B, L, H, dk]. */
  logDecay: Tensor;
  /** v, what the implicit attention multiplies: channel h·dv + e is dim e of head h [B, L, H·dv]. */
  values: Tensor;
  /** The recurrence's output before the gated norm [B, L, H·dv]. */
  o: Tensor;
  /** The gated norm as a diagonal: w ⊙ silu(g) / rms_{t,h}(o) [B, L, H·dv]. */
  normGain: Tensor;
  /** The input of o_proj [B, L, H·dv]. */
  preOut: Tensor;
  /** dv, channels per head. */
  headVDim: number;
}

/** Recurrent state of one layer: S [B, H, dk, dv] (updated in place) and the next absolute position. */
export interface GatedAttentionState {
  S: Tensor;
  position: number;
}

interface Projected {
  q: Tensor; // [B, L, H, dk], scaled
  k: Tensor; // [B, L, H, dk]
  v: Tensor; // [B, L, H, dv]
  logDecay: Tensor; // [B, L, H, dk]
  g: Tensor | null; // [B, L, V]
}

/**
 * fla's GatedLinearAttention / MultiScaleRetention with the parameters under `prefix`:
 * `q_proj`, `k_proj`, `v_proj`, `g_proj`, `o_proj` and the per-head gated norm
 * (`g_norm_swish_gate`, or `g_norm` when not fused or without output gate).
 */
export class GatedAttention implements FlaMixer<GatedAttentionState> {
  private readonly qProj: Linear;
  private readonly kProj: Linear;
  private readonly vProj: Linear;
  private readonly gProj: Linear | null;
  private readonly oProj: Linear;
  private readonly norm: GatedRmsNorm;

  constructor(
    params: ParameterRegistry,
    prefix: string,
    readonly kind: string,
    private readonly config: GatedAttentionModelConfig,
    private readonly features: QueryKeyDecay,
  ) {
    const { hiddenSize: D, keyDim: K, valueDim: V, numHeads: H, numKvHeads: Hkv, initializerRange: std } = config;
    this.qProj = declareLinear(params, `${prefix}.q_proj`, D, K, false, std);
    this.kProj = declareLinear(params, `${prefix}.k_proj`, D, (K / H) * Hkv, false, std);
    this.vProj = declareLinear(params, `${prefix}.v_proj`, D, (V / H) * Hkv, false, std);
    this.gProj = config.useOutputGate ? declareLinear(params, `${prefix}.g_proj`, D, V, false, std) : null;
    this.oProj = declareLinear(params, `${prefix}.o_proj`, V, D, false, std);
    const fused = config.useOutputGate && config.fuseNorm;
    this.norm = new GatedRmsNorm(params, `${prefix}.${fused ? 'g_norm_swish_gate' : 'g_norm'}`, config.headVDim, config.normEps, config.elementwiseAffine);
  }

  /** x [B, L, D] → [B, L, D]. */
  forward(x: Tensor): Tensor {
    const [B, L] = x.shape;
    const p = this.project(x, 0);
    const o = gatedLinearAttention(p.q, p.k, p.v, p.logDecay);
    return this.projectOutput(this.norm.apply(F.reshape(o, [B, L, this.config.valueDim]), p.g));
  }

  /** o_proj: the layer's linear output map, pre_out [..., V] → [..., D]. */
  projectOutput(preOut: Tensor): Tensor {
    return applyLinear(this.oProj, preOut);
  }

  /** The layer's data-dependent quantities on x [B, L, D] (no graph); `forward` runs the same steps. */
  internals(x: Tensor): GatedAttentionInternals {
    return F.noGrad(() => {
      const [B, L] = x.shape;
      const V = this.config.valueDim;
      const p = this.project(x, 0);
      const o = F.reshape(gatedLinearAttention(p.q, p.k, p.v, p.logDecay), [B, L, V]);
      return {
        q: p.q,
        k: p.k,
        logDecay: p.logDecay,
        values: F.reshape(p.v, [B, L, V]),
        o,
        normGain: this.norm.gain(o, p.g),
        preOut: this.norm.apply(o, p.g),
        headVDim: this.config.headVDim,
      };
    });
  }

  initialState(batch: number): GatedAttentionState {
    const { numHeads: H, headKDim: dk, headVDim: dv } = this.config;
    return { S: Tensor.zeros([batch, H, dk, dv], this.qProj.weight.dtype), position: 0 };
  }

  /** One token: x [B, D] → [B, D], advancing `state` (same projections and norm as `forward`). */
  step(x: Tensor, state: GatedAttentionState): Tensor {
    const [B, D] = x.shape;
    const { numHeads: H, valueDim: V } = this.config;
    const p = this.project(F.reshape(x, [B, 1, D]), state.position);
    const token = (t: Tensor) => F.reshape(t, [B, H, t.shape[3]]); // [B, 1, H, d] → [B, H, d]
    const o = gatedLinearAttentionStep(token(p.q), token(p.k), token(p.v), token(p.logDecay), state.S); // [B, H, dv]
    state.position += 1;
    return this.projectOutput(this.norm.apply(F.reshape(o, [B, V]), p.g === null ? null : F.reshape(p.g, [B, V])));
  }

  /** Projections of x [B, L, D] at absolute positions start…, split into heads. */
  private project(x: Tensor, start: number): Projected {
    const [B, L] = x.shape;
    const { numHeads: H, numKvHeads: Hkv, headKDim: dk, headVDim: dv } = this.config;
    const groups = H / Hkv;
    const q = F.reshape(applyLinear(this.qProj, x), [B, L, H, dk]);
    const k = repeatKvHeads(F.reshape(applyLinear(this.kProj, x), [B, L, Hkv, dk]), groups);
    const v = repeatKvHeads(F.reshape(applyLinear(this.vProj, x), [B, L, Hkv, dv]), groups);
    const placed = this.features.apply(x, q, k, start);
    return {
      q: F.scale(placed.q, dk ** -0.5),
      k: placed.k,
      v,
      logDecay: placed.logDecay,
      g: this.gProj === null ? null : applyLinear(this.gProj, x),
    };
  }
}

// ---------------------------------------------------------------------------------------
// GLA

/** Rank of the gate projection W_gk2 W_gk1 (fla's gate_low_rank_dim; not in GLAConfig). */
const GATE_LOW_RANK_DIM = 16;
/** τ in γ = logsigmoid(z)/τ (fla's gate_logit_normalizer; not in GLAConfig). */
const GATE_LOGIT_NORMALIZER = 16;

export interface GlaConfig extends GatedAttentionModelConfig {
  /** Lower clamp of γ, `clamp_min` (null: none). */
  clampMin: number | null;
  /** `use_gk` (true), `use_gv` (false): kept for config.json; fla's layer always gates keys only. */
  useGk: boolean;
  useGv: boolean;
}

/** GLA's data-dependent decay: γ = max(logsigmoid(W_gk2 W_gk1 x + b) / 16, clamp_min) per key dim. */
class GlaDecay implements QueryKeyDecay {
  private readonly down: Linear; // gk_proj.0 [16, D]
  private readonly up: Linear; // gk_proj.1 [Kkv, 16] with bias

  constructor(
    params: ParameterRegistry,
    prefix: string,
    private readonly config: GlaConfig,
  ) {
    const { hiddenSize: D, headKDim: dk, numKvHeads: Hkv, initializerRange: std } = config;
    this.down = declareLinear(params, `${prefix}.gk_proj.0`, D, GATE_LOW_RANK_DIM, false, std);
    this.up = declareLinear(params, `${prefix}.gk_proj.1`, GATE_LOW_RANK_DIM, dk * Hkv, true, std);
  }

  apply(x: Tensor, q: Tensor, k: Tensor): { q: Tensor; k: Tensor; logDecay: Tensor } {
    const [B, L] = x.shape;
    const { numHeads: H, numKvHeads: Hkv, headKDim: dk, clampMin } = this.config;
    const logits = repeatKvHeads(F.reshape(applyLinear(this.up, applyLinear(this.down, x)), [B, L, Hkv, dk]), H / Hkv);
    const logDecay = F.scale(F.logSigmoid(logits), 1 / GATE_LOGIT_NORMALIZER);
    return { q, k, logDecay: clampMin === null ? logDecay : F.clamp(logDecay, clampMin, Infinity) };
  }
}

function parseConfig(raw: RawConfig): GlaConfig {
  const r = new ConfigReader(raw, 'gla');
  const base = readFlaConfig(r, 'gla', { hiddenRatio: 4, attnMode: 'chunk' });
  const clamp = raw.clamp_min;
  return {
    ...base,
    ...readGatedAttentionConfig(r, 'gla', base.hiddenSize, { expandK: 0.5, expandV: 1, numHeads: 4 }),
    clampMin: clamp === undefined || clamp === null ? null : r.number('clamp_min'),
    useGk: r.boolean('use_gk', true),
    useGv: r.boolean('use_gv', false),
  };
}

function toHfConfig(c: GlaConfig): RawConfig {
  return {
    architectures: ['GLAForCausalLM'],
    model_type: 'gla',
    ...flaHfConfig(c),
    ...gatedAttentionHfConfig(c),
    clamp_min: c.clampMin,
    use_gk: c.useGk,
    use_gv: c.useGv,
  };
}

function build(c: GlaConfig, params: ParameterRegistry): DecoderLM {
  return buildFlaModel('gla', c, toHfConfig(c), params, (prefix) => new GatedAttention(params, prefix, 'gla', c, new GlaDecay(params, prefix, c)));
}

export const glaFamily: Family<GlaConfig> = {
  modelType: 'gla',
  description: 'Gated Linear Attention (flash-linear-attention), e.g. fla-hub/gla-1.3B-100B',
  parseConfig,
  build,
  toHfConfig,
};
