/**
 * Griffin's local attention block (De et al. 2024, §2.3; HF `RecurrentGemmaSdpaAttention`):
 * multi-query softmax attention over a causal sliding window, with rotary position
 * embedding on part of each head.
 *
 * Shapes: B batch, L time, Hq query heads, Hkv key/value heads (Hq a multiple of Hkv; query
 * head h reads KV head ⌊h / (Hq/Hkv)⌋), E head dim, Dr = rotary dims (first Dr of each head).
 *   q, k, v = rope(x W_qᵀ), rope(x W_kᵀ), x W_vᵀ        [B, L, Hq|Hkv, E]
 *   p[t, s] = softmax_s(q_t · k_s / √E)  over  t − window < s ≤ t
 *   out = o_proj(Σ_s p[t, s] v_s)                          [B, L, H]
 * The window holds `window` keys including the current one, as the decoding cache does.
 */
import * as F from '../core/index.js';
import { allocate, commonDType, expectRank, expectShape, isGradEnabled, record, ShapeError, Tensor } from '../core/index.js';
import type { DType, FloatArray } from '../core/index.js';
import { applyLinear, declareLinear } from './layers.js';
import type { Linear } from './layers.js';
import type { ParameterRegistry } from './parameters.js';

// ---------------------------------------------------------------------------------------
// Rotary position embedding (Su et al. 2021), HF's rotate-half pairing: dimension i < Dr/2
// pairs with i + Dr/2, both turned by the angle pos · θ^(−2i/Dr).

/** Inverse frequencies θ^(−2i/Dr), i < Dr/2. */
function inverseFrequencies(rotaryDim: number, theta: number): Float64Array {
  return Float64Array.from({ length: rotaryDim / 2 }, (_, i) => theta ** (-(2 * i) / rotaryDim));
}

/**
 * Rotates the first Dr dims of every head of x [B, L, H, E] by positions start, start+1, …
 * A rotation, so the backward applies the inverse rotation to the gradient.
 */
export function rotary(x: Tensor, invFreq: Float64Array, start: number): Tensor {
  expectRank('rotary', 'x', x, 4);
  const [B, L, H, E] = x.shape;
  const half = invFreq.length;
  const cos = new Float64Array(L * half);
  const sin = new Float64Array(L * half);
  for (let t = 0; t < L; t++) {
    for (let i = 0; i < half; i++) {
      const angle = (start + t) * invFreq[i];
      cos[t * half + i] = Math.cos(angle);
      sin[t * half + i] = Math.sin(angle);
    }
  }
  const turn = (src: FloatArray, dst: FloatArray, direction: 1 | -1): void => {
    for (let bt = 0; bt < B * L; bt++) {
      const t = bt % L;
      for (let h = 0; h < H; h++) {
        const o = (bt * H + h) * E;
        for (let i = 0; i < half; i++) {
          const c = cos[t * half + i];
          const s = direction * sin[t * half + i];
          const x1 = src[o + i];
          const x2 = src[o + i + half];
          dst[o + i] += x1 * c - x2 * s;
          dst[o + i + half] += x2 * c + x1 * s;
        }
        for (let i = 2 * half; i < E; i++) dst[o + i] += src[o + i];
      }
    }
  };
  const y = allocate(x.dtype, x.size);
  turn(x.data, y, 1);
  return record('rotary', [x], y, x.shape, (g, gradIn) => {
    const gx = gradIn(0);
    if (gx !== null) turn(g, gx, -1);
  });
}

// ---------------------------------------------------------------------------------------
// Sliding-window attention kernel.

/**
 * Softmax attention of one query (q at qOff, E values) over n keys and values at
 * kvOff + j·stride, scaled by `scale`: writes the probabilities to p[pOff + j] and the output
 * to out[oOff … oOff + E). Max-subtracted, so exp never sees a positive argument.
 */
function attendRow(
  q: FloatArray,
  qOff: number,
  k: FloatArray,
  v: FloatArray,
  kvOff: number,
  stride: number,
  n: number,
  E: number,
  scale: number,
  p: FloatArray,
  pOff: number,
  out: FloatArray,
  oOff: number,
): void {
  let max = -Infinity;
  for (let j = 0; j < n; j++) {
    const ko = kvOff + j * stride;
    let dot = 0;
    for (let e = 0; e < E; e++) dot += q[qOff + e] * k[ko + e];
    p[pOff + j] = dot * scale;
    if (p[pOff + j] > max) max = p[pOff + j];
  }
  let total = 0;
  for (let j = 0; j < n; j++) {
    const w = Math.exp(p[pOff + j] - max);
    p[pOff + j] = w;
    total += w;
  }
  for (let e = 0; e < E; e++) out[oOff + e] = 0;
  for (let j = 0; j < n; j++) {
    const w = p[pOff + j] / total;
    p[pOff + j] = w;
    const vo = kvOff + j * stride;
    for (let e = 0; e < E; e++) out[oOff + e] += w * v[vo + e];
  }
}

