/**
 * `integrated-gradients` — Sundararajan et al. 2017 on the token embeddings, with the
 * all-zero embedding as baseline:
 *
 *   relevance_j = Σ_k e_j[k] · ∫₀¹ ∂target/∂e_j[k](α·e) dα,
 *
 * the integral by the m-point rule of `integrationRule` (m = `steps`, default 32): Gauss–Legendre
 * in ln α over [10⁻¹⁵, 1] plus one point on [0, 10⁻¹⁵]. Why logarithmic: trained gated RNNs
 * normalise and gate their inputs, so f(α·e) can change over many decades of small α (on the
 * fixtures' trained Mamba2 and the opening of Emma, f(10⁻¹⁵·e) = 9.9 while f(0) = 0, and f
 * wanders between 2.9 and 10.3 as α grows to 1; `npx tsx scripts/ig-path.ts DIR TEXT` prints
 * such a path). Neither this rule nor 32-point Gauss–Legendre on [0, 1] integrates such paths:
 * over the ten evaluation runs made both ways (docs/results-data/ now and at commit 44d9bf9)
 * the mean relative completeness error fell on four (fixture RWKV LM 0.75 → 0.36) and rose on
 * six (fixture Mamba2 LM 0.72 → 1.45) — a property of the zero baseline on these models.
 * The m scaled inputs run as batches of up to 8 sequences. Reports the completeness error
 *   Σ_j relevance_j − (f(e) − f(0)),  f = the target logit,
 * absolute and relative to |f(e) − f(0)|, so that IG's values are not mistaken for a
 * decomposition of the logit where the rule does not integrate the path.
 */
import * as F from '../../core/index.js';
import { Tensor } from '../../core/index.js';
import { ExplainError } from '../types.js';
import type { ExplainMethod } from '../types.js';

export const INTEGRATED_GRADIENTS_RECIPE =
  'relevance_j = Σ_k e_j[k]·∫₀¹ ∂target/∂e_j[k](α·e) dα (zero-embedding baseline, 32-point Gauss–Legendre in ln α on [10⁻¹⁵, 1] + one point on [0, 10⁻¹⁵]); completeness error Σ_j relevance_j − (f(e) − f(0))';

const BATCH = 8;

/** Nodes and weights of m-point Gauss–Legendre quadrature on [0, 1] (Newton on P_m; weights sum to 1). */
export function gaussLegendre(m: number): { nodes: Float64Array; weights: Float64Array } {
  const nodes = new Float64Array(m);
  const weights = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let x = Math.cos((Math.PI * (i + 0.75)) / (m + 0.5));
    let dp = 1;
    for (let iter = 0; iter < 100; iter++) {
      let p0 = 1;
      let p1 = x;
      for (let k = 2; k <= m; k++) [p0, p1] = [p1, ((2 * k - 1) * x * p1 - (k - 1) * p0) / k];
      dp = (m * (x * p1 - p0)) / (x * x - 1);
      const dx = p1 / dp;
      x -= dx;
      if (Math.abs(dx) < 1e-16) break;
    }
    nodes[i] = (1 - x) / 2; // ascending in α
    weights[i] = 1 / ((1 - x * x) * dp * dp); // (2 / ((1 − x²) P'(x)²)) / 2
  }
  return { nodes, weights };
}

/** Where the logarithmic part of the IG path starts: α ∈ [0, α₀] gets one midpoint node. */
export const IG_LOG_START = 1e-15;
/** Fewest points for which `integrationRule` is logarithmic. */
export const LOG_RULE_MIN_POINTS = 16;

/**
 * The IG quadrature rule on [0, 1] with m points: the midpoint of [0, α₀] (α₀ = 1e−15) and
 * (m − 1)-point Gauss–Legendre in u = ln α on [ln α₀, 0] (dα = α du), so nodes are spread
 * evenly over the decades of α and cluster towards α = 1. m = 1 is the midpoint rule on
 * [0, 1]. Weights sum to 1 within 1e−9 from m = 16 (they integrate ∫α du); below
 * LOG_RULE_MIN_POINTS points the logarithmic rule cannot integrate even a constant, so plain
 * Gauss–Legendre on [0, 1] is used. Nodes ascend.
 */
export function integrationRule(m: number): { nodes: Float64Array; weights: Float64Array } {
  if (m < LOG_RULE_MIN_POINTS) return gaussLegendre(m);
  const nodes = new Float64Array(m);
  const weights = new Float64Array(m);
  nodes[0] = IG_LOG_START / 2;
  weights[0] = IG_LOG_START;
  const span = -Math.log(IG_LOG_START);
  const rule = gaussLegendre(m - 1);
  for (let i = 0; i < m - 1; i++) {
    nodes[i + 1] = Math.exp(-span + span * rule.nodes[i]);
    weights[i + 1] = span * rule.weights[i] * nodes[i + 1];
  }
  return { nodes, weights };
}

export const integratedGradients: ExplainMethod = {
  name: 'integrated-gradients',
  aliases: ['ig'],
  description: 'integrated gradients from the all-zero embedding (Gauss–Legendre), with its completeness error',
  recipe: INTEGRATED_GRADIENTS_RECIPE,
  run(context, target, options) {
    const { model, ids } = context;
    const m = options.steps;
    if (!Number.isInteger(m) || m < 1) throw new ExplainError(`integrated-gradients: steps must be a positive integer, got ${m}`);
    const L = context.length;
    const H = model.config.hiddenSize;
    const V = context.logits().shape[2];
    const e = F.noGrad(() => model.embed(ids, 1, L)); // [1, L, H]
    const { nodes, weights } = integrationRule(m);
    const meanGrad = new Float64Array(L * H);
    for (let start = 0; start < m; start += BATCH) {
      const B = Math.min(BATCH, m - start);
      const data = F.allocate(e.dtype, B * L * H);
      for (let b = 0; b < B; b++) for (let i = 0; i < L * H; i++) data[b * L * H + i] = nodes[start + b] * e.data[i];
      const x = new Tensor(data, [B, L, H]).requireGrad();
      const logits = model.forward(x); // [B, L, V]
      const seed = F.allocate(logits.dtype, logits.size);
      for (let b = 0; b < B; b++) seed[(b * L + target.position) * V + target.token] = 1;
      F.backward(logits, seed);
      const grad = x.grad!;
      for (let b = 0; b < B; b++) {
        const w = weights[start + b];
        for (let i = 0; i < L * H; i++) meanGrad[i] += w * grad[b * L * H + i];
      }
    }
    const scores = new Float64Array(L);
    for (let j = 0; j < L; j++) for (let k = 0; k < H; k++) scores[j] += e.data[j * H + k] * meanGrad[j * H + k];
    const baselineLogits = F.noGrad(() => model.forward(Tensor.zeros([1, L, H], e.dtype)));
    const baselineLogit = baselineLogits.data[target.position * V + target.token];
    const total = scores.reduce((a, b) => a + b, 0);
    const difference = target.logit - baselineLogit;
    const completenessError = total - difference;
    return {
      scores,
      extra: { completenessError, relativeCompletenessError: Math.abs(completenessError) / Math.max(Math.abs(difference), Number.MIN_VALUE), baselineLogit },
    };
  },
};
