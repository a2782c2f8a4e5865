/**
 * The element-wise gated recurrence of HGRN (Qin et al. 2023, "Hierarchically Gated Recurrent
 * Neural Network for Sequence Modeling", §3; spec fla-families.md §HGRN; fla's
 * `fused_recurrent_hgrn` / `naive_recurrent_hgrn`) as one fused op with a hand-written backward,
 * and its one-token step.
 *
 * Shapes: B batch, L time, E channels (HGRN's input_dim = int(D·expand_ratio)).
 *
 *   λ_t = exp(ℓ_t)                        ℓ = log λ ≤ 0, the log forget gate
 *   h_t = λ_t ⊙ h_{t−1} + x_t              x = x̂ = silu(i) ⊙ (1 − λ), formed by the layer
 *   h_{−1} = h₀ (an optional initial state [B, E]; zero when absent)
 *
 * The op takes ℓ rather than λ, as fla's kernels take g = logsigmoid(f): exp never sees a
 * positive argument, and callers that form 1 − λ from the gate logits directly (hgrn.ts) keep
 * its precision when λ is close to 1. The state is carried in float64 whatever the dtype and
 * rounded once per step when stored.
 *
 * The plain step-by-step reference is `hgrnScanReference` (hgrn.reference.ts).
 *
 * Kernels: forward and backward run in WebAssembly SIMD (assembly/rnn.ts via
 * src/core/kernels/wasm/rnn-wasm.ts) unless IATTN_KERNELS=js or WebAssembly SIMD is missing;
 * `hgrnForward` and `hgrnBackward` below are the JS kernels, the reference and fallback.
 */
import { allocate, commonDType, expectRank, expectShape, noGrad, record, ShapeError, shapeString, Tensor } from '../core/index.js';
import type { FloatArray } from '../core/index.js';
import { hgrnBackwardWasm, hgrnForwardWasm, rnnWasmEnabled } from '../core/kernels/wasm/rnn-wasm.js';

interface HgrnDims {
  B: number;
  L: number;
  E: number;
}

function checkInputs(op: string, logDecay: Tensor, x: Tensor, initialState: Tensor | null): HgrnDims {
  commonDType(op, logDecay, x, ...(initialState === null ? [] : [initialState]));
  expectRank(op, 'logDecay', logDecay, 3);
  expectShape(op, 'x', x, logDecay.shape);
  const [B, L, E] = logDecay.shape;
  if (initialState !== null) expectShape(op, 'initialState', initialState, [B, E]);
  return { B, L, E };
}

/**
 * h [B, L, E] from the log forget gate ℓ [B, L, E] (precondition ℓ ≤ 0), the input
 * x [B, L, E] and an optional initial state h₀ [B, E]. Differentiable in all three.
 */
export function hgrnScan(logDecay: Tensor, x: Tensor, initialState: Tensor | null = null): Tensor {
  const dims = checkInputs('hgrnScan', logDecay, x, initialState);
  const { B, L, E } = dims;
  const h = allocate(logDecay.dtype, B * L * E);
  const h0 = initialState?.data ?? null;
  if (!(rnnWasmEnabled() && hgrnForwardWasm(h, logDecay.data, x.data, h0, B, L, E))) hgrnForward(h, logDecay.data, x.data, h0, dims);
  const parents = initialState === null ? [logDecay, x] : [logDecay, x, initialState];
  return record('hgrnScan', parents, h, [B, L, E], (gOut, gradIn) => {
    const [gLogDecay, gX, gH0] = [gradIn(0), gradIn(1), initialState === null ? null : gradIn(2)];
    if (rnnWasmEnabled() && hgrnBackwardWasm(gLogDecay, gX, gH0, gOut, h, logDecay.data, h0, B, L, E)) return;
    hgrnBackward(gLogDecay, gX, gH0, gOut, h, logDecay.data, h0, dims);
  });
}

/** Fills h [B, L, E]: per channel, a running float64 state h ← exp(ℓ_t) h + x_t. */
function hgrnForward(h: FloatArray, logDecay: FloatArray, x: FloatArray, h0: FloatArray | null, dims: HgrnDims): void {
  const { B, L, E } = dims;
  const state = new Float64Array(E);
  for (let b = 0; b < B; b++) {
    if (h0 === null) state.fill(0);
    else for (let e = 0; e < E; e++) state[e] = h0[b * E + e];
    for (let t = 0; t < L; t++) {
      const row = (b * L + t) * E;
      for (let e = 0; e < E; e++) {
        state[e] = Math.exp(logDecay[row + e]) * state[e] + x[row + e];
        h[row + e] = state[e];
      }
    }
  }
}

/**
 * Reverse sweep. With ĝ_t = ∂loss/∂h_t through every path, ĝ_t = gOut_t + λ_{t+1} ĝ_{t+1}
 * (ĝ_L = 0), and h_t = λ_t h_{t−1} + x_t gives
 *   ∂x_t = ĝ_t,   ∂ℓ_t = ĝ_t · λ_t · h_{t−1}   (∂λ/∂ℓ = λ; h_{−1} = h₀),   ∂h₀ = λ_0 ĝ_0.
 * Accumulates with += into gLogDecay, gX, gH0 (any may be null).
 */
function hgrnBackward(
  gLogDecay: FloatArray | null,
  gX: FloatArray | null,
  gH0: FloatArray | null,
  gOut: FloatArray,
  h: FloatArray,
  logDecay: FloatArray,
  h0: FloatArray | null,
  dims: HgrnDims,
): void {
  const { B, L, E } = dims;
  const carry = new Float64Array(E); // λ_{t+1} ĝ_{t+1}
  for (let b = 0; b < B; b++) {
    carry.fill(0);
    for (let t = L - 1; t >= 0; t--) {
      const row = (b * L + t) * E;
      for (let e = 0; e < E; e++) {
        const i = row + e;
        const g = gOut[i] + carry[e];
        const decay = Math.exp(logDecay[i]);
        const previous = t > 0 ? h[i - E] : h0 === null ? 0 : h0[b * E + e];
        if (gX !== null) gX[i] += g;
        if (gLogDecay !== null) gLogDecay[i] += g * decay * previous;
        carry[e] = decay * g;
      }
    }
    if (gH0 !== null) for (let e = 0; e < E; e++) gH0[b * E + e] += carry[e];
  }
}

/** A zero recurrent state h [B, E] for `hgrnStep`. */
export function hgrnInitialState(batch: number, width: number, dtype: 'float32' | 'float64'): Tensor {
  return Tensor.zeros([batch, width], dtype);
}

/**
 * One step for generation (no graph): ℓ, x [B, E] with the state h [B, E] updated in place,
 * h ← exp(ℓ) ⊙ h + x; returns a copy of the new h [B, E]. Equals one row of `hgrnScan`
 * started from the same state.
 */
export function hgrnStep(logDecay: Tensor, x: Tensor, state: Tensor): Tensor {
  return noGrad(() => {
    const op = 'hgrnStep';
    commonDType(op, logDecay, x, state);
    if (logDecay.rank !== 2) throw new ShapeError(`${op}: logDecay should be [B, E], got ${shapeString(logDecay.shape)}`);
    expectShape(op, 'x', x, logDecay.shape);
    expectShape(op, 'state', state, logDecay.shape);
    const h = state.data;
    for (let i = 0; i < h.length; i++) h[i] = Math.exp(logDecay.data[i]) * h[i] + x.data[i];
    return new Tensor(h.slice(), logDecay.shape);
  });
}
