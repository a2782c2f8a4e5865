/**
 * Gated linear attention with a per-key-dimension decay (Yang et al. 2024, "Gated Linear
 * Attention Transformers with Hardware-Efficient Training", §3–4; spec fla-families.md §GLA,
 * §RetNet) as one fused op with a hand-written backward, and its one-token step.
 *
 * Per batch b and head h, with log-decay γ_t ∈ R^K, γ ≤ 0 (GLA: logsigmoid(z)/16; RetNet: the
 * constant log γ_h in every dimension) and the query scale already folded into q:
 *   recurrent:  S_t = diag(exp γ_t) S_{t−1} + k_t v_tᵀ      S ∈ R^{K×V}, S_{−1} = 0
 *               o_t = S_tᵀ q_t
 *   parallel:   o_t = Σ_{s≤t} (Σ_j q_t[j] k_s[j] exp(b_t[j] − b_s[j])) v_s,   b_t = Σ_{k≤t} γ_k
 * The sequence is cut into chunks of Q steps: inside a chunk the parallel form, between chunks
 * the state is passed on (the chunkwise form of the paper's §4.2, without its rescaling trick):
 *   a_i   = Σ_{k=t0..t0+i} γ_k                               (local log-decay, ≤ 0, non-increasing)
 *   o_i   = Σ_{s≤i} (Σ_j q_i[j] k_s[j] e^{a_i[j]−a_s[j]}) v_s + Σ_j q_i[j] e^{a_i[j]} S_in[j, :]
 *   S_out = diag(e^{a_n}) S_in + Σ_s diag(e^{a_n − a_s}) k_s v_sᵀ       (a_n: last step of the chunk)
 * Every exponent is a difference a_i − a_s with i ≥ s, or a_i itself: ≤ 0, so nothing overflows
 * for any L. Inside a chunk e^{a_i − a_s} = Π_{k=s+1..i} e^{γ_k} is kept as a running product of
 * factors ≤ 1 while s walks down from i (multiplications instead of one exp per pair and key
 * dim). The backward walks the chunks in reverse from the chunk-entry states saved by the
 * forward (derivation at `glaBackward`). Accumulation is in float64 whatever the dtype.
 *
 * Shapes: q, k [B, L, H, K]; v [B, L, H, V]; logDecay [B, L, H, K] → o [B, L, H, V].
 * The plain step-by-step reference is `gatedLinearAttentionReference` (.reference.ts).
 *
 * Kernels: forward and backward run in WebAssembly SIMD (assembly/rnn-gla.ts via
 * src/core/kernels/wasm/rnn-wasm.ts: the same chunkwise form with the state products as
 * register-blocked float64 matrix products) unless IATTN_KERNELS=js or WebAssembly SIMD is
 * missing; `glaForward` and `glaBackward` below are the JS kernels, the reference and fallback.
 * Both keep the chunk-entry states [B, chunks, H, K, V] (float64) for the backward; the WASM
 * forward keeps none when no gradient is wanted.
 */
import { allocate, commonDType, expectRank, expectShape, isGradEnabled, record, ShapeError, shapeString, Tensor } from '../core/index.js';
import type { FloatArray } from '../core/index.js';
import { glaBackwardWasm, glaForwardWasm, rnnWasmEnabled } from '../core/kernels/wasm/rnn-wasm.js';
import type { GlaWasmDims } from '../core/kernels/wasm/rnn-wasm.js';

/** Chunk length Q of the parallel form (fla's chunk size). */
export const DEFAULT_CHUNK_SIZE = 64;

/** Sizes of a call: q, k, γ [B, L, H, K], v, o [B, L, H, V]; chunk length Q, `chunks` of them. */
type GlaDims = GlaWasmDims;

interface GlaInputs {
  q: FloatArray;
  k: FloatArray;
  v: FloatArray;
  logDecay: FloatArray;
}

type GlaGrads = { [Name in keyof GlaInputs]: FloatArray | null };

function checkDims(op: string, q: Tensor, k: Tensor, v: Tensor, logDecay: Tensor, chunkSize: number): GlaDims {
  commonDType(op, q, k, v, logDecay);
  expectRank(op, 'q', q, 4);
  expectRank(op, 'v', v, 4);
  const [B, L, H, K] = q.shape;
  const V = v.shape[3];
  expectShape(op, 'k', k, [B, L, H, K]);
  expectShape(op, 'v', v, [B, L, H, V]);
  expectShape(op, 'logDecay', logDecay, [B, L, H, K]);
  if (!Number.isInteger(chunkSize) || chunkSize <= 0) throw new ShapeError(`${op}: chunk size should be a positive integer, got ${chunkSize}`);
  const Q = Math.min(chunkSize, Math.max(L, 1));
  return { B, L, H, K, V, Q, chunks: Math.ceil(L / Q) };
}

