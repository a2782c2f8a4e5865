/**
 * Mamba-2's selective state-space scan, computed by state-space duality (SSD): Dao & Gu,
 * "Transformers are SSMs" (ICML 2024), §6 (the chunked algorithm) and Listing 1.
 *
 * Per batch b and head h (P channels, state size N, group g(h) = ⌊h / (Hd/G)⌋ as HF's
 * repeat_interleave), with Δ = dt and A ≤ 0:
 *   S_t = exp(A Δ_t) S_{t−1} + Δ_t x_t B_tᵀ        S ∈ R^{P×N}, S_{−1} = 0
 *   y_t = S_t C_t + Dskip · x_t
 * equivalently y_t = Σ_{s≤t} (C_t·B_s) exp(A Σ_{k=s+1..t} Δ_k) Δ_s x_s + Dskip x_t
 * (implicit-attention.md §2.2). The sequence is cut into chunks of Q steps; inside a chunk
 * the quadratic (attention-like) form is used, between chunks the state is passed on:
 *   a_i  = A Σ_{k=c0..i} Δ_k                        (local log-decay, non-increasing, ≤ 0)
 *   y_i  = Σ_{j≤i} (C_i·B_j) e^{a_i−a_j} Δ_j x_j + e^{a_i} S_in C_i + Dskip x_i
 *   S_out = e^{a_Q} S_in + Σ_j e^{a_Q−a_j} Δ_j x_j B_jᵀ
 * Every exponent is a difference a_i − a_j with i ≥ j (or a_i itself), hence ≤ 0: no overflow
 * for any L. The backward pass mirrors this chunk by chunk in reverse (derivation in the
 * comments of `ssdBackward`), from the chunk-entry states saved by the forward.
 *
 * Shapes: x [B, L, Hd, P], dt [B, L, Hd], A [Hd], Bm [B, L, G, N], Cm [B, L, G, N],
 * Dskip [Hd] → y [B, L, Hd, P]. Preconditions: A ≤ 0 and dt ≥ 0 (Mamba-2's −exp(A_log) and
 * clamped softplus).
 */
import { allocate, shapeString, ShapeError } from '../core/dtype.js';
import type { FloatArray } from '../core/dtype.js';
import { commonDType, expectShape, record, Tensor } from '../core/tensor.js';

/** The default chunk length Q (HF `chunk_size`). */
export const DEFAULT_CHUNK_SIZE = 256;

interface SsdDims {
  B: number;
  L: number;
  Hd: number;
  P: number;
  G: number;
  N: number;
  /** Chunk length and number of chunks. */
  Q: number;
  chunks: number;
  headsPerGroup: number;
}

function ssdDims(op: string, x: Tensor, dt: Tensor, A: Tensor, Bm: Tensor, Cm: Tensor, Dskip: Tensor, chunkSize: number): SsdDims {
  if (x.rank !== 4) throw new ShapeError(`${op}: x should be [B, L, Hd, P], got ${shapeString(x.shape)}`);
  const [B, L, Hd, P] = x.shape;
  if (Bm.rank !== 4) throw new ShapeError(`${op}: Bm should be [B, L, G, N], got ${shapeString(Bm.shape)}`);
  const [G, N] = Bm.shape.slice(2);
  expectShape(op, 'dt', dt, [B, L, Hd]);
  expectShape(op, 'A', A, [Hd]);
  expectShape(op, 'Bm', Bm, [B, L, G, N]);
  expectShape(op, 'Cm', Cm, [B, L, G, N]);
  expectShape(op, 'Dskip', Dskip, [Hd]);
  if (G === 0 || Hd % G !== 0) throw new ShapeError(`${op}: ${Hd} heads cannot be split into ${G} groups`);
  if (!Number.isInteger(chunkSize) || chunkSize <= 0) throw new ShapeError(`${op}: chunk size should be a positive integer, got ${chunkSize}`);
  const Q = Math.min(chunkSize, Math.max(L, 1));
  return { B, L, Hd, P, G, N, Q, chunks: Math.ceil(L / Q), headsPerGroup: Hd / G };
}

/**
 * The chunked SSD scan with a hand-written backward (one graph node).
 * x [B, L, Hd, P], dt [B, L, Hd], A [Hd], Bm/Cm [B, L, G, N], Dskip [Hd] → y [B, L, Hd, P].
 */
