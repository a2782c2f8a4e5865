/**
 * GLA and RetNet (implicit-attention.md §2.5, fla-families.md §GLA, §RetNet): one core per
 * head h, shared by its dv value channels,
 *   core^h[t, s] = Σ_j q_t[j] k_s[j] exp(b_t[j] − b_s[j]),   b_t = Σ_{k≤t} γ_k   (s ≤ t)
 * with q already scaled by dk^−½ (and rotated for RetNet, whose γ is the constant log γ_h, so
 * core^h[t, s] = γ_h^{t−s} q̃_t·k̃_s). gate = the per-head gated RMSNorm's diagonal
 * w ⊙ silu(g) / rms_{t,h}; values = v; no activation, conv, skip or bias, so paper = exact.
 * `projectOutput` is the layer's o_proj (GatedAttention.projectOutput).
 */
import type { Tensor } from '../../core/index.js';
import type { GatedAttentionInternals } from '../../models/gla.js';
import { withKernelCore } from '../compose.js';
import type { RecurrentDecomposition } from '../decomposition.js';
import { dims3 } from './common.js';

export function gatedLinearAttentionDecomposition(mixer: string, m: GatedAttentionInternals, projectOutput: (preOut: Tensor) => Tensor): RecurrentDecomposition {
  const [batch, L, C] = dims3(m.values);
  const [, , heads, dk] = m.q.shape;
  const q = m.q.data;
  const k = m.k.data;
  const logDecay = m.logDecay.data;
  /** Offset of (b, t, h, 0) in q, k and γ [B, L, H, dk]. */
  const at = (b: number, t: number, h: number) => ((b * L + t) * heads + h) * dk;

  /** Row t by log-decays Σ_{k=s+1..t} γ_k accumulated backwards from s = t (exponents ≤ 0). */
  function coreRow(b: number, h: number, t: number, out: Float64Array): void {
    const logSum = new Float64Array(dk);
    const qt = at(b, t, h);
    for (let s = t; s >= 0; s--) {
      const ks = at(b, s, h);
      let acc = 0;
      for (let j = 0; j < dk; j++) acc += q[qt + j] * k[ks + j] * Math.exp(logSum[j]);
      out[s] = acc;
      for (let j = 0; j < dk; j++) logSum[j] += logDecay[ks + j];
    }
  }

  /**
   * All rows by the recurrence k̂_s ← exp(γ_t) ⊙ k̂_s (s < t), k̂_t = k_t, then
   * core[t, s] = q_t · k̂_s: O(L²·dk) multiply-adds, O(L·dk) exps, O(L·dk) memory per head.
   */
  function coreMatrix(b: number, h: number, out: Float64Array): void {
    const decayed = new Float64Array(L * dk); // k̂_s = k_s ⊙ Π_{k=s+1..t} exp(γ_k)
    const decay = new Float64Array(dk);
    for (let t = 0; t < L; t++) {
      const row = at(b, t, h);
      for (let j = 0; j < dk; j++) decay[j] = Math.exp(logDecay[row + j]);
      for (let s = 0; s < t; s++) for (let j = 0; j < dk; j++) decayed[s * dk + j] *= decay[j];
      for (let j = 0; j < dk; j++) decayed[t * dk + j] = k[row + j];
      for (let s = 0; s <= t; s++) {
        let acc = 0;
        for (let j = 0; j < dk; j++) acc += q[row + j] * decayed[s * dk + j];
        out[t * L + s] = acc;
      }
    }
  }

  return withKernelCore({
    kind: 'recurrent',
    mixer,
    batch,
    length: L,
    channels: C,
    cores: heads,
    coreIndex: (c) => Math.floor(c / m.headVDim),
    coreRow,
    coreMatrix,
    gate: m.normGain.data,
    act: null,
    convWeight: null,
    convK: 0,
    convBias: null,
    skip: null,
    values: m.values,
    preOut: m.preOut,
    channelsPerHead: m.headVDim,
    projectOutput,
  }, { kind: 'gla', heads, dk, q, k, logDecay });
}
