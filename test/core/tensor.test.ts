import { describe, expect, it } from 'vitest';
import * as F from '../../src/core/index.js';
import { Random, ShapeError, Tensor } from '../../src/core/index.js';

describe('tensor engine basics', () => {
  it('runs the same code path in float32 and float64', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const a = Tensor.from([1, 2, 3, 4], [2, 2], dtype);
      const b = Tensor.from([5, 6, 7, 8], [2, 2], dtype);
      const c = F.matmul(a, b);
      expect(c.dtype).toBe(dtype);
      expect(Array.from(c.data)).toEqual([19, 22, 43, 50]);
    }
  });

  it('rejects mixed dtypes and bad shapes with messages naming the op', () => {
    const a = Tensor.zeros([2, 3], 'float32');
    expect(() => F.add(a, Tensor.zeros([2, 3], 'float64'))).toThrow(/add: mixed dtypes/);
    expect(() => F.add(a, Tensor.zeros([4], 'float32'))).toThrow(/add: shapes \[2, 3\] and \[4\] do not broadcast/);
    expect(() => F.matmul(a, Tensor.zeros([2, 3]))).toThrow(ShapeError);
    expect(() => F.linear(a, Tensor.zeros([5, 4]))).toThrow(/linear: input \[2, 3\]/);
    expect(() => F.reshape(a, [4, 2])).toThrow(/reshape: cannot view/);
    expect(() => F.embedding(Tensor.zeros([3, 2]), Int32Array.from([3]), [1])).toThrow(/outside the vocabulary/);
    expect(() => new Tensor(new Float32Array(3), [2, 2])).toThrow(/needs 4/);
  });

  it('linear equals matmul with the transposed weight plus bias', () => {
    const rng = new Random(3);
    const x = rng.tensor([2, 5, 7], 'float64');
    const w = rng.tensor([6, 7], 'float64');
    const b = rng.tensor([6], 'float64');
    const viaMatmul = F.add(F.matmul(x, F.transpose(w, 0, 1)), b);
    const y = F.linear(x, w, b);
    for (let i = 0; i < y.size; i++) expect(y.data[i]).toBeCloseTo(viaMatmul.data[i], 12);
  });

  it('noGrad records no graph; retainGrad keeps intermediate gradients; gradients accumulate', () => {
    const x = Tensor.from([1, 2, 3], [3], 'float64').requireGrad();
    expect(F.noGrad(() => F.mul(x, x)).node).toBeNull();
    const y = F.mul(x, x).retainGrad();
    const z = F.sum(F.mul(y, y));
    F.backward(z);
    expect(Array.from(y.grad!)).toEqual([2, 8, 18]);
    expect(Array.from(x.grad!)).toEqual([4, 32, 108]);
    F.backward(F.sum(x));
    expect(Array.from(x.grad!)).toEqual([5, 33, 109]);
  });

  it('is numerically stable at extremes', () => {
    const x = Tensor.from([-1000, -30, 0, 30, 1000], [5], 'float32');
    expect(Array.from(F.sigmoid(x).data)).toEqual([0, expect.closeTo(9.36e-14, 15), 0.5, 1, 1]);
    expect(F.softplus(x).data[4]).toBe(1000);
    expect(F.softplus(x).data[0]).toBe(0);
    const ls = F.logSoftmax(Tensor.from([1000, 0], [2], 'float64'));
    expect(ls.data[0]).toBeCloseTo(0, 12);
    expect(ls.data[1]).toBeCloseTo(-1000, 9);
    expect(Number.isNaN(F.exp(Tensor.from([NaN], [1])).data[0])).toBe(true);
  });

  it('causal conv1d: index K−1 multiplies the current token', () => {
    const x = Tensor.from([1, 10, 100], [1, 3, 1], 'float64');
    const w = Tensor.from([0.5, 2], [1, 2], 'float64');
    expect(Array.from(F.causalConv1d(x, w, Tensor.from([1], [1], 'float64')).data)).toEqual([3, 21.5, 206]);
  });

  it('crossEntropy equals −log softmax at the target', () => {
    const logits = Tensor.from([1, 2, 3, 0, 0, 0], [2, 3], 'float64');
    const ce = F.crossEntropy(logits, Int32Array.from([2, 0])).item();
    const expected = (-Math.log(Math.exp(3) / (Math.exp(1) + Math.exp(2) + Math.exp(3))) + Math.log(3)) / 2;
    expect(ce).toBeCloseTo(expected, 12);
  });
});
