/**
 * The RG-LRU scan of Griffin (De et al. 2024, §2.4; implicit-attention.md §2.4) as one fused
 * op with a hand-written backward.
 *
 * Shapes: B batch, L time, W channels (`lru_width`).
 *
 *   a_t = exp(ℓ_t),   m_t = sqrt(1 − a_t²)            (ℓ = log a ≤ 0, the log-decay)
 *   h_t = a_t ⊙ h_{t−1} + m_t ⊙ x_t                     (x = i ⊙ c, the gated input)
 *   reset at t = 0: a_0 = 0, m_0 = 1, so h_0 = x_0.
 *
 * The op takes the log-decay rather than a: exp(ℓ) never sees a positive argument, and
 * 1 − a² = −expm1(2ℓ) keeps its precision when a is close to 1 (long memory), where
 * 1 − exp(2ℓ) would cancel. dm/dℓ uses the bounded square-root derivative of the reference
 * implementation (HF `SqrtBoundDerivative`): d√u/du = 1 / max(2√u, 1/1000).
 *
 * Kernels: forward and backward run in WebAssembly SIMD (assembly/rnn.ts via
 * src/core/kernels/wasm/rnn-wasm.ts) unless IATTN_KERNELS=js or WebAssembly SIMD is missing;
 * `rglruForward` and `rglruBackward` below are the JS kernels, the reference and fallback.
 */
import { allocate, commonDType, expectRank, expectShape, noGrad, record, shapeString, ShapeError, Tensor } from '../core/index.js';
import type { FloatArray } from '../core/index.js';
import { rglruBackwardWasm, rglruForwardWasm, rnnWasmEnabled } from '../core/kernels/wasm/rnn-wasm.js';

/** Largest |d√u/du| allowed in the backward (HF `_MAX_SQRT_GRADIENT`). */
const MAX_SQRT_GRADIENT = 1000;

/** a = exp(ℓ): the per-step decay. */
export function rglruDecay(logA: number): number {
  return Math.exp(logA);
}

/** m = sqrt(1 − a²) = sqrt(−expm1(2ℓ)): the input normaliser. */
export function rglruNormalizer(logA: number): number {
  return Math.sqrt(-Math.expm1(2 * logA));
}

/** dm/dℓ = −a² / m, with 1 / m bounded by the clipped square-root derivative. */
function normalizerSlope(a: number, m: number): number {
  return (-2 * a * a) / Math.max(2 * m, 1 / MAX_SQRT_GRADIENT);
}

function checkInputs(op: string, logA: Tensor, x: Tensor): [number, number, number] {
  commonDType(op, logA, x);
  expectRank(op, 'logA', logA, 3);
  expectShape(op, 'x', x, logA.shape);
  const [B, L, W] = logA.shape;
  return [B, L, W];
}

/**
 * h [B, L, W] from the log-decay ℓ [B, L, W] (ℓ at t = 0 is ignored: reset) and the gated
 * input x [B, L, W]. Differentiable with respect to both.
 */
export function rglru(logA: Tensor, x: Tensor): Tensor {
  const [B, L, W] = checkInputs('rglru', logA, x);
  const h = allocate(logA.dtype, logA.size);
  if (!(rnnWasmEnabled() && rglruForwardWasm(h, logA.data, x.data, B, L, W))) rglruForward(h, logA.data, x.data, B, L, W);
  return record('rglru', [logA, x], h, logA.shape, (gOut, gradIn) => {
    const [gLogA, gX] = [gradIn(0), gradIn(1)];
    if (rnnWasmEnabled() && rglruBackwardWasm(gLogA, gX, gOut, h, logA.data, x.data, B, L, W)) return;
    rglruBackward(gLogA, gX, gOut, h, logA.data, x.data, B, L, W);
  });
}

