/**
 * Plain reference for `selectiveScan`, same signature: the recurrence written step by step
 * with primitive autograd ops (slow; for tests and as readable documentation).
 *   h_t = exp(Δ_t A) ⊙ h_{t−1} + (Δ_t u_t) B_t,   y_t = Σ_n C_t h_t + D u_t
 */
import * as F from '../core/index.js';
import { Tensor } from '../core/index.js';

export function selectiveScanReference(u: Tensor, delta: Tensor, A: Tensor, Bm: Tensor, Cm: Tensor, Dskip: Tensor): Tensor {
  const [B, L, D] = u.shape;
  const N = A.shape[1];
  let h = Tensor.zeros([B, D, N], u.dtype);
  const ys: Tensor[] = [];
  for (let t = 0; t < L; t++) {
    const ut = F.reshape(F.slice(u, 1, t, t + 1), [B, D, 1]);
    const dt = F.reshape(F.slice(delta, 1, t, t + 1), [B, D, 1]);
    const Bt = F.slice(Bm, 1, t, t + 1); // [B, 1, N]
    const Ct = F.slice(Cm, 1, t, t + 1); // [B, 1, N]
    h = F.add(F.mul(F.exp(F.mul(dt, A)), h), F.mul(F.mul(dt, ut), Bt)); // [B, D, N]
    const yt = F.add(F.sum(F.mul(h, Ct), 2), F.mul(F.reshape(ut, [B, D]), Dskip)); // [B, D]
    ys.push(F.reshape(yt, [B, 1, D]));
  }
  return F.concat(ys, 1); // [B, L, D]
}
