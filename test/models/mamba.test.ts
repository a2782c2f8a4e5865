import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as F from '../../src/core/index.js';
import type { DType, FloatArray } from '../../src/core/index.js';
import { loadModel } from '../../src/io/load-model.js';
import { SafetensorsReader } from '../../src/io/safetensors.js';
import { ConfigError, getFamily, initModel, modelFromStore, WeightError } from '../../src/models/index.js';
import type { DecoderLM } from '../../src/models/index.js';
import { MambaMixer } from '../../src/models/mamba.js';
import { MixerSublayer } from '../../src/models/model.js';
import type { MambaConfig, MambaInternals } from '../../src/models/mamba.js';
import type { TensorStore } from '../../src/models/parameters.js';
import { fixturePath } from '../helpers/fixtures.js';
import { expectStepsMatchForward, referenceTests } from '../helpers/reference.js';
import { relativeError } from '../helpers/ops.js';

const ARCHS = ['mamba', 'falcon_mamba'] as const;

function fixtureConfig(arch: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(fixturePath('hf', arch, 'config.json'), 'utf8')) as Record<string, unknown>;
}

/** The fixture checkpoint's weights, with tensors renamed, dropped or given a false shape. */
function editedStore(arch: string, edit: { drop?: string; shape?: [string, number[]] }): TensorStore {
  const reader = SafetensorsReader.open(fixturePath('hf', arch, 'model.safetensors'));
  return {
    has: (name) => name !== edit.drop && reader.has(name),
    info: (name) => ({ shape: edit.shape?.[0] === name ? edit.shape[1] : reader.info(name).shape }),
    readFloat: (name, dtype: DType) => reader.readFloat(name, dtype),
  };
}

function mixerOf(model: DecoderLM, layer: number): MixerSublayer<MambaMixer> {
  const sub = model.sublayer(layer);
  if (!(sub instanceof MixerSublayer) || !(sub.mixer instanceof MambaMixer)) throw new Error(`layer ${layer} is not a Mamba block`);
  return sub as MixerSublayer<MambaMixer>;
}

/**
 * H_exact and its bias for every channel, built from the internals by the formulas of
 * implicit-attention.md §2.1 (direct sums, float64): H = diag(silu Z)(S6 + D·I) diag(σ(c)) M.
 */
function implicitAttention(m: MambaInternals) {
  const [B, L, D] = m.x.shape;
  const [N, K] = [m.A.shape[1], m.convWeight.shape[1]];
  const at = (t: FloatArray, b: number, l: number, i: number, width: number) => t[(b * L + l) * width + i];
  const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
  const core = new Float64Array(B * D * L * L);
  const exact = new Float64Array(B * D * L * L);
  const bias = new Float64Array(B * L * D);
  for (let b = 0; b < B; b++) {
    for (let d = 0; d < D; d++) {
      const base = (b * D + d) * L * L;
      for (let t = 0; t < L; t++) {
        const gate = at(m.z.data, b, t, d, D) * sigmoid(at(m.z.data, b, t, d, D));
        for (let s = 0; s <= t; s++) {
          let decaySum = 0; // Σ_{k=s+1..t} Δ_k
          for (let k = s + 1; k <= t; k++) decaySum += at(m.delta.data, b, k, d, D);
          let s6 = 0;
          for (let n = 0; n < N; n++) {
            s6 += at(m.C.data, b, t, n, N) * Math.exp(m.A.data[d * N + n] * decaySum) * at(m.delta.data, b, s, d, D) * at(m.B.data, b, s, n, N);
          }
          core[base + t * L + s] = s6;
          const mixed = gate * (s6 + (s === t ? m.Dskip.data[d] : 0)) * sigmoid(at(m.convPre.data, b, s, d, D));
          bias[(b * L + t) * D + d] += mixed * (m.convBias?.data[d] ?? 0);
          for (let j = 0; j < K && s - j >= 0; j++) exact[base + t * L + s - j] += mixed * m.convWeight.data[d * K + K - 1 - j];
        }
      }
    }
  }
  return { core, exact, bias };
}

for (const arch of ARCHS) {
  describe(`${arch} against transformers 5.17 fixtures`, () => {
    referenceTests(arch);

    it(`${arch}: on the fixture's mixer inputs, the internals rebuild its implicit attention to float64 round-off`, () => {
      const { model } = loadModel(fixturePath('hf', arch), { dtype: 'float64' });
      const reference = SafetensorsReader.open(fixturePath('hf', arch, 'reference.safetensors'));
      const ref = (key: string) => reference.readFloat(key, 'float64');
      for (let i = 0; i < model.numLayers; i++) {
        const key = `mixer_in.${i}.${arch}`;
        const input = new F.Tensor(ref(key), reference.info(key).shape);
        const block = mixerOf(model, i);
        const m = F.noGrad(() => block.mixer.internals(input));
        expect(relativeError(m.x.data, ref(`attn.${i}.values`)), `values ${i}`).toBeLessThan(1e-12);
        const { core, exact, bias } = implicitAttention(m);
        expect(relativeError(core, ref(`attn.${i}.core`)), `core ${i}`).toBeLessThan(1e-12);
        expect(relativeError(exact, ref(`attn.${i}.exact`)), `exact ${i}`).toBeLessThan(1e-12);
        expect(relativeError(bias, ref(`attn.${i}.exact_bias`)), `exact_bias ${i}`).toBeLessThan(1e-12);
        // The mixer alone, on HF's input, against HF's output (HF keeps parts of the scan in float32).
        const out = F.noGrad(() => block.forward(input));
        expect(relativeError(out.data, ref(`mixer_out.${i}.${arch}`)), `mixer_out ${i}`).toBeLessThan(1e-6);
      }
    });
  });
}

