/**
 * Mamba's selective scan (S6; Gu & Dao 2023, "Mamba", Algorithm 2 and §3.5), one fused op
 * with a hand-written backward, and its one-token `step` form for recurrent generation.
 *
 * Per batch b and channel d, with state h ∈ R^N (h_{-1} = 0):
 *   h_t = exp(Δ_t A_d) ⊙ h_{t−1} + Δ_t u_t B_t          (zero-order-hold A, Euler B, as HF)
 *   y_t = C_t · h_t + D_d u_t
 * Δ ≥ 0 (after softplus) and A ≤ 0 keep every exponent non-positive, and the recurrence never
 * forms a product of decays in closed form, so nothing overflows however long L is. States
 * are carried in float64 whatever the tensors' dtype (HF carries them in float32 or better).
 * The output gate silu(z) is applied outside, by the layer.
 *
 * Shapes: u, Δ, y [B, L, D]; A [D, N]; B_t, C_t [B, L, N]; D_skip [D]; state [B, D, N].
 * The plain per-time-step reference is `selectiveScanReference` in selective-scan.reference.ts.
 *
 * Two kernels with the same equations (and the same backward): the WebAssembly SIMD one
 * (assembly/ssm.ts via src/core/kernels/wasm/ssm-wasm.ts: channels in SIMD lanes, states in
 * the tensors' dtype, as HF's float32 kernels carry them), the default wherever WebAssembly
 * SIMD exists, and the JS kernels below (states in float64), used with IATTN_KERNELS=js (the
 * switch of src/core/kernels/gemm.ts) or without WebAssembly SIMD; test/scans/ssm-wasm.test.ts
 * compares the two. The WASM forward keeps the state at every SCAN_CHUNK-th step when a gradient
 * will be needed, and its backward recomputes each chunk from there; the JS backward recomputes
 * each channel from the start.
 */
import { allocate, commonDType, expectRank, expectShape, isGradEnabled, record, ShapeError, shapeString, Tensor } from '../core/index.js';
import type { FloatArray } from '../core/index.js';
import { gemmBackend } from '../core/kernels/gemm.js';
import { scanCheckpointLength, selectiveScanBackwardWasm, selectiveScanForwardWasm, selectiveScanStepWasm, ssmWasmReady } from '../core/kernels/wasm/ssm-wasm.js';
import type { ScanInputs } from '../core/kernels/wasm/ssm-wasm.js';

interface ScanDims {
  B: number;
  L: number;
  D: number;
  N: number;
}

/**
 * y [B, L, D] from u [B, L, D], Δ [B, L, D] (after softplus), A [D, N], Bm [B, L, N],
 * Cm [B, L, N], Dskip [D]. Differentiable in all six inputs.
 */
export function selectiveScan(u: Tensor, delta: Tensor, A: Tensor, Bm: Tensor, Cm: Tensor, Dskip: Tensor): Tensor {
  const op = 'selectiveScan';
  const dtype = commonDType(op, u, delta, A, Bm, Cm, Dskip);
  expectRank(op, 'u', u, 3);
  expectRank(op, 'A', A, 2);
  const [B, L, D] = u.shape;
  const N = A.shape[1];
  expectShape(op, 'delta', delta, [B, L, D]);
  expectShape(op, 'A', A, [D, N]);
  expectShape(op, 'Bm', Bm, [B, L, N]);
  expectShape(op, 'Cm', Cm, [B, L, N]);
  expectShape(op, 'Dskip', Dskip, [D]);
  const dims: ScanDims = { B, L, D, N };
  const y = allocate(dtype, B * L * D);
  const parents = [u, delta, A, Bm, Cm, Dskip];
  if (gemmBackend() !== 'js' && ssmWasmReady()) {
    const inputs: ScanInputs = [u.data, delta.data, A.data, Bm.data, Cm.data, Dskip.data];
    const double = dtype === 'float64';
    const needsGrad = isGradEnabled() && parents.some((p) => p.requiresGrad);
    const checkpoints = needsGrad ? allocate(dtype, scanCheckpointLength(dims, double)) : null;
    selectiveScanForwardWasm(y, checkpoints, inputs, dims);
    return record(op, parents, y, [B, L, D], (gy, gradIn) => {
      const grads = [0, 1, 2, 3, 4, 5].map((i) => gradIn(i));
      selectiveScanBackwardWasm(grads, gy, inputs, checkpoints!, dims);
    });
  }
  const state = new Float64Array(D * N);
  for (let b = 0; b < B; b++) {
    state.fill(0);
    for (let t = 0; t < L; t++) {
      const row = b * L + t;
      advance(state, 0, u.data, delta.data, row * D, A.data, Bm.data, Cm.data, row * N, Dskip.data, y, D, N);
    }
  }
  return record(op, parents, y, [B, L, D], (gy, gradIn) => {
    selectiveScanBackward(gy, [u.data, delta.data, A.data, Bm.data, Cm.data, Dskip.data], gradIn, dims);
  });
}

