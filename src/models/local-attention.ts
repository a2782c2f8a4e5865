/**
 * Griffin's local attention block (De et al. 2024, §2.3; HF `RecurrentGemmaSdpaAttention`):
 * multi-query softmax attention over a causal sliding window of `window` keys (the current
 * one included), with rotary position embedding on the first Dr dims of each head.
 *
 * On x [B, L, H], with Hq query heads, Hkv key/value heads and head dim E:
 *   q, k, v = rope(x W_qᵀ), rope(x W_kᵀ), x W_vᵀ        [B, L, Hq|Hkv, E]
 *   out = o_proj(localAttention(q, k, v, window))       [B, L, H]
 * The kernels (rotary, localAttention and its step) are in scans/local-attention.ts.
 */
import * as F from '../core/index.js';
import type { Tensor } from '../core/index.js';
import { kvCache, localAttention, localAttentionStep, localAttentionWeights, rotary, rotaryFrequencies } from '../scans/local-attention.js';
import type { KvCache } from '../scans/local-attention.js';
import { applyLinear, declareLinear } from './layers.js';
import type { Linear } from './layers.js';
import type { ParameterRegistry } from './parameters.js';

/** Re-exported for models/retnet.ts, which imports the rotary op from here. */
export { rotary, rotaryFrequencies } from '../scans/local-attention.js';

export interface LocalAttentionConfig {
  hiddenSize: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  /** Keys each query sees, the current one included (`attention_window_size`). */
  window: number;
  /** Dr, the rotated dims at the start of each head (head_dim · partial_rotary_factor). */
  rotaryDim: number;
  ropeTheta: number;
  /** Biases of q/k/v_proj (`attention_bias`); o_proj always has one. */
  qkvBias: boolean;
  /** Std of q/k/v_proj and of o_proj at initialisation. */
  inputStd: number;
  outputStd: number;
}

/**
 * Head h's output at t is Σ_s weights[b, h, t, s] · values[b, s, ⌊h / (Hq/Hkv)⌋, :]; the block
 * output is projectOutput of the heads concatenated.
 */
export interface LocalAttentionInternals {
  /** Softmax probabilities [B, Hq, L, L], zero outside t − window < s ≤ t. */
  weights: Tensor;
  /** v [B, L, Hkv, E]. */
  values: Tensor;
}

export class LocalAttention {
  readonly kind = 'local_attention';
  private readonly q: Linear;
  private readonly k: Linear;
  private readonly v: Linear;
  private readonly o: Linear;
  private readonly invFreq: Float64Array;

  constructor(
    params: ParameterRegistry,
    prefix: string,
    private readonly config: LocalAttentionConfig,
  ) {
    const { hiddenSize: H, numHeads: Hq, numKvHeads: Hkv, headDim: E, qkvBias, inputStd } = config;
    this.q = declareLinear(params, `${prefix}.q_proj`, H, Hq * E, qkvBias, inputStd);
    this.k = declareLinear(params, `${prefix}.k_proj`, H, Hkv * E, qkvBias, inputStd);
    this.v = declareLinear(params, `${prefix}.v_proj`, H, Hkv * E, qkvBias, inputStd);
    this.o = declareLinear(params, `${prefix}.o_proj`, Hq * E, H, true, config.outputStd);
    this.invFreq = rotaryFrequencies(config.rotaryDim, config.ropeTheta);
  }

  /** Rotated q [B, L, Hq, E], k and v [B, L, Hkv, E] for x [B, L, H], positions from `start`. */
  private project(x: Tensor, start: number): { q: Tensor; k: Tensor; v: Tensor } {
    const { numHeads: Hq, numKvHeads: Hkv, headDim: E } = this.config;
    const [B, L] = x.shape;
    const heads = (t: Tensor, n: number) => F.reshape(t, [B, L, n, E]); // [B, L, n·E] → [B, L, n, E]
    return {
      q: rotary(heads(applyLinear(this.q, x), Hq), this.invFreq, start),
      k: rotary(heads(applyLinear(this.k, x), Hkv), this.invFreq, start),
      v: heads(applyLinear(this.v, x), Hkv),
    };
  }

  /** x [B, L, H] → [B, L, H]. */
  forward(x: Tensor): Tensor {
    const [B, L] = x.shape;
    const { q, k, v } = this.project(x, 0);
    const heads = localAttention(q, k, v, this.config.window); // [B, L, Hq, E]
    return this.projectOutput(F.reshape(heads, [B, L, -1]));
  }

  /** The real attention probabilities [B, Hq, L, L] on x [B, L, H] (zeros outside the causal window). */
  attentionWeights(x: Tensor): Tensor {
    return this.internals(x).weights;
  }

  /** The attention of x [B, L, H] with the values it weighs; no gradient. */
  internals(x: Tensor): LocalAttentionInternals {
    return F.noGrad(() => {
      const { q, k, v } = this.project(x, 0);
      return { weights: localAttentionWeights(q, k, v, this.config.window), values: v };
    });
  }

  /** The linear map from the concatenated head outputs [..., Hq·E] to the block output [..., H]: o_proj. */
  projectOutput(heads: Tensor): Tensor {
    return applyLinear(this.o, heads);
  }

  initialState(batch: number): KvCache {
    const { window, numKvHeads, headDim } = this.config;
    return kvCache(batch, window, numKvHeads, headDim, this.o.weight.dtype);
  }

  /** One token: x [B, H] → [B, H], appending its key and value to the ring cache. */
  step(x: Tensor, cache: KvCache): Tensor {
    const [B, H] = x.shape;
    const { q, k, v } = this.project(F.reshape(x, [B, 1, H]), cache.position);
    const heads = localAttentionStep(q, k, v, cache, this.config.window); // [B, 1, Hq, E]
    return this.projectOutput(F.reshape(heads, [B, -1]));
  }
}