/**
 * o [B, L, H, V] from q, k [B, L, H, K], v [B, L, H, V] and the log-decay γ [B, L, H, K]
 * (precondition γ ≤ 0). Differentiable in all four inputs.
 */
export function gatedLinearAttention(q: Tensor, k: Tensor, v: Tensor, logDecay: Tensor, chunkSize = DEFAULT_CHUNK_SIZE): Tensor {
  const dims = checkDims('gatedLinearAttention', q, k, v, logDecay, chunkSize);
  const { B, L, H, K, V, chunks } = dims;
  const inputs: GlaInputs = { q: q.data, k: k.data, v: v.data, logDecay: logDecay.data };
  const o = allocate(q.dtype, B * L * H * V);
  const needsGrad = isGradEnabled() && [q, k, v, logDecay].some((t) => t.requiresGrad);
  // Chunk-entry states [B, chunks, H, K, V]; entry 0 of every head stays zero.
  const stateSize = B * chunks * H * K * V;
  let states = needsGrad ? new Float64Array(stateSize) : null;
  if (!(rnnWasmEnabled() && glaForwardWasm(o, states, q.data, k.data, v.data, logDecay.data, dims))) {
    states ??= new Float64Array(stateSize); // the JS kernel keeps them as its working state
    glaForward(o, states, inputs, dims);
  }
  return record('gatedLinearAttention', [q, k, v, logDecay], o, [B, L, H, V], (go, gradIn) => {
    const grads = { q: gradIn(0), k: gradIn(1), v: gradIn(2), logDecay: gradIn(3) };
    if (rnnWasmEnabled() && glaBackwardWasm(grads, go, q.data, k.data, v.data, logDecay.data, states!, dims)) return;
    glaBackward(grads, go, inputs, states!, dims);
  });
}

/** a[i·K + j] = Σ_{k=0..i} γ_{t0+k}[j] for the n steps of a chunk whose first row is at `base`. */
function localLogDecay(a: Float64Array, logDecay: FloatArray, base: number, rowStride: number, K: number, n: number): void {
  for (let j = 0; j < K; j++) a[j] = logDecay[base + j];
  for (let i = 1; i < n; i++) {
    const row = base + i * rowStride;
    for (let j = 0; j < K; j++) a[i * K + j] = a[(i - 1) * K + j] + logDecay[row + j];
  }
}

/** out[i·K + j] = exp(γ_{t0+i}[j]) ≤ 1, the per-step decays of a chunk whose first row is at `base`. */
function stepDecays(out: Float64Array, logDecay: FloatArray, base: number, rowStride: number, K: number, n: number): void {
  for (let i = 0; i < n; i++) {
    const row = base + i * rowStride;
    for (let j = 0; j < K; j++) out[i * K + j] = Math.exp(logDecay[row + j]);
  }
}

/** Fills o and the chunk-entry states, head by head, chunk by chunk. */
function glaForward(o: FloatArray, states: Float64Array, inp: GlaInputs, dims: GlaDims): void {
  const { B, L, H, K, V, Q, chunks } = dims;
  const { q, k, v, logDecay } = inp;
  const a = new Float64Array(Q * K);
  const stepDecay = new Float64Array(Q * K);
  const spanDecay = new Float64Array(K);
  const acc = new Float64Array(V);
  const kRow = H * K; // stride of one time step in q, k, logDecay
  const vRow = H * V; // stride of one time step in v, o
  const KV = K * V;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let c = 0; c < chunks; c++) {
        const t0 = c * Q;
        const n = Math.min(Q, L - t0);
        const kBase = (b * L + t0) * kRow + h * K;
        const vBase = (b * L + t0) * vRow + h * V;
        const sIn = ((b * chunks + c) * H + h) * KV;
        localLogDecay(a, logDecay, kBase, kRow, K, n);
        stepDecays(stepDecay, logDecay, kBase, kRow, K, n);
        for (let i = 0; i < n; i++) {
          const qi = kBase + i * kRow;
          acc.fill(0);
          // State carried in: Σ_j q_i[j] e^{a_i[j]} S_in[j, :]
          if (c > 0) {
            for (let j = 0; j < K; j++) {
              const w = q[qi + j] * Math.exp(a[i * K + j]);
              const row = sIn + j * V;
              for (let e = 0; e < V; e++) acc[e] += w * states[row + e];
            }
          }
          // Intra-chunk: Σ_{s≤i} (Σ_j q_i[j] k_s[j] e^{a_i[j]−a_s[j]}) v_s, with s descending and
          // spanDecay = e^{a_i − a_s} = Π_{k=s+1..i} e^{γ_k}, a running product of factors ≤ 1
          spanDecay.fill(1);
          for (let s = i; s >= 0; s--) {
            const ks = kBase + s * kRow;
            let score = 0;
            for (let j = 0; j < K; j++) score += q[qi + j] * k[ks + j] * spanDecay[j];
            const vs = vBase + s * vRow;
            for (let e = 0; e < V; e++) acc[e] += score * v[vs + e];
            for (let j = 0; j < K; j++) spanDecay[j] *= stepDecay[s * K + j];
          }
          const oi = vBase + i * vRow;
          for (let e = 0; e < V; e++) o[oi + e] = acc[e];
        }
        if (c + 1 < chunks) {
          // S_out = diag(e^{a_n}) S_in + Σ_s diag(e^{a_n − a_s}) k_s v_sᵀ
          const sOut = sIn + H * KV; // the same head, next chunk
          const last = (n - 1) * K;
          for (let j = 0; j < K; j++) {
            const carry = Math.exp(a[last + j]);
            for (let e = 0; e < V; e++) states[sOut + j * V + e] = carry * states[sIn + j * V + e];
          }
          for (let s = 0; s < n; s++) {
            const ks = kBase + s * kRow;
            const vs = vBase + s * vRow;
            for (let j = 0; j < K; j++) {
              const w = Math.exp(a[last + j] - a[s * K + j]) * k[ks + j];
              const row = sOut + j * V;
              for (let e = 0; e < V; e++) states[row + e] += w * v[vs + e];
            }
          }
        }
      }
    }
  }
}

