/**
 * RWKV-4 (implicit-attention.md §2.3): core α^c is WKV's normalised attention per channel,
 *   logits[t,s] = −(t−1−s)·e^{w_c} + k_s (s < t),  u_c + k_t (s = t),  α[t,·] = softmax_{s≤t},
 * gate σ(r); no activation, conv or bias, so paper = exact. Token shift precedes the values.
 */
import * as F from '../../core/index.js';
import type { Tensor } from '../../core/index.js';
import type { RwkvInternals } from '../../models/rwkv.js';
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

  function coreMatrix(b: number, c: number, out: Float64Array): void {
    for (let t = 0; t < L; t++) coreRow(b, c, t, out.subarray(t * L, t * L + L));
  }

  return {
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
  };
}
