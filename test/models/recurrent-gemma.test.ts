import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as F from '../../src/core/index.js';
import { Tensor } from '../../src/core/index.js';
import { loadModel } from '../../src/io/load-model.js';
import { SafetensorsReader } from '../../src/io/safetensors.js';
import { ConfigError, getFamily, initModel } from '../../src/models/index.js';
import type { DecoderLM } from '../../src/models/index.js';
import { LocalAttention } from '../../src/models/local-attention.js';
import { MixerSublayer } from '../../src/models/model.js';
import { RecurrentBlock } from '../../src/models/recurrent-gemma.js';
import type { RecurrentGemmaConfig, RgLruInternals } from '../../src/models/recurrent-gemma.js';
import { fixturePath } from '../helpers/fixtures.js';
import { relativeError } from '../helpers/ops.js';
import { expectStepsMatchForward, referenceTests } from '../helpers/reference.js';

const ARCH = 'recurrent_gemma';

function fixtureConfig(): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(fixturePath('hf', ARCH, 'config.json'), 'utf8')) as Record<string, unknown>;
}

function temporalMixer(model: DecoderLM, layer: number): RecurrentBlock | LocalAttention {
  const sub = model.sublayer(layer, 0);
  if (!(sub instanceof MixerSublayer) || !(sub.mixer instanceof RecurrentBlock || sub.mixer instanceof LocalAttention)) {
    throw new Error(`layer ${layer} has no temporal block`);
  }
  return sub.mixer;
}

/** Λ̃[b, c, t, s] = (Π_{k=s+1..t} a_k) i_s m_s (implicit-attention.md §2.4), direct products. */
function rgLruCore(m: RgLruInternals): Float64Array {
  const [B, L, W] = m.h.shape;
  const at = (t: Tensor, b: number, l: number, c: number) => t.data[(b * L + l) * W + c];
  const core = new Float64Array(B * W * L * L);
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < W; c++) {
      for (let t = 0; t < L; t++) {
        for (let s = 0; s <= t; s++) {
          let decay = 1;
          for (let k = s + 1; k <= t; k++) decay *= at(m.a, b, k, c);
          core[((b * W + c) * L + t) * L + s] = decay * at(m.inputGate, b, s, c) * at(m.m, b, s, c);
        }
      }
    }
  }
  return core;
}

describe('recurrent_gemma against transformers 5.17 fixtures', () => {
  referenceTests(ARCH);

  it('recurrent_gemma: layer kinds cycle through block_types, each followed by the MLP', () => {
    const { model } = loadModel(fixturePath('hf', ARCH), { dtype: 'float64' });
    expect(model.layerKinds()).toEqual([
      ['rglru', 'mlp'],
      ['rglru', 'mlp'],
      ['local_attention', 'mlp'],
    ]);
  });

  it('recurrent_gemma: RG-LRU internals on the fixture mixer inputs give its values and core, and rebuild h and the output', () => {
    const { model } = loadModel(fixturePath('hf', ARCH), { dtype: 'float64' });
    const reference = SafetensorsReader.open(fixturePath('hf', ARCH, 'reference.safetensors'));
    const ref = (key: string) => reference.readFloat(key, 'float64');
    for (const layer of [0, 1]) {
      const mixer = temporalMixer(model, layer) as RecurrentBlock;
      const input = new Tensor(ref(`mixer_in.${layer}.rglru`), reference.info(`mixer_in.${layer}.rglru`).shape);
      const m = F.noGrad(() => mixer.internals(input));
      const [B, L, W] = m.h.shape;
      expect([B, L, W]).toEqual([2, 24, 32]);
      for (const t of [m.x, m.convPre, m.gate, m.inputGate, m.logA, m.a, m.m]) expect(t.shape).toEqual([B, L, W]);
      expect(m.convWeight.shape).toEqual([W, 4]);
      expect(m.convBias.shape).toEqual([W]);
      expect(relativeError(m.x.data, ref(`attn.${layer}.values`)), 'values').toBeLessThan(1e-12);
      const core = rgLruCore(m);
      expect(relativeError(core, ref(`attn.${layer}.core`)), 'core').toBeLessThan(1e-5);
      // h = Λ̃ c: the core and the scan agree to float64 round-off.
      const rebuilt = new Float64Array(B * L * W);
      for (let b = 0; b < B; b++)
        for (let c = 0; c < W; c++)
          for (let t = 0; t < L; t++)
            for (let s = 0; s <= t; s++) rebuilt[(b * L + t) * W + c] += core[((b * W + c) * L + t) * L + s] * m.convPre.data[(b * L + s) * W + c];
      expect(relativeError(rebuilt, m.h.data), 'Λ̃ c = h').toBeLessThan(1e-12);
      const out = F.noGrad(() => mixer.forward(input));
      expect(relativeError(out.data, ref(`mixer_out.${layer}.rglru`)), 'mixer_out').toBeLessThan(1e-5);
      const projected = F.noGrad(() => mixer.projectOutput(F.mul(m.gate, m.h)));
      expect(relativeError(projected.data, out.data), 'projectOutput(g ⊙ h)').toBeLessThan(1e-14);
    }
  });

  it('recurrent_gemma: local attention weights are causal, windowed row-stochastic matrices that rebuild the output', () => {
    const { model } = loadModel(fixturePath('hf', ARCH), { dtype: 'float64' });
    const reference = SafetensorsReader.open(fixturePath('hf', ARCH, 'reference.safetensors'));
    const attention = temporalMixer(model, 2) as LocalAttention;
    const input = new Tensor(reference.readFloat('mixer_in.2.local_attention', 'float64'), reference.info('mixer_in.2.local_attention').shape);
    const p = attention.attentionWeights(input);
    const [B, Hq, L] = [2, 4, 24];
    expect(p.shape).toEqual([B, Hq, L, L]);
    for (let row = 0; row < B * Hq * L; row++) {
      const t = row % L;
      let total = 0;
      for (let s = 0; s < L; s++) {
        const w = p.data[row * L + s];
        if (s > t || s <= t - 16) expect(w).toBe(0);
        else expect(w).toBeGreaterThan(0);
        total += w;
      }
      expect(total).toBeCloseTo(1, 12);
    }
    // out = o_proj(concat_h Σ_s p[h, t, s] v[s, kv(h)]) with one KV head.
    const { weights, values } = attention.internals(input);
    expect(weights.data).toEqual(p.data);
    const E = 8;
    expect(values.shape).toEqual([B, L, 1, E]);
    const heads = new Float64Array(B * L * Hq * E);
    for (let b = 0; b < B; b++)
      for (let h = 0; h < Hq; h++)
        for (let t = 0; t < L; t++)
          for (let s = 0; s <= t; s++)
            for (let e = 0; e < E; e++) heads[((b * L + t) * Hq + h) * E + e] += p.data[((b * Hq + h) * L + t) * L + s] * values.data[(b * L + s) * E + e];
    const out = F.noGrad(() => attention.projectOutput(new Tensor(heads, [B, L, Hq * E])));
    expect(relativeError(out.data, reference.readFloat('mixer_out.2.local_attention', 'float64'))).toBeLessThan(1e-5);
  });
});

