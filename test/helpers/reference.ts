/**
 * Compares a model against the transformers reference fixtures tensor by tensor: logits,
 * every traced intermediate (block inputs, mixer inputs/outputs, hidden states) and the
 * gradients of Σ_b logits[b, L−1, target_b] with respect to the embeddings and block inputs.
 */
import { expect, it } from 'vitest';
import * as F from '../../src/core/index.js';
import type { DType, Tensor } from '../../src/core/index.js';
import { loadModel } from '../../src/io/load-model.js';
import { SafetensorsReader } from '../../src/io/safetensors.js';
import type { DecoderLM, Trace } from '../../src/models/index.js';
import { fixturePath } from './fixtures.js';
import { relativeError } from './ops.js';

export interface ReferenceRun {
  model: DecoderLM;
  reference: SafetensorsReader;
  ids: Int32Array;
  batch: number;
  length: number;
  logits: Tensor;
  trace: Trace;
  embeds: Tensor;
}

/** Runs the model of fixture `parts` (e.g. ['hf', 'mamba']) on the reference input, with gradients. */
export function runReference(parts: string[], dtype: DType): ReferenceRun {
  const { model } = loadModel(fixturePath(...parts), { dtype });
  const reference = SafetensorsReader.open(fixturePath(...parts, 'reference.safetensors'));
  const ids = reference.readInt('input_ids');
  const [batch, length] = reference.info('input_ids').shape;
  const trace: Trace = new Map();
  const embeds = model.embed(ids, batch, length).requireGrad();
  const logits = model.forward(embeds, trace);
  for (const [key, t] of trace) if (key.startsWith('block_in.')) t.retainGrad();
  // Objective: Σ_b logits[b, L−1, target_b]
  const target = reference.readInt('target');
  const V = logits.shape[2];
  const seed = F.allocate(dtype, logits.size);
  for (let b = 0; b < batch; b++) seed[(b * length + length - 1) * V + target[b]] = 1;
  F.backward(logits, seed);
  return { model, reference, ids, batch, length, logits, trace, embeds };
}

/** The worst relative error of every compared tensor, by fixture key. */
export function compareWithReference(run: ReferenceRun): Map<string, number> {
  const errors = new Map<string, number>();
  const ref = (key: string) => run.reference.readFloat(key, 'float64');
  errors.set('logits', relativeError(run.logits.data, ref('logits')));
  for (const [key, t] of run.trace) {
    if (run.reference.has(key)) errors.set(key, relativeError(t.data, ref(key)));
  }
  errors.set('grad.inputs_embeds', relativeError(run.embeds.grad!, ref('grad.inputs_embeds')));
  for (const key of run.reference.keys()) {
    if (!key.startsWith('grad.block_in.')) continue;
    const t = run.trace.get(key.slice('grad.'.length));
    if (t === undefined) throw new Error(`no traced tensor for ${key}`);
    errors.set(key, relativeError(t.grad!, ref(key)));
  }
  return errors;
}

/**
 * Registers the standard exactness tests of a tiny random fixture: float64 within rtol 1e-5
 * on logits, every traced intermediate and every gradient; float32 logits within 2e-3.
 */
export function referenceTests(arch: string): void {
  it(`${arch}: float64 logits, intermediates and gradients match transformers within rtol 1e-5`, () => {
    const run = runReference(['hf', arch], 'float64');
    const errors = compareWithReference(run);
    const expectedKeys = run.reference.keys().filter((k) => /^(logits|block_in|mixer_in|mixer_out|hidden_states|grad\.)/.test(k));
    expect([...errors.keys()].sort()).toEqual(expectedKeys.sort());
    for (const [key, err] of errors) expect(err, key).toBeLessThan(1e-5);
  });
  it(`${arch}: float32 logits match within rtol 2e-3`, () => {
    const run = runReference(['hf', arch], 'float32');
    expect(relativeError(run.logits.data, run.reference.readFloat('logits', 'float64'))).toBeLessThan(2e-3);
  });
  it(`${arch}: recurrent step-by-step logits equal the parallel forward`, () => {
    const run = runReference(['hf', arch], 'float64');
    expectStepsMatchForward(run.model, run.ids, run.batch, run.length, 1e-9);
  });
}

/** Feeds tokens one at a time through `step` and compares with the parallel forward's logits. */
export function expectStepsMatchForward(model: DecoderLM, ids: Int32Array, batch: number, length: number, rtol: number): void {
  const parallel = F.noGrad(() => model.forwardIds(ids, batch, length));
  const V = parallel.shape[2];
  const state = model.initialState(batch);
  const stepped = F.allocate(model.dtype, parallel.size);
  for (let t = 0; t < length; t++) {
    const column = Int32Array.from({ length: batch }, (_, b) => ids[b * length + t]);
    const logits = model.step(column, state);
    for (let b = 0; b < batch; b++) stepped.set(logits.data.subarray(b * V, (b + 1) * V), (b * length + t) * V);
  }
  expect(relativeError(stepped, parallel.data)).toBeLessThan(rtol);
}
