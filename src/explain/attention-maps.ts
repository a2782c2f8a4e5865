/**
 * Per-layer maps the attention-based recipes are built from, streamed over channels so that
 * only one L×L channel matrix (plus the L×L result) is alive at a time:
 * - the target row of a_ℓ (row mode, O(C·L) memory — raw, unified-attr);
 * - the full a_ℓ, channel-aggregated (rollout);
 * - Mamba-Attr's jointly min–max-scaled channel mean (hidden-attr);
 * - Chefer's channel mean of (∇H ⊙ H)^+ with the exact gradient on H (grad-attn).
 * Real attention layers (RecurrentGemma's local attention) enter with heads as channels.
 */
import { Tensor } from '../core/index.js';
import type { FloatArray } from '../core/index.js';
import { channelMatrix, CoreCache, matrixCount } from '../implicit/compose.js';
import type { AttentionDecomposition, LayerDecomposition, Variant } from '../implicit/decomposition.js';
import { extract } from '../implicit/extract.js';
import type { Reduce } from '../implicit/extract.js';
import { ExplainError } from './types.js';
import type { ChannelAggregation } from './types.js';

const REDUCTION: Record<ChannelAggregation, Reduce> = { positive: 'mean-positive', signed: 'mean', abs: 'mean-abs' };

/** The elementwise part of an aggregation: clamp(x, 0), x or |x|. */
export function aggregateValue(x: number, aggregation: ChannelAggregation): number {
  return aggregation === 'positive' ? Math.max(0, x) : aggregation === 'abs' ? Math.abs(x) : x;
}

/** Row t of a_ℓ: the channel aggregate of row t of every channel's H [L] (zero after t). */
export function aggregatedRow(d: LayerDecomposition, t: number, variant: Variant, aggregation: ChannelAggregation): Float64Array {
  return extract(d, { variant, reduce: REDUCTION[aggregation], row: t, dtype: 'float64' }).data as Float64Array;
}

/** a_ℓ, the channel aggregate of every channel's H [L×L]. */
export function aggregatedMatrix(d: LayerDecomposition, variant: Variant, aggregation: ChannelAggregation): Float64Array {
  return extract(d, { variant, reduce: REDUCTION[aggregation], dtype: 'float64' }).data as Float64Array;
}

/** Calls `visit` with every matrix of the layer (channel or core matrices, or attention heads) in one reused buffer. */
function forEachMatrix(d: LayerDecomposition, variant: Variant, visit: (m: Float64Array) => void): number {
  const L = d.length;
  const buffer = new Float64Array(L * L);
  if (d.kind === 'attention') {
    for (let h = 0; h < d.heads; h++) {
      buffer.set(d.weights.data.subarray(h * L * L, (h + 1) * L * L));
      visit(buffer);
    }
    return d.heads;
  }
  const count = matrixCount(d, variant);
  const cache = new CoreCache(d);
  for (let c = 0; c < count; c++) {
    channelMatrix(d, 0, c, variant, buffer, cache);
    visit(buffer);
  }
  return count;
}

/**
 * Mamba-Attr's layer map (Ali et al. 2024, official `generate_mamba_attr`): every matrix
 * aggregated elementwise (clamp ≥ 0 by default), min–max scaled with one min and max over all
 * channels' causal entries (s ≤ t), then averaged over channels [L×L], zero above the diagonal.
 * Since the scaling is one affine map, it is applied to the channel mean.
 */
export function jointlyScaledMean(d: LayerDecomposition, variant: Variant, aggregation: ChannelAggregation): Float64Array {
  const L = d.length;
  const sum = new Float64Array(L * L);
  let lo = Infinity;
  let hi = -Infinity;
  const count = forEachMatrix(d, variant, (m) => {
    for (let t = 0; t < L; t++) {
      for (let s = 0; s <= t; s++) {
        const v = aggregateValue(m[t * L + s], aggregation);
        sum[t * L + s] += v;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
  });
  const range = hi - lo;
  for (let t = 0; t < L; t++) {
    for (let s = 0; s <= t; s++) sum[t * L + s] = range > 0 ? (sum[t * L + s] / count - lo) / range : 0;
  }
  return sum;
}

/** Checks that an attention layer's values fit its weights (head h reads kv head ⌊h / (heads / Hkv)⌋). */
function attentionGradientParts(d: AttentionDecomposition): AttentionDecomposition {
  const [B, L, kvHeads] = d.values.shape;
  if (d.values.rank !== 4 || B !== d.batch || L !== d.length || d.heads % kvHeads !== 0) {
    throw new ExplainError(`grad-attn: ${d.mixer} values of shape [${d.values.shape.join(', ')}] do not fit ${d.heads} heads × ${d.length} tokens`);
  }
  return d;
}

/**
 * The input of the mixer's output projection, pre_out [1, L, C] (C = heads·P for attention
 * layers), and the projection. The projection is linear (affine), so its vector–Jacobian
 * product does not depend on the point: for attention layers a zero tensor of the shape stands in.
 */
export function preOutputOf(d: LayerDecomposition): { preOut: Tensor; projectOutput: (p: Tensor) => Tensor } {
  if (d.kind === 'attention') {
    const { values, projectOutput } = attentionGradientParts(d);
    const [B, L, , P] = values.shape;
    return { preOut: Tensor.zeros([B, L, d.heads * P], values.dtype), projectOutput };
  }
  return { preOut: d.preOut, projectOutput: d.projectOutput };
}

/**
 * Chefer's Ā_ℓ with the exact gradient on the implicit attention: pre_out^c = H^c v^c (+ bias),
 * so ∂target/∂H^c[t,s] = g_t^c v_s^c with g = ∂target/∂pre_out [L, C], and
 *   Ā[t,s] = mean_c agg(g_t^c · H^c[t,s] · v_s^c)        [L×L], zero above the diagonal.
 * With `hidden`, channel c uses its core's matrix. For an attention layer, head h's
 * ∂target/∂A_h[t,s] = Σ_p g[t,h,p] V[s,kv(h),p] with g = ∂target/∂(concatenated heads).
 */
export function gradientWeightedMap(d: LayerDecomposition, g: FloatArray, variant: Variant, aggregation: ChannelAggregation): Float64Array {
  const L = d.length;
  const out = new Float64Array(L * L);
  const buffer = new Float64Array(L * L);
  if (d.kind === 'attention') {
    const { values } = attentionGradientParts(d);
    const [, , kvHeads, P] = values.shape;
    const heads = d.heads;
    const v = values.data;
    for (let h = 0; h < heads; h++) {
      const A = d.weights.data.subarray(h * L * L, (h + 1) * L * L);
      const kv = Math.floor(h / (heads / kvHeads));
      for (let t = 0; t < L; t++) {
        for (let s = 0; s <= t; s++) {
          let gv = 0;
          for (let p = 0; p < P; p++) gv += g[(t * heads + h) * P + p] * v[(s * kvHeads + kv) * P + p];
          out[t * L + s] += aggregateValue(gv * A[t * L + s], aggregation) / heads;
        }
      }
    }
    return out;
  }
  const C = d.channels;
  const v = d.values.data;
  const cache = new CoreCache(d);
  for (let c = 0; c < C; c++) {
    channelMatrix(d, 0, variant === 'hidden' ? d.coreIndex(c) : c, variant, buffer, cache);
    for (let t = 0; t < L; t++) {
      const gt = g[t * C + c];
      if (gt === 0) continue;
      for (let s = 0; s <= t; s++) out[t * L + s] += aggregateValue(gt * buffer[t * L + s] * v[s * C + c], aggregation) / C;
    }
  }
  return out;
}
