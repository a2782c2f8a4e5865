import { describe, expect, it } from 'vitest';
import * as F from '../../src/core/index.js';
import { Tensor } from '../../src/core/index.js';
import { ConfigError, getFamily, initModel } from '../../src/models/index.js';
import type { DecoderLM } from '../../src/models/index.js';
import { forgetGate, HgrnAttention, lowerBounds } from '../../src/models/hgrn.js';
import type { HgrnConfig } from '../../src/models/hgrn.js';
import { MixerSublayer } from '../../src/models/model.js';
import { hgrnScan } from '../../src/scans/hgrn.js';
import { flaCheckpointAndTrainingTests, plainHgrn, plainLowerBounds, randomIds } from '../helpers/fla.js';
import { relativeError } from '../helpers/ops.js';
import { expectStepsMatchForward } from '../helpers/reference.js';

/** A tiny HGRN: D = E = 16, 3 layers (so two of them use a lower bound), MLP 32. */
const TINY = {
  model_type: 'hgrn',
  vocab_size: 19,
  hidden_size: 16,
  num_hidden_layers: 3,
  intermediate_size: 32,
};

/** E = 2D without lower bounds (fla's bounds are [layers, D], so they need E = D). */
const TINY_WIDE = { ...TINY, expand_ratio: 2, use_lower_bound: false };

/** No weight in the gated norm. */
const TINY_PLAIN_NORM = { ...TINY, elementwise_affine: false };

const CASES = [
  ['lower bounds', TINY],
  ['expand_ratio 2, no lower bounds', TINY_WIDE],
  ['elementwise_affine false', TINY_PLAIN_NORM],
] as const;

function hgrnOf(model: DecoderLM, layer: number): HgrnAttention {
  const sub = model.sublayer(layer, 0);
  if (!(sub instanceof MixerSublayer) || !(sub.mixer instanceof HgrnAttention)) throw new Error(`layer ${layer} has no HGRN layer`);
  return sub.mixer;
}

/**
 * A fresh float64 model whose forget gates vary strongly (f_proj × 50: λ spans ~0 to ~1) and
 * whose lower bounds are not uniform, so every path of the gate is exercised.
 */
function tinyModel(raw: Record<string, unknown>, seed: number): DecoderLM {
  const model = initModel(raw, seed, 'float64');
  const rng = new F.Random(seed + 100);
  for (const [key, t] of model.parameters) {
    if (key.includes('f_proj')) t.data.forEach((u, i) => (t.data[i] = 50 * u));
    if (key === 'model.lower_bounds') t.data.set(rng.tensor(t.shape, 'float64', 1.5).data);
  }
  return model;
}

