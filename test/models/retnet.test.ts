import { describe, expect, it } from 'vitest';
import * as F from '../../src/core/index.js';
import { getFamily, initModel } from '../../src/models/index.js';
import type { DecoderLM } from '../../src/models/index.js';
import { GatedAttention } from '../../src/models/gla.js';
import { MixerSublayer } from '../../src/models/model.js';
import { retentionLogDecay } from '../../src/models/retnet.js';
import type { RetNetConfig } from '../../src/models/retnet.js';
import { flaCheckpointAndTrainingTests, matVec, plainGatedAttention, randomIds } from '../helpers/fla.js';
import type { PlainFeatures } from '../helpers/fla.js';
import { relativeError } from '../helpers/ops.js';
import { expectStepsMatchForward } from '../helpers/reference.js';

/** A tiny RetNet: D 16, K = 16 (2 heads of 8), V = 32 (2 heads of 16), MLP 32. */
const TINY = {
  model_type: 'retnet',
  vocab_size: 19,
  hidden_size: 16,
  num_hidden_layers: 2,
  num_heads: 2,
  intermediate_size: 32,
};

/** 4 query heads on 2 key/value heads: dk 4, dv 8. */
const TINY_GQA = { ...TINY, num_heads: 4, num_kv_heads: 2 };

function retentionOf(model: DecoderLM, layer: number): GatedAttention {
  const sub = model.sublayer(layer, 0);
  if (!(sub instanceof MixerSublayer) || !(sub.mixer instanceof GatedAttention)) throw new Error(`layer ${layer} has no retention layer`);
  return sub.mixer;
}

/**
 * RetNet from fla-families.md: rotary over the whole head (NeoX halves: dim i turns with
 * i + dk/2 by the angle t·10000^(−2i/dk)) on q and k at absolute position t, and the fixed
 * decay γ_h = 1 − 2^(−5−h) in every key dim.
 */
function plainRetention(c: RetNetConfig): PlainFeatures {
  const dk = c.headKDim;
  const half = dk / 2;
  const rotate = (u: Float64Array, t: number) => {
    for (let i = 0; i < half; i++) {
      const angle = t * 10000 ** (-(2 * i) / dk);
      const [a, b] = [u[i], u[i + half]];
      u[i] = a * Math.cos(angle) - b * Math.sin(angle);
      u[i + half] = b * Math.cos(angle) + a * Math.sin(angle);
    }
  };
  return (t, _x, q, k) => {
    for (const u of [...q, ...k]) rotate(u, t);
    return Array.from({ length: c.numHeads }, (_, h) => new Float64Array(dk).fill(Math.log(1 - 2 ** (-5 - h))));
  };
}

describe('RetNet layer', () => {
  for (const [name, raw] of [['MHA', TINY], ['GQA', TINY_GQA]] as const) {
    it(`${name}: the mixer equals a plain token-by-token recurrence written from the spec (float64)`, () => {
      const model = initModel(raw, 1, 'float64');
      const c = getFamily('retnet').parseConfig(raw) as RetNetConfig;
      const x = new F.Random(2).tensor([2, 13, 16], 'float64');
      for (const layer of [0, 1]) {
        const got = F.noGrad(() => retentionOf(model, layer).forward(x));
        const expected = plainGatedAttention(model.parameters, `model.layers.${layer}.attn`, c, x, plainRetention(c));
        expect(relativeError(got.data, expected), `layer ${layer}`).toBeLessThan(1e-12);
      }
    });

    it(`${name}: recurrent step-by-step logits (rotary positions kept in the state) equal the parallel forward`, () => {
      const model = initModel(raw, 2, 'float64');
      expectStepsMatchForward(model, randomIds(2 * 13, 19), 2, 13, 1e-10);
    });
  }

  it('the decay is γ_h = 1 − 2^(−5−h) per head, the same in every key dim, and q is rotated then scaled', () => {
    expect(Array.from(retentionLogDecay(3)).map(Math.exp)).toEqual([1 - 1 / 32, 1 - 1 / 64, 1 - 1 / 128].map((g) => expect.closeTo(g, 15)));
    const model = initModel(TINY_GQA, 3, 'float64');
    const x = new F.Random(4).tensor([1, 5, 16], 'float64');
    const m = retentionOf(model, 0).internals(x);
    const [, L, H, dk] = m.logDecay.shape;
    for (let i = 0; i < L * H * dk; i++) expect(m.logDecay.data[i]).toBe(Math.log1p(-(2 ** (-5 - (Math.floor(i / dk) % H)))));
    // At position 0 the rotation is the identity: q_0 = W_q x_0 · dk^−½.
    const q0 = matVec(model.parameters.get('model.layers.0.attn.q_proj.weight')!, x.data.subarray(0, 16)).map((u) => u * dk ** -0.5);
    expect(relativeError(m.q.data.subarray(0, H * dk), q0)).toBeLessThan(1e-15);
    expect(relativeError(F.mul(m.normGain, m.o).data, m.preOut.data)).toBeLessThan(1e-14);
  });
});

describe('RetNet model and config', () => {
  it('declares exactly fla’s tensors (GLA’s without gk_proj)', () => {
    const model = initModel(TINY_GQA, 1, 'float32');
    const shapes = Object.fromEntries([...model.parameters].filter(([n]) => n.startsWith('model.layers.0.attn.')).map(([n, t]) => [n, t.shape]));
    expect(shapes).toEqual({
      'model.layers.0.attn.q_proj.weight': [16, 16],
      'model.layers.0.attn.k_proj.weight': [8, 16],
      'model.layers.0.attn.v_proj.weight': [16, 16],
      'model.layers.0.attn.g_proj.weight': [32, 16],
      'model.layers.0.attn.o_proj.weight': [16, 32],
      'model.layers.0.attn.g_norm_swish_gate.weight': [8],
    });
    expect(model.layerKinds()).toEqual([['retnet', 'mlp'], ['retnet', 'mlp']]);
  });

  it("applies fla's defaults (RetNetConfig)", () => {
    const c = getFamily('retnet').parseConfig({ model_type: 'retnet' }) as RetNetConfig;
    expect(c).toMatchObject({
      hiddenSize: 2048, numHeads: 8, numKvHeads: 8, keyDim: 2048, valueDim: 4096, headKDim: 256, headVDim: 512, hiddenRatio: 2, intermediateSize: 2816, normEps: 1e-6,
    });
    // An explicit null reaches fla's layers as None: GatedMLP's ratio 4, a gated norm without weight.
    expect(getFamily('retnet').parseConfig({ model_type: 'retnet', hidden_ratio: null, elementwise_affine: null })).toMatchObject({ hiddenRatio: 4, intermediateSize: 5632, elementwiseAffine: false });
  });

  it('toHfConfig round-trips through parseConfig', () => {
    const family = getFamily('retnet');
    for (const raw of [TINY, TINY_GQA, { model_type: 'retnet' }]) {
      const config = family.parseConfig(raw);
      expect(family.parseConfig(family.toHfConfig(config))).toEqual(config);
    }
  });

  it('an odd head key dim (no rotary pairs) is a ConfigError', () => {
    expect(() => getFamily('retnet').parseConfig({ ...TINY, expand_k: 0.375 })).toThrow(/head key dim 3 should be even/);
  });
});

describe('RetNet checkpoints and training', () => flaCheckpointAndTrainingTests(TINY_GQA, 'model.layers.0.attn.g_norm_swish_gate.weight'));
