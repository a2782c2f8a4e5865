import { describe, expect, it } from 'vitest';
import * as F from '../../src/core/index.js';
import { ConfigError, getFamily, initModel } from '../../src/models/index.js';
import type { DecoderLM } from '../../src/models/index.js';
import { mlpWidth } from '../../src/models/fla-common.js';
import { GatedAttention } from '../../src/models/gla.js';
import type { GlaConfig } from '../../src/models/gla.js';
import { MixerSublayer } from '../../src/models/model.js';
import { flaCheckpointAndTrainingTests, matVec, plainGatedAttention, randomIds } from '../helpers/fla.js';
import { relativeError } from '../helpers/ops.js';
import { expectStepsMatchForward } from '../helpers/reference.js';

/** A tiny GLA: D 16, K = 8 (2 heads of 4), V = 16 (2 heads of 8), MLP 32. */
const TINY = {
  model_type: 'gla',
  vocab_size: 19,
  hidden_size: 16,
  num_hidden_layers: 2,
  num_heads: 2,
  expand_k: 0.5,
  expand_v: 1,
  intermediate_size: 32,
};

/** With grouped keys and values (4 query heads on 2 key/value heads) and a clamped decay. */
const TINY_GQA = { ...TINY, num_heads: 4, num_kv_heads: 2, expand_k: 1, clamp_min: -0.05 };

function attentionOf(model: DecoderLM, layer: number): GatedAttention {
  const sub = model.sublayer(layer, 0);
  if (!(sub instanceof MixerSublayer) || !(sub.mixer instanceof GatedAttention)) throw new Error(`layer ${layer} has no GLA layer`);
  return sub.mixer;
}

/** GLA's log-decay from fla-families.md: γ = max(logsigmoid(W_gk2 W_gk1 x + b)/16, clamp_min), kv heads repeated. */
function plainGlaDecay(model: DecoderLM, prefix: string, c: GlaConfig) {
  const p = (name: string) => model.parameters.get(`${prefix}.${name}`)!;
  const logSigmoid = (u: number) => -Math.log1p(Math.exp(-u));
  return (_t: number, x: Float64Array): Float64Array[] => {
    const z = matVec(p('gk_proj.1.weight'), matVec(p('gk_proj.0.weight'), x), p('gk_proj.1.bias'));
    return Array.from({ length: c.numHeads }, (_, h) => {
      const kv = Math.floor(h / (c.numHeads / c.numKvHeads));
      return Float64Array.from({ length: c.headKDim }, (_, j) => Math.max(logSigmoid(z[kv * c.headKDim + j]) / 16, c.clampMin ?? -Infinity));
    });
  };
}

describe('GLA layer', () => {
  for (const [name, raw] of [['MHA', TINY], ['GQA with clamp_min', TINY_GQA]] as const) {
    it(`${name}: the mixer equals a plain token-by-token recurrence written from the spec (float64)`, () => {
      const model = initModel(raw, 1, 'float64');
      const c = getFamily('gla').parseConfig(raw) as GlaConfig;
      // Stronger gates than the initialisation's, so the decay varies across steps and dims.
      for (const [key, t] of model.parameters) if (key.includes('gk_proj')) t.data.forEach((u, i) => (t.data[i] = 30 * u));
      const x = new F.Random(2).tensor([2, 13, 16], 'float64');
      for (const layer of [0, 1]) {
        const prefix = `model.layers.${layer}.attn`;
        const got = F.noGrad(() => attentionOf(model, layer).forward(x));
        const expected = plainGatedAttention(model.parameters, prefix, c, x, plainGlaDecay(model, prefix, c));
        expect(relativeError(got.data, expected), `layer ${layer}`).toBeLessThan(1e-12);
      }
    });

    it(`${name}: recurrent step-by-step logits equal the parallel forward`, () => {
      const model = initModel(raw, 2, 'float64');
      expectStepsMatchForward(model, randomIds(2 * 13, 19), 2, 13, 1e-10);
    });
  }

  it('internals: pre_out = normGain ⊙ o, and o_proj(pre_out) is the forward', () => {
    const model = initModel(TINY_GQA, 3, 'float64');
    const attention = attentionOf(model, 1);
    const x = new F.Random(4).tensor([2, 9, 16], 'float64');
    const m = attention.internals(x);
    expect(m.q.shape).toEqual([2, 9, 4, 4]);
    expect(m.values.shape).toEqual([2, 9, 16]);
    expect(m.headVDim).toBe(4);
    expect(m.logDecay.data.every((g) => g <= 0 && g >= -0.05)).toBe(true);
    expect(relativeError(F.mul(m.normGain, m.o).data, m.preOut.data)).toBeLessThan(1e-14);
    const out = F.noGrad(() => F.linear(m.preOut, model.parameters.get('model.layers.1.attn.o_proj.weight')!));
    expect(relativeError(out.data, F.noGrad(() => attention.forward(x)).data)).toBeLessThan(1e-14);
  });

  it('use_output_gate = false and fuse_norm = false name the norm g_norm and drop g_proj; both still step like the forward', () => {
    const variants: Record<string, unknown>[] = [{ ...TINY, use_output_gate: false }, { ...TINY, fuse_norm: false }, { ...TINY, elementwise_affine: false }];
    for (const raw of variants) {
      const model = initModel(raw, 5, 'float64');
      const names = [...model.parameters.keys()];
      expect(names).not.toContain('model.layers.0.attn.g_norm_swish_gate.weight');
      expect(names.includes('model.layers.0.attn.g_proj.weight')).toBe(raw.use_output_gate !== false);
      expect(names.includes('model.layers.0.attn.g_norm.weight')).toBe(raw.elementwise_affine !== false);
      const c = getFamily('gla').parseConfig(raw) as GlaConfig;
      const x = new F.Random(6).tensor([1, 7, 16], 'float64');
      const prefix = 'model.layers.0.attn';
      const got = F.noGrad(() => attentionOf(model, 0).forward(x));
      expect(relativeError(got.data, plainGatedAttention(model.parameters, prefix, c, x, plainGlaDecay(model, prefix, c)))).toBeLessThan(1e-12);
      expectStepsMatchForward(model, randomIds(7, 19), 1, 7, 1e-10);
    }
  });
});

