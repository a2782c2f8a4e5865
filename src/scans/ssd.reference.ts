/**
 * The plain recurrence behind `ssd`, one time step at a time from primitive autograd ops
 * (slow; for tests). Same signature and shapes as `ssd`:
 *   S_t = exp(A Δ_t) S_{t−1} + Δ_t x_t B_tᵀ,   y_t = S_t C_t + Dskip x_t.
 * x [B, L, Hd, P], dt [B, L, Hd], A [Hd], Bm/Cm [B, L, G, N], Dskip [Hd] → y [B, L, Hd, P].
 */
import * as F from '../core/index.js';
import type { Tensor } from '../core/index.js';

export function ssdReference(x: Tensor, dt: Tensor, A: Tensor, Bm: Tensor, Cm: Tensor, Dskip: Tensor): Tensor {
  const [B, L, Hd, P] = x.shape;
  const [G, N] = Bm.shape.slice(2);
  const Hg = Hd / G; // heads per group
  const A5 = F.reshape(A, [G, Hg, 1, 1]);
  const D5 = F.reshape(Dskip, [G, Hg, 1, 1]);
  let state = F.Tensor.zeros([B, G, Hg, P, N], x.dtype);
  const outputs: Tensor[] = [];
  for (let t = 0; t < L; t++) {
    const xt = F.reshape(F.slice(x, 1, t, t + 1), [B, G, Hg, P, 1]);
    const dtt = F.reshape(F.slice(dt, 1, t, t + 1), [B, G, Hg, 1, 1]);
    const Bt = F.reshape(F.slice(Bm, 1, t, t + 1), [B, G, 1, 1, N]);
    const Ct = F.reshape(F.slice(Cm, 1, t, t + 1), [B, G, 1, N, 1]);
    const decay = F.exp(F.mul(A5, dtt)); // [B, G, Hg, 1, 1]
    state = F.add(F.mul(decay, state), F.mul(F.mul(dtt, xt), Bt)); // [B, G, Hg, P, N]
    const yt = F.add(F.matmul(state, Ct), F.mul(D5, xt)); // [B, G, Hg, P, 1]
    outputs.push(F.reshape(yt, [B, 1, Hd, P]));
  }
  return F.concat(outputs, 1);
}