interface AttentionDims {
  B: number;
  L: number;
  Hq: number;
  Hkv: number;
  E: number;
  /** Keys per query row, min(window, L): the row length of the stored probabilities. */
  span: number;
  window: number;
}

/**
 * Output [B, L, Hq, E] and, when `keep`, the probabilities [B, Hq, L, span] (row t holds keys
 * max(0, t − window + 1) … t from column 0).
 */
function attentionForward(q: FloatArray, k: FloatArray, v: FloatArray, d: AttentionDims, keep: boolean, dtype: DType) {
  const { B, L, Hq, Hkv, E, span, window } = d;
  const group = Hq / Hkv;
  const scale = 1 / Math.sqrt(E);
  const out = allocate(dtype, B * L * Hq * E);
  const probs = allocate(dtype, keep ? B * Hq * L * span : span);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < Hq; h++) {
      const kvHead = Math.floor(h / group);
      for (let t = 0; t < L; t++) {
        const first = Math.max(0, t - window + 1);
        const qOff = ((b * L + t) * Hq + h) * E;
        const kvOff = ((b * L + first) * Hkv + kvHead) * E;
        const pOff = keep ? ((b * Hq + h) * L + t) * span : 0;
        attendRow(q, qOff, k, v, kvOff, Hkv * E, t - first + 1, E, scale, probs, pOff, out, qOff);
      }
    }
  }
  return { out, probs };
}

/**
 * Backward of softmax attention, per query row with probabilities p and ∂out = g_t:
 *   ∂p_s = g_t · v_s,   ∂score_s = p_s (∂p_s − Σ_j p_j ∂p_j),
 *   ∂q_t += scale Σ_s ∂score_s k_s,   ∂k_s += scale ∂score_s q_t,   ∂v_s += p_s g_t.
 */
function attentionBackward(grads: (FloatArray | null)[], g: FloatArray, q: FloatArray, k: FloatArray, v: FloatArray, probs: FloatArray, d: AttentionDims): void {
  const [gq, gk, gv] = grads;
  const { B, L, Hq, Hkv, E, span, window } = d;
  const group = Hq / Hkv;
  const scale = 1 / Math.sqrt(E);
  const stride = Hkv * E;
  const dp = new Float64Array(span);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < Hq; h++) {
      const kvHead = Math.floor(h / group);
      for (let t = 0; t < L; t++) {
        const first = Math.max(0, t - window + 1);
        const n = t - first + 1;
        const qOff = ((b * L + t) * Hq + h) * E;
        const kvOff = ((b * L + first) * Hkv + kvHead) * E;
        const pOff = ((b * Hq + h) * L + t) * span;
        let weighted = 0;
        for (let j = 0; j < n; j++) {
          const vo = kvOff + j * stride;
          let dot = 0;
          for (let e = 0; e < E; e++) dot += g[qOff + e] * v[vo + e];
          dp[j] = dot;
          weighted += probs[pOff + j] * dot;
        }
        for (let j = 0; j < n; j++) {
          const o = kvOff + j * stride;
          const p = probs[pOff + j];
          const ds = scale * p * (dp[j] - weighted);
          if (gq !== null) for (let e = 0; e < E; e++) gq[qOff + e] += ds * k[o + e];
          if (gk !== null) for (let e = 0; e < E; e++) gk[o + e] += ds * q[qOff + e];
          if (gv !== null) for (let e = 0; e < E; e++) gv[o + e] += p * g[qOff + e];
        }
      }
    }
  }
}