describe('recurrent_gemma config', () => {
  const family = getFamily(ARCH);

  it('reads the fixture config, with rope_theta and partial_rotary_factor from rope_parameters', () => {
    const c = family.parseConfig(fixtureConfig()) as RecurrentGemmaConfig;
    expect(c).toMatchObject({ hiddenSize: 32, numHeads: 4, numKvHeads: 1, headDim: 8, lruWidth: 32, attentionWindow: 16, convWidth: 4 });
    expect(c).toMatchObject({ logitSoftCap: 30, ropeTheta: 10000, partialRotaryFactor: 0.5, blockTypes: ['recurrent', 'recurrent', 'attention'] });
  });

  it('accepts the older top-level rope_theta and fills transformers defaults', () => {
    const c = family.parseConfig({ model_type: ARCH, rope_theta: 500, hidden_size: 64, num_attention_heads: 4 }) as RecurrentGemmaConfig;
    expect(c.ropeTheta).toBe(500);
    expect(c).toMatchObject({ lruWidth: 64, intermediateSize: 192, numKvHeads: 4, attentionWindow: 2048, numLayers: 26, vocabSize: 256000 });
    expect(c.finalWInitVarianceScale).toBeCloseTo(2 / 26, 15);
  });

  it('round-trips through toHfConfig', () => {
    const c = family.parseConfig(fixtureConfig());
    expect(family.parseConfig(family.toHfConfig(c))).toEqual(c);
  });

  it('rejects what it cannot run, naming the key', () => {
    const bad = (patch: Record<string, unknown>) => () => family.parseConfig({ ...fixtureConfig(), ...patch });
    expect(bad({ block_types: ['recurrent', 'mamba'] })).toThrow(ConfigError);
    expect(bad({ block_types: ['recurrent', 'mamba'] })).toThrow(/block_types/);
    expect(bad({ hidden_activation: 'relu' })).toThrow(/hidden_activation/);
    expect(bad({ rope_parameters: { rope_type: 'yarn', rope_theta: 1 } })).toThrow(/rope_type/);
    expect(bad({ num_key_value_heads: 3 })).toThrow(/num_key_value_heads/);
    expect(bad({ lru_width: 30 })).toThrow(/lru_width/);
  });
});

describe('recurrent_gemma from scratch', () => {
  const config = {
    model_type: ARCH,
    vocab_size: 40,
    hidden_size: 16,
    intermediate_size: 24,
    num_hidden_layers: 3,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    lru_width: 12,
    attention_window_size: 3,
    block_types: ['attention', 'recurrent'],
  };

  it('declares exactly the Hugging Face parameter names and shapes of the fixture', () => {
    const fresh = initModel(fixtureConfig(), 1);
    const { model } = loadModel(fixturePath('hf', ARCH), { dtype: 'float32' });
    const shapes = (m: DecoderLM) => [...m.parameters].map(([name, t]) => `${name} ${t.shape.join('x')}`).sort();
    expect(shapes(fresh)).toEqual(shapes(model));
  });

  it('steps equal the forward past the attention window, with GQA and lru_width ≠ hidden_size', () => {
    const model = initModel(config, 3, 'float64');
    expect(model.layerKinds().map((k) => k[0])).toEqual(['local_attention', 'rglru', 'local_attention']);
    const ids = Int32Array.from({ length: 2 * 11 }, (_, i) => (i * 7 + 3) % 40);
    expectStepsMatchForward(model, ids, 2, 11, 1e-9);
  });

  it('trains: finite gradients reach every parameter', () => {
    const model = initModel(config, 5, 'float32');
    for (const t of model.parameters.values()) t.requireGrad();
    const ids = Int32Array.from({ length: 9 }, (_, i) => (i * 5 + 1) % 40);
    const logits = model.forwardIds(ids, 1, 9);
    const targets = Int32Array.from({ length: 9 }, (_, i) => (i < 8 ? ids[i + 1] : -100));
    const loss = F.crossEntropy(F.reshape(logits, [9, 40]), targets);
    F.backward(loss);
    for (const [name, t] of model.parameters) {
      expect(t.grad, name).not.toBeNull();
      expect(t.grad!.every(Number.isFinite), name).toBe(true);
    }
  });
});
