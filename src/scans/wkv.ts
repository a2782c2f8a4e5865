/**
 * RWKV-4's WKV operator (Peng et al. 2023, "RWKV: Reinventing RNNs for the Transformer Era",
 * §3.1.2 eq. 14–16; implicit-attention.md §2.3), one fused op with a hand-written backward,
 * and its recurrent form for generation.
 *
 * Per batch b and channel c, with per-step decay λ = exp(w) > 0 and bonus u:
 *   ℓ[t, s] = k_s − (t−1−s)·λ  (s < t),   ℓ[t, t] = u + k_t
 *   wkv_t  = Σ_{s≤t} softmax_s(ℓ[t, ·]) v_s
 * computed as a recurrence over a numerator a, denominator d and running maximum p, all
 * stored relative to e^p (the log-space form of HF's `rwkv_linear_attention_cpu` and the
 * official CUDA kernel), so every exponent is ≤ 0 whatever L, k or λ are. The recurrence is
 * carried in float64 whatever the tensors' dtype.
 *
 * Shapes: w, u [C]; k, v, wkv [B, L, C]; state [B, C] per component.
 * The plain softmax reference is `wkvReference` in wkv.reference.ts.
 *
 * Kernels: forward and backward run in WebAssembly SIMD (assembly/rnn.ts, the same equations in
 * f64x2 lanes, via src/core/kernels/wasm/rnn-wasm.ts) unless IATTN_KERNELS=js or the runtime
 * lacks WebAssembly SIMD; `scanForward` and `wkvBackward` below are the JS kernels, kept as the
 * reference and fallback (test/scans/rnn-wasm.test.ts compares the two).
 */
import { allocate, commonDType, expectRank, expectShape, isGradEnabled, record, ShapeError, shapeString, Tensor } from '../core/index.js';
import type { FloatArray } from '../core/index.js';
import { rnnWasmEnabled, wkvBackwardWasm, wkvForwardWasm } from '../core/kernels/wasm/rnn-wasm.js';

/**
 * Recurrent state of one WKV layer, each [B, C] in float64: the numerator Σ_s e^{ℓ_s − p} v_s,
 * the denominator Σ_s e^{ℓ_s − p}, and the log-scale p, for the tokens seen so far.
 */
export interface WkvState {
  numerator: Float64Array;
  denominator: Float64Array;
  max: Float64Array;
}

/** The state before the first token: empty sums (p = −∞). */
export function wkvState(batch: number, channels: number): WkvState {
  return {
    numerator: new Float64Array(batch * channels),
    denominator: new Float64Array(batch * channels),
    max: new Float64Array(batch * channels).fill(-Infinity),
  };
}

/**
 * wkv [B, L, C] from time_decay w [C] (decay per step exp(w)), time_first u [C], k [B, L, C]
 * and v [B, L, C]. Differentiable in all four inputs.
 */
export function wkv(w: Tensor, u: Tensor, k: Tensor, v: Tensor): Tensor {
  const op = 'wkv';
  const [B, L, C] = checkShapes(op, w, u, k, v);
  const y = allocate(k.dtype, B * L * C);
  const needsGrad = isGradEnabled() && [w, u, k, v].some((t) => t.requiresGrad);
  // log Z_t = log Σ_s e^{ℓ[t, s]}, kept for the backward (float64: it is exponentiated there).
  const logZ = needsGrad ? new Float64Array(B * L * C) : null;
  const decay = decays(w);
  runForward(decay, u.data, k.data, v.data, y, logZ, wkvState(B, C), B, L, C);
  return record(op, [w, u, k, v], y, [B, L, C], (gy, gradIn) => {
    const [gw, gu, gk, gv] = [0, 1, 2, 3].map(gradIn);
    if (rnnWasmEnabled() && wkvBackwardWasm(gy, decay, u.data, k.data, v.data, y, logZ!, gw, gu, gk, gv, B, L, C)) return;
    wkvBackward(gy, decay, u.data, k.data, v.data, y, logZ!, gradIn, B, L, C);
  });
}

