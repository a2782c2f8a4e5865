/**
 * RetNet (`model_type: retnet`, fla's RetNetForCausalLM with MultiScaleRetention; Sun et al.
 * 2023, "Retentive Network: A Successor to Transformer for Large Language Models", §2.1–2.2).
 * Semantics: spec fla-families.md §RetNet. The layer is GLA's multi-head gated linear
 * attention (gla.ts) with
 *   q̃, k̃ = rotary(q), rotary(k)   over the whole head, NeoX halves, base 10000, absolute positions
 *   γ    = log γ_h in every key dim, γ_h = 1 − 2^(−5−h)   (a fixed per-head decay, no parameters)
 * so per head A_h[t, s] = dk^−½ γ_h^{t−s} (q̃_t · k̃_s) for s ≤ t. The step form tracks the
 * absolute position in its state for the rotary angle.
 */
import { allocate, Tensor } from '../core/index.js';
import { ConfigError, ConfigReader } from './config.js';
import type { RawConfig } from './config.js';
import type { Family } from './family.js';
import { buildFlaModel, flaHfConfig, readFlaConfig } from './fla-common.js';
import { GatedAttention, gatedAttentionHfConfig, readGatedAttentionConfig } from './gla.js';
import type { GatedAttentionModelConfig, QueryKeyDecay } from './gla.js';
import { rotary } from './local-attention.js';
import type { DecoderLM } from './model.js';
import type { ParameterRegistry } from './parameters.js';

/** Base θ of fla's RotaryEmbedding for RetNet. */
const ROTARY_BASE = 10000;

export type RetNetConfig = GatedAttentionModelConfig;

/** log γ_h = log(1 − 2^(−5−h)) for each of H heads (fla's g_gamma, log1p for precision). */
export function retentionLogDecay(numHeads: number): Float64Array {
  return Float64Array.from({ length: numHeads }, (_, h) => Math.log1p(-(2 ** (-5 - h))));
}

/** Rotary position embedding on q and k and the fixed per-head decay. */
class Retention implements QueryKeyDecay {
  private readonly invFreq: Float64Array;
  private readonly logGamma: Float64Array;

  constructor(config: RetNetConfig) {
    const dk = config.headKDim;
    // θ^(−2i/dk), i < dk/2: dimension i turns with i + dk/2 (rotate-half pairing)
    this.invFreq = Float64Array.from({ length: dk / 2 }, (_, i) => ROTARY_BASE ** (-(2 * i) / dk));
    this.logGamma = retentionLogDecay(config.numHeads);
  }

  apply(_x: Tensor, q: Tensor, k: Tensor, start: number): { q: Tensor; k: Tensor; logDecay: Tensor } {
    const [B, L, H, dk] = q.shape;
    const logDecay = allocate(q.dtype, B * L * H * dk);
    for (let row = 0; row < B * L; row++) {
      for (let h = 0; h < H; h++) logDecay.fill(this.logGamma[h], (row * H + h) * dk, (row * H + h + 1) * dk);
    }
    return { q: rotary(q, this.invFreq, start), k: rotary(k, this.invFreq, start), logDecay: new Tensor(logDecay, q.shape) };
  }
}

function parseConfig(raw: RawConfig): RetNetConfig {
  const r = new ConfigReader(raw, 'retnet');
  const base = readFlaConfig(r, 'retnet', { hiddenRatio: 2, attnMode: 'chunk' });
  const attention = readGatedAttentionConfig(r, 'retnet', base.hiddenSize, { expandK: 1, expandV: 2, numHeads: 8 });
  if (attention.headKDim % 2 !== 0) throw new ConfigError(`retnet config: the head key dim ${attention.headKDim} should be even for the rotary embedding`);
  return { ...base, ...attention };
}

function toHfConfig(c: RetNetConfig): RawConfig {
  return { architectures: ['RetNetForCausalLM'], model_type: 'retnet', ...flaHfConfig(c), ...gatedAttentionHfConfig(c) };
}

function build(c: RetNetConfig, params: ParameterRegistry): DecoderLM {
  const retention = new Retention(c);
  return buildFlaModel('retnet', c, toHfConfig(c), params, (prefix) => new GatedAttention(params, prefix, 'retnet', c, retention));
}

export const retnetFamily: Family<RetNetConfig> = {
  modelType: 'retnet',
  description: 'RetNet, multi-scale retention (flash-linear-attention), e.g. fla-hub/retnet-1.3B-100B',
  parseConfig,
  build,
  toHfConfig,
};
