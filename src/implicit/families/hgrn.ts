/**
 * HGRN v1 (implicit-attention.md §2.5, fla-families.md §HGRN; Qin et al. 2023). With every
 * gate frozen, channel c of the layer is
 *   pre_out^c = diag(gain^c) · A^c · x̂^c,   A^c[t, s] = Π_{k=s+1..t} λ_k[c]   (A[t, t] = 1),
 *   x̂ = silu(i) ⊙ (1 − λ) = σ(i) ⊙ (1 − λ) ⊙ i,
 * and it is split into the unified formulation H^c = diag(gate^c) · core^c · diag(act^c) as
 *   values v = i (the input projection, as Mamba's X),
 *   act      = σ(i)                                  (silu folded as σ(i)·i, as Mamba's σ(c)),
 *   core^c[t, s] = Π_{k=s+1..t} λ_k[c] · (1 − λ_s[c]) = A^c · diag(1 − λ^c)   (§2.5's HGRN core),
 *   gate     = the gated RMSNorm's diagonal w ⊙ silu(g) / rms_t(h) over the whole width E.
 * The input gate 1 − λ_s stays in the core, as Δ_s·B_s stays in Mamba's S6: the core is then the
 * recurrence's own weighting of the inputs (row t sums to 1 − Π_{k≤t} λ_k ≤ 1, an exponential
 * moving average), `hidden` shows it, and `without-act` drops only the folded activation.
 * No conv, skip or bias, so paper = exact.
 */
import type { Tensor } from '../../core/index.js';
import type { HgrnInternals } from '../../models/hgrn.js';
import { withKernelCore } from '../compose.js';
import type { RecurrentDecomposition } from '../decomposition.js';
import { decayingCore, dims3 } from './common.js';

/** The decomposition of one layer from its internals; `projectOutput` is the layer's o_proj (HgrnAttention.projectOutput). */
export function hgrnDecomposition(m: HgrnInternals, projectOutput: (preOut: Tensor) => Tensor): RecurrentDecomposition {
  const [batch, L, E] = dims3(m.values);
  const logDecay = m.logDecay.data;
  const inputGate = m.inputGate.data;

  const { coreRow, coreMatrix, kernel } = decayingCore(L, E, logDecay, inputGate);

  return withKernelCore({
    kind: 'recurrent',
    mixer: 'hgrn',
    batch,
    length: L,
    channels: E,
    cores: E,
    coreIndex: (c) => c,
    coreRow,
    coreMatrix,
    gate: m.normGain.data,
    act: m.activation.data,
    convWeight: null,
    convK: 0,
    convBias: null,
    skip: null,
    values: m.values,
    preOut: m.preOut,
    channelsPerHead: 1,
    projectOutput,
  }, kernel);
}
