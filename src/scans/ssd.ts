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
 *
 * Two kernels with the same equations: the WebAssembly SIMD one (assembly/ssm.ts via
 * src/core/kernels/wasm/ssm-wasm.ts: whole chunks in the module, its own small products), the
 * default wherever WebAssembly SIMD exists, and the JS kernels below (their products through
 * src/core/kernels/gemm.ts), used with IATTN_KERNELS=js or without WebAssembly SIMD;
 * test/scans/ssm-wasm.test.ts compares the two. Chunk-entry states are saved only when a
 * gradient will be needed.
 */
import { allocate, dtypeOf, shapeString, ShapeError } from '../core/dtype.js';
import type { DType, FloatArray } from '../core/dtype.js';
import { gemmBackend, gemmNN, gemmNT, gemmTN } from '../core/kernels/gemm.js';
import { ssdBackwardWasm, ssdForwardWasm, ssdStatesLength, ssdStepWasm, ssmWasmReady } from '../core/kernels/wasm/ssm-wasm.js';
import type { SsdKernelDims, SsdKernelInputs } from '../core/kernels/wasm/ssm-wasm.js';
import { commonDType, expectShape, isGradEnabled, record, Tensor } from '../core/tensor.js';

/** The default chunk length Q (HF `chunk_size`). */
export const DEFAULT_CHUNK_SIZE = 256;