export function ssd(x: Tensor, dt: Tensor, A: Tensor, Bm: Tensor, Cm: Tensor, Dskip: Tensor, chunkSize = DEFAULT_CHUNK_SIZE): Tensor {
  const dtype = commonDType('ssd', x, dt, A, Bm, Cm, Dskip);
  const dims = ssdDims('ssd', x, dt, A, Bm, Cm, Dskip, chunkSize);
  const inputs: SsdInputs = { x: x.data, dt: dt.data, A: A.data, Bm: Bm.data, Cm: Cm.data, Dskip: Dskip.data };
  const y = allocate(dtype, x.size);
  // Chunk-entry states [B, chunks, Hd, P, N]; entry 0 of every sequence stays zero.
  const states = allocate(dtype, dims.B * dims.chunks * dims.Hd * dims.P * dims.N);
  ssdForward(y, states, inputs, dims);
  return record('ssd', [x, dt, A, Bm, Cm, Dskip], y, x.shape, (gy, gradIn) => {
    const grads: SsdGrads = { x: gradIn(0), dt: gradIn(1), A: gradIn(2), Bm: gradIn(3), Cm: gradIn(4), Dskip: gradIn(5) };
    ssdBackward(grads, gy, inputs, states, dims);
  });
}

interface SsdInputs {
  x: FloatArray;
  dt: FloatArray;
  A: FloatArray;
  Bm: FloatArray;
  Cm: FloatArray;
  Dskip: FloatArray;
}

type SsdGrads = { [K in keyof SsdInputs]: FloatArray | null };

/** la[i] = A_h Σ_{k=t0..t0+i} Δ_k[h] for the n steps of a chunk starting at t0. */
function localLogDecay(la: Float64Array, dt: FloatArray, A: number, dtBase: number, Hd: number, n: number): void {
  let acc = 0;
  for (let i = 0; i < n; i++) {
    acc += A * dt[dtBase + i * Hd];
    la[i] = acc;
  }
}

/** cb[i·Q + j] = C_{t0+i} · B_{t0+j} for j ≤ i (one group, one chunk). */
function chunkScores(cb: Float64Array, Bm: FloatArray, Cm: FloatArray, base: number, rowStride: number, N: number, Q: number, n: number): void {
  for (let i = 0; i < n; i++) {
    const ci = base + i * rowStride;
    for (let j = 0; j <= i; j++) {
      const bj = base + j * rowStride;
      let s = 0;
      for (let k = 0; k < N; k++) s += Cm[ci + k] * Bm[bj + k];
      cb[i * Q + j] = s;
    }
  }
}

/** Fills y and the chunk-entry states. */
function ssdForward(y: FloatArray, states: FloatArray, inp: SsdInputs, dims: SsdDims): void {
  const { B, L, Hd, P, G, N, Q, chunks, headsPerGroup } = dims;
  const { x, dt, A, Bm, Cm, Dskip } = inp;
  const la = new Float64Array(Q);
  const cb = new Float64Array(Q * Q);
  const xRow = Hd * P; // stride of one time step in x and y
  const gRow = G * N; // stride of one time step in Bm and Cm
  const PN = P * N;
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < chunks; c++) {
      const t0 = c * Q;
      const n = Math.min(Q, L - t0);
      for (let g = 0; g < G; g++) {
        const bcBase = (b * L + t0) * gRow + g * N;
        chunkScores(cb, Bm, Cm, bcBase, gRow, N, Q, n);
        for (let h = g * headsPerGroup; h < (g + 1) * headsPerGroup; h++) {
          const Ah = A[h];
          const Dh = Dskip[h];
          const dtBase = (b * L + t0) * Hd + h;
          const xBase = (b * L + t0) * xRow + h * P;
          localLogDecay(la, dt, Ah, dtBase, Hd, n);
          const sIn = ((b * chunks + c) * Hd + h) * PN;
          for (let i = 0; i < n; i++) {
            const yi = xBase + i * xRow;
            const ci = bcBase + i * gRow;
            // Skip connection and the state carried in: y_i = Dskip x_i + e^{a_i} S_in C_i
            const decayIn = c === 0 ? 0 : Math.exp(la[i]);
            for (let p = 0; p < P; p++) {
              let s = 0;
              if (decayIn !== 0) {
                const row = sIn + p * N;
                for (let k = 0; k < N; k++) s += states[row + k] * Cm[ci + k];
              }
              y[yi + p] = Dh * x[yi + p] + decayIn * s;
            }
            // Intra-chunk: y_i += Σ_{j≤i} (C_i·B_j) e^{a_i−a_j} Δ_j x_j
            for (let j = 0; j <= i; j++) {
              const w = cb[i * Q + j] * Math.exp(la[i] - la[j]) * dt[dtBase + j * Hd];
              const xj = xBase + j * xRow;
              for (let p = 0; p < P; p++) y[yi + p] += w * x[xj + p];
            }
          }
          if (c + 1 < chunks) {
            // S_out = e^{a_Q} S_in + Σ_j e^{a_Q−a_j} Δ_j x_j B_jᵀ
            const sOut = sIn + Hd * PN;
            const last = la[n - 1];
            const carry = Math.exp(last);
            for (let e = 0; e < PN; e++) states[sOut + e] = carry * states[sIn + e];
            for (let j = 0; j < n; j++) {
              const w = Math.exp(last - la[j]) * dt[dtBase + j * Hd];
              const xj = xBase + j * xRow;
              const bj = bcBase + j * gRow;
              for (let p = 0; p < P; p++) {
                const wx = w * x[xj + p];
                const row = sOut + p * N;
                for (let k = 0; k < N; k++) states[row + k] += wx * Bm[bj + k];
              }
            }
          }
        }
      }
    }
  }
}

