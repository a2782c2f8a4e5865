/**
 * RWKV-4 (implicit-attention.md §2.3): core α^c is WKV's normalised attention per channel,
 *   logits[t,s] = −(t−1−s)·e^{w_c} + k_s (s < t),  u_c + k_t (s = t),  α[t,·] = softmax_{s≤t},
 * gate σ(r); no activation, conv or bias, so paper = exact. Token shift precedes the values.
 */
import * as F from '../../core/index.js';
import type { Tensor } from '../../core/index.js';
import type { RwkvInternals } from '../../models/rwkv.js';
import { withKernelCore } from '../compose.js';
import type { RecurrentDecomposition } from '../decomposition.js';
import { dims3 } from './common.js';

export function rwkvDecomposition(m: RwkvInternals, projectOutput: (preOut: Tensor) => Tensor): RecurrentDecomposition {
  const [batch, L, C] = dims3(m.v);
  const k = m.k.data;
  const decay = Float64Array.from(m.w.data, (w) => Math.exp(w));
  const bonus = m.u.data;

  /** Softmax row t, max-subtracted so every exponent is ≤ 0. */
  function coreRow(b: number, c: number, t: number, out: Float64Array): void {
    let max = -Infinity;
    for (let s = 0; s <= t; s++) {
      const ks = k[(b * L + s) * C + c];
      const logit = s === t ? bonus[c] + ks : -(t - 1 - s) * decay[c] + ks;
      out[s] = logit;
      if (logit > max) max = logit;
    }
    let z = 0;
    for (let s = 0; s <= t; s++) {
      out[s] = Math.exp(out[s] - max);
      z += out[s];
    }
    for (let s = 0; s <= t; s++) out[s] /= z;
  }

  /**
   * All rows with one exp per row: logit[t,s] = a_s − (t−1)·e^w for s < t, where
   * a_s = k_s + s·e^w does not depend on t. Keep q[s] = exp(a_s − M) for the running maximum
   * M = max_{s<t} a_s (rescaled by exp(M_old − M) ≤ 1 when it grows); the row's maximum R over
   * the off-diagonal part and the bonus logit u + k_t then gives every exponent ≤ 0.
   */
  function coreMatrix(b: number, c: number, out: Float64Array): void {
    const w = decay[c];
    const q = new Float64Array(L);
    let M = -Infinity;
    for (let t = 0; t < L; t++) {
      if (t > 0) {
        const a = k[(b * L + t - 1) * C + c] + (t - 1) * w; // a_{t−1} joins the off-diagonal part
        if (a > M) {
          const shrink = Math.exp(M - a);
          for (let s = 0; s < t - 1; s++) q[s] *= shrink;
          M = a;
        }
        q[t - 1] = Math.exp(a - M);
      }
      const offMax = M - (t - 1) * w; // max_{s<t} logit[t,s]
      const diag = bonus[c] + k[(b * L + t) * C + c];
      const R = Math.max(offMax, diag);
      const scaleOff = t > 0 ? Math.exp(offMax - R) : 0;
      const row = t * L;
      let z = Math.exp(diag - R);
      for (let s = 0; s < t; s++) {
        const v = q[s] * scaleOff;
        out[row + s] = v;
        z += v;
      }
      out[row + t] = Math.exp(diag - R);
      const inv = 1 / z;
      for (let s = 0; s <= t; s++) out[row + s] *= inv;
    }
  }

  return withKernelCore({
    kind: 'recurrent',
    mixer: 'rwkv',
    batch,
    length: L,
    channels: C,
    cores: C,
    coreIndex: (c) => c,
    coreRow,
    coreMatrix,
    gate: m.r.data,
    act: null,
    convWeight: null,
    convK: 0,
    convBias: null,
    skip: null,
    values: m.v,
    preOut: F.noGrad(() => F.mul(m.r, m.wkv)),
    channelsPerHead: 1,
    projectOutput,
  }, { kind: 'wkv', C, k, decay, bonus });
}
