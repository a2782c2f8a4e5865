/**
 * The plain recurrence behind `gatedLinearAttention`, one time step at a time from primitive
 * autograd ops (slow; for tests). Same shapes as the fused op:
 *   S_t = diag(exp γ_t) S_{t−1} + k_t v_tᵀ,   o_t = S_tᵀ q_t      (fla's naive_recurrent_gla)
 * q, k, logDecay [B, L, H, K], v [B, L, H, V] → o [B, L, H, V].
 */
import * as F from '../core/index.js';
import type { Tensor } from '../core/index.js';

export function gatedLinearAttentionReference(q: Tensor, k: Tensor, v: Tensor, logDecay: Tensor): Tensor {
  const [B, L, H, K] = q.shape;
  const V = v.shape[3];
  let state = F.Tensor.zeros([B, H, K, V], q.dtype);
  const outputs: Tensor[] = [];
  const at = (t: Tensor, s: number, shape: number[]) => F.reshape(F.slice(t, 1, s, s + 1), shape);
  for (let t = 0; t < L; t++) {
    const decay = F.exp(at(logDecay, t, [B, H, K, 1]));
    const kv = F.mul(at(k, t, [B, H, K, 1]), at(v, t, [B, H, 1, V])); // [B, H, K, V]
    state = F.add(F.mul(decay, state), kv);
    const ot = F.matmul(at(q, t, [B, H, 1, K]), state); // [B, H, 1, V]
    outputs.push(F.reshape(ot, [B, 1, H, V]));
  }
  return F.concat(outputs, 1);
}
