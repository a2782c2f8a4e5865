import { describe, expect, it } from 'vitest';
import * as F from '../../src/core/index.js';
import type { DType } from '../../src/core/index.js';
import type { RecurrentDecomposition, Variant } from '../../src/implicit/decomposition.js';
import { VARIANTS } from '../../src/implicit/decomposition.js';
import { extract } from '../../src/implicit/extract.js';
import { hgrnDecomposition } from '../../src/implicit/families/hgrn.js';
import { decomposeModel } from '../../src/implicit/model-layers.js';
import { initModel } from '../../src/models/index.js';
import type { DecoderLM, Trace } from '../../src/models/index.js';
import type { HgrnAttention, HgrnInternals } from '../../src/models/hgrn.js';
import { randomIds } from '../helpers/fla.js';
import { reconstructionError } from '../helpers/implicit.js';
import { relativeError } from '../helpers/ops.js';

const BASE = { model_type: 'hgrn', vocab_size: 19, hidden_size: 16, num_hidden_layers: 3, intermediate_size: 32 };

const CASES: Record<string, Record<string, unknown>> = {
  'hgrn (lower bounds)': BASE,
  'hgrn (E = 2D, no lower bounds)': { ...BASE, expand_ratio: 2, use_lower_bound: false },
};

const B = 2;
const L = 12;
const LAYERS = [0, 1, 2];

/** A fresh model (forget gates × 50 so λ spans (0, 1); random lower bounds) and its input ids. */
function tinyModel(raw: Record<string, unknown>, dtype: DType): { model: DecoderLM; ids: Int32Array } {
  const model = initModel(raw, 1, dtype);
  const rng = new F.Random(11);
  for (const [key, t] of model.parameters) {
    if (key.includes('f_proj')) t.data.forEach((u, i) => (t.data[i] = 50 * u));
    if (key === 'model.lower_bounds') t.data.set(rng.tensor(t.shape, dtype, 1.5).data);
  }
  return { model, ids: randomIds(B * L, 19) };
}

interface LayerRun {
  mixer: HgrnAttention;
  x: F.Tensor;
  m: HgrnInternals;
  d: RecurrentDecomposition;
}

/** Every layer's internals on its traced input, and their decomposition. */
function layerRuns(raw: Record<string, unknown>, dtype: DType): LayerRun[] {
  const { model, ids } = tinyModel(raw, dtype);
  const trace: Trace = new Map();
  F.noGrad(() => model.forwardIds(ids, B, L, trace));
  return LAYERS.map((layer) => {
    const mixer = (model.sublayer(layer, 0) as unknown as { mixer: HgrnAttention }).mixer;
    const x = trace.get(`mixer_in.${layer}.hgrn`)!;
    const m = mixer.internals(x);
    return { mixer, x, m, d: hgrnDecomposition(m, (p) => mixer.projectOutput(p)) };
  });
}

/**
 * Responses [B, E, L, L] of a plain recurrence with the frozen λ to unit impulses u = e_s:
 * h_t = λ_t h_{t−1} + w_t u_t; entry [t, s] is h_t (the response at t to the impulse at s).
 */
