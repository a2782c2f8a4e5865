import { describe, expect, it } from 'vitest';
import * as F from '../../src/core/index.js';
import type { DType, FloatArray } from '../../src/core/index.js';
import type { RecurrentDecomposition, Variant } from '../../src/implicit/decomposition.js';
import { VARIANTS } from '../../src/implicit/decomposition.js';
import { extract } from '../../src/implicit/extract.js';
import { gatedLinearAttentionDecomposition } from '../../src/implicit/families/gla.js';
import { decomposeModel } from '../../src/implicit/model-layers.js';
import { initModel } from '../../src/models/index.js';
import type { DecoderLM, Trace } from '../../src/models/index.js';
import type { GatedAttention, GatedAttentionInternals } from '../../src/models/gla.js';
import { randomIds } from '../helpers/fla.js';
import { reconstructionError } from '../helpers/implicit.js';
import { relativeError } from '../helpers/ops.js';

const BASE = { vocab_size: 19, hidden_size: 16, num_hidden_layers: 2, intermediate_size: 32 };

/** Tiny models of both families, with and without grouped key/value heads. */
const CASES: Record<string, Record<string, unknown>> = {
  gla: { ...BASE, model_type: 'gla', num_heads: 2 },
  'gla (GQA, clamp_min)': { ...BASE, model_type: 'gla', num_heads: 4, num_kv_heads: 2, expand_k: 1, clamp_min: -0.2 },
  retnet: { ...BASE, model_type: 'retnet', num_heads: 2 },
  'retnet (GQA)': { ...BASE, model_type: 'retnet', num_heads: 4, num_kv_heads: 2 },
};

const B = 2;
const L = 12;

/** A fresh model of `raw` (GLA's gates strengthened so the decays vary) and its input ids. */
function tinyModel(raw: Record<string, unknown>, dtype: DType): { model: DecoderLM; ids: Int32Array } {
  const model = initModel(raw, 1, dtype);
  for (const [key, t] of model.parameters) if (key.includes('gk_proj')) t.data.forEach((u, i) => (t.data[i] = 30 * u));
  return { model, ids: randomIds(B * L, 19) };
}

interface LayerRun {
  m: GatedAttentionInternals;
  d: RecurrentDecomposition;
}

/** Every layer's internals on its traced input, and their decomposition. */
function layerRuns(raw: Record<string, unknown>, dtype: DType): LayerRun[] {
  const { model, ids } = tinyModel(raw, dtype);
  const kind = raw.model_type as string;
  const trace: Trace = new Map();
  F.noGrad(() => model.forwardIds(ids, B, L, trace));
  return [0, 1].map((layer) => {
    const mixer = (model.sublayer(layer, 0) as unknown as { mixer: GatedAttention }).mixer;
    const m = mixer.internals(trace.get(`mixer_in.${layer}.${kind}`)!);
    return { m, d: gatedLinearAttentionDecomposition(kind, m, (p) => mixer.projectOutput(p)) };
  });
}

/**
 * core^h [B, H, L, L] by feeding unit impulses v = e_s through the plain per-head recurrence
 * with the frozen q, k, γ [B, L, H, dk] (one value dim): S_t = exp(γ_t) ⊙ S_{t−1} + k_t v_t,
 * o_t = q_t · S_t; the response at t is core^h[t, s].
 */
function impulseCores(m: GatedAttentionInternals): Float64Array {
  const [, , heads, dk] = m.q.shape;
  const [q, k, logDecay] = [m.q.data, m.k.data, m.logDecay.data];
  const core = new Float64Array(B * heads * L * L);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < heads; h++) {
      for (let s = 0; s < L; s++) {
        const state = new Float64Array(dk);
        for (let t = 0; t < L; t++) {
          const row = ((b * L + t) * heads + h) * dk;
          let o = 0;
          for (let j = 0; j < dk; j++) {
            state[j] = Math.exp(logDecay[row + j]) * state[j] + (t === s ? k[row + j] : 0);
            o += q[row + j] * state[j];
          }
          core[((b * heads + h) * L + t) * L + s] = o;
        }
      }
    }
  }
  return core;
}

/** H^c = diag(gain^c) · core^{h(c)} for every channel [B, C, L, L]. */
function gatedCores(core: Float64Array, gain: FloatArray, heads: number, channelsPerHead: number): Float64Array {
  const C = heads * channelsPerHead;
  const out = new Float64Array(B * C * L * L);
  for (let b = 0; b < B; b++)
    for (let c = 0; c < C; c++)
      for (let t = 0; t < L; t++)
        for (let s = 0; s <= t; s++) {
          out[((b * C + c) * L + t) * L + s] = gain[(b * L + t) * C + c] * core[((b * heads + Math.floor(c / channelsPerHead)) * L + t) * L + s];
        }
  return out;
}