/**
 * Accumulates the gradients of every input, visiting the chunks of each head in reverse and
 * carrying dS = ∂loss/∂S_out of the current chunk. With E_is[j] = e^{a_i[j]−a_s[j]},
 * P_is = Σ_j q_i[j] k_s[j] E_is[j] and dP_is = do_i · v_s, the forward formulas give
 *   intra:  dq_i[j] += Σ_s dP_is k_s[j] E_is[j];   dk_s[j] += Σ_i dP_is q_i[j] E_is[j];
 *           dv_s += Σ_i P_is do_i;   da_i[j] += W_is[j], da_s[j] −= W_is[j]  (W = dP q k E)
 *   in:     with u_i = S_in do_i:  dq_i[j] += e^{a_i[j]} u_i[j],  da_i[j] += q_i[j] e^{a_i[j]} u_i[j]
 *   out:    with r_s = dS v_s, F_s[j] = e^{a_n[j]−a_s[j]}:  dk_s[j] += F_s[j] r_s[j],
 *           dv_s += Σ_j F_s[j] k_s[j] dS[j, :],  da_n[j] += Z_s[j], da_s[j] −= Z_s[j]  (Z = F k r),
 *           da_n[j] += e^{a_n[j]} ⟨dS[j, :], S_in[j, :]⟩
 *   dS_in = diag(e^{a_n}) dS + Σ_i (q_i ⊙ e^{a_i}) do_iᵀ   (becomes dS of the previous chunk)
 *   dγ_{t0+k} += Σ_{i≥k} da_i                                (a is a cumulative sum of γ)
 */
