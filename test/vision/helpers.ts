/** Small float64 vision models with every parameter perturbed (so that biases and zero-initialised tensors count). */
import { expect } from 'vitest';
import { Random } from '../../src/core/index.js';
import type { DType } from '../../src/core/index.js';
import type { NonCausalDecomposition, Variant } from '../../src/implicit/decomposition.js';
import { extract } from '../../src/implicit/extract.js';
import { initVisionModel } from '../../src/vision/checkpoint.js';
import { normalise, shapesBatch } from '../../src/vision/data.js';
import type { VisionModel } from '../../src/vision/model.js';
import { relativeError } from '../helpers/ops.js';

export { reconstructionError } from '../helpers/implicit.js';

export const TINY_LABELS = ['circle', 'square', 'triangle'];
const id2label = Object.fromEntries(TINY_LABELS.map((l, i) => [String(i), l]));

/** 8×8 images, 2×2 patches: a 4×4 grid (16 patches). */
export const TINY_VIM = { model_type: 'vim', image_size: 8, patch_size: 2, hidden_size: 8, num_hidden_layers: 2, state_size: 4, id2label };
export const TINY_MLLA = { model_type: 'mlla', image_size: 8, patch_size: 2, hidden_size: 8, num_hidden_layers: 2, num_attention_heads: 2, id2label };

export function tinyModel(raw: Record<string, unknown>, dtype: DType = 'float64', seed = 7, noise = 0.2): VisionModel {
  const model = initVisionModel(raw, seed, dtype);
  const rng = new Random(seed + 1);
  for (const t of model.parameters.values()) for (let i = 0; i < t.size; i++) t.data[i] += noise * rng.normal();
  return model;
}

/** Random normalised images [B, 3, S, S] (uniform pixels). */
export function randomImages(model: VisionModel, batch: number, seed = 11) {
  const S = model.image.imageSize;
  const rng = new Random(seed);
  const pixels = Float32Array.from({ length: batch * 3 * S * S }, () => rng.next());
  return normalise(pixels, batch, S, model.image, model.dtype);
}

/** A batch of synthetic shapes resized for a model (the model's own image size). */
export function shapeImages(model: VisionModel, count: number) {
  return shapesBatch(2, 0, count, model.image.imageSize, model.image, model.dtype);
}

/** Row mode equals the full matrix's rows, for every variant, at the given rows. */
export function expectRowsMatchMatrices(d: NonCausalDecomposition, rows: number[]): void {
  const L = d.length;
  const variants: Variant[] = ['paper', 'exact', 'hidden', 'without-conv', 'without-gate', 'without-act'];
  for (const variant of variants) {
    const full = extract(d, { variant, reduce: 'none', dtype: 'float64' });
    const count = full.shape[1];
    for (const t of rows) {
      const got = extract(d, { variant, reduce: 'none', row: t, dtype: 'float64' });
      const expected = new Float64Array(d.batch * count * L);
      for (let m = 0; m < d.batch * count; m++) expected.set(full.data.subarray(m * L * L + t * L, m * L * L + t * L + L), m * L);
      expect(relativeError(got.data, expected), `${variant} row ${t}`).toBeLessThan(1e-12);
    }
  }
}

/** Share of |H| mass strictly above the diagonal: > 0 for a non-causal matrix. */
export function upperMass(d: NonCausalDecomposition): number {
  const L = d.length;
  const a = extract(d, { variant: 'exact', reduce: 'mean-abs', dtype: 'float64' }).data;
  let upper = 0;
  let total = 0;
  for (let t = 0; t < L; t++) {
    for (let s = 0; s < L; s++) {
      total += a[t * L + s];
      if (s > t) upper += a[t * L + s];
    }
  }
  return upper / total;
}
