/**
 * A hand-built two-layer model whose next-token logits at every position t > k depend on
 * exactly one input token, the one at position k, together with its exact decompositions.
 *
 * Hidden size 4: token embeddings live in dims 0–1 (dims 2–3 of the stream are zeroed before
 * block 0), the mixers write to dims 2–3 and the head reads dims 2–3 only, through tanh (so the
 * target is a smooth, non-linear function of e_k and of nothing else).
 * Each layer is a linear "attention" mixer with fixed causal matrices A^c (C = 2 channels):
 *   v = x W_vᵀ,  pre_out^c = A^c v^c,  y = pre_out W_oᵀ
 *   layer 0 reads dims 0–1:  row t ≥ k attends only to k (rows t < k to themselves);
 *   layer 1 reads dims 2–3:  row t > k = 0.7·e_k + 0.3·e_t (rows t ≤ k to themselves).
 * All weights are positive, so every gradient on the path is positive.
 *
 * The A^c are leaf tensors; `withGradientOnAttention` makes them require grad, so one backward
 * gives the exact ∂target/∂A^c — the ground truth for grad-attn.
 */
import * as F from '../../src/core/index.js';
import { Tensor } from '../../src/core/index.js';
import type { LayerSource } from '../../src/explain/context.js';
import type { AttentionDecomposition, LayerDecomposition, RecurrentDecomposition } from '../../src/implicit/decomposition.js';
import { DecoderLM } from '../../src/models/model.js';
import type { Sublayer, Trace } from '../../src/models/model.js';

export const VOCAB = 6;
const H = 4;
const C = 2;

export interface Toy {
  model: DecoderLM;
  /** A^c of each layer [C, L, L]. */
  attention: Tensor[];
  /** W_v [C, H] and W_o [H, C] of each layer. */
  valueWeights: Tensor[];
  outputWeights: Tensor[];
  /** Decompositions of the two layers; `attentionLayers` are exposed as real attention (heads = channels, P = 1). */
  source(ids: Int32Array, options?: { attentionLayers?: number[] }): LayerSource;
}

function matrices(L: number, row: (t: number, s: number) => number): Tensor {
  const data = new Float64Array(C * L * L);
  for (let c = 0; c < C; c++) for (let t = 0; t < L; t++) for (let s = 0; s <= t; s++) data[(c * L + t) * L + s] = row(t, s) * (c === 0 ? 1 : 0.8);
  return new Tensor(data, [C, L, L]);
}

/** pre_out [B, L, C] = A^c v^c for v [B, L, C] and A [C, L, L]. */
function applyAttention(A: Tensor, v: Tensor): Tensor {
  const [B, L] = v.shape;
  const vt = F.reshape(F.permute(v, [0, 2, 1]), [B, C, L, 1]); // [B, C, L, 1]
  const out = F.matmul(A, vt); // [B, C, L, 1]
  return F.permute(F.reshape(out, [B, C, L]), [0, 2, 1]); // [B, L, C]
}