/**
 * Accumulates the gradients of every input. Chunks are visited in reverse, carrying
 * dS = ∂loss/∂S_out of the current chunk per head. With M_ij = dy_i · x_j and
 * E_ij = e^{a_i−a_j}, the forward formulas above give
 *   dx_j  += Δ_j Σ_{i≥j} (C_i·B_j) E_ij dy_i + Δ_j e^{a_Q−a_j} dS B_j + Dskip dy_j
 *   d(C_i·B_j) = E_ij Δ_j M_ij  → dC_i += Σ_j d(C_i·B_j) B_j,  dB_j += Σ_i d(C_i·B_j) C_i
 *   dC_i  += e^{a_i} S_inᵀ dy_i;   dB_j += e^{a_Q−a_j} Δ_j dSᵀ x_j
 *   da_i  += Σ_j W_ij − Σ_k W_ki (W_ij = (C_i·B_j) E_ij Δ_j M_ij) + e^{a_i} dy_i·S_in C_i,
 *   da_Q  += e^{a_Q} ⟨dS, S_in⟩ + Σ_j V_j, da_j −= V_j (V_j = e^{a_Q−a_j} Δ_j x_j·dS B_j)
 *   dΔ_j  += the direct factor Δ_j above, plus A Σ_{i≥j} da_i;  dA += Σ_i da_i Σ_{k≤i} Δ_k
 *   dS_in  = e^{a_Q} dS + Σ_i e^{a_i} dy_i C_iᵀ   (becomes dS of the previous chunk)
 */