describe('mamba checkpoints and configs', () => {
  it('a missing tensor throws a WeightError naming it', () => {
    const name = 'backbone.layers.1.mixer.dt_proj.bias';
    const build = () => modelFromStore(fixtureConfig('mamba'), editedStore('mamba', { drop: name }), 'float32');
    expect(build).toThrow(WeightError);
    expect(build).toThrow(name);
  });

  it('a tensor of the wrong shape throws a WeightError naming it and both shapes', () => {
    const name = 'backbone.layers.0.mixer.A_log';
    const build = () => modelFromStore(fixtureConfig('falcon_mamba'), editedStore('falcon_mamba', { shape: [name, [8, 64]] }), 'float32');
    expect(build).toThrow(WeightError);
    expect(build).toThrow(`tensor '${name}' has shape [8, 64], expected [64, 8]`);
  });

  it('an untied FalconMamba checkpoint without lm_head.weight is rejected', () => {
    const build = () => modelFromStore(fixtureConfig('falcon_mamba'), editedStore('falcon_mamba', { drop: 'lm_head.weight' }), 'float32');
    expect(build).toThrow(/missing tensor 'lm_head.weight'/);
  });

  it('an unsupported hidden_act or time_step_rank gives a ConfigError', () => {
    for (const arch of ARCHS) {
      expect(() => getFamily(arch).parseConfig({ ...fixtureConfig(arch), hidden_act: 'gelu' })).toThrow(ConfigError);
      expect(() => getFamily(arch).parseConfig({ ...fixtureConfig(arch), hidden_act: 'gelu' })).toThrow(/'hidden_act' = "gelu" is not supported/);
      expect(() => getFamily(arch).parseConfig({ ...fixtureConfig(arch), time_step_rank: 'big' })).toThrow(ConfigError);
    }
  });

  it("applies transformers' defaults: time_step_rank 'auto' = ⌈H/16⌉, D = expand·H, tied head, mixer_rms_eps", () => {
    const mamba = getFamily('mamba').parseConfig({ model_type: 'mamba', hidden_size: 40, time_step_rank: 'auto' }) as MambaConfig;
    expect(mamba).toMatchObject({ timeStepRank: 3, intermediateSize: 80, stateSize: 16, convKernel: 4, tieWordEmbeddings: true, useBias: false, useConvBias: true, mixerRmsEps: null });
    const falcon = getFamily('falcon_mamba').parseConfig({ model_type: 'falcon_mamba', hidden_size: 64 }) as MambaConfig;
    expect(falcon).toMatchObject({ timeStepRank: 4, intermediateSize: 128, mixerRmsEps: 1e-6 });
  });

  it('toHfConfig round-trips through parseConfig', () => {
    for (const arch of ARCHS) {
      const family = getFamily(arch);
      const config = family.parseConfig(fixtureConfig(arch));
      expect(family.parseConfig(family.toHfConfig(config))).toEqual(config);
    }
  });

  it('a freshly initialised model declares exactly the checkpoint tensors, runs, and steps like its forward', () => {
    for (const arch of ARCHS) {
      const model = initModel(fixtureConfig(arch), 1, 'float64');
      const stored = SafetensorsReader.open(fixturePath('hf', arch, 'model.safetensors')).keys();
      expect([...model.parameters.keys()].sort()).toEqual(stored);
      for (const [name, t] of model.parameters) expect(t.data.every(Number.isFinite), name).toBe(true);
      const ids = Int32Array.from({ length: 2 * 9 }, (_, i) => (i * 7) % 96);
      const logits = model.forwardIds(ids, 2, 9);
      expect(logits.data.every(Number.isFinite)).toBe(true);
      expectStepsMatchForward(model, ids, 2, 9, 1e-9);
    }
  });

  it('gradients reach every parameter of a fresh model', () => {
    const model = initModel({ ...fixtureConfig('falcon_mamba'), use_bias: true }, 2, 'float64');
    for (const t of model.parameters.values()) t.requireGrad();
    const ids = Int32Array.from({ length: 2 * 5 }, (_, i) => (i * 11) % 96);
    const targets = Int32Array.from({ length: 2 * 5 }, (_, i) => (i * 5 + 3) % 96);
    const loss = F.crossEntropy(F.reshape(model.forwardIds(ids, 2, 5), [10, 96]), targets);
    F.backward(loss);
    for (const [name, t] of model.parameters) {
      expect(t.grad, name).not.toBeNull();
      expect(t.grad!.some((g) => g !== 0), name).toBe(true);
    }
  });
});