/**
 * Continues the recurrence over k, v [B, L, C] from `state` (advanced in place) and returns
 * wkv [B, L, C]; L = 1 is one generation step. Runs the same kernel as `wkv`, so L steps
 * equal one scan. No gradient (generation only).
 */
export function wkvStep(w: Tensor, u: Tensor, k: Tensor, v: Tensor, state: WkvState): Tensor {
  const op = 'wkvStep';
  const [B, L, C] = checkShapes(op, w, u, k, v);
  for (const [name, part] of Object.entries(state)) {
    if (part.length !== B * C) throw new ShapeError(`${op}: state.${name} should hold ${shapeString([B, C])} = ${B * C} values, got ${part.length}`);
  }
  const y = allocate(k.dtype, B * L * C);
  runForward(decays(w), u.data, k.data, v.data, y, null, state, B, L, C);
  return new Tensor(y, [B, L, C]);
}

/** The forward recurrence on the WASM kernel when enabled and available, else `scanForward`. */
function runForward(decay: Float64Array, u: FloatArray, k: FloatArray, v: FloatArray, y: FloatArray, logZ: Float64Array | null, state: WkvState, B: number, L: number, C: number): void {
  if (rnnWasmEnabled() && wkvForwardWasm(decay, u, k, v, y, logZ, state.numerator, state.denominator, state.max, B, L, C)) return;
  scanForward(decay, u, k, v, y, logZ, state, B, L, C);
}

function checkShapes(op: string, w: Tensor, u: Tensor, k: Tensor, v: Tensor): [number, number, number] {
  commonDType(op, w, u, k, v);
  expectRank(op, 'k', k, 3);
  const [B, L, C] = k.shape;
  expectShape(op, 'w', w, [C]);
  expectShape(op, 'u', u, [C]);
  expectShape(op, 'v', v, [B, L, C]);
  return [B, L, C];
}

/** λ_c = exp(w_c), the amount each step subtracts from a logit. */
function decays(w: Tensor): Float64Array {
  const decay = new Float64Array(w.size);
  for (let c = 0; c < decay.length; c++) decay[c] = Math.exp(w.data[c]);
  return decay;
}

/**
 * Forward recurrence, t outer and channels inner (contiguous rows). For each token:
 *   output:  q = max(p, u + k_t);  wkv_t = (e^{p−q} a + e^{u+k_t−q} v_t) / (e^{p−q} d + e^{u+k_t−q})
 *   update:  q' = max(p − λ, k_t); a ← e^{p−λ−q'} a + e^{k_t−q'} v_t; d likewise with 1; p ← q'
 * and, when `logZ` is given, log Z_t = q + log(e^{p−q} d + e^{u+k_t−q}).
 */
function scanForward(
  decay: Float64Array,
  u: FloatArray,
  k: FloatArray,
  v: FloatArray,
  y: FloatArray,
  logZ: Float64Array | null,
  state: WkvState,
  B: number,
  L: number,
  C: number,
): void {
  const { numerator, denominator, max } = state;
  for (let b = 0; b < B; b++) {
    const s0 = b * C;
    for (let t = 0; t < L; t++) {
      const row = (b * L + t) * C;
      for (let c = 0; c < C; c++) {
        const kk = k[row + c];
        const vv = v[row + c];
        const p = max[s0 + c];
        const a = numerator[s0 + c];
        const d = denominator[s0 + c];
        const bonus = u[c] + kk;
        let q = Math.max(p, bonus);
        let e1 = Math.exp(p - q);
        let e2 = Math.exp(bonus - q);
        const norm = e1 * d + e2;
        y[row + c] = (e1 * a + e2 * vv) / norm;
        if (logZ !== null) logZ[row + c] = q + Math.log(norm);
        const decayed = p - decay[c];
        q = Math.max(decayed, kk);
        e1 = Math.exp(decayed - q);
        e2 = Math.exp(kk - q);
        numerator[s0 + c] = e1 * a + e2 * vv;
        denominator[s0 + c] = e1 * d + e2;
        max[s0 + c] = q;
      }
    }
  }
}

