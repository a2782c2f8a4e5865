/**
 * Vision Mamba (Vim, Zhu et al. 2024, "bimamba v2"; spec implicit-attention.md §2.5): one
 * shared in_proj, a forward branch on the sequence and a backward branch (own conv1d, x_proj,
 * dt_proj, A, D) on the reversed sequence, outputs summed back in the original order and
 * halved in the `div2` variants:
 *
 *   pre_out = s · (y_fwd + J·y_bwd),   y_bwd = the Mamba branch run on J·X, J·Z,   s = ½ or 1.
 *
 * Each branch is an ordinary causal Mamba mixer, so each has the decomposition of
 * families/mamba.ts: y_fwd^c = H_fwd^c X^c + b_fwd^c on X and y_bwd^c = H_bwd^c (J X^c) + b_bwd^c
 * on the reversed values. Hence, per channel, on v = X:
 *
 *   H^c = s · (H_fwd^c + J · H_bwd^c · J),   bias^c = s · (b_fwd^c + J · b_bwd^c),
 *
 * i.e. H^c[t, s'] = s·(H_fwd^c[t, s'] + H_bwd^c[L−1−t, L−1−s']): a full (non-triangular) L×L
 * matrix whose lower triangle comes from the forward scan and upper triangle from the backward
 * one (the diagonal from both). Both gates are silu(Z) at the same position, so the gate is
 * shared. Every variant (paper, exact, hidden, ablations) is the same combination of the two
 * branches' matrices of that variant, built by the causal compose code (no O(L³) work).
 */
import { allocate, Tensor } from '../../core/index.js';
import type { MambaInternals } from '../../models/mamba.js';
import { channelBias, channelMatrix, channelRow, matrixCount } from '../compose.js';
import type { NonCausalDecomposition, Variant } from '../decomposition.js';
import { mambaDecomposition } from './mamba.js';

/**
 * `forward`: the forward branch's internals on X; `backward`: the backward branch's internals
 * on the reversed sequence (its x is J·X, its z is J·Z). `scale` is ½ for `div2` models.
 */
export function vimDecomposition(forward: MambaInternals, backward: MambaInternals, scale: number, projectOutput: (preOut: Tensor) => Tensor): NonCausalDecomposition {
  const fwd = mambaDecomposition('vim', forward, projectOutput);
  const bwd = mambaDecomposition('vim', backward, projectOutput);
  const { batch, length: L, channels } = fwd;
  const rowBuffer = new Float64Array(L);
  const matrixBuffer = new Float64Array(L * L);
  // pre_out = s·(y_fwd + J·y_bwd) [B, L, C]
  const preOut = allocate(fwd.preOut.dtype, fwd.preOut.size);
  const [yf, yb] = [fwd.preOut.data, bwd.preOut.data];
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < L; t++) {
      const o = (b * L + t) * channels;
      const r = (b * L + L - 1 - t) * channels;
      for (let c = 0; c < channels; c++) preOut[o + c] = scale * (yf[o + c] + yb[r + c]);
    }
  }

  return {
    kind: 'non-causal',
    mixer: 'vim',
    batch,
    length: L,
    channels,
    channelsPerHead: 1,
    matrixCount: (variant: Variant) => matrixCount(fwd, variant),
    row(b, m, t, variant, out) {
      // Row t of J·H_bwd·J is row L−1−t of H_bwd, read backwards.
      channelRow(fwd, b, m, t, variant, out);
      channelRow(bwd, b, m, L - 1 - t, variant, rowBuffer);
      for (let s = 0; s < L; s++) out[s] = scale * (out[s] + rowBuffer[L - 1 - s]);
    },
    matrix(b, m, variant, out) {
      channelMatrix(fwd, b, m, variant, out);
      channelMatrix(bwd, b, m, variant, matrixBuffer);
      for (let t = 0; t < L; t++) {
        const rev = (L - 1 - t) * L + L - 1;
        for (let s = 0; s < L; s++) out[t * L + s] = scale * (out[t * L + s] + matrixBuffer[rev - s]);
      }
    },
    bias(b, c, out) {
      channelBias(fwd, b, c, out);
      channelBias(bwd, b, c, rowBuffer);
      for (let t = 0; t < L; t++) out[t] = scale * (out[t] + rowBuffer[L - 1 - t]);
    },
    values: forward.x,
    preOut: new Tensor(preOut, fwd.preOut.shape),
    projectOutput,
  };
}
