import { describe, expect, it } from 'vitest';
import * as F from '../../src/core/index.js';
import { Random, Tensor } from '../../src/core/index.js';
import { expectGradients, randn } from '../helpers/ops.js';

const rng = new Random(42);
const positive = (shape: number[]) => rng.uniform(shape, 0.5, 2, 'float64');

describe('gradients of every primitive op match central finite differences (float64)', () => {
  const unaries: Array<[string, (x: Tensor) => Tensor, () => Tensor]> = [
    ['neg', F.neg, () => randn(rng, [3, 5])],
    ['exp', F.exp, () => randn(rng, [3, 5])],
    ['log', F.log, () => positive([3, 5])],
    ['sqrt', F.sqrt, () => positive([3, 5])],
    ['rsqrt', F.rsqrt, () => positive([3, 5])],
    ['square', F.square, () => randn(rng, [3, 5])],
    ['tanh', F.tanh, () => randn(rng, [3, 5])],
    ['sigmoid', F.sigmoid, () => randn(rng, [3, 5], 3)],
    ['logSigmoid', F.logSigmoid, () => randn(rng, [3, 5], 3)],
    ['silu', F.silu, () => randn(rng, [3, 5], 3)],
    ['softplus', F.softplus, () => randn(rng, [3, 5], 3)],
    ['relu', F.relu, () => randn(rng, [3, 5])],
    ['reluSquared', F.reluSquared, () => randn(rng, [3, 5])],
    ['geluTanh', F.geluTanh, () => randn(rng, [3, 5], 2)],
    ['affine', (x) => F.affine(x, -1.7, 0.3), () => randn(rng, [4])],
    ['clamp', (x) => F.clamp(x, -0.5, 0.5), () => randn(rng, [4, 4])],
  ];
  for (const [name, fn, make] of unaries) {
    it(name, () => expectGradients(fn, [make()]));
  }

  for (const [name, fn] of [
    ['add', F.add],
    ['sub', F.sub],
    ['mul', F.mul],
  ] as const) {
    it(`${name} with broadcasting`, () => {
      expectGradients(fn, [randn(rng, [2, 3, 4]), randn(rng, [3, 1])]);
      expectGradients(fn, [randn(rng, [4]), randn(rng, [2, 3, 4])]);
      expectGradients(fn, [randn(rng, [2, 3]), randn(rng, [2, 3])]);
    });
  }
  it('div with broadcasting', () => expectGradients(F.div, [randn(rng, [2, 3, 4]), positive([1, 3, 4])]));

  it('matmul, batched and broadcast', () => {
    expectGradients(F.matmul, [randn(rng, [5, 3]), randn(rng, [3, 6])]);
    expectGradients(F.matmul, [randn(rng, [2, 5, 3]), randn(rng, [3, 7])]);
    expectGradients(F.matmul, [randn(rng, [2, 1, 4, 3]), randn(rng, [3, 3, 2])]);
  });
  it('linear with and without bias (odd sizes)', () => {
    expectGradients((x, w, b) => F.linear(x, w, b), [randn(rng, [2, 3, 7]), randn(rng, [5, 7]), randn(rng, [5])]);
    expectGradients((x, w) => F.linear(x, w), [randn(rng, [9, 6]), randn(rng, [11, 6])]);
  });

  it('sum, mean and max over an axis and over everything', () => {
    expectGradients((x) => F.sum(x, 1), [randn(rng, [2, 3, 4])]);
    expectGradients((x) => F.mean(x, -1, true), [randn(rng, [2, 3, 4])]);
    expectGradients((x) => F.sum(x), [randn(rng, [2, 3])]);
    expectGradients((x) => F.max(x, 0), [randn(rng, [5, 3])]);
  });
  it('cumsum', () => expectGradients((x) => F.cumsum(x, 1), [randn(rng, [2, 6, 3])]));

  it('softmax and logSoftmax on inner and outer axes', () => {
    expectGradients((x) => F.softmax(x, -1), [randn(rng, [3, 5], 2)]);
    expectGradients((x) => F.softmax(x, 0), [randn(rng, [3, 5], 2)]);
    expectGradients((x) => F.logSoftmax(x, 1), [randn(rng, [2, 4, 3], 2)]);
  });
  it('layerNorm with and without affine', () => {
    expectGradients((x, w, b) => F.layerNorm(x, w, b, 1e-5), [randn(rng, [2, 3, 6]), randn(rng, [6]), randn(rng, [6])]);
    expectGradients((x) => F.layerNorm(x, null, null, 1e-5), [randn(rng, [4, 5])]);
  });
  it("rmsNorm, plain and Gemma's (1 + w)", () => {
    expectGradients((x, w) => F.rmsNorm(x, w, 1e-6), [randn(rng, [2, 3, 6]), randn(rng, [6])]);
    expectGradients((x, w) => F.rmsNorm(x, w, 1e-6, 1), [randn(rng, [2, 3, 6]), randn(rng, [6])]);
    expectGradients((x) => F.rmsNorm(x, null, 1e-6), [randn(rng, [3, 5])]);
  });
  it('embedding gather, repeated ids accumulate', () => {
    const ids = Int32Array.from([1, 3, 1, 0, 2, 1]);
    expectGradients((w) => F.embedding(w, ids, [2, 3]), [randn(rng, [4, 5])]);
  });
  it('causal depthwise conv1d', () => {
    expectGradients((x, w, b) => F.causalConv1d(x, w, b), [randn(rng, [2, 7, 3]), randn(rng, [3, 4]), randn(rng, [3])]);
    expectGradients((x, w) => F.causalConv1d(x, w, null), [randn(rng, [1, 2, 3]), randn(rng, [3, 4])]);
  });
  it('crossEntropy with an ignored target', () => {
    const targets = Int32Array.from([2, -100, 0, 4]);
    expectGradients((x) => F.crossEntropy(x, targets), [randn(rng, [4, 5], 2)]);
  });
  it('reshape, permute, transpose, slice, split, concat', () => {
    expectGradients((x) => F.mul(F.reshape(x, [3, -1]), F.reshape(x, [3, 4])), [randn(rng, [2, 6])]);
    expectGradients((x) => F.permute(x, [2, 0, 1]), [randn(rng, [2, 3, 4])]);
    expectGradients((x) => F.transpose(x, 0, 2), [randn(rng, [2, 3, 4])]);
    expectGradients((x) => F.slice(x, 1, 1, 3), [randn(rng, [2, 4, 3])]);
    expectGradients((x) => F.concat(F.split(x, [1, 2, 1], 1).reverse(), 1), [randn(rng, [2, 4, 3])]);
    expectGradients((a, b) => F.concat([a, b], 0), [randn(rng, [2, 3]), randn(rng, [1, 3])]);
  });
  it('cast float64 → float32 → float64 keeps the gradient path', () => {
    const x = randn(rng, [3]).requireGrad();
    const y = F.sum(F.cast(F.mul(F.cast(x, 'float32'), F.cast(x, 'float32')), 'float64'));
    F.backward(y);
    for (let i = 0; i < 3; i++) expect(x.grad![i]).toBeCloseTo(2 * x.data[i], 5);
  });
});

describe('gradcheck itself', () => {
  it('fails on a wrong backward', () => {
    const wrong = (x: Tensor) =>
      F.record('wrongSquare', [x], x.data.map((v) => v * v) as Float64Array, x.shape, (g, gradIn) => {
        const gx = gradIn(0);
        if (gx !== null) for (let i = 0; i < gx.length; i++) gx[i] += g[i] * x.data[i]; // should be 2x
      });
    expect(F.gradcheck(wrong, [randn(rng, [4])]).ok).toBe(false);
  });
});
