/**
 * MLLA, Mamba-like linear attention (Han et al. 2024, "Demystify Mamba in Vision: A Linear
 * Attention Perspective", Fig. 2; official LeapLabTHU/MLLA `MLLABlock` + `LinearAttention`).
 * The mixer of one block on x [B, L, C] (after norm1), per channel c of head h = ⌊c/P⌋:
 *
 *   g = silu(act_proj x)                  input gate (the paper's "input gate", multiplies the output)
 *   X = in_proj x                         the values v the implicit attention acts on
 *   a = dwc(X) + b_dwc,  u = silu(a)      depthwise 3×3 conv on the token grid (Mamba's conv)
 *   q, k = elu(qk(u)) + 1                 positive feature maps;  q̃, k̃ = RoPE₂D(q), RoPE₂D(k)
 *   z_t = 1 / (q_t · mean_s k_s + 1e-6)   per head
 *   A^h[t, s] = z_t · (q̃_t · k̃_s) / L     the head's (non-causal) linear-attention matrix
 *   o = A^h u + LePE(u),  LePE(u)^c = P^c u^c + b_lepe    (P^c: depthwise 3×3 conv as an L×L matrix)
 *   pre_out = g ⊙ o,   out = out_proj(pre_out)
 *
 * Folding silu(a) = σ(a)·a as a diagonal (as for Mamba, implicit-attention.md §2.1), with M^c
 * the dwc's L×L matrix:
 *   H_exact^c = diag(g^c) · (A^h + P^c) · diag(σ(a^c)) · M^c,
 *   bias^c    = diag(g^c) · ((A^h + P^c) · (σ(a^c) ⊙ b_dwc^c) + b_lepe^c),
 *   H_paper^c = diag(g^c) · A^h · diag(σ(a^c)) · M^c          (LePE plays the role of Mamba's D skip),
 *   hidden    = A^h per head (the linear attention alone); ablations drop M, g or σ(a).
 * Every entry may be non-zero: rows are full. One row costs O(L·P + L·k²).
 */
import type { FloatArray, Tensor } from '../../core/index.js';
import { conv2dTaps } from '../../vision/ops.js';
import type { NonCausalDecomposition, Variant } from '../decomposition.js';

/** The frozen quantities of one MLLA mixer on one input; arrays are [B, L, C] unless noted. */
export interface MllaInternals {
  /** g = silu(act_proj x). */
  gate: Tensor;
  /** X = in_proj x: the values. */
  x: Tensor;
  /** a = dwc(X) + b_dwc. */
  convPre: Tensor;
  /** q̃, k̃: RoPE'd positive features. */
  qRope: Tensor;
  kRope: Tensor;
  /** z [B, heads, L]. */
  z: Tensor;
  /** dwc weight [C, 1, k, k] and bias [C]. */
  convWeight: Tensor;
  convBias: Tensor | null;
  /** LePE weight [C, 1, k, k] and bias [C]. */
  lepeWeight: Tensor;
  lepeBias: Tensor | null;
  heads: number;
  /** G, the token grid side (L = G²). */
  grid: number;
  /** The mixer's real pre-output g ⊙ o. */
  preOut: Tensor;
}

export function mllaDecomposition(m: MllaInternals, projectOutput: (preOut: Tensor) => Tensor): NonCausalDecomposition {
  const [batch, L, C] = m.x.shape;
  const { heads, grid } = m;
  const P = C / heads;
  const k = m.convWeight.shape[2];
  const kl = m.lepeWeight.shape[2];
  const convTaps = conv2dTaps(grid, k);
  const lepeTaps = conv2dTaps(grid, kl);
  const gate = m.gate.data;
  const act = sigmoid(m.convPre.data);
  const [q, kr, z] = [m.qRope.data, m.kRope.data, m.z.data];
  const w = m.convWeight.data;
  const lw = m.lepeWeight.data;
  const row = new Float64Array(L);

  /** A^h[t, :] into out [L]. */
  function coreRow(b: number, h: number, t: number, out: Float64Array): void {
    const zt = z[(b * heads + h) * L + t] / L;
    const qt = (b * L + t) * C + h * P;
    for (let s = 0; s < L; s++) {
      const ks = (b * L + s) * C + h * P;
      let dot = 0;
      for (let p = 0; p < P; p++) dot += q[qt + p] * kr[ks + p];
      out[s] = zt * dot;
    }
  }

  /** Row t of the variant's H^c (or of A^c for hidden) into out [L]. */
  function channelRow(b: number, c: number, t: number, variant: Variant, out: Float64Array): void {
    if (variant === 'hidden') {
      coreRow(b, c, t, out);
      return;
    }
    coreRow(b, Math.floor(c / P), t, row);
    if (variant === 'exact') for (const [tap, s] of lepeTaps[t]) row[s] += lw[c * kl * kl + tap];
    if (variant !== 'without-act') for (let s = 0; s < L; s++) row[s] *= act[(b * L + s) * C + c];
    if (variant === 'without-conv') out.set(row);
    else {
      // (row · M^c)[s'] = Σ_t' row[t'] · M^c[t', s'],  M^c[t', s'] = w[c, tap] for (tap, s') ∈ taps(t').
      out.fill(0);
      for (let tp = 0; tp < L; tp++) {
        const r = row[tp];
        if (r === 0) continue;
        for (const [tap, s] of convTaps[tp]) out[s] += r * w[c * k * k + tap];
      }
    }
    if (variant !== 'without-gate') {
      const g = gate[(b * L + t) * C + c];
      for (let s = 0; s < L; s++) out[s] *= g;
    }
  }

  return {
    kind: 'non-causal',
    mixer: 'mlla',
    batch,
    length: L,
    channels: C,
    channelsPerHead: P,
    matrixCount: (variant) => (variant === 'hidden' ? heads : C),
    row: channelRow,
    matrix(b, mIndex, variant, out) {
      const buffer = new Float64Array(L);
      for (let t = 0; t < L; t++) {
        channelRow(b, mIndex, t, variant, buffer);
        out.set(buffer, t * L);
      }
    },
    bias(b, c, out) {
      const bc = m.convBias?.data[c] ?? 0;
      const bl = m.lepeBias?.data[c] ?? 0;
      for (let t = 0; t < L; t++) {
        coreRow(b, Math.floor(c / P), t, row);
        for (const [tap, s] of lepeTaps[t]) row[s] += lw[c * kl * kl + tap];
        let acc = 0;
        for (let s = 0; s < L; s++) acc += row[s] * act[(b * L + s) * C + c];
        out[t] = gate[(b * L + t) * C + c] * (acc * bc + bl);
      }
    },
    values: m.x,
    preOut: m.preOut,
    projectOutput,
  };
}

function sigmoid(x: FloatArray): Float64Array {
  return Float64Array.from(x, (v) => (v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v))));
}