describe('HGRN layer', () => {
  for (const [name, raw] of CASES) {
    it(`${name}: the mixer equals a plain token-by-token recurrence in fla's form, every layer (float64)`, () => {
      const model = tinyModel(raw, 1);
      const c = getFamily('hgrn').parseConfig(raw) as HgrnConfig;
      const x = new F.Random(2).tensor([2, 13, 16], 'float64');
      for (const layer of [0, 1, 2]) {
        const got = F.noGrad(() => hgrnOf(model, layer).forward(x));
        const expected = plainHgrn(model.parameters, `model.layers.${layer}.attn`, layer, c.normEps, x);
        expect(relativeError(got.data, expected), `layer ${layer}`).toBeLessThan(1e-12);
      }
    });

    it(`${name}: recurrent step-by-step logits equal the parallel forward`, () => {
      expectStepsMatchForward(tinyModel(raw, 2), randomIds(2 * 13, 19), 2, 13, 1e-10);
    });
  }

  it('internals: h is the scan of silu(i)(1 − λ), pre_out = normGain ⊙ h, projectOutput(pre_out) is the forward', () => {
    const model = tinyModel(TINY_WIDE, 3);
    const hgrn = hgrnOf(model, 1);
    const x = new F.Random(4).tensor([2, 9, 16], 'float64');
    const m = hgrn.internals(x);
    expect(m.values.shape).toEqual([2, 9, 32]);
    expect(m.logDecay.data.every((l) => l <= 0)).toBe(true);
    m.inputGate.data.forEach((u, i) => expect(u).toBeCloseTo(1 - Math.exp(m.logDecay.data[i]), 14));
    const xHat = F.mul(F.mul(m.activation, m.values), m.inputGate);
    expect(relativeError(hgrnScan(m.logDecay, xHat).data, m.h.data)).toBeLessThan(1e-14);
    expect(relativeError(F.mul(m.normGain, m.h).data, m.preOut.data)).toBeLessThan(1e-14);
    const forward = F.noGrad(() => hgrn.forward(x));
    expect(relativeError(F.noGrad(() => hgrn.projectOutput(m.preOut)).data, forward.data)).toBeLessThan(1e-14);
  });

  it('lower bounds: β_0 = 0, β grows with depth inside [0, 1), zeros give β_l = l/n, and λ ≥ β_l', () => {
    const raw = new F.Random(5).tensor([4, 3], 'float64', 2);
    const beta = lowerBounds(raw);
    const plain = plainLowerBounds(raw);
    expect(Array.from(beta.data.subarray(0, 3))).toEqual([0, 0, 0]);
    for (let l = 0; l < 4; l++) {
      for (let d = 0; d < 3; d++) {
        expect(beta.data[l * 3 + d]).toBeCloseTo(plain[l][d], 15);
        expect(beta.data[l * 3 + d]).toBeLessThan(1);
        if (l > 0) expect(beta.data[l * 3 + d]).toBeGreaterThan(beta.data[(l - 1) * 3 + d]);
      }
    }
    expect(Array.from(lowerBounds(Tensor.zeros([4, 2], 'float64')).data)).toEqual([0, 0, 1, 1, 2, 2, 3, 3].map((k) => expect.closeTo(k / 4, 15)));

    const model = tinyModel(TINY, 6);
    const betaModel = plainLowerBounds(model.parameters.get('model.lower_bounds')!);
    const x = new F.Random(7).tensor([1, 11, 16], 'float64');
    for (const layer of [1, 2]) {
      const m = hgrnOf(model, layer).internals(x);
      m.logDecay.data.forEach((l, i) => expect(Math.exp(l)).toBeGreaterThanOrEqual(betaModel[layer][i % 16] * (1 - 1e-15)));
    }
  });

  it('the gate equals fla’s logaddexp form and keeps 1 − λ exact when λ rounds to 1', () => {
    const f = Tensor.from([-30, -3, 0, 2, 40], [5], 'float64');
    const beta = Tensor.from([0.1, 0.5, 0.9, 0.3, 0.2], [5], 'float64');
    const { logDecay, inputGate } = forgetGate(f, beta);
    const logSigmoid = (u: number) => -Math.log1p(Math.exp(-u));
    for (let e = 0; e < 5; e++) {
      const [a, b] = [Math.log(beta.data[e]), Math.log1p(-beta.data[e]) + logSigmoid(f.data[e])];
      const fla = Math.max(a, b) + Math.log1p(Math.exp(-Math.abs(a - b)));
      expect(logDecay.data[e]).toBeCloseTo(fla, 15);
    }
    // f = 40: 1 − λ = 0.8·σ(−40) ≈ 3.4e−18 (fla's 1 − exp(log λ) gives 0)
    expect(inputGate.data[4] / (0.8 / (1 + Math.exp(40)))).toBeCloseTo(1, 14);
    const bare = forgetGate(f, null);
    expect(bare.inputGate.data[4]).toBeGreaterThan(0);
    f.data.forEach((u, e) => expect(bare.logDecay.data[e]).toBeCloseTo(logSigmoid(u), 15));
  });
});