function impulseResponses(m: HgrnInternals, inputWeight: (idx: number) => number, readout: (idx: number) => number): Float64Array {
  const E = m.values.shape[2];
  const logDecay = m.logDecay.data;
  const out = new Float64Array(B * E * L * L);
  for (let b = 0; b < B; b++)
    for (let c = 0; c < E; c++)
      for (let s = 0; s < L; s++) {
        let h = 0;
        for (let t = 0; t < L; t++) {
          const idx = (b * L + t) * E + c;
          h = Math.exp(logDecay[idx]) * h + (t === s ? inputWeight(idx) : 0);
          out[((b * E + c) * L + t) * L + s] = readout(idx) * h;
        }
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

    it('the core, A on x̂ and H equal the responses of the plain recurrence to unit impulses; paper = exact, no bias', () => {
      for (const { m, d } of layerRuns(raw, 'float64')) {
        const [gain, inputGate, act] = [m.normGain.data, m.inputGate.data, m.activation.data];
        // core: HGRN's paper recurrence h_t = λ_t h_{t−1} + (1 − λ_t) u_t
        const core = impulseResponses(m, (i) => inputGate[i], () => 1);
        const hidden = extract(d, { variant: 'hidden', reduce: 'none', dtype: 'float64' });
        expect(d.cores).toBe(d.channels);
        expect(relativeError(hidden.data, core), 'core').toBeLessThan(1e-12);
        // fla-families.md's A on x̂ (A[t, t] = 1): core = A · diag(1 − λ)
        const A = impulseResponses(m, () => 1, () => 1);
        const E = d.channels;
        const coreFromA = A.map((a, k) => a * inputGate[(Math.floor(k / (E * L * L)) * L + (k % L)) * E + (Math.floor(k / (L * L)) % E)]);
        expect(relativeError(hidden.data, coreFromA), 'A · diag(1 − λ)').toBeLessThan(1e-12);
        // H: the frozen mixer from v = i to pre_out, x̂ = σ(i)(1 − λ) v, pre_out = gain ⊙ h
        const exact = extract(d, { variant: 'exact', reduce: 'none', dtype: 'float64' });
        expect(relativeError(exact.data, impulseResponses(m, (i) => act[i] * inputGate[i], (i) => gain[i])), 'exact').toBeLessThan(1e-12);
        expect(Array.from(extract(d, { variant: 'paper', reduce: 'none', dtype: 'float64' }).data)).toEqual(Array.from(exact.data));
        expect(exact.bias!.every((v) => v === 0)).toBe(true);
        // the ablations drop exactly one diagonal
        const withoutAct = extract(d, { variant: 'without-act', reduce: 'none', dtype: 'float64' });
        expect(relativeError(withoutAct.data, impulseResponses(m, (i) => inputGate[i], (i) => gain[i])), 'without-act').toBeLessThan(1e-12);
        const withoutGate = extract(d, { variant: 'without-gate', reduce: 'none', dtype: 'float64' });
        expect(relativeError(withoutGate.data, impulseResponses(m, (i) => act[i] * inputGate[i], () => 1)), 'without-gate').toBeLessThan(1e-12);
      }
    });

    it('core rows are an exponential moving average: row t sums to 1 − Π_{k≤t} λ_k', () => {
      const { m, d } = layerRuns(raw, 'float64')[1];
      const E = d.channels;
      const row = new Float64Array(L);
      for (const c of [0, 3, E - 1]) {
        let logProduct = 0;
        for (let t = 0; t < L; t++) {
          logProduct += m.logDecay.data[(1 * L + t) * E + c];
          row.fill(0);
          d.coreRow(1, c, t, row);
          expect(row.reduce((s, u) => s + u, 0)).toBeCloseTo(-Math.expm1(logProduct), 13);
        }
      }
    });

    it('decomposing the whole model goes through the registered mixer kind; projectOutput(pre_out) is the mixer output', () => {
      const { model, ids } = tinyModel(raw, 'float64');
      const layers = decomposeModel(model, ids, B, L);
      expect([...layers.keys()]).toEqual(LAYERS);
      const runs = layerRuns(raw, 'float64');
      for (const [layer, d] of layers) {
        if (d.kind !== 'recurrent') throw new Error('expected a recurrent layer');
        expect(d.mixer).toBe('hgrn');
        const direct = extract(runs[layer].d, { variant: 'exact', reduce: 'mean', dtype: 'float64' });
        expect(Array.from(extract(d, { variant: 'exact', reduce: 'mean', dtype: 'float64' }).data)).toEqual(Array.from(direct.data));
        const output = F.noGrad(() => runs[layer].mixer.forward(runs[layer].x));
        expect(relativeError(F.noGrad(() => d.projectOutput!(d.preOut)).data, output.data), `layer ${layer}`).toBeLessThan(1e-14);
      }
    });

    it('row mode equals the full matrix row for every variant', () => {
      const { d } = layerRuns(raw, 'float64')[2];
      for (const variant of VARIANTS as readonly Variant[]) {
        const full = extract(d, { variant, reduce: 'none', dtype: 'float64' });
        const count = full.shape[1];
        for (const t of [0, 5, L - 1]) {
          const rows = extract(d, { variant, reduce: 'none', row: t, dtype: 'float64' });
          const expected = new Float64Array(B * count * L);
          for (let k = 0; k < B * count; k++) expected.set(full.data.subarray(k * L * L + t * L, k * L * L + t * L + L), k * L);
          expect(relativeError(rows.data, expected), `${variant} row ${t}`).toBeLessThan(1e-12);
        }
      }
    });
  });
}
