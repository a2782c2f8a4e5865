/**
 * Standard tests of a family's implicit attention: the fixture matrices (paper, exact, bias,
 * core, values), the reconstruction invariant H_exact·v + bias = pre_out, and row mode
 * agreeing with the full matrices.
 */
import { expect, it } from 'vitest';
import type { DType } from '../../src/core/index.js';
import { loadModel } from '../../src/io/load-model.js';
import { SafetensorsReader } from '../../src/io/safetensors.js';
import type { LayerDecomposition, NonCausalDecomposition, RecurrentDecomposition, Variant } from '../../src/implicit/decomposition.js';
import { extract } from '../../src/implicit/extract.js';
import { decomposeModel } from '../../src/implicit/model-layers.js';
import { fixturePath } from './fixtures.js';
import { relativeError } from './ops.js';

export function decomposeFixture(parts: string[], dtype: DType): { layers: Map<number, LayerDecomposition>; reference: SafetensorsReader } {
  const { model } = loadModel(fixturePath(...parts), { dtype });
  const reference = SafetensorsReader.open(fixturePath(...parts, 'reference.safetensors'));
  const ids = reference.readInt('input_ids');
  const [batch, length] = reference.info('input_ids').shape;
  return { layers: decomposeModel(model, ids, batch, length), reference };
}

/**
 * max relative error of H_exact · v + bias against the mixer's real pre-output. Sums over every
 * source position, so it serves causal (zero upper triangle) and non-causal (vision) layers.
 */
export function reconstructionError(d: RecurrentDecomposition | NonCausalDecomposition): number {
  const { batch: B, length: L, channels: C } = d;
  const full = extract(d, { variant: 'exact', reduce: 'none', dtype: 'float64' });
  const v = d.values.data;
  const got = new Float64Array(B * L * C);
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      const H = (b * C + c) * L * L;
      for (let t = 0; t < L; t++) {
        let acc = full.bias![(b * L + t) * C + c];
        for (let s = 0; s < L; s++) acc += full.data[H + t * L + s] * v[(b * L + s) * C + c];
        got[(b * L + t) * C + c] = acc;
      }
    }
  }
  return relativeError(got, d.preOut.data);
}

function recurrent(d: LayerDecomposition | undefined): RecurrentDecomposition {
  if (d === undefined || d.kind !== 'recurrent') throw new Error('expected a recurrent layer');
  return d;
}

export function implicitAttentionTests(arch: string, recurrentLayers: number[]): void {
  it(`${arch}: paper, exact, bias, core and values match the float64 fixture (rtol 1e-6)`, () => {
    const { layers, reference } = decomposeFixture(['hf', arch], 'float64');
    for (const i of recurrentLayers) {
      const d = recurrent(layers.get(i));
      const ref = (key: string) => reference.readFloat(key, 'float64');
      expect(relativeError(d.values.data, ref(`attn.${i}.values`)), `attn.${i}.values`).toBeLessThan(1e-6);
      const exact = extract(d, { variant: 'exact', reduce: 'none', dtype: 'float64' });
      expect(relativeError(exact.data, ref(`attn.${i}.exact`)), `attn.${i}.exact`).toBeLessThan(1e-6);
      expect(relativeError(exact.bias!, ref(`attn.${i}.exact_bias`)), `attn.${i}.exact_bias`).toBeLessThan(1e-6);
      const paper = extract(d, { variant: 'paper', reduce: 'none', dtype: 'float64' });
      expect(relativeError(paper.data, ref(`attn.${i}.paper`)), `attn.${i}.paper`).toBeLessThan(1e-6);
      const core = extract(d, { variant: 'hidden', reduce: 'none', dtype: 'float64' });
      expect(relativeError(core.data, ref(`attn.${i}.core`)), `attn.${i}.core`).toBeLessThan(1e-6);
    }
  });

  it(`${arch}: H_exact·v + bias reconstructs the mixer pre-output (float64 ≤ 1e-10, float32 ≤ 1e-4)`, () => {
    for (const [dtype, tol] of [['float64', 1e-10], ['float32', 1e-4]] as const) {
      const { layers } = decomposeFixture(['hf', arch], dtype);
      for (const i of recurrentLayers) expect(reconstructionError(recurrent(layers.get(i))), `${dtype} layer ${i}`).toBeLessThan(tol);
    }
  });

  it(`${arch}: projectOutput(pre_out) equals the mixer output of the fixture (rtol 1e-5)`, () => {
    const { layers, reference } = decomposeFixture(['hf', arch], 'float64');
    for (const i of recurrentLayers) {
      const d = recurrent(layers.get(i));
      const key = `mixer_out.${i}.${d.mixer}`;
      expect(relativeError(d.projectOutput!(d.preOut).data, reference.readFloat(key, 'float64')), key).toBeLessThan(1e-5);
    }
  });

  it(`${arch}: row mode equals the full matrix's row for every variant`, () => {
    const { layers } = decomposeFixture(['hf', arch], 'float64');
    const d = recurrent(layers.get(recurrentLayers[0]));
    const L = d.length;
    const variants: Variant[] = ['paper', 'exact', 'hidden', 'without-conv', 'without-gate', 'without-act'];
    for (const variant of variants) {
      const full = extract(d, { variant, reduce: 'none', dtype: 'float64' });
      const count = full.shape[1];
      for (const t of [0, 5, L - 1]) {
        const rows = extract(d, { variant, reduce: 'none', row: t, dtype: 'float64' });
        const expected = new Float64Array(d.batch * count * L);
        for (let m = 0; m < d.batch * count; m++) expected.set(full.data.subarray(m * L * L + t * L, m * L * L + t * L + L), m * L);
        expect(relativeError(rows.data, expected), `${variant} row ${t}`).toBeLessThan(1e-12);
      }
    }
  });
}