/** Fills h [B, L, W]; the previous state is read from h's own previous row. */
function rglruForward(h: FloatArray, logA: FloatArray, x: FloatArray, B: number, L: number, W: number): void {
  for (let b = 0; b < B; b++) {
    const start = b * L * W;
    for (let w = 0; w < W; w++) h[start + w] = x[start + w]; // reset: h_0 = x_0
    for (let t = 1; t < L; t++) {
      const row = start + t * W;
      for (let w = 0; w < W; w++) {
        const i = row + w;
        const l = logA[i];
        h[i] = rglruDecay(l) * h[i - W] + rglruNormalizer(l) * x[i];
      }
    }
  }
}

/**
 * Reverse sweep. With ĝ_t = ∂/∂h_t (gOut_t + a_{t+1} ĝ_{t+1}):
 *   ∂x_t = ĝ_t m_t,   ∂ℓ_t = ĝ_t (a_t h_{t−1} + x_t dm_t/dℓ_t)   (t ≥ 1; ∂ℓ_0 = 0, ∂x_0 = ĝ_0).
 * Accumulates into gLogA and gX (either may be null).
 */
function rglruBackward(
  gLogA: FloatArray | null,
  gX: FloatArray | null,
  gOut: FloatArray,
  h: FloatArray,
  logA: FloatArray,
  x: FloatArray,
  B: number,
  L: number,
  W: number,
): void {
  const carry = new Float64Array(W); // a_{t+1} ĝ_{t+1}
  for (let b = 0; b < B; b++) {
    const start = b * L * W;
    carry.fill(0);
    for (let t = L - 1; t >= 1; t--) {
      const row = start + t * W;
      for (let w = 0; w < W; w++) {
        const i = row + w;
        const g = gOut[i] + carry[w];
        const l = logA[i];
        const a = rglruDecay(l);
        const m = rglruNormalizer(l);
        if (gX !== null) gX[i] += g * m;
        if (gLogA !== null) gLogA[i] += g * (a * h[i - W] + x[i] * normalizerSlope(a, m));
        carry[w] = a * g;
      }
    }
    if (gX !== null) for (let w = 0; w < W; w++) gX[start + w] += gOut[start + w] + carry[w];
  }
}

/**
 * The decay a and normaliser m [B, L, W] the scan uses, with the reset applied (a_0 = 0,
 * m_0 = 1): the frozen quantities implicit attention is built from. No gradient.
 */
export function rglruCoefficients(logA: Tensor): { a: Tensor; m: Tensor } {
  expectRank('rglruCoefficients', 'logA', logA, 3);
  const [B, L, W] = logA.shape;
  const a = allocate(logA.dtype, logA.size);
  const m = allocate(logA.dtype, logA.size);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < L; t++) {
      const row = (b * L + t) * W;
      for (let w = 0; w < W; w++) {
        const i = row + w;
        a[i] = t === 0 ? 0 : rglruDecay(logA.data[i]);
        m[i] = t === 0 ? 1 : rglruNormalizer(logA.data[i]);
      }
    }
  }
  return { a: new Tensor(a, logA.shape), m: new Tensor(m, logA.shape) };
}

/** Recurrent state of one RG-LRU: h [B, W] and whether the next step is the first (reset). */
export interface RgLruState {
  h: FloatArray;
  position: number;
}

export function rglruInitialState(batch: number, width: number, dtype: 'float32' | 'float64'): RgLruState {
  return { h: allocate(dtype, batch * width), position: 0 };
}

/** One step: ℓ, x [B, W] → h [B, W] (a copy), advancing `state`. Equals one row of `rglru`. */
export function rglruStep(logA: Tensor, x: Tensor, state: RgLruState): Tensor {
  return noGrad(() => {
    commonDType('rglruStep', logA, x);
    expectRank('rglruStep', 'logA', logA, 2);
    expectShape('rglruStep', 'x', x, logA.shape);
    const h = state.h;
    if (h.length !== logA.size) throw new ShapeError(`rglruStep: state holds ${h.length} values, logA ${shapeString(logA.shape)} needs ${logA.size}`);
    const l = logA.data;
    const xd = x.data;
    if (state.position === 0) h.set(xd);
    else for (let i = 0; i < h.length; i++) h[i] = rglruDecay(l[i]) * h[i] + rglruNormalizer(l[i]) * xd[i];
    state.position++;
    return new Tensor(h.slice(), logA.shape);
  });
}
