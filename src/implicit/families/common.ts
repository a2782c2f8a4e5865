/** Small helpers shared by the per-family decompositions. */
import * as F from '../../core/index.js';
import type { FloatArray, Tensor } from '../../core/index.js';

/** σ(c) elementwise: the activation silu(c) = σ(c)·c folded as a diagonal (paper §3). */
export function sigmoidOf(convPre: Tensor): FloatArray {
  return F.noGrad(() => F.sigmoid(convPre)).data;
}

/** Lays [B, L, C] data out so that index (b, t, c) reads data[(b·L + t)·C + c]; checks the shape. */
export function dims3(t: Tensor): [number, number, number] {
  if (t.rank !== 3) throw new F.ShapeError(`implicit attention: expected a [B, L, C] tensor, got [${t.shape.join(', ')}]`);
  return [t.shape[0], t.shape[1], t.shape[2]];
}