/** Recurrent state of `selectiveScanStep`: h [B, D, N], float64. */
export function selectiveScanState(batch: number, channels: number, stateSize: number): Float64Array {
  return new Float64Array(batch * channels * stateSize);
}

/**
 * One time step for every sequence of the batch: u, Δ [B, D], A [D, N], Bm, Cm [B, N],
 * Dskip [D], advancing `state` h [B, D, N] in place; returns y [B, D]. The same equations as
 * `selectiveScan` with float64 states and arithmetic (WASM or JS kernel, by the same switch), so
 * L steps equal one scan to rounding. No gradient (generation only).
 */
export function selectiveScanStep(u: Tensor, delta: Tensor, A: Tensor, Bm: Tensor, Cm: Tensor, Dskip: Tensor, state: Float64Array): Tensor {
  const op = 'selectiveScanStep';
  const dtype = commonDType(op, u, delta, A, Bm, Cm, Dskip);
  expectRank(op, 'u', u, 2);
  expectRank(op, 'A', A, 2);
  const [B, D] = u.shape;
  const N = A.shape[1];
  expectShape(op, 'delta', delta, [B, D]);
  expectShape(op, 'A', A, [D, N]);
  expectShape(op, 'Bm', Bm, [B, N]);
  expectShape(op, 'Cm', Cm, [B, N]);
  expectShape(op, 'Dskip', Dskip, [D]);
  if (state.length !== B * D * N) {
    throw new ShapeError(`${op}: state should hold ${shapeString([B, D, N])} = ${B * D * N} values, got ${state.length}`);
  }
  const y = allocate(dtype, B * D);
  if (gemmBackend() !== 'js' && selectiveScanStepWasm(y, state, [u.data, delta.data, A.data, Bm.data, Cm.data, Dskip.data], B, D, N)) {
    return new Tensor(y, [B, D]);
  }
  for (let b = 0; b < B; b++) {
    advance(state, b * D * N, u.data, delta.data, b * D, A.data, Bm.data, Cm.data, b * N, Dskip.data, y, D, N);
  }
  return new Tensor(y, [B, D]);
}

/**
 * The kernel shared by scan and step: advances the state h [D, N] (at `hOff`) of one
 * sequence by one time step and writes y_t [D] (at `io`, the offset of u_t and Δ_t).
 * B_t and C_t [N] are at `bc`.
 */
function advance(
  h: Float64Array,
  hOff: number,
  u: FloatArray,
  delta: FloatArray,
  io: number,
  A: FloatArray,
  Bm: FloatArray,
  Cm: FloatArray,
  bc: number,
  Dskip: FloatArray,
  y: FloatArray,
  D: number,
  N: number,
): void {
  for (let d = 0; d < D; d++) {
    const dt = delta[io + d];
    const x = u[io + d];
    const dtx = dt * x;
    const a = d * N;
    const s = hOff + a;
    let acc = 0;
    for (let n = 0; n < N; n++) {
      const hn = Math.exp(dt * A[a + n]) * h[s + n] + dtx * Bm[bc + n];
      h[s + n] = hn;
      acc += Cm[bc + n] * hn;
    }
    y[io + d] = acc + Dskip[d] * x;
  }
}