function ssdBackward(grads: SsdGrads, gy: FloatArray, inp: SsdInputs, states: FloatArray, dims: SsdDims): void {
  const { B, L, Hd, P, G, N, Q, chunks, headsPerGroup } = dims;
  const { x, dt, A, Bm, Cm, Dskip } = inp;
  const la = new Float64Array(Q);
  const da = new Float64Array(Q);
  const cb = new Float64Array(Q * Q);
  const dcb = new Float64Array(Q * Q);
  const r = new Float64Array(P);
  const u = new Float64Array(N);
  const dStates = new Float64Array(Hd * P * N);
  const xRow = Hd * P;
  const gRow = G * N;
  const PN = P * N;
  // Even when only some inputs need gradients, the chain through a and Δ is cheap; the
  // buffers below receive whatever is asked for.
  const gx = grads.x;
  const gdt = grads.dt;
  const gA = grads.A;
  const gB = grads.Bm;
  const gC = grads.Cm;
  const gD = grads.Dskip;
  for (let b = 0; b < B; b++) {
    dStates.fill(0);
    for (let c = chunks - 1; c >= 0; c--) {
      const t0 = c * Q;
      const n = Math.min(Q, L - t0);
      const hasIn = c > 0; // S_in = 0 in the first chunk
      const hasOut = c + 1 < chunks; // dS = 0 in the last chunk
      for (let g = 0; g < G; g++) {
        const bcBase = (b * L + t0) * gRow + g * N;
        chunkScores(cb, Bm, Cm, bcBase, gRow, N, Q, n);
        dcb.fill(0);
        for (let h = g * headsPerGroup; h < (g + 1) * headsPerGroup; h++) {
          const Ah = A[h];
          const Dh = Dskip[h];
          const dtBase = (b * L + t0) * Hd + h;
          const xBase = (b * L + t0) * xRow + h * P;
          const sIn = ((b * chunks + c) * Hd + h) * PN;
          const dS = h * PN;
          localLogDecay(la, dt, Ah, dtBase, Hd, n);
          da.fill(0, 0, n);
          const last = la[n - 1];
          const carry = Math.exp(last);
          let dDh = 0;

          if (hasOut) {
            // Terms of S_out = e^{a_Q} S_in + Σ_j e^{a_Q−a_j} Δ_j x_j B_jᵀ
            let inner = 0;
            for (let e = 0; e < PN; e++) inner += dStates[dS + e] * states[sIn + e];
            da[n - 1] += carry * inner;
            for (let j = 0; j < n; j++) {
              const decay = Math.exp(last - la[j]);
              const dtj = dt[dtBase + j * Hd];
              const xj = xBase + j * xRow;
              const bj = bcBase + j * gRow;
              let xr = 0;
              for (let p = 0; p < P; p++) {
                const row = dS + p * N;
                let s = 0;
                for (let k = 0; k < N; k++) s += dStates[row + k] * Bm[bj + k];
                r[p] = s;
                xr += x[xj + p] * s;
              }
              const v = decay * dtj * xr;
              da[n - 1] += v;
              da[j] -= v;
              if (gdt !== null) gdt[dtBase + j * Hd] += decay * xr;
              if (gx !== null) for (let p = 0; p < P; p++) gx[xj + p] += decay * dtj * r[p];
              if (gB !== null) {
                for (let p = 0; p < P; p++) {
                  const wx = decay * dtj * x[xj + p];
                  const row = dS + p * N;
                  for (let k = 0; k < N; k++) gB[bj + k] += wx * dStates[row + k];
                }
              }
            }
          }

          for (let i = 0; i < n; i++) {
            const yi = xBase + i * xRow;
            const ci = bcBase + i * gRow;
            // Intra-chunk pairs j ≤ i
            for (let j = 0; j <= i; j++) {
              const xj = xBase + j * xRow;
              const dtj = dt[dtBase + j * Hd];
              const decay = Math.exp(la[i] - la[j]);
              const score = cb[i * Q + j] * decay;
              let m = 0;
              for (let p = 0; p < P; p++) m += gy[yi + p] * x[xj + p];
              const w = score * dtj * m;
              da[i] += w;
              da[j] -= w;
              if (gdt !== null) gdt[dtBase + j * Hd] += score * m;
              dcb[i * Q + j] += decay * dtj * m;
              if (gx !== null) {
                const coef = score * dtj;
                for (let p = 0; p < P; p++) gx[xj + p] += coef * gy[yi + p];
              }
            }
            // Skip connection
            let dyx = 0;
            for (let p = 0; p < P; p++) dyx += gy[yi + p] * x[yi + p];
            dDh += dyx;
            if (gx !== null) for (let p = 0; p < P; p++) gx[yi + p] += Dh * gy[yi + p];
            // State carried in: y_i += e^{a_i} S_in C_i
            if (hasIn) {
              const decayIn = Math.exp(la[i]);
              u.fill(0);
              for (let p = 0; p < P; p++) {
                const gp = gy[yi + p];
                const row = sIn + p * N;
                for (let k = 0; k < N; k++) u[k] += gp * states[row + k];
              }
              let dyq = 0;
              for (let k = 0; k < N; k++) dyq += u[k] * Cm[ci + k];
              da[i] += decayIn * dyq;
              if (gC !== null) for (let k = 0; k < N; k++) gC[ci + k] += decayIn * u[k];
            }
          }

          if (hasIn) {
            // dS_in = e^{a_Q} dS + Σ_i e^{a_i} dy_i C_iᵀ, in place
            for (let e = 0; e < PN; e++) dStates[dS + e] *= carry;
            for (let i = 0; i < n; i++) {
              const decayIn = Math.exp(la[i]);
              const yi = xBase + i * xRow;
              const ci = bcBase + i * gRow;
              for (let p = 0; p < P; p++) {
                const gp = decayIn * gy[yi + p];
                const row = dS + p * N;
                for (let k = 0; k < N; k++) dStates[row + k] += gp * Cm[ci + k];
              }
            }
          }

          if (gD !== null) gD[h] += dDh;
          // a_i = A Σ_{k≤i} Δ_k: dA += Σ_i da_i cum_i, dΔ_k += A Σ_{i≥k} da_i
          if (gA !== null) {
            let cum = 0;
            let s = 0;
            for (let i = 0; i < n; i++) {
              cum += dt[dtBase + i * Hd];
              s += da[i] * cum;
            }
            gA[h] += s;
          }
          if (gdt !== null) {
            let acc = 0;
            for (let i = n - 1; i >= 0; i--) {
              acc += da[i];
              gdt[dtBase + i * Hd] += Ah * acc;
            }
          }
        }
        // Scores are shared by the group's heads: dC_i += Σ_j dcb_ij B_j, dB_j += Σ_i dcb_ij C_i
        for (let i = 0; i < n; i++) {
          const ci = bcBase + i * gRow;
          for (let j = 0; j <= i; j++) {
            const bj = bcBase + j * gRow;
            const d = dcb[i * Q + j];
            if (gC !== null) for (let k = 0; k < N; k++) gC[ci + k] += d * Bm[bj + k];
            if (gB !== null) for (let k = 0; k < N; k++) gB[bj + k] += d * Cm[ci + k];
          }
        }
      }
    }
  }
}