interface SsdDims extends SsdKernelDims {
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
  const parents = [x, dt, A, Bm, Cm, Dskip];
  if (gemmBackend() !== 'js' && ssmWasmReady()) {
    const data: SsdKernelInputs = [x.data, dt.data, A.data, Bm.data, Cm.data, Dskip.data];
    const needsGrad = isGradEnabled() && parents.some((p) => p.requiresGrad);
    const saved = needsGrad ? allocate(dtype, ssdStatesLength(dims)) : null;
    ssdForwardWasm(y, saved, data, dims);
    return record('ssd', parents, y, x.shape, (gy, gradIn) => {
      const grads = [0, 1, 2, 3, 4, 5].map((i) => gradIn(i));
      ssdBackwardWasm(grads, gy, data, saved!, dims);
    });
  }
  // Chunk-entry states [B, chunks, Hd, P, N]; entry 0 of every sequence stays zero.
  const states = allocate(dtype, dims.B * dims.chunks * dims.Hd * dims.P * dims.N);
  ssdForward(y, states, inputs, dims, new ChunkBuffers(dtype, dims.Q, dims.P, dims.N));
  return record('ssd', parents, y, x.shape, (gy, gradIn) => {
    const grads: SsdGrads = { x: gradIn(0), dt: gradIn(1), A: gradIn(2), Bm: gradIn(3), Cm: gradIn(4), Dskip: gradIn(5) };
    ssdBackward(grads, gy, inputs, states, dims, new ChunkBuffers(dtype, dims.Q, dims.P, dims.N));
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

/** dst[r·width + k] = src[offset + r·stride + k]: one head's or group's rows of a chunk, made contiguous. */
function gatherRows(dst: FloatArray, src: FloatArray, offset: number, stride: number, rows: number, width: number): void {
  for (let r = 0; r < rows; r++) {
    const o = offset + r * stride;
    for (let k = 0; k < width; k++) dst[r * width + k] = src[o + k];
  }
}

/** dst[offset + r·stride + k] = src[r·width + k], the inverse of `gatherRows`. */
function scatterRows(dst: FloatArray, src: FloatArray, offset: number, stride: number, rows: number, width: number): void {
  for (let r = 0; r < rows; r++) {
    const o = offset + r * stride;
    for (let k = 0; k < width; k++) dst[o + k] = src[r * width + k];
  }
}

/** dst[offset + r·stride + k] += src[r·width + k], the adjoint of `gatherRows`. */
function scatterAddRows(dst: FloatArray, src: FloatArray, offset: number, stride: number, rows: number, width: number): void {
  for (let r = 0; r < rows; r++) {
    const o = offset + r * stride;
    for (let k = 0; k < width; k++) dst[o + k] += src[r * width + k];
  }
}

/** la[i] = A_h Σ_{k=t0..t0+i} Δ_k[h] for the n steps of a chunk; dt read at dtBase + i·Hd. */
function localLogDecay(la: Float64Array, dt: FloatArray, A: number, dtBase: number, Hd: number, n: number): void {
  let acc = 0;
  for (let i = 0; i < n; i++) {
    acc += A * dt[dtBase + i * Hd];
    la[i] = acc;
  }
}

/**
 * Y[n, P] += W[n, n] · X[n, P] for lower-triangular W: row i reads W[i, j ≤ i] only, so a NaN
 * or ∞ at a later step never reaches an earlier output, and half the work of a full product
 * is skipped. Four rows at a time share each loaded X row, as in the gemm kernels.
 */
function lowerTriangularMatmul(n: number, P: number, W: FloatArray, X: FloatArray, Y: FloatArray): void {
  let i = 0;
  for (; i + 3 < n; i += 4) {
    const y0 = i * P;
    const y1 = y0 + P;
    const y2 = y1 + P;
    const y3 = y2 + P;
    for (let j = 0; j <= i; j++) {
      const w0 = W[i * n + j];
      const w1 = W[(i + 1) * n + j];
      const w2 = W[(i + 2) * n + j];
      const w3 = W[(i + 3) * n + j];
      const xj = j * P;
      for (let p = 0; p < P; p++) {
        const v = X[xj + p];
        Y[y0 + p] += w0 * v;
        Y[y1 + p] += w1 * v;
        Y[y2 + p] += w2 * v;
        Y[y3 + p] += w3 * v;
      }
    }
    // The rest of the 4×4 diagonal block: row i + r reads columns i + 1 .. i + r.
    for (let r = 1; r < 4; r++) accumulateRows(W, X, Y, n, P, i + r, i + 1, i + r);
  }
  for (; i < n; i++) accumulateRows(W, X, Y, n, P, i, 0, i);
}

/** Y[i, :] += Σ_{j = from..to} W[i, j] X[j, :]. */
function accumulateRows(W: FloatArray, X: FloatArray, Y: FloatArray, n: number, P: number, i: number, from: number, to: number): void {
  for (let j = from; j <= to; j++) {
    const w = W[i * n + j];
    for (let p = 0; p < P; p++) Y[i * P + p] += w * X[j * P + p];
  }
}

/**
 * Out[n, P] += Wᵀ · G[n, P] for lower-triangular W (the adjoint of `lowerTriangularMatmul`):
 * row j gathers Σ_{i ≥ j} W[i, j] G[i, :], reading nothing above the diagonal.
 */
function lowerTriangularMatmulTransposed(n: number, P: number, W: FloatArray, G: FloatArray, Out: FloatArray): void {
  let j = 0;
  for (; j + 3 < n; j += 4) {
    const o0 = j * P;
    const o1 = o0 + P;
    const o2 = o1 + P;
    const o3 = o2 + P;
    for (let i = j + 3; i < n; i++) {
      const w = i * n + j;
      const w0 = W[w];
      const w1 = W[w + 1];
      const w2 = W[w + 2];
      const w3 = W[w + 3];
      const gi = i * P;
      for (let p = 0; p < P; p++) {
        const v = G[gi + p];
        Out[o0 + p] += w0 * v;
        Out[o1 + p] += w1 * v;
        Out[o2 + p] += w2 * v;
        Out[o3 + p] += w3 * v;
      }
    }
    // The rest of the diagonal block: column j + c gathers rows j + c .. j + 2.
    for (let c = 0; c < 3; c++) gatherColumn(W, G, Out, n, P, j + c, j + c, j + 2);
  }
  for (; j < n; j++) gatherColumn(W, G, Out, n, P, j, j, n - 1);
}

/** Out[j, :] += Σ_{i = from..to} W[i, j] G[i, :]. */
function gatherColumn(W: FloatArray, G: FloatArray, Out: FloatArray, n: number, P: number, j: number, from: number, to: number): void {
  for (let i = from; i <= to; i++) {
    const w = W[i * n + j];
    for (let p = 0; p < P; p++) Out[j * P + p] += w * G[i * P + p];
  }
}

/**
 * Chunk-local working buffers, allocated once per call (never per step). Matrices are
 * row-major with the chunk's actual length n as leading size: [n, n], [n, P], [n, N].
 */
class ChunkBuffers {
  readonly la: Float64Array; // a_i [n]
  readonly da: Float64Array; // ∂/∂a_i [n]
  readonly scores: FloatArray; // C_i·B_j [n, n]
  readonly mix: FloatArray; // decayed, Δ-weighted scores, lower triangle [n, n]
  readonly pairs: FloatArray; // dy_i·x_j [n, n]
  readonly dScores: FloatArray; // ∂/∂(C_i·B_j) summed over the group's heads [n, n]
  readonly b: FloatArray; // B rows [n, N]
  readonly c: FloatArray; // C rows [n, N]
  readonly dB: FloatArray; // [n, N]
  readonly dC: FloatArray; // [n, N]
  readonly cn: FloatArray; // scratch [n, N]
  readonly x: FloatArray; // x rows of one head [n, P]
  readonly y: FloatArray; // y or dy rows of one head [n, P]
  readonly dx: FloatArray; // [n, P]
  readonly xp: FloatArray; // scratch [n, P]

  constructor(dtype: DType, Q: number, P: number, N: number) {
    this.la = new Float64Array(Q);
    this.da = new Float64Array(Q);
    [this.scores, this.mix, this.pairs, this.dScores] = [0, 1, 2, 3].map(() => allocate(dtype, Q * Q));
    [this.b, this.c, this.dB, this.dC, this.cn] = [0, 1, 2, 3, 4].map(() => allocate(dtype, Q * N));
    [this.x, this.y, this.dx, this.xp] = [0, 1, 2, 3].map(() => allocate(dtype, Q * P));
  }

  /** Loads B and C of group g for a chunk of n steps at bcBase and forms scores = C Bᵀ. */
  loadGroup(inp: SsdInputs, bcBase: number, gRow: number, n: number, N: number): void {
    gatherRows(this.b, inp.Bm, bcBase, gRow, n, N);
    gatherRows(this.c, inp.Cm, bcBase, gRow, n, N);
    this.scores.fill(0, 0, n * n);
    gemmNT(n, n, N, this.c, 0, this.b, 0, this.scores, 0);
  }
}

/** Fills y and the chunk-entry states. */
function ssdForward(y: FloatArray, states: FloatArray, inp: SsdInputs, dims: SsdDims, buf: ChunkBuffers): void {
  const { B, L, Hd, P, G, N, Q, chunks, headsPerGroup } = dims;
  const { x, dt, A, Dskip } = inp;
  const { la, scores, mix } = buf;
  const xRow = Hd * P; // stride of one time step in x and y
  const gRow = G * N; // stride of one time step in Bm and Cm
  const PN = P * N;
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < chunks; c++) {
      const t0 = c * Q;
      const n = Math.min(Q, L - t0);
      for (let g = 0; g < G; g++) {
        const bcBase = (b * L + t0) * gRow + g * N;
        buf.loadGroup(inp, bcBase, gRow, n, N);
        for (let h = g * headsPerGroup; h < (g + 1) * headsPerGroup; h++) {
          const dtBase = (b * L + t0) * Hd + h;
          const xBase = (b * L + t0) * xRow + h * P;
          const sIn = ((b * chunks + c) * Hd + h) * PN;
          localLogDecay(la, dt, A[h], dtBase, Hd, n);
          gatherRows(buf.x, x, xBase, xRow, n, P);
          // Skip connection: y_i = Dskip x_i
          for (let e = 0; e < n * P; e++) buf.y[e] = Dskip[h] * buf.x[e];
          // Intra-chunk: y_i += Σ_{j≤i} (C_i·B_j) e^{a_i−a_j} Δ_j x_j
          for (let i = 0; i < n; i++) {
            for (let j = 0; j <= i; j++) mix[i * n + j] = scores[i * n + j] * Math.exp(la[i] - la[j]) * dt[dtBase + j * Hd];
          }
          lowerTriangularMatmul(n, P, mix, buf.x, buf.y);
          if (c > 0) {
            // The state carried in: y_i += e^{a_i} S_in C_i
            for (let i = 0; i < n; i++) {
              const decay = Math.exp(la[i]);
              for (let k = 0; k < N; k++) buf.cn[i * N + k] = decay * buf.c[i * N + k];
            }
            gemmNT(n, P, N, buf.cn, 0, states, sIn, buf.y, 0);
          }
          scatterRows(y, buf.y, xBase, xRow, n, P);
          if (c + 1 < chunks) {
            // S_out = e^{a_Q} S_in + Σ_j e^{a_Q−a_j} Δ_j x_j B_jᵀ
            const sOut = sIn + Hd * PN;
            const last = la[n - 1];
            const carry = Math.exp(last);
            for (let e = 0; e < PN; e++) states[sOut + e] = carry * states[sIn + e];
            for (let j = 0; j < n; j++) {
              const w = Math.exp(last - la[j]) * dt[dtBase + j * Hd];
              for (let p = 0; p < P; p++) buf.xp[j * P + p] = w * buf.x[j * P + p];
            }
            gemmTN(P, N, n, buf.xp, 0, buf.b, 0, states, sOut);
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
 *   dΔ_j  += Σ_i W_ij / Δ_j + V_j / Δ_j (the explicit Δ_j factors, computed without dividing)
 *            + A Σ_{i≥j} da_i (through a);   dA += Σ_i da_i Σ_{k≤i} Δ_k
 *   dS_in  = e^{a_Q} dS + Σ_i e^{a_i} dy_i C_iᵀ   (becomes dS of the previous chunk)
 */
function ssdBackward(grads: SsdGrads, gy: FloatArray, inp: SsdInputs, states: FloatArray, dims: SsdDims, buf: ChunkBuffers): void {
  const { B, L, Hd, P, G, N, Q, chunks, headsPerGroup } = dims;
  const { x, dt, A, Dskip } = inp;
  const { la, da, scores, mix, pairs, dScores } = buf;
  const dStates = allocate(dtypeOf(states), Hd * P * N); // dS per head [Hd, P, N]
  const xRow = Hd * P;
  const gRow = G * N;
  const PN = P * N;
  for (let b = 0; b < B; b++) {
    dStates.fill(0);
    for (let c = chunks - 1; c >= 0; c--) {
      const t0 = c * Q;
      const n = Math.min(Q, L - t0);
      const hasIn = c > 0; // S_in = 0 in the first chunk
      const hasOut = c + 1 < chunks; // dS = 0 in the last chunk
      for (let g = 0; g < G; g++) {
        const bcBase = (b * L + t0) * gRow + g * N;
        buf.loadGroup(inp, bcBase, gRow, n, N);
        dScores.fill(0, 0, n * n);
        buf.dB.fill(0, 0, n * N);
        buf.dC.fill(0, 0, n * N);
        for (let h = g * headsPerGroup; h < (g + 1) * headsPerGroup; h++) {
          const Ah = A[h];
          const dtBase = (b * L + t0) * Hd + h;
          const xBase = (b * L + t0) * xRow + h * P;
          const sIn = ((b * chunks + c) * Hd + h) * PN;
          const dS = h * PN;
          localLogDecay(la, dt, Ah, dtBase, Hd, n);
          da.fill(0, 0, n);
          gatherRows(buf.x, x, xBase, xRow, n, P);
          gatherRows(buf.y, gy, xBase, xRow, n, P);
          const last = la[n - 1];
          const carry = Math.exp(last);

          // Skip connection
          let dDh = 0;
          for (let e = 0; e < n * P; e++) {
            dDh += buf.y[e] * buf.x[e];
            buf.dx[e] = Dskip[h] * buf.y[e];
          }
          if (grads.Dskip !== null) grads.Dskip[h] += dDh;

          // Intra-chunk pairs j ≤ i
          pairs.fill(0, 0, n * n);
          gemmNT(n, n, P, buf.y, 0, buf.x, 0, pairs, 0); // M_ij = dy_i·x_j
          for (let i = 0; i < n; i++) {
            for (let j = 0; j <= i; j++) {
              const dtj = dt[dtBase + j * Hd];
              const decay = Math.exp(la[i] - la[j]);
              const score = scores[i * n + j] * decay;
              const m = pairs[i * n + j];
              const w = score * dtj * m;
              da[i] += w;
              da[j] -= w;
              if (grads.dt !== null) grads.dt[dtBase + j * Hd] += score * m;
              dScores[i * n + j] += decay * dtj * m;
              mix[i * n + j] = score * dtj;
            }
          }
          lowerTriangularMatmulTransposed(n, P, mix, buf.y, buf.dx); // dx_j += Σ_{i≥j} mix_ij dy_i

          if (hasIn) {
            // y_i += e^{a_i} S_in C_i:  u_i = S_inᵀ dy_i
            buf.cn.fill(0, 0, n * N);
            gemmNN(n, N, P, buf.y, 0, states, sIn, buf.cn, 0);
            for (let i = 0; i < n; i++) {
              const decay = Math.exp(la[i]);
              let uc = 0;
              for (let k = 0; k < N; k++) {
                uc += buf.cn[i * N + k] * buf.c[i * N + k];
                buf.dC[i * N + k] += decay * buf.cn[i * N + k];
              }
              da[i] += decay * uc;
            }
          }

          if (hasOut) {
            // S_out = e^{a_Q} S_in + Σ_j e^{a_Q−a_j} Δ_j x_j B_jᵀ:  r_j = dS B_j
            let inner = 0;
            for (let e = 0; e < PN; e++) inner += dStates[dS + e] * states[sIn + e];
            da[n - 1] += carry * inner;
            buf.xp.fill(0, 0, n * P);
            gemmNT(n, P, N, buf.b, 0, dStates, dS, buf.xp, 0);
            for (let j = 0; j < n; j++) {
              const decay = Math.exp(last - la[j]);
              const dtj = dt[dtBase + j * Hd];
              let xr = 0;
              for (let p = 0; p < P; p++) {
                const rp = buf.xp[j * P + p];
                xr += buf.x[j * P + p] * rp;
                buf.dx[j * P + p] += decay * dtj * rp;
                buf.xp[j * P + p] = decay * dtj * buf.x[j * P + p]; // now the weighted x_j
              }
              const v = decay * dtj * xr;
              da[n - 1] += v;
              da[j] -= v;
              if (grads.dt !== null) grads.dt[dtBase + j * Hd] += decay * xr;
            }
            gemmNN(n, N, P, buf.xp, 0, dStates, dS, buf.dB, 0); // dB_j += e^{a_Q−a_j} Δ_j dSᵀ x_j
          }

          if (hasIn) {
            // dS_in = e^{a_Q} dS + Σ_i e^{a_i} dy_i C_iᵀ, in place
            for (let e = 0; e < PN; e++) dStates[dS + e] *= carry;
            for (let i = 0; i < n; i++) {
              const decay = Math.exp(la[i]);
              for (let p = 0; p < P; p++) buf.xp[i * P + p] = decay * buf.y[i * P + p];
            }
            gemmTN(P, N, n, buf.xp, 0, buf.c, 0, dStates, dS);
          }

          if (grads.x !== null) scatterAddRows(grads.x, buf.dx, xBase, xRow, n, P);
          // a_i = A Σ_{k≤i} Δ_k: dA += Σ_i da_i cum_i, dΔ_k += A Σ_{i≥k} da_i
          if (grads.A !== null) {
            let cum = 0;
            let s = 0;
            for (let i = 0; i < n; i++) {
              cum += dt[dtBase + i * Hd];
              s += da[i] * cum;
            }
            grads.A[h] += s;
          }
          if (grads.dt !== null) {
            let acc = 0;
            for (let i = n - 1; i >= 0; i--) {
              acc += da[i];
              grads.dt[dtBase + i * Hd] += Ah * acc;
            }
          }
        }
        // Scores are shared by the group's heads: dC += dScores B, dB += dScoresᵀ C
        lowerTriangularMatmul(n, N, dScores, buf.b, buf.dC);
        lowerTriangularMatmulTransposed(n, N, dScores, buf.c, buf.dB);
        if (grads.Cm !== null) scatterAddRows(grads.Cm, buf.dC, bcBase, gRow, n, N);
        if (grads.Bm !== null) scatterAddRows(grads.Bm, buf.dB, bcBase, gRow, n, N);
      }
    }
  }
}

/**
 * One recurrent step for generation (inference only, no graph): with state S [B, Hd, P, N]
 * updated in place, S ← exp(A Δ) S + Δ x Bᵀ and y = S C + Dskip x (the WASM kernel, or the
 * JS loop below under IATTN_KERNELS=js).
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
  const [xd, dtd, Ad, Bd, Cd, Dd, S] = [x.data, dt.data, A.data, Bm.data, Cm.data, Dskip.data, state.data];
  const y = allocate(dtype, x.size);
  if (gemmBackend() !== 'js' && ssdStepWasm(y, S, [xd, dtd, Ad, Bd, Cd, Dd], B, Hd, P, G, N)) return new Tensor(y, x.shape);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < Hd; h++) {
      const d = dtd[b * Hd + h];
      const decay = Math.exp(Ad[h] * d);
      const gOff = (b * G + Math.floor(h / headsPerGroup)) * N;
      const xOff = (b * Hd + h) * P;
      for (let p = 0; p < P; p++) {
        const dx = d * xd[xOff + p];
        const row = (xOff + p) * N;
        let s = 0;
        for (let k = 0; k < N; k++) {
          const v = decay * S[row + k] + dx * Bd[gOff + k];
          S[row + k] = v;
          s += v * Cd[gOff + k];
        }
        y[xOff + p] = s + Dd[h] * xd[xOff + p];
      }
    }
  }
  return new Tensor(y, x.shape);
}
