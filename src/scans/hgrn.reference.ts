/**
 * The plain recurrence behind `hgrnScan` (hgrn.ts), same signature, one time step at a time
 * from primitive autograd ops (slow; for tests), as fla's naive_recurrent_hgrn:
 *   h_{−1} = h₀ (or 0);   h_t = exp(ℓ_t) ⊙ h_{t−1} + x_t
 * logDecay, x [B, L, E], initialState [B, E] or null → h [B, L, E].
 */
import * as F from '../core/index.js';
import type { Tensor } from '../core/index.js';

export function hgrnScanReference(logDecay: Tensor, x: Tensor, initialState: Tensor | null = null): Tensor {
  const [B, L, E] = logDecay.shape;
  let h = initialState === null ? F.Tensor.zeros([B, 1, E], logDecay.dtype) : F.reshape(initialState, [B, 1, E]);
  const steps: Tensor[] = [];
  for (let t = 0; t < L; t++) {
    h = F.add(F.mul(F.exp(F.slice(logDecay, 1, t, t + 1)), h), F.slice(x, 1, t, t + 1)); // [B, 1, E]
    steps.push(h);
  }
  return F.concat(steps, 1);
}
