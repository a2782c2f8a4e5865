/**
 * Elementwise unary ops from one gradient table: each entry gives y = f(x) and dy/dx in
 * terms of x and y. Adding an activation means adding one line here.
 */
import { allocate } from '../dtype.js';
import { record, Tensor } from '../tensor.js';

interface UnaryRule {
  f: (x: number) => number;
  /** Derivative dy/dx given the input x and the output y. */
  df: (x: number, y: number) => number;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_C = 0.044715;

function sigmoidScalar(x: number): number {
  // Branches keep exp's argument non-positive, so no overflow for large |x|.
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

function softplusScalar(x: number): number {
  // log(1 + e^x) = max(x, 0) + log1p(e^{-|x|}), stable for every x.
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

const rules = {
  neg: { f: (x) => -x, df: () => -1 },
  exp: { f: Math.exp, df: (_x, y) => y },
  log: { f: Math.log, df: (x) => 1 / x },
  sqrt: { f: Math.sqrt, df: (_x, y) => 0.5 / y },
  rsqrt: { f: (x) => 1 / Math.sqrt(x), df: (x, y) => (-0.5 * y) / x },
  square: { f: (x) => x * x, df: (x) => 2 * x },
  abs: { f: Math.abs, df: (x) => Math.sign(x) },
  tanh: { f: Math.tanh, df: (_x, y) => 1 - y * y },
  sigmoid: { f: sigmoidScalar, df: (_x, y) => y * (1 - y) },
  logSigmoid: { f: (x) => -softplusScalar(-x), df: (x) => 1 - sigmoidScalar(x) },
  silu: {
    f: (x) => x * sigmoidScalar(x),
    df: (x) => {
      const s = sigmoidScalar(x);
      return s * (1 + x * (1 - s));
    },
  },
  softplus: { f: softplusScalar, df: (x) => sigmoidScalar(x) },
  relu: { f: (x) => (x > 0 ? x : 0), df: (x) => (x > 0 ? 1 : 0) },
  /** relu(x)², RWKV's channel-mix activation. */
  reluSquared: { f: (x) => (x > 0 ? x * x : 0), df: (x) => (x > 0 ? 2 * x : 0) },
  /** GELU, tanh approximation: 0.5 x (1 + tanh(√(2/π)(x + 0.044715 x³))). */
  geluTanh: {
    f: (x) => 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + GELU_C * x * x * x))),
    df: (x) => {
      const t = Math.tanh(SQRT_2_OVER_PI * (x + GELU_C * x * x * x));
      return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * GELU_C * x * x);
    },
  },
} satisfies Record<string, UnaryRule>;

export type UnaryOp = keyof typeof rules;

export function unary(op: UnaryOp, x: Tensor): Tensor {
  const { f, df } = rules[op] as UnaryRule;
  const xd = x.data;
  const y = allocate(x.dtype, x.size);
  for (let i = 0; i < y.length; i++) y[i] = f(xd[i]);
  return record(op, [x], y, x.shape, (g, gradIn) => {
    const gx = gradIn(0);
    if (gx === null) return;
    for (let i = 0; i < gx.length; i++) gx[i] += g[i] * df(xd[i], y[i]);
  });
}

export const neg = (x: Tensor) => unary('neg', x);
export const exp = (x: Tensor) => unary('exp', x);
export const log = (x: Tensor) => unary('log', x);
export const sqrt = (x: Tensor) => unary('sqrt', x);
export const rsqrt = (x: Tensor) => unary('rsqrt', x);
export const square = (x: Tensor) => unary('square', x);
export const abs = (x: Tensor) => unary('abs', x);
export const tanh = (x: Tensor) => unary('tanh', x);
export const sigmoid = (x: Tensor) => unary('sigmoid', x);
export const logSigmoid = (x: Tensor) => unary('logSigmoid', x);
export const silu = (x: Tensor) => unary('silu', x);
export const softplus = (x: Tensor) => unary('softplus', x);
export const relu = (x: Tensor) => unary('relu', x);
export const reluSquared = (x: Tensor) => unary('reluSquared', x);
export const geluTanh = (x: Tensor) => unary('geluTanh', x);

/** y = a·x + b with constants a, b (scaling, shifting, negation by a constant). */
export function affine(x: Tensor, a: number, b = 0): Tensor {
  const xd = x.data;
  const y = allocate(x.dtype, x.size);
  for (let i = 0; i < y.length; i++) y[i] = a * xd[i] + b;
  return record('affine', [x], y, x.shape, (g, gradIn) => {
    const gx = gradIn(0);
    if (gx === null) return;
    for (let i = 0; i < gx.length; i++) gx[i] += a * g[i];
  });
}

export const scale = (x: Tensor, a: number) => affine(x, a, 0);

/** Clamps to [lo, hi]; the gradient passes only where the input was inside the range. */
export function clamp(x: Tensor, lo: number, hi: number): Tensor {
  const xd = x.data;
  const y = allocate(x.dtype, x.size);
  for (let i = 0; i < y.length; i++) y[i] = Math.min(hi, Math.max(lo, xd[i]));
  return record('clamp', [x], y, x.shape, (g, gradIn) => {
    const gx = gradIn(0);
    if (gx === null) return;
    for (let i = 0; i < gx.length; i++) if (xd[i] >= lo && xd[i] <= hi) gx[i] += g[i];
  });
}

/** Changes the element type; the gradient is cast back. */
export function cast(x: Tensor, dtype: 'float32' | 'float64'): Tensor {
  if (x.dtype === dtype) return x;
  const y = allocate(dtype, x.size);
  y.set(x.data);
  return record('cast', [x], y, x.shape, (g, gradIn) => {
    const gx = gradIn(0);
    if (gx === null) return;
    for (let i = 0; i < gx.length; i++) gx[i] += g[i];
  });
}
