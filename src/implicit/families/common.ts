/** Small helpers shared by the per-family decompositions. */
import * as F from '../../core/index.js';
import type { FloatArray, Tensor } from '../../core/index.js';
import type { DecayCore } from '../../core/kernels/wasm/implicit-wasm.js';

/** σ(c) elementwise: the activation silu(c) = σ(c)·c folded as a diagonal (paper §3). */
export function sigmoidOf(convPre: Tensor): FloatArray {
  return F.noGrad(() => F.sigmoid(convPre)).data;
}

/** Lays [B, L, C] data out so that index (b, t, c) reads data[(b·L + t)·C + c]; checks the shape. */
export function dims3(t: Tensor): [number, number, number] {
  if (t.rank !== 3) throw new F.ShapeError(`implicit attention: expected a [B, L, C] tensor, got [${t.shape.join(', ')}]`);
  return [t.shape[0], t.shape[1], t.shape[2]];
}

/**
 * The cores of element-wise decaying recurrences h_t = a_t ⊙ h_{t−1} + w_t ⊙ x_t (RG-LRU, HGRN):
 *   core^c[t,s] = exp(Σ_{k=s+1..t} log a_k^c) · w_s^c,
 * with `logDecay` (log a ≤ 0) and `weight` (w) laid out [B, L, C]. log a at position 0 is never read.
 */
export function decayingCore(L: number, C: number, logDecay: FloatArray, weight: FloatArray) {
  /** Row t: exponents are sums of log-decays accumulated backwards from s = t (never positive). */
  function coreRow(b: number, c: number, t: number, out: Float64Array): void {
    let logSum = 0;
    for (let s = t; s >= 0; s--) {
      const idx = (b * L + s) * C + c;
      out[s] = Math.exp(logSum) * weight[idx];
      logSum += logDecay[idx];
    }
  }

  /** All rows by the recurrence q[s] ← a_t · q[s] (s < t), q[t] = w_t: O(L²) multiplies, O(L) exps. */
  function coreMatrix(b: number, c: number, out: Float64Array): void {
    const q = new Float64Array(L);
    for (let t = 0; t < L; t++) {
      const idx = (b * L + t) * C + c;
      const decay = Math.exp(logDecay[idx]);
      for (let s = 0; s < t; s++) q[s] *= decay;
      q[t] = weight[idx];
      out.set(q.subarray(0, t + 1), t * L);
    }
  }

  /** The same core as data, for the WASM builders. */
  const kernel: DecayCore = { kind: 'decay', C, logDecay, weight };

  return { coreRow, coreMatrix, kernel };
}