/**
 * One recurrent step for generation (inference only, no graph): with state S [B, Hd, P, N]
 * updated in place, S ← exp(A Δ) S + Δ x Bᵀ and y = S C + Dskip x.
 * x [B, Hd, P], dt [B, Hd], A [Hd], Bm/Cm [B, G, N], Dskip [Hd], state [B, Hd, P, N] → y [B, Hd, P].
 */
export function ssdStep(x: Tensor, dt: Tensor, A: Tensor, Bm: Tensor, Cm: Tensor, Dskip: Tensor, state: Tensor): Tensor {
  const dtype = commonDType('ssdStep', x, dt, A, Bm, Cm, Dskip, state);
  if (x.rank !== 3) throw new ShapeError(`ssdStep: x should be [B, Hd, P], got ${shapeString(x.shape)}`);
  if (Bm.rank !== 3) throw new ShapeError(`ssdStep: Bm should be [B, G, N], got ${shapeString(Bm.shape)}`);
  const [B, Hd, P] = x.shape;
  const [G, N] = Bm.shape.slice(1);
  expectShape('ssdStep', 'dt', dt, [B, Hd]);
  expectShape('ssdStep', 'A', A, [Hd]);
  expectShape('ssdStep', 'Cm', Cm, [B, G, N]);
  expectShape('ssdStep', 'Dskip', Dskip, [Hd]);
  expectShape('ssdStep', 'state', state, [B, Hd, P, N]);
  if (G === 0 || Hd % G !== 0) throw new ShapeError(`ssdStep: ${Hd} heads cannot be split into ${G} groups`);
  const headsPerGroup = Hd / G;
  const xd = x.data;
  const S = state.data;
  const y = allocate(dtype, x.size);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < Hd; h++) {
      const d = dt.data[b * Hd + h];
      const decay = Math.exp(A.data[h] * d);
      const gOff = (b * G + Math.floor(h / headsPerGroup)) * N;
      const xOff = (b * Hd + h) * P;
      for (let p = 0; p < P; p++) {
        const dx = d * xd[xOff + p];
        const row = (xOff + p) * N;
        let s = 0;
        for (let k = 0; k < N; k++) {
          const v = decay * S[row + k] + dx * Bm.data[gOff + k];
          S[row + k] = v;
          s += v * Cm.data[gOff + k];
        }
        y[xOff + p] = s + Dskip.data[h] * xd[xOff + p];
      }
    }
  }
  return new Tensor(y, x.shape);
}