function attentionDims(q: Tensor, k: Tensor, v: Tensor, window: number): AttentionDims {
  const op = 'localAttention';
  commonDType(op, q, k, v);
  expectRank(op, 'q', q, 4);
  expectRank(op, 'k', k, 4);
  const [B, L, Hq, E] = q.shape;
  const Hkv = k.shape[2];
  expectShape(op, 'k', k, [B, L, Hkv, E]);
  expectShape(op, 'v', v, [B, L, Hkv, E]);
  if (Hq % Hkv !== 0) throw new ShapeError(`${op}: ${Hq} query heads are not a multiple of ${Hkv} key/value heads`);
  if (!(Number.isInteger(window) && window > 0)) throw new ShapeError(`${op}: window should be a positive integer, got ${window}`);
  return { B, L, Hq, Hkv, E, span: Math.min(window, L), window };
}

/**
 * Causal sliding-window softmax attention, one fused op: q [B, L, Hq, E], k, v [B, L, Hkv, E]
 * → [B, L, Hq, E], scale 1/√E, query t sees keys t − window < s ≤ t. Memory O(L · window).
 */
export function localAttention(q: Tensor, k: Tensor, v: Tensor, window: number): Tensor {
  const d = attentionDims(q, k, v, window);
  const keep = isGradEnabled() && [q, k, v].some((t) => t.requiresGrad);
  const { out, probs } = attentionForward(q.data, k.data, v.data, d, keep, q.dtype);
  return record('localAttention', [q, k, v], out, q.shape, (g, gradIn) => {
    attentionBackward([gradIn(0), gradIn(1), gradIn(2)], g, q.data, k.data, v.data, probs, d);
  });
}

/** The attention probabilities of `localAttention` as dense matrices [B, Hq, L, L] (zeros outside the window). */
export function localAttentionWeights(q: Tensor, k: Tensor, v: Tensor, window: number): Tensor {
  const d = attentionDims(q, k, v, window);
  const { B, L, Hq, span } = d;
  const { probs } = attentionForward(q.data, k.data, v.data, d, true, q.dtype);
  const dense = allocate(q.dtype, B * Hq * L * L);
  for (let row = 0; row < B * Hq * L; row++) {
    const t = row % L;
    const first = Math.max(0, t - window + 1);
    dense.set(probs.subarray(row * span, row * span + t - first + 1), row * L + first);
  }
  return new Tensor(dense, [B, Hq, L, L]);
}

// ---------------------------------------------------------------------------------------
// The block.

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

/** Decoding cache: the last `window` rotated keys and values in a ring [B, window, Hkv, E]. */
export interface KvCache {
  keys: FloatArray;
  values: FloatArray;
  /** Tokens seen so far; the next one goes to slot position mod window. */
  position: number;
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
    this.invFreq = inverseFrequencies(config.rotaryDim, config.ropeTheta);
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
    return applyLinear(this.o, F.reshape(heads, [B, L, -1]));
  }

  /** The real attention probabilities [B, Hq, L, L] on x [B, L, H] (zeros outside the causal window). */
  attentionWeights(x: Tensor): Tensor {
    return F.noGrad(() => {
      const { q, k, v } = this.project(x, 0);
      return localAttentionWeights(q, k, v, this.config.window);
    });
  }

  initialState(batch: number): KvCache {
    const { window, numKvHeads: Hkv, headDim: E } = this.config;
    const dtype = this.o.weight.dtype;
    return { keys: allocate(dtype, batch * window * Hkv * E), values: allocate(dtype, batch * window * Hkv * E), position: 0 };
  }

  /** One token: x [B, H] → [B, H], appending its key and value to the ring cache. */
  step(x: Tensor, cache: KvCache): Tensor {
    const { window, numHeads: Hq, numKvHeads: Hkv, headDim: E } = this.config;
    const [B, H] = x.shape;
    const { q, k, v } = this.project(F.reshape(x, [B, 1, H]), cache.position);
    const slot = cache.position % window;
    const stride = Hkv * E;
    for (let b = 0; b < B; b++) {
      cache.keys.set(k.data.subarray(b * stride, (b + 1) * stride), (b * window + slot) * stride);
      cache.values.set(v.data.subarray(b * stride, (b + 1) * stride), (b * window + slot) * stride);
    }
    cache.position++;
    const n = Math.min(cache.position, window);
    const out = allocate(q.dtype, B * Hq * E);
    const probs = allocate(q.dtype, n);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < Hq; h++) {
        const qOff = (b * Hq + h) * E;
        const kvOff = b * window * stride + Math.floor(h / (Hq / Hkv)) * E;
        attendRow(q.data, qOff, cache.keys, cache.values, kvOff, stride, n, E, 1 / Math.sqrt(E), probs, 0, out, qOff);
      }
    }
    return applyLinear(this.o, new Tensor(out, [B, Hq * E]));
  }
}