describe('HGRN model and config', () => {
  it('declares exactly fla’s tensors, with their shapes', () => {
    const model = initModel(TINY, 1, 'float32');
    const shapes = Object.fromEntries([...model.parameters].filter(([n]) => !/^model\.layers\.[12]\./.test(n)).map(([n, t]) => [n, t.shape]));
    expect(shapes).toEqual({
      'model.lower_bounds': [3, 16],
      'model.embeddings.weight': [19, 16],
      'model.layers.0.attn_norm.weight': [16],
      'model.layers.0.attn.i_proj.weight': [16, 16],
      'model.layers.0.attn.f_proj.weight': [16, 16],
      'model.layers.0.attn.g_proj.weight': [16, 16],
      'model.layers.0.attn.g_norm.weight': [16],
      'model.layers.0.attn.o_proj.weight': [16, 16],
      'model.layers.0.mlp_norm.weight': [16],
      'model.layers.0.mlp.gate_proj.weight': [32, 16],
      'model.layers.0.mlp.up_proj.weight': [32, 16],
      'model.layers.0.mlp.down_proj.weight': [16, 32],
      'model.norm.weight': [16],
      'lm_head.weight': [19, 16],
    });
    expect(Array.from(model.parameters.get('model.lower_bounds')!.data).every((u) => u === 0)).toBe(true);
    expect(model.layerKinds()).toEqual([['hgrn', 'mlp'], ['hgrn', 'mlp'], ['hgrn', 'mlp']]);
    const wide = initModel(TINY_WIDE, 1, 'float32');
    expect(wide.parameters.has('model.lower_bounds')).toBe(false);
    expect(wide.parameters.get('model.layers.0.attn.i_proj.weight')!.shape).toEqual([32, 16]);
    expect(wide.parameters.get('model.layers.0.attn.o_proj.weight')!.shape).toEqual([16, 32]);
    expect(initModel(TINY_PLAIN_NORM, 1).parameters.has('model.layers.0.attn.g_norm.weight')).toBe(false);
  });

  it("applies fla's defaults (HGRNConfig)", () => {
    const c = getFamily('hgrn').parseConfig({ model_type: 'hgrn' }) as HgrnConfig;
    expect(c).toMatchObject({
      hiddenSize: 2048, numLayers: 24, vocabSize: 32000, expandRatio: 1, inputDim: 2048, useLowerBound: true, attnMode: 'fused_recurrent',
      hiddenRatio: 4, intermediateSize: 5632, normEps: 1e-6, elementwiseAffine: true, tieWordEmbeddings: false, padTokenId: null,
    });
  });

  it('toHfConfig round-trips through parseConfig', () => {
    const family = getFamily('hgrn');
    for (const raw of [TINY, TINY_WIDE, TINY_PLAIN_NORM, { model_type: 'hgrn' }]) {
      const config = family.parseConfig(raw);
      expect(family.parseConfig(family.toHfConfig(config))).toEqual(config);
    }
  });

  it('unsupported options are ConfigErrors naming the key', () => {
    const parse = (extra: Record<string, unknown>) => () => getFamily('hgrn').parseConfig({ ...TINY, ...extra });
    expect(parse({ use_short_conv: true })).toThrow(/'use_short_conv' = true is not supported/);
    expect(parse({ attn: { layers: [1], num_heads: 2 } })).toThrow(/'attn' = .* is not supported \(hybrid/);
    expect(parse({ expand_ratio: 2 })).toThrow(/use_lower_bound needs .* 32 ≠ 16/);
    expect(parse({ expand_ratio: 0.01 })).toThrow(ConfigError);
    expect(parse({ hidden_act: 'gelu' })).toThrow(/'hidden_act' = "gelu" is not supported/);
    expect(parse({ expand_ratio: 2, use_lower_bound: false })).not.toThrow();
  });
});

describe('HGRN checkpoints and training', () => flaCheckpointAndTrainingTests(TINY, 'model.lower_bounds'));
describe('HGRN checkpoints (E = 2D, no lower bounds)', () => flaCheckpointAndTrainingTests(TINY_WIDE, 'model.layers.2.attn.f_proj.weight'));
