/**
 * grad-attn's exact gradient on the attention, beyond the toy model: a grouped-query attention
 * layer (4 heads sharing 2 value heads) against autograd, and on the trained Mamba2 the
 * conservation law of the exact formulation, Σ_s (∇H ⊙ H)^c[t, s] = g_t^c (pre_out_t^c − bias_t^c).
 */
import { describe, expect, it } from 'vitest';
import * as F from '../../src/core/index.js';
import { Random, Tensor } from '../../src/core/index.js';
import { aggregateValue, gradientWeightedMap, preOutputOf } from '../../src/explain/attention-maps.js';
import { ExplainContext } from '../../src/explain/context.js';
import { pullBack } from '../../src/explain/methods/grad-attn.js';
import type { AttentionDecomposition, RecurrentDecomposition } from '../../src/implicit/decomposition.js';
import { rowBiasAll } from '../../src/implicit/extract.js';
import { loadModel } from '../../src/io/load-model.js';
import { fixturePath } from '../helpers/fixtures.js';
import { relativeError } from '../helpers/ops.js';

describe('grad-attn gradient on real attention heads', () => {
  it('grouped-query attention: Σ_p g[t,h,p]·V[s,kv(h),p]·A_h[t,s] equals autograd’s ∂target/∂A ⊙ A', () => {
    const rng = new Random(3);
    const [L, heads, kvHeads, P, Hout] = [5, 4, 2, 3, 6];
    const causal = new Float64Array(heads * L * L);
    for (let h = 0; h < heads; h++) for (let t = 0; t < L; t++) for (let s = 0; s <= t; s++) causal[(h * L + t) * L + s] = rng.next();
    const A = new Tensor(causal, [1, heads, L, L]).requireGrad();
    const V = rng.tensor([1, L, kvHeads, P], 'float64');
    const W = rng.tensor([Hout, heads * P], 'float64');
    const bias = rng.tensor([Hout], 'float64');
    const project = (x: Tensor) => F.linear(x, W, bias);
    // heads[t, h, :] = Σ_s A_h[t, s] V[s, ⌊h/2⌋, :], concatenated over h → [1, L, heads·P]
    const perHead = Array.from({ length: heads }, (_, h) => {
      const Ah = F.reshape(F.slice(A, 1, h, h + 1), [L, L]);
      const Vh = F.reshape(F.slice(V, 2, Math.floor(h / 2), Math.floor(h / 2) + 1), [L, P]);
      return F.matmul(Ah, Vh); // [L, P]
    });
    const y = project(F.reshape(F.concat(perHead, 1), [1, L, heads * P]));
    const seed = rng.tensor([1, L, Hout], 'float64').data;
    F.backward(y, seed);

    const d = Object.assign({ kind: 'attention', mixer: 'gqa', batch: 1, length: L, heads, weights: A.detach() } as AttentionDecomposition, { values: V, projectOutput: project });
    const { preOut, projectOutput } = preOutputOf(d);
    const g = pullBack(projectOutput!, preOut, seed);
    for (const aggregation of ['positive', 'signed', 'abs'] as const) {
      const reference = new Float64Array(L * L);
      for (let h = 0; h < heads; h++) for (let i = 0; i < L * L; i++) reference[i] += aggregateValue(A.grad![h * L * L + i] * causal[h * L * L + i], aggregation) / heads;
      expect(relativeError(gradientWeightedMap(d, g, 'paper', aggregation), reference), aggregation).toBeLessThan(1e-12);
    }
  });
});

describe('grad-attn on the trained Mamba2', () => {
  it('exact formulation conserves: Σ_s Ā_signed[t, s] = mean_c g_t^c (pre_out_t^c − bias_t^c)', () => {
    const { model } = loadModel(fixturePath('trained', 'mamba2'), { dtype: 'float64' });
    const ids = Int32Array.from({ length: 12 }, (_, i) => 40 + 13 * i);
    const context = new ExplainContext(model, ids);
    const pass = context.gradients(context.target());
    const layer = 4;
    const d = context.decomposition(layer) as RecurrentDecomposition;
    const g = pullBack(d.projectOutput!, d.preOut, pass.mixerOut.get(layer)!);
    const bar = gradientWeightedMap(d, g, 'exact', 'signed');
    const L = ids.length;
    const C = d.channels;
    const got: number[] = [];
    const want: number[] = [];
    for (const t of [0, 5, L - 1]) {
      const bias = rowBiasAll(d, t);
      let rowSum = 0;
      for (let s = 0; s <= t; s++) rowSum += bar[t * L + s];
      let expected = 0;
      for (let c = 0; c < C; c++) expected += (g[t * C + c] * (d.preOut.data[t * C + c] - bias[c])) / C;
      got.push(rowSum);
      want.push(expected);
    }
    expect(relativeError(got, want)).toBeLessThan(1e-9);
    expect(Math.max(...want.map(Math.abs))).toBeGreaterThan(0);
  });
});
