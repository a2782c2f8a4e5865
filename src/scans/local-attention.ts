/**
 * Fused ops of local (sliding-window) softmax attention, with hand-written backwards:
 * rotary position embedding and causal sliding-window multi-query attention, plus the
 * one-token step over a ring-buffer KV cache. The layer that uses them is
 * models/local-attention.ts; the plain references are in test/scans/local-attention.test.ts.
 *
 * Shapes: B batch, L time, Hq query heads, Hkv key/value heads (Hq a multiple of Hkv; query
 * head h reads KV head ⌊h / (Hq/Hkv)⌋), E head dim.
 *   p[t, s] = softmax_s(q_t · k_s / √E)  over  t − window < s ≤ t,   out_t = Σ_s p[t, s] v_s
 * The window holds `window` keys including the current one, as the decoding cache does.
 */
import { allocate, commonDType, dtypeOf, expectRank, expectShape, isGradEnabled, record, ShapeError, Tensor } from '../core/index.js';
import type { DType, FloatArray } from '../core/index.js';

// ---------------------------------------------------------------------------------------
// Rotary position embedding (Su et al. 2021), HF's rotate-half pairing: dimension i < Dr/2
// pairs with i + Dr/2, both turned by the angle pos · θ^(−2i/Dr).

/** Inverse frequencies θ^(−2i/Dr), i < Dr/2, of rotary embedding on Dr dims. */
export function rotaryFrequencies(rotaryDim: number, theta: number): Float64Array {
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
 * d[dOff + j] = scale · (x · row_j) for the n rows of length E at rowOff + j·stride. Rows are
 * taken four at a time so each loaded x value serves four of them.
 */
function rowDots(x: FloatArray, xOff: number, rows: FloatArray, rowOff: number, stride: number, n: number, E: number, scale: number, d: FloatArray, dOff: number): void {
  let j = 0;
  for (; j + 3 < n; j += 4) {
    const r0 = rowOff + j * stride;
    const [r1, r2, r3] = [r0 + stride, r0 + 2 * stride, r0 + 3 * stride];
    let [s0, s1, s2, s3] = [0, 0, 0, 0];
    for (let e = 0; e < E; e++) {
      const xe = x[xOff + e];
      s0 += xe * rows[r0 + e];
      s1 += xe * rows[r1 + e];
      s2 += xe * rows[r2 + e];
      s3 += xe * rows[r3 + e];
    }
    d[dOff + j] = s0 * scale;
    d[dOff + j + 1] = s1 * scale;
    d[dOff + j + 2] = s2 * scale;
    d[dOff + j + 3] = s3 * scale;
  }
  for (; j < n; j++) {
    const r0 = rowOff + j * stride;
    let s0 = 0;
    for (let e = 0; e < E; e++) s0 += x[xOff + e] * rows[r0 + e];
    d[dOff + j] = s0 * scale;
  }
}

/** out[oOff … oOff + E) += Σ_j w[wOff + j] · row_j over the n rows at rowOff + j·stride, four at a time. */
function addWeightedRows(w: FloatArray, wOff: number, rows: FloatArray, rowOff: number, stride: number, n: number, E: number, out: FloatArray, oOff: number): void {
  let j = 0;
  for (; j + 3 < n; j += 4) {
    const r0 = rowOff + j * stride;
    const [r1, r2, r3] = [r0 + stride, r0 + 2 * stride, r0 + 3 * stride];
    const [w0, w1, w2, w3] = [w[wOff + j], w[wOff + j + 1], w[wOff + j + 2], w[wOff + j + 3]];
    for (let e = 0; e < E; e++) out[oOff + e] += w0 * rows[r0 + e] + w1 * rows[r1 + e] + w2 * rows[r2 + e] + w3 * rows[r3 + e];
  }
  for (; j < n; j++) {
    const r0 = rowOff + j * stride;
    const w0 = w[wOff + j];
    for (let e = 0; e < E; e++) out[oOff + e] += w0 * rows[r0 + e];
  }
}

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
  rowDots(q, qOff, k, kvOff, stride, n, E, scale, p, pOff);
  let max = -Infinity;
  for (let j = 0; j < n; j++) if (p[pOff + j] > max) max = p[pOff + j];
  let total = 0;
  for (let j = 0; j < n; j++) {
    const w = Math.exp(p[pOff + j] - max);
    p[pOff + j] = w;
    total += w;
  }
  for (let j = 0; j < n; j++) p[pOff + j] /= total;
  out.fill(0, oOff, oOff + E);
  addWeightedRows(p, pOff, v, kvOff, stride, n, E, out, oOff);
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
  const dp = allocate(dtypeOf(probs), span); // ∂p of one row, same element type as the kernels' other buffers
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < Hq; h++) {
      const kvHead = Math.floor(h / group);
      for (let t = 0; t < L; t++) {
        const first = Math.max(0, t - window + 1);
        const n = t - first + 1;
        const qOff = ((b * L + t) * Hq + h) * E;
        const kvOff = ((b * L + first) * Hkv + kvHead) * E;
        const pOff = ((b * Hq + h) * L + t) * span;
        rowDots(g, qOff, v, kvOff, stride, n, E, 1, dp, 0);
        let weighted = 0;
        for (let j = 0; j < n; j++) weighted += probs[pOff + j] * dp[j];
        for (let j = 0; j < n; j++) dp[j] = scale * probs[pOff + j] * (dp[j] - weighted); // now scale · ∂score_s
        if (gq !== null) addWeightedRows(dp, 0, k, kvOff, stride, n, E, gq, qOff);
        for (let j = 0; j < n; j++) {
          const o = kvOff + j * stride;
          const [ds, p] = [dp[j], probs[pOff + j]];
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

/** Decoding cache: the last `window` rotated keys and values, a ring [B, window, Hkv, E]. */
export interface KvCache {
  keys: FloatArray;
  values: FloatArray;
  /** Tokens seen so far; the next one goes to slot position mod window. */
  position: number;
}

export function kvCache(batch: number, window: number, kvHeads: number, headDim: number, dtype: DType): KvCache {
  const size = batch * window * kvHeads * headDim;
  return { keys: allocate(dtype, size), values: allocate(dtype, size), position: 0 };
}

/**
 * One token of `localAttention`: q [B, 1, Hq, E], k, v [B, 1, Hkv, E] (rotated at position
 * cache.position) → [B, 1, Hq, E]; appends k and v to the cache. No gradient.
 */
export function localAttentionStep(q: Tensor, k: Tensor, v: Tensor, cache: KvCache, window: number): Tensor {
  const { B, Hq, Hkv, E } = attentionDims(q, k, v, window);
  const stride = Hkv * E;
  if (cache.keys.length !== B * window * stride) {
    throw new ShapeError(`localAttentionStep: cache holds ${cache.keys.length} values, [${B}, ${window}, ${Hkv}, ${E}] needs ${B * window * stride}`);
  }
  const slot = cache.position % window;
  for (let b = 0; b < B; b++) {
    cache.keys.set(k.data.subarray(b * stride, (b + 1) * stride), (b * window + slot) * stride);
    cache.values.set(v.data.subarray(b * stride, (b + 1) * stride), (b * window + slot) * stride);
  }
  cache.position++;
  const n = Math.min(cache.position, window);
  const out = allocate(q.dtype, q.size);
  const probs = allocate(q.dtype, n);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < Hq; h++) {
      const qOff = (b * Hq + h) * E;
      const kvOff = b * window * stride + Math.floor(h / (Hq / Hkv)) * E;
      attendRow(q.data, qOff, cache.keys, cache.values, kvOff, stride, n, E, 1 / Math.sqrt(E), probs, 0, out, qOff);
    }
  }
  return new Tensor(out, q.shape);
}