/**
 * Backward in one reverse sweep. With g_t = ∂ℓoss/∂wkv_t and α[t, s] = e^{ℓ[t, s] − log Z_t},
 * ∂ℓoss/∂ℓ[t, s] = g_t α[t, s] (v_s − wkv_t). Splitting the diagonal s = t from the past s < t:
 *   ∂v_s = g_s α[s, s] + e^{k_s} B_s,                 B_s  = Σ_{t>s} g_t e^{−(t−1−s)λ − log Z_t}
 *   ∂k_s = g_s α[s, s](v_s − wkv_s) + e^{k_s}(v_s B_s − C_s),   C_s = same with g_t wkv_t
 *   ∂u   = Σ_t g_t α[t, t](v_t − wkv_t)
 *   ∂λ   = −Σ_s e^{k_s}(v_s B'_s − C'_s),  B'_s, C'_s = same with the extra factor (t−1−s)
 *   ∂w   = λ ∂λ
 * with B_{s−1} = e^{−λ} B_s + g_s e^{−log Z_s} and B'_{s−1} = e^{−λ}(B'_s + B_s). B, C, B', C' are
 * kept relative to a running log-scale m (m ≤ −k_s since log Z_t ≥ k_s − (t−1−s)λ), so
 * e^{k_s + m} ≤ 1: the same stabilisation as the forward (cf. the official wkv_cuda backward).
 */
function wkvBackward(
  gy: FloatArray,
  decay: Float64Array,
  u: FloatArray,
  k: FloatArray,
  v: FloatArray,
  y: FloatArray,
  logZ: Float64Array,
  gradIn: (i: number) => FloatArray | null,
  B: number,
  L: number,
  C: number,
): void {
  const gw = gradIn(0);
  const gu = gradIn(1);
  const gk = gradIn(2);
  const gv = gradIn(3);
  const future = new Float64Array(C); // B_s
  const futureOut = new Float64Array(C); // C_s
  const lagged = new Float64Array(C); // B'_s
  const laggedOut = new Float64Array(C); // C'_s
  const scale = new Float64Array(C); // m
  const dDecay = new Float64Array(C);
  const dU = new Float64Array(C);
  for (let b = 0; b < B; b++) {
    future.fill(0);
    futureOut.fill(0);
    lagged.fill(0);
    laggedOut.fill(0);
    scale.fill(-Infinity);
    for (let t = L - 1; t >= 0; t--) {
      const row = (b * L + t) * C;
      for (let c = 0; c < C; c++) {
        const i = row + c;
        const kk = k[i];
        const vv = v[i];
        const yy = y[i];
        const g = gy[i];
        const z = logZ[i];
        const m = scale[c];
        const diagonal = g * Math.exp(u[c] + kk - z); // g_t α[t, t]
        const past = Math.exp(kk + m);
        const bs = future[c];
        const cs = futureOut[c];
        if (gv !== null) gv[i] += diagonal + past * bs;
        if (gk !== null) gk[i] += diagonal * (vv - yy) + past * (vv * bs - cs);
        dU[c] += diagonal * (vv - yy);
        dDecay[c] -= past * (vv * lagged[c] - laggedOut[c]);
        // Fold token t into the sums over t' > t − 1.
        const decayed = m - decay[c];
        const mNew = Math.max(decayed, -z);
        const keep = Math.exp(decayed - mNew);
        const add = g * Math.exp(-z - mNew);
        lagged[c] = keep * (lagged[c] + bs);
        laggedOut[c] = keep * (laggedOut[c] + cs);
        future[c] = keep * bs + add;
        futureOut[c] = keep * cs + add * yy;
        scale[c] = mNew;
      }
    }
  }
  if (gw !== null) for (let c = 0; c < C; c++) gw[c] += decay[c] * dDecay[c];
  if (gu !== null) for (let c = 0; c < C; c++) gu[c] += dU[c];
}
