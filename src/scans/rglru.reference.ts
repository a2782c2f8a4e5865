/**
 * Plain reference of the RG-LRU scan (`rglru.ts`), same signature, built step by step from
 * primitive autograd ops: slow, for tests only.
 *   h_0 = x_0;   h_t = exp(ℓ_t) ⊙ h_{t−1} + sqrt(1 − exp(ℓ_t)²) ⊙ x_t
 */
import * as F from '../core/index.js';
import type { Tensor } from '../core/index.js';

/** logA, x [B, L, W] → h [B, L, W]. */
export function rglruReference(logA: Tensor, x: Tensor): Tensor {
  const L = logA.shape[1];
  let h = F.slice(x, 1, 0, 1); // [B, 1, W]
  const steps = [h];
  for (let t = 1; t < L; t++) {
    const a = F.exp(F.slice(logA, 1, t, t + 1));
    const m = F.sqrt(F.affine(F.square(a), -1, 1));
    h = F.add(F.mul(a, h), F.mul(m, F.slice(x, 1, t, t + 1)));
    steps.push(h);
  }
  return F.concat(steps, 1);
}