export function buildToy(L: number, k: number): Toy {
  const embedding = Tensor.from(
    Array.from({ length: VOCAB }, (_, v) => [0.4 + 0.15 * v, 1.1 - 0.1 * v, 0, 0]).flat(),
    [VOCAB, H],
    'float64',
  );
  const head = Tensor.from(
    Array.from({ length: VOCAB }, (_, v) => [0, 0, 0.2 + 0.3 * v, 1.0 - 0.12 * v]).flat(),
    [VOCAB, H],
    'float64',
  );
  const valueWeights = [
    Tensor.from([0.9, 0.3, 0, 0, 0.2, 0.7, 0, 0], [C, H], 'float64'),
    Tensor.from([0, 0, 0.6, 0.2, 0, 0, 0.3, 0.5], [C, H], 'float64'),
  ];
  const outputWeights = [
    Tensor.from([0, 0, 0, 0, 0.5, 0.2, 0.3, 0.6], [H, C], 'float64'),
    Tensor.from([0, 0, 0, 0, 0.4, 0.3, 0.2, 0.5], [H, C], 'float64'),
  ];
  const attention = [
    matrices(L, (t, s) => (t >= k ? (s === k ? 1 : 0) : s === t ? 1 : 0)),
    matrices(L, (t, s) => (t > k ? (s === k ? 0.7 : s === t ? 0.3 : 0) : s === t ? 1 : 0)),
  ];
  const streamMask = Tensor.from([1, 1, 0, 0], [H], 'float64');
  const sublayer = (i: number): Sublayer => ({
    kind: 'toy',
    norm: (x) => x,
    forward: (x) => F.linear(applyAttention(attention[i], F.linear(x, valueWeights[i])), outputWeights[i]),
    initialState: () => null,
    step: () => {
      throw new Error('the toy model has no recurrent step');
    },
  });
  const model = new DecoderLM('toy', { vocabSize: VOCAB, hiddenSize: H, numLayers: 2 }, {}, new Map([['embedding', embedding]]), {
    embedding,
    // Dims 2–3 of the embeddings are dropped before the first block, so e_t reaches the head only through the mixers.
    layers: [{ before: (h) => F.mul(h, streamMask), sublayers: [sublayer(0)] }, { sublayers: [sublayer(1)] }],
    finalNorm: (x) => F.tanh(F.scale(x, 0.5)),
    head,
    hiddenStates: 'layer-outputs',
  });

  function decompose(ids: Int32Array, layer: number, asAttention: boolean): LayerDecomposition {
    const trace: Trace = new Map();
    F.noGrad(() => model.forwardIds(ids, 1, ids.length, trace));
    const x = trace.get(`mixer_in.${layer}.toy`)!;
    const values = F.noGrad(() => F.linear(x, valueWeights[layer])); // [1, L, C]
    const preOut = F.noGrad(() => applyAttention(attention[layer], values));
    const projectOutput = (p: Tensor) => F.linear(p, outputWeights[layer]);
    const A = attention[layer].data;
    if (asAttention) {
      const weights = new Tensor(A, [1, C, L, L]);
      const d: AttentionDecomposition = { kind: 'attention', mixer: 'toy_attention', batch: 1, length: L, heads: C, weights, values: F.reshape(values, [1, L, C, 1]), projectOutput };
      return d;
    }
    const d: RecurrentDecomposition = {
      kind: 'recurrent',
      mixer: 'toy',
      batch: 1,
      length: L,
      channels: C,
      cores: C,
      coreIndex: (c) => c,
      coreRow: (_b, c, t, out) => {
        for (let s = 0; s <= t; s++) out[s] = A[(c * L + t) * L + s];
      },
      coreMatrix: (_b, c, out) => out.set(A.subarray(c * L * L, (c + 1) * L * L)),
      gate: null,
      act: null,
      convWeight: null,
      convK: 0,
      convBias: null,
      skip: null,
      values,
      preOut,
      channelsPerHead: 1,
      projectOutput,
    };
    return d;
  }

  return {
    model,
    attention,
    valueWeights,
    outputWeights,
    source(ids, options = {}) {
      return {
        mixers: [
          { layer: 0, kind: 'toy' },
          { layer: 1, kind: 'toy' },
        ],
        decompose: (layer) => decompose(ids, layer, (options.attentionLayers ?? []).includes(layer)),
      };
    },
  };
}

/** Token ids with distinct neighbours: 0, 1, 2, … mod VOCAB, shifted so position k holds token `tokenAtK`. */
export function toyIds(L: number, k: number, tokenAtK = 5): Int32Array {
  const ids = Int32Array.from({ length: L }, (_, i) => i % (VOCAB - 1));
  ids[k] = tokenAtK;
  return ids;
}

/**
 * The exact ∂target/∂A^c of both layers, by autograd with the A^c as leaves (target =
 * logits[0, t, token]), and the grad-attn reference built from them by the Chefer rule.
 */
export function attentionGradients(toy: Toy, ids: Int32Array, t: number, token: number): Float64Array[] {
  const L = ids.length;
  for (const A of toy.attention) A.requireGrad();
  try {
    const logits = toy.model.forwardIds(ids, 1, L);
    const seed = new Float64Array(logits.size);
    seed[t * VOCAB + token] = 1;
    F.backward(logits, seed);
    return toy.attention.map((A) => Float64Array.from(A.grad!));
  } finally {
    for (const A of toy.attention) {
      A.requiresGrad = false;
      A.grad = null;
    }
  }
}
