/**
 * Mamba / FalconMamba (implicit-attention.md §2.1): core = S6 per channel d,
 *   S6^d[t,s] = Σ_n C_t[n] · exp(A[d,n] · Σ_{k=s+1..t} Δ_k[d]) · Δ_s[d] · B_s[n],
 * gate silu(Z), act σ(c), conv M, skip D, values X.
 */
import * as F from '../../core/index.js';
import type { Tensor } from '../../core/index.js';
import type { MambaInternals } from '../../models/mamba.js';
import { selectiveScan } from '../../scans/selective-scan.js';
import { withKernelCore } from '../compose.js';
import type { RecurrentDecomposition } from '../decomposition.js';
import { dims3, sigmoidOf } from './common.js';

export function mambaDecomposition(mixer: string, m: MambaInternals, projectOutput: (preOut: Tensor) => Tensor): RecurrentDecomposition {
  const [batch, L, D] = dims3(m.x);
  const N = m.A.shape[1];
  const delta = m.delta.data;
  const Bm = m.B.data;
  const Cm = m.C.data;
  const A = m.A.data;
  const K = m.convWeight.shape[1];
  const preOut = F.noGrad(() => F.mul(F.silu(m.z), selectiveScan(m.u, m.delta, m.A, m.B, m.C, m.Dskip)));

  /** Row t by direct sums of log-decays, accumulated backwards from s = t (exponents ≤ 0). */
  function coreRow(b: number, d: number, t: number, out: Float64Array): void {
    let logDecay = 0; // Σ_{k=s+1..t} Δ_k[d]
    for (let s = t; s >= 0; s--) {
      const ds = delta[(b * L + s) * D + d];
      let acc = 0;
      for (let n = 0; n < N; n++) acc += Cm[(b * L + t) * N + n] * Math.exp(A[d * N + n] * logDecay) * Bm[(b * L + s) * N + n];
      out[s] = acc * ds;
      logDecay += ds;
    }
  }

  /**
   * All rows by the recurrence Q_n[t, s] = exp(A[d,n] Δ_t) · Q_n[t−1, s], Q_n[t, t] = Δ_t B_t[n]:
   * O(L²N) multiply-adds, O(LN) exps, O(LN) memory per channel.
   */
  function coreMatrix(b: number, d: number, out: Float64Array): void {
    const Q = new Float64Array(N * L);
    for (let t = 0; t < L; t++) {
      const dt = delta[(b * L + t) * D + d];
      for (let n = 0; n < N; n++) {
        const decay = Math.exp(A[d * N + n] * dt);
        const q = n * L;
        for (let s = 0; s < t; s++) Q[q + s] *= decay;
        Q[q + t] = dt * Bm[(b * L + t) * N + n];
      }
      const row = t * L;
      for (let n = 0; n < N; n++) {
        const c = Cm[(b * L + t) * N + n];
        const q = n * L;
        for (let s = 0; s <= t; s++) out[row + s] += c * Q[q + s];
      }
    }
  }

  return withKernelCore({
    kind: 'recurrent',
    mixer,
    batch,
    length: L,
    channels: D,
    cores: D,
    coreIndex: (c) => c,
    coreRow,
    coreMatrix,
    gate: F.noGrad(() => F.silu(m.z)).data,
    act: sigmoidOf(m.convPre),
    convWeight: m.convWeight.data,
    convK: K,
    convBias: m.convBias?.data ?? null,
    skip: m.Dskip.data,
    values: m.x,
    preOut,
    channelsPerHead: 1,
    projectOutput,
  }, { kind: 's6', D, N, delta, A, B: Bm, C: Cm });
}
