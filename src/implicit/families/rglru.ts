/**
 * Griffin / RecurrentGemma RG-LRU (implicit-attention.md §2.4): per channel
 *   Λ̃^c[t,s] = (Π_{k=s+1..t} a_k^c) · i_s^c · m_s^c,   H^c = diag(g^c) · Λ̃^c · M^c,
 * with the reset at position 0 (a_0 = 0, m_0 = 1); no activation diagonal or skip; the conv
 * bias gives the exact variant's bias vector. Local-attention layers expose their real
 * softmax weights per head.
 */
import * as F from '../../core/index.js';
import type { LocalAttention } from '../../models/local-attention.js';
import type { RecurrentBlock } from '../../models/recurrent-gemma.js';
import { withKernelCore } from '../compose.js';
import type { AttentionDecomposition, RecurrentDecomposition } from '../decomposition.js';
import { decayingCore, dims3 } from './common.js';

export function rglruDecomposition(block: RecurrentBlock, x: F.Tensor): RecurrentDecomposition {
  const m = block.internals(x);
  const [batch, L, W] = dims3(m.x);
  const logA = m.logA.data;
  const inputScale = F.noGrad(() => F.mul(m.inputGate, m.m)).data; // i_s · m_s

  const { coreRow, coreMatrix, kernel } = decayingCore(L, W, logA, inputScale);

  return withKernelCore({
    kind: 'recurrent',
    mixer: 'rglru',
    batch,
    length: L,
    channels: W,
    cores: W,
    coreIndex: (c) => c,
    coreRow,
    coreMatrix,
    gate: m.gate.data,
    act: null,
    convWeight: m.convWeight.data,
    convK: m.convWeight.shape[1],
    convBias: m.convBias.data,
    skip: null,
    values: m.x,
    preOut: F.noGrad(() => F.mul(m.gate, m.h)),
    channelsPerHead: 1,
    projectOutput: (preOut) => block.projectOutput(preOut),
  }, kernel);
}

export function localAttentionDecomposition(attention: LocalAttention, x: F.Tensor): AttentionDecomposition {
  const { weights, values } = attention.internals(x);
  const [batch, heads, length] = weights.shape;
  return { kind: 'attention', mixer: 'local_attention', batch, length, heads, weights, values, projectOutput: (h) => attention.projectOutput(h) };
}
