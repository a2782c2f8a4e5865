/**
 * Plain reference for `wkv`, same signature: the softmax formulation of implicit-attention.md
 * §2.3 written row by row with primitive autograd ops (slow, O(L²); for tests and as readable
 * documentation).
 *   ℓ[t, s] = k_s − (t−1−s)·exp(w)  (s < t),   ℓ[t, t] = u + k_t,   wkv_t = Σ_s softmax_s(ℓ[t, ·]) v_s
 */
import * as F from '../core/index.js';
import { Tensor } from '../core/index.js';

export function wkvReference(w: Tensor, u: Tensor, k: Tensor, v: Tensor): Tensor {
  const [, L, C] = k.shape;
  const decay = F.reshape(F.exp(w), [1, C]);
  const bonus = F.reshape(u, [1, C]);
  const rows: Tensor[] = [];
  for (let t = 0; t < L; t++) {
    const distance = Tensor.from(Array.from({ length: t }, (_, s) => -(t - 1 - s)), [t, 1], k.dtype);
    const position = t === 0 ? bonus : F.concat([F.mul(distance, decay), bonus], 0); // [t + 1, C]
    const logits = F.add(F.slice(k, 1, 0, t + 1), position); // [B, t + 1, C]
    const alpha = F.softmax(logits, 1);
    rows.push(F.sum(F.mul(alpha, F.slice(v, 1, 0, t + 1)), 1, true)); // [B, 1, C]
  }
  return F.concat(rows, 1); // [B, L, C]
}
