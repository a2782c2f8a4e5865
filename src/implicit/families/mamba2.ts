/**
 * Mamba2 (implicit-attention.md §2.2): one core per head h, shared by its P channels,
 *   core^h[t,s] = (C_t^{g(h)} · B_s^{g(h)}) · exp(A_h · Σ_{k=s+1..t} Δ_k[h]) · Δ_s[h],
 * gate = the gated RMSNorm's diagonal g, act σ(c), conv M, skip D[h], values X.
 */
import * as F from '../../core/index.js';
import type { Tensor } from '../../core/index.js';
import type { Mamba2Internals } from '../../models/mamba2.js';
import { withKernelCore } from '../compose.js';
import type { RecurrentDecomposition } from '../decomposition.js';
import { dims3, sigmoidOf } from './common.js';

export function mamba2Decomposition(m: Mamba2Internals, projectOutput: (preOut: Tensor) => Tensor): RecurrentDecomposition {
  const [batch, L, D] = dims3(m.x);
  const P = m.headDim;
  const heads = D / P;
  const [, , G, N] = m.B.shape;
  const headsPerGroup = heads / G;
  const dt = m.dt.data;
  const Bm = m.B.data;
  const Cm = m.C.data;
  const A = m.A.data;
  const skip = new Float64Array(D).map((_, c) => m.Dskip.data[Math.floor(c / P)]);

  /** C_t · B_s of head h's group. */
  const dotCB = (b: number, h: number, t: number, s: number): number => {
    const g = Math.floor(h / headsPerGroup);
    const ct = ((b * L + t) * G + g) * N;
    const bs = ((b * L + s) * G + g) * N;
    let acc = 0;
    for (let n = 0; n < N; n++) acc += Cm[ct + n] * Bm[bs + n];
    return acc;
  };

  function coreRow(b: number, h: number, t: number, out: Float64Array): void {
    let logDecay = 0; // Σ_{k=s+1..t} Δ_k[h], so A·logDecay ≤ 0
    for (let s = t; s >= 0; s--) {
      const ds = dt[(b * L + s) * heads + h];
      out[s] = dotCB(b, h, t, s) * Math.exp(A[h] * logDecay) * ds;
      logDecay += ds;
    }
  }

  /** Rows by the recurrence q[s] ← exp(A_h Δ_t)·q[s], q[t] = Δ_t: one exp per row. */
  function coreMatrix(b: number, h: number, out: Float64Array): void {
    const q = new Float64Array(L);
    for (let t = 0; t < L; t++) {
      const dtt = dt[(b * L + t) * heads + h];
      const decay = Math.exp(A[h] * dtt);
      for (let s = 0; s < t; s++) q[s] *= decay;
      q[t] = dtt;
      for (let s = 0; s <= t; s++) out[t * L + s] = dotCB(b, h, t, s) * q[s];
    }
  }

  return withKernelCore({
    kind: 'recurrent',
    mixer: 'mamba2',
    batch,
    length: L,
    channels: D,
    cores: heads,
    coreIndex: (c) => Math.floor(c / P),
    coreRow,
    coreMatrix,
    gate: m.normGain.data,
    act: sigmoidOf(m.convPre),
    convWeight: m.convWeight.data,
    convK: m.convWeight.shape[1],
    convBias: m.convBias?.data ?? null,
    skip,
    values: m.x,
    preOut: F.noGrad(() => F.mul(m.normGain, m.y)),
    channelsPerHead: P,
    projectOutput,
  }, { kind: 'ssd', heads, groups: G, N, dt, A, B: Bm, C: Cm });
}