function glaBackward(grads: GlaGrads, go: FloatArray, inp: GlaInputs, states: Float64Array, dims: GlaDims): void {
  const { B, L, H, K, V, Q, chunks } = dims;
  const { q, k, v, logDecay } = inp;
  const { q: gq, k: gk, v: gv, logDecay: gDecay } = grads;
  const a = new Float64Array(Q * K);
  const stepDecay = new Float64Array(Q * K);
  const spanDecay = new Float64Array(K);
  const da = new Float64Array(Q * K);
  const dS = new Float64Array(K * V);
  const kRow = H * K;
  const vRow = H * V;
  const KV = K * V;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      dS.fill(0);
      for (let c = chunks - 1; c >= 0; c--) {
        const t0 = c * Q;
        const n = Math.min(Q, L - t0);
        const kBase = (b * L + t0) * kRow + h * K;
        const vBase = (b * L + t0) * vRow + h * V;
        const sIn = ((b * chunks + c) * H + h) * KV;
        const last = (n - 1) * K;
        localLogDecay(a, logDecay, kBase, kRow, K, n);
        stepDecays(stepDecay, logDecay, kBase, kRow, K, n);
        da.fill(0, 0, n * K);

        if (c + 1 < chunks) {
          // Terms of S_out = diag(e^{a_n}) S_in + Σ_s diag(e^{a_n − a_s}) k_s v_sᵀ
          for (let j = 0; j < K; j++) {
            let inner = 0;
            for (let e = 0; e < V; e++) inner += dS[j * V + e] * states[sIn + j * V + e];
            da[last + j] += Math.exp(a[last + j]) * inner;
          }
          for (let s = 0; s < n; s++) {
            const ks = kBase + s * kRow;
            const vs = vBase + s * vRow;
            for (let j = 0; j < K; j++) {
              const decay = Math.exp(a[last + j] - a[s * K + j]);
              let r = 0;
              for (let e = 0; e < V; e++) r += dS[j * V + e] * v[vs + e];
              const z = decay * k[ks + j] * r;
              da[last + j] += z;
              da[s * K + j] -= z;
              if (gk !== null) gk[ks + j] += decay * r;
              if (gv !== null) {
                const w = decay * k[ks + j];
                for (let e = 0; e < V; e++) gv[vs + e] += w * dS[j * V + e];
              }
            }
          }
        }

        for (let i = 0; i < n; i++) {
          const qi = kBase + i * kRow;
          const oi = vBase + i * vRow;
          // Intra-chunk pairs s ≤ i, s descending with the running product spanDecay = e^{a_i − a_s}
          spanDecay.fill(1);
          for (let s = i; s >= 0; s--) {
            const ks = kBase + s * kRow;
            const vs = vBase + s * vRow;
            let dP = 0;
            for (let e = 0; e < V; e++) dP += go[oi + e] * v[vs + e];
            let score = 0;
            for (let j = 0; j < K; j++) {
              const qk = q[qi + j] * k[ks + j] * spanDecay[j];
              score += qk;
              da[i * K + j] += dP * qk;
              da[s * K + j] -= dP * qk;
              if (gq !== null) gq[qi + j] += dP * k[ks + j] * spanDecay[j];
              if (gk !== null) gk[ks + j] += dP * q[qi + j] * spanDecay[j];
              spanDecay[j] *= stepDecay[s * K + j];
            }
            if (gv !== null) for (let e = 0; e < V; e++) gv[vs + e] += score * go[oi + e];
          }
          // State carried in
          if (c > 0) {
            for (let j = 0; j < K; j++) {
              let u = 0;
              for (let e = 0; e < V; e++) u += states[sIn + j * V + e] * go[oi + e];
              const decay = Math.exp(a[i * K + j]);
              if (gq !== null) gq[qi + j] += decay * u;
              da[i * K + j] += q[qi + j] * decay * u;
            }
          }
        }

        if (c > 0) {
          // dS_in = diag(e^{a_n}) dS + Σ_i (q_i ⊙ e^{a_i}) do_iᵀ, in place
          for (let j = 0; j < K; j++) {
            const carry = Math.exp(a[last + j]);
            for (let e = 0; e < V; e++) dS[j * V + e] *= carry;
          }
          for (let i = 0; i < n; i++) {
            const qi = kBase + i * kRow;
            const oi = vBase + i * vRow;
            for (let j = 0; j < K; j++) {
              const w = q[qi + j] * Math.exp(a[i * K + j]);
              for (let e = 0; e < V; e++) dS[j * V + e] += w * go[oi + e];
            }
          }
        }

        if (gDecay !== null) {
          for (let j = 0; j < K; j++) {
            let sum = 0;
            for (let i = n - 1; i >= 0; i--) {
              sum += da[i * K + j];
              gDecay[kBase + i * kRow + j] += sum;
            }
          }
        }
      }
    }
  }
}

/**
 * One recurrent step for generation (no graph): with the state S [B, H, K, V] updated in place,
 * S ← diag(exp γ) S + k vᵀ and o = Sᵀ q.
 * q, k, logDecay [B, H, K], v [B, H, V], state [B, H, K, V] → o [B, H, V].
 */
export function gatedLinearAttentionStep(q: Tensor, k: Tensor, v: Tensor, logDecay: Tensor, state: Tensor): Tensor {
  const op = 'gatedLinearAttentionStep';
  commonDType(op, q, k, v, logDecay, state);
  if (q.rank !== 3 || v.rank !== 3) throw new ShapeError(`${op}: q should be [B, H, K] and v [B, H, V], got ${shapeString(q.shape)} and ${shapeString(v.shape)}`);
  const [B, H, K] = q.shape;
  const V = v.shape[2];
  expectShape(op, 'k', k, [B, H, K]);
  expectShape(op, 'v', v, [B, H, V]);
  expectShape(op, 'logDecay', logDecay, [B, H, K]);
  expectShape(op, 'state', state, [B, H, K, V]);
  const S = state.data;
  const o = allocate(q.dtype, B * H * V);
  for (let bh = 0; bh < B * H; bh++) {
    for (let j = 0; j < K; j++) {
      const decay = Math.exp(logDecay.data[bh * K + j]);
      const kj = k.data[bh * K + j];
      const qj = q.data[bh * K + j];
      const row = (bh * K + j) * V;
      for (let e = 0; e < V; e++) {
        const s = decay * S[row + e] + kj * v.data[bh * V + e];
        S[row + e] = s;
        o[bh * V + e] += qj * s;
      }
    }
  }
  return new Tensor(o, [B, H, V]);
}