for (const [name, raw] of Object.entries(CASES)) {
  describe(`implicit attention of ${name}`, () => {
    it('H_exact·v + bias reconstructs the pre-output of every layer (float64 ≤ 1e-10, float32 ≤ 1e-4)', () => {
      for (const [dtype, tol] of [['float64', 1e-10], ['float32', 1e-4]] as const) {
        layerRuns(raw, dtype).forEach(({ d }, layer) => expect(reconstructionError(d), `${dtype} layer ${layer}`).toBeLessThan(tol));
      }
    });

    it('the core and H equal the responses of the plain recurrence to unit impulses; paper = exact, no bias', () => {
      for (const { m, d } of layerRuns(raw, 'float64')) {
        const core = impulseCores(m);
        expect(d.cores).toBe(m.q.shape[2]);
        expect(relativeError(extract(d, { variant: 'hidden', reduce: 'none', dtype: 'float64' }).data, core), 'core').toBeLessThan(1e-12);
        const exact = extract(d, { variant: 'exact', reduce: 'none', dtype: 'float64' });
        expect(relativeError(exact.data, gatedCores(core, m.normGain.data, d.cores, m.headVDim)), 'exact').toBeLessThan(1e-12);
        expect(Array.from(extract(d, { variant: 'paper', reduce: 'none', dtype: 'float64' }).data)).toEqual(Array.from(exact.data));
        expect(exact.bias!.every((v) => v === 0)).toBe(true);
      }
    });

    it('decomposing the whole model goes through the registered mixer kind', () => {
      const { model, ids } = tinyModel(raw, 'float64');
      const layers = decomposeModel(model, ids, B, L);
      expect([...layers.keys()]).toEqual([0, 1]);
      const runs = layerRuns(raw, 'float64');
      for (const [layer, d] of layers) {
        expect(d.kind === 'recurrent' && d.mixer).toBe(raw.model_type);
        const direct = extract(runs[layer].d, { variant: 'exact', reduce: 'head-mean', dtype: 'float64' });
        expect(Array.from(extract(d, { variant: 'exact', reduce: 'head-mean', dtype: 'float64' }).data)).toEqual(Array.from(direct.data));
      }
    });

    it('projectOutput(pre_out) of the registered decomposition is the mixer output (o_proj)', () => {
      const { model, ids } = tinyModel(raw, 'float64');
      const trace: Trace = new Map();
      F.noGrad(() => model.forwardIds(ids, B, L, trace));
      for (const [layer, d] of decomposeModel(model, ids, B, L)) {
        if (d.kind !== 'recurrent' || d.projectOutput === undefined) throw new Error(`layer ${layer}: expected a recurrent decomposition with projectOutput`);
        const output = trace.get(`mixer_out.${layer}.${raw.model_type as string}`)!;
        expect(relativeError(F.noGrad(() => d.projectOutput!(d.preOut)).data, output.data), `layer ${layer}`).toBeLessThan(1e-14);
      }
    });

    it('row mode equals the full matrix row for every variant', () => {
      const { d } = layerRuns(raw, 'float64')[1];
      for (const variant of VARIANTS as readonly Variant[]) {
        const full = extract(d, { variant, reduce: 'none', dtype: 'float64' });
        const count = full.shape[1];
        for (const t of [0, 5, L - 1]) {
          const rows = extract(d, { variant, reduce: 'none', row: t, dtype: 'float64' });
          const expected = new Float64Array(B * count * L);
          for (let m = 0; m < B * count; m++) expected.set(full.data.subarray(m * L * L + t * L, m * L * L + t * L + L), m * L);
          expect(relativeError(rows.data, expected), `${variant} row ${t}`).toBeLessThan(1e-12);
        }
      }
    });
  });
}

describe('implicit attention of RetNet: the parallel formula', () => {
  it('core^h[t, s] = γ_h^{t−s} (q̃_t · k̃_s) with the scaled, rotated q and rotated k', () => {
    const { m, d } = layerRuns(CASES.retnet, 'float64')[0];
    const [, , heads, dk] = m.q.shape;
    const [q, k] = [m.q.data, m.k.data];
    const expected = new Float64Array(B * heads * L * L);
    for (let b = 0; b < B; b++)
      for (let h = 0; h < heads; h++)
        for (let t = 0; t < L; t++)
          for (let s = 0; s <= t; s++) {
            let dot = 0;
            for (let j = 0; j < dk; j++) dot += q[((b * L + t) * heads + h) * dk + j] * k[((b * L + s) * heads + h) * dk + j];
            expected[((b * heads + h) * L + t) * L + s] = (1 - 2 ** (-5 - h)) ** (t - s) * dot;
          }
    expect(relativeError(extract(d, { variant: 'hidden', reduce: 'none', dtype: 'float64' }).data, expected)).toBeLessThan(1e-12);
  });
});