/**
 * Backward of the scan by reverse-mode through the recurrence (the adjoint scan of
 * mamba.py's `selective_scan_seq`). Per channel the states h_t and decays a_t = exp(Δ_t A)
 * are recomputed into O(L·N) scratch instead of being stored by the forward (which would
 * cost B·L·D·N). With the adjoint λ_t = ∂ℓ/∂h_t = g_t C_t + a_{t+1} λ_{t+1}:
 *   ∂C_t = g_t h_t,   ∂D += g_t u_t,   ∂u_t = g_t D + Σ_n λ_t Δ_t B_t,
 *   ∂B_t = λ_t Δ_t u_t,   ∂Δ_t = Σ_n λ_t (h_{t−1} a_t A + B_t u_t),   ∂A += λ_t h_{t−1} a_t Δ_t.
 * Per-channel sums (∂A, ∂D) and cross-channel sums (∂B, ∂C) accumulate in float64.
 */
function selectiveScanBackward(
  gy: FloatArray,
  [u, delta, A, Bm, Cm, Dskip]: FloatArray[],
  gradIn: (i: number) => FloatArray | null,
  { B, L, D, N }: ScanDims,
): void {
  const gu = gradIn(0);
  const gDelta = gradIn(1);
  const gA = gradIn(2);
  const gB = gradIn(3);
  const gC = gradIn(4);
  const gD = gradIn(5);
  const states = new Float64Array((L + 1) * N); // row t + 1 holds h_t; row 0 is h_{−1} = 0
  const decays = new Float64Array(L * N); // row t holds a_t
  const adjoint = new Float64Array(N);
  const dA = new Float64Array(N);
  const dB = new Float64Array(L * N);
  const dC = new Float64Array(L * N);
  for (let b = 0; b < B; b++) {
    dB.fill(0);
    dC.fill(0);
    for (let d = 0; d < D; d++) {
      const a0 = d * N;
      for (let t = 0; t < L; t++) {
        const io = (b * L + t) * D + d;
        const bc = (b * L + t) * N;
        const dt = delta[io];
        const dtx = dt * u[io];
        for (let n = 0; n < N; n++) {
          const decay = Math.exp(dt * A[a0 + n]);
          decays[t * N + n] = decay;
          states[(t + 1) * N + n] = decay * states[t * N + n] + dtx * Bm[bc + n];
        }
      }
      adjoint.fill(0);
      dA.fill(0);
      let dD = 0;
      for (let t = L - 1; t >= 0; t--) {
        const io = (b * L + t) * D + d;
        const bc = (b * L + t) * N;
        const g = gy[io];
        const dt = delta[io];
        const x = u[io];
        let du = g * Dskip[d];
        let dDelta = 0;
        dD += g * x;
        for (let n = 0; n < N; n++) {
          const k = t * N + n;
          const lambda = adjoint[n] + g * Cm[bc + n];
          const decay = decays[k];
          const dExponent = lambda * states[k] * decay; // ∂ℓ/∂(Δ_t A), through a_t h_{t−1}
          dC[k] += g * states[k + N];
          dB[k] += lambda * dt * x;
          du += lambda * dt * Bm[bc + n];
          dDelta += dExponent * A[a0 + n] + lambda * Bm[bc + n] * x;
          dA[n] += dExponent * dt;
          adjoint[n] = lambda * decay;
        }
        if (gu !== null) gu[io] += du;
        if (gDelta !== null) gDelta[io] += dDelta;
      }
      if (gA !== null) for (let n = 0; n < N; n++) gA[a0 + n] += dA[n];
      if (gD !== null) gD[d] += dD;
    }
    const off = b * L * N;
    if (gB !== null) for (let i = 0; i < L * N; i++) gB[off + i] += dB[i];
    if (gC !== null) for (let i = 0; i < L * N; i++) gC[off + i] += dC[i];
  }
}