describe('GLA model and config', () => {
  it('declares exactly fla’s tensors, with their shapes', () => {
    const model = initModel(TINY_GQA, 1, 'float32');
    const shapes = Object.fromEntries([...model.parameters].filter(([n]) => !n.startsWith('model.layers.1.')).map(([n, t]) => [n, t.shape]));
    expect(shapes).toEqual({
      'model.embeddings.weight': [19, 16],
      'model.layers.0.attn_norm.weight': [16],
      'model.layers.0.attn.q_proj.weight': [16, 16],
      'model.layers.0.attn.k_proj.weight': [8, 16],
      'model.layers.0.attn.v_proj.weight': [8, 16],
      'model.layers.0.attn.g_proj.weight': [16, 16],
      'model.layers.0.attn.o_proj.weight': [16, 16],
      'model.layers.0.attn.g_norm_swish_gate.weight': [4],
      'model.layers.0.attn.gk_proj.0.weight': [16, 16],
      'model.layers.0.attn.gk_proj.1.weight': [8, 16],
      'model.layers.0.attn.gk_proj.1.bias': [8],
      'model.layers.0.mlp_norm.weight': [16],
      'model.layers.0.mlp.gate_proj.weight': [32, 16],
      'model.layers.0.mlp.up_proj.weight': [32, 16],
      'model.layers.0.mlp.down_proj.weight': [16, 32],
      'model.norm.weight': [16],
      'lm_head.weight': [19, 16],
    });
    expect(model.layerKinds()).toEqual([['gla', 'mlp'], ['gla', 'mlp']]);
  });

  it('a tied head has no lm_head.weight', () => {
    const model = initModel({ ...TINY, tie_word_embeddings: true }, 1);
    expect(model.parameters.has('lm_head.weight')).toBe(false);
  });

  it("applies fla's defaults (GLAConfig)", () => {
    const c = getFamily('gla').parseConfig({ model_type: 'gla' }) as GlaConfig;
    expect(c).toMatchObject({
      hiddenSize: 2048, numLayers: 24, vocabSize: 32000, numHeads: 4, numKvHeads: 4, keyDim: 1024, valueDim: 2048, headKDim: 256, headVDim: 512,
      hiddenRatio: 4, intermediateSize: 5632, normEps: 1e-6, tieWordEmbeddings: false, useOutputGate: true, fuseNorm: true, clampMin: null, padTokenId: null,
    });
    expect(mlpWidth(2048, 4)).toBe(5632);
    expect((getFamily('gla').parseConfig({ model_type: 'gla', hidden_size: 1024, hidden_ratio: null }) as GlaConfig).intermediateSize).toBe(2816);
  });

  it('toHfConfig round-trips through parseConfig', () => {
    const family = getFamily('gla');
    for (const raw of [TINY, TINY_GQA, { model_type: 'gla' }]) {
      const config = family.parseConfig(raw);
      expect(family.parseConfig(family.toHfConfig(config))).toEqual(config);
    }
  });

  it('unsupported options are ConfigErrors naming the key', () => {
    const parse = (extra: Record<string, unknown>) => () => getFamily('gla').parseConfig({ ...TINY, ...extra });
    expect(parse({ feature_map: 'relu' })).toThrow(/'feature_map' = "relu" is not supported/);
    expect(parse({ use_short_conv: true })).toThrow(/'use_short_conv' = true is not supported/);
    expect(parse({ attn: { layers: [1], num_heads: 2 } })).toThrow(/'attn' = .* is not supported \(hybrid/);
    expect(parse({ attnres_block_size: 2 })).toThrow(ConfigError);
    expect(parse({ hidden_act: 'gelu' })).toThrow(/'hidden_act' = "gelu" is not supported/);
    expect(parse({ num_kv_heads: 3 })).toThrow(/num_heads = 2 is not a multiple of num_kv_heads = 3/);
    expect(parse({ num_heads: 3 })).toThrow(/key dim .* 8 is not a multiple of num_heads = 3/);
    expect(parse({ attn: null, feature_map: null, attnres_block_size: null })).not.toThrow();
  });
});

describe('GLA checkpoints and training', () => flaCheckpointAndTrainingTests(TINY_GQA, 'model.layers.1.attn.gk_proj.1.bias'));
