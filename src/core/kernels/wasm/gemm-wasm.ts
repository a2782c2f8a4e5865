/**
 * The WebAssembly SIMD GEMM (assembly/gemm.ts, embedded in ./gemm-binary.ts) seen from JS:
 * synchronous loading, feature detection, and the copies between JS typed arrays and the
 * module's linear memory. The dispatch (which sizes go where, IATTN_KERNELS) lives in
 * ../gemm.ts.
 *
 * Memory: one module instance per process; its memory holds [scratch for packed panels |
 * A | B | C], grown on demand and reused by every call (memory is never shrunk, so the
 * footprint is the largest chunk seen, at most ≈ `operandBudget` (16 MiB; 64 MiB was no faster on
 * 1024³, 2048×3072×768 or a 256×50280×768 LM head, and every worker thread has its own
 * module) + 2.3 MiB of scratch, + the 16-bit copy of a stored B chunk). A product whose
 * operands exceed the budget is cut into chunks of rows of C (mC), columns of C (nC) and depth
 * (kC); C's chunk stays in the module across the depth chunks. Each call copies its operands
 * in with TypedArray.set (memcpy speed), runs the kernel, which accumulates into the copy of C,
 * and copies C back: the only JS-heap allocations are subarray views for strided chunks.
 * Depth chunks are whole kernel blocks (multiples of KC = 256), so chunking never changes the
 * order in which an entry of C sums its products: every entry of C is the same whatever M,
 * the chunking or the rows around it (what lets ../../parallel-gemm.ts split rows of C across
 * threads and still match the one-thread result bit for bit).
 *
 * B may also be a matrix of 16-bit floats (weights kept in their stored dtype,
 * ../../stored-weight.ts): its bits are copied in (half the bytes of a float32 B) after the C
 * chunk and widened by the module's SIMD `widen16` into the B chunk.
 */
import type { FloatArray } from '../../dtype.js';
import { isHalfArray } from '../../stored-weight.js';
import type { GemmOperand, HalfArray } from '../../stored-weight.js';
import { GEMM_WASM_BASE64 } from './gemm-binary.js';
import { EmbeddedWasm, WasmViews, alignUp, simdSupported } from './runtime.js';
import type { WasmMemory } from './runtime.js';

type GemmFn = (version: number, transA: number, transB: number, m: number, n: number, k: number, a: number, lda: number, b: number, ldb: number, c: number, ldc: number, work: number) => void;
type GemvFn = (m: number, n: number, k: number, a: number, lda: number, b: number, ldb: number, c: number, ldc: number) => void;
interface GemmExports {
  memory: WasmMemory;
  gemm_f32: GemmFn;
  gemm_f64: GemmFn;
  gemvNT_f32: GemvFn;
  gemvNT_f64: GemvFn;
  widen16(format: number, f64: number, src: number, dst: number, n: number): void;
  workBytes(): number;
  heapBase(): number;
}

/** Operand layouts: NT = A[M,K]·B[N,K]ᵀ, NN = A[M,K]·B[K,N], TN = A[K,M]ᵀ·B[K,N]. */
export type GemmVariant = 'NT' | 'NN' | 'TN';

/** Kernel versions in assembly/gemm.ts (style §15); the dispatch uses LATEST. */
export const WASM_GEMM_VERSIONS = [1, 2, 3] as const;
export const WASM_GEMM_LATEST = 3;
/**
 * NT products with at most this many rows of A use the unpacked gemvNT kernel (with the
 * latest version): one token through a linear layer, where packing B costs as much as the
 * product.
 */
export const GEMV_MAX_M = 2;

/** Byte address of the kernels' scratch (packed panels) and the first byte after it. */
let scratch = 0;
let scratchEnd = 0;

const gemmModule = new EmbeddedWasm<GemmExports>(GEMM_WASM_BASE64, (w) => {
  scratch = alignUp(w.heapBase(), 64);
  scratchEnd = alignUp(scratch + w.workBytes(), 64);
});

/** The embedded module's bytes. */
export function gemmWasmBytes(): Uint8Array {
  return gemmModule.bytes();
}

export { simdSupported };

/** Whether the WASM kernels can run now (loads the module on first call). */
export function wasmGemmReady(): boolean {
  return gemmModule.get() !== null;
}

/** Why the WASM kernels are unavailable ('' when they are available or still loading). */
export function wasmGemmUnavailableReason(): string {
  return gemmModule.reason();
}

// ---- memory layout ------------------------------------------------------------------------

/** Bytes of A + B + C chunk kept in the module at once; larger products are chunked. */
let operandBudget = 16 << 20;

/** Sets the chunking budget in bytes (tests use a tiny one to exercise chunking); returns the old one. */
export function setOperandBudget(bytes: number): number {
  const old = operandBudget;
  operandBudget = Math.max(1, bytes);
  return old;
}

/** Views over the module's memory (refreshed by `views.ensure` before a call's copies). */
const views = new WasmViews();

/** Copies the rows×cols block at src[off], row stride ld, to dst[at] with row stride cols. */
function copyIn<T extends FloatArray | Uint16Array>(dst: T, at: number, src: T, off: number, rows: number, cols: number, ld: number): void {
  if (cols === ld || rows === 1) dst.set(src.subarray(off, off + rows * cols), at);
  else for (let r = 0; r < rows; r++) dst.set(src.subarray(off + r * ld, off + r * ld + cols), at + r * cols);
}

/**
 * copyIn for a 16-bit source: its bits go to byte `bits` of the module's memory, then widen16
 * writes them to byte `to` as float32 or float64.
 */
function copyInHalf(w: GemmExports, to: number, double: boolean, bits: number, src: HalfArray, off: number, rows: number, cols: number, ld: number): void {
  copyIn(views.u16, bits / 2, src.bits, off, rows, cols, ld);
  w.widen16(src.format === 'bf16' ? 0 : 1, double ? 1 : 0, bits, to, rows * cols);
}

/**
 * dst[at + i] = the value of src.bits[off + i], i < n, widened by the module (SIMD); false when
 * the module is unavailable.
 */
export function widenHalfWasm(src: HalfArray, off: number, dst: FloatArray, at: number, n: number): boolean {
  const w = gemmModule.get();
  if (w === null) return false;
  const double = dst instanceof Float64Array;
  const S = double ? 8 : 4;
  const chunk = 1 << 20;
  const out = scratchEnd;
  const bits = alignUp(out + chunk * S, 64);
  views.ensure(w.memory, bits + chunk * 2);
  const view: FloatArray = double ? views.f64 : views.f32;
  for (let i = 0; i < n; i += chunk) {
    const m = Math.min(chunk, n - i);
    copyInHalf(w, out, double, bits, src, off + i, 1, m, m);
    dst.set(view.subarray(out / S, out / S + m), at + i);
  }
  return true;
}

/** Copies the contiguous rows×cols block at src[at] back to dst[off], row stride ld. */
function copyOut(dst: FloatArray, off: number, ld: number, src: FloatArray, at: number, rows: number, cols: number): void {
  if (cols === ld || rows === 1) dst.set(src.subarray(at, at + rows * cols), off);
  else for (let r = 0; r < rows; r++) dst.set(src.subarray(at + r * cols, at + (r + 1) * cols), off + r * ld);
}


/** Chunk sizes chosen by chunking() (module state, so that no array is allocated per call). */
let mC = 0;
let nC = 0;
let kC = 0;

/** The kernels' depth block (KC in assembly/gemm.ts): depth chunks are multiples of it. */
const DEPTH_BLOCK = 256;

/**
 * Chunk sizes (rows of C, columns of C, depth) whose operands fit the budget: halve the
 * largest until they fit, never below 192 rows or columns nor 256 deep (whole kernel blocks).
 */
function chunking(M: number, N: number, K: number, S: number): void {
  mC = M;
  nC = N;
  kC = K;
  const MIN = 192;
  while ((mC * kC + nC * kC + mC * nC) * S > operandBudget) {
    if (nC >= mC && nC >= kC && nC > MIN) nC = alignUp(Math.ceil(nC / 2), MIN);
    else if (mC >= kC && mC > MIN) mC = alignUp(Math.ceil(mC / 2), MIN);
    else if (kC > DEPTH_BLOCK) kC = alignUp(Math.ceil(kC / 2), DEPTH_BLOCK);
    else if (nC > MIN) nC = alignUp(Math.ceil(nC / 2), MIN);
    else if (mC > MIN) mC = alignUp(Math.ceil(mC / 2), MIN);
    else break;
  }
  mC = Math.min(mC, M);
  nC = Math.min(nC, N);
  kC = Math.min(kC, K);
}

/**
 * C[M,N] += op(A)·op(B) with the WASM kernel `version`, for Float32Array or Float64Array
 * operands (all the same type; B may be 16-bit, see the header) at element offsets aOff, bOff,
 * cOff. Returns false (and does nothing) when the module is unavailable. Shapes as in
 * ../gemm.ts: NT A[M,K] B[N,K]; NN A[M,K] B[K,N]; TN A[K,M] B[K,N]; C[M,N].
 */
export function gemmWasm(variant: GemmVariant, M: number, N: number, K: number, A: FloatArray, aOff: number, B: GemmOperand, bOff: number, C: FloatArray, cOff: number, version: number = WASM_GEMM_LATEST): boolean {
  return gemmWasmStrided(variant, M, N, K, A, aOff, variant === 'TN' ? M : K, B, bOff, variant === 'NT' ? K : N, C, cOff, N, version);
}

/**
 * gemmWasm on blocks of larger matrices: lda, ldb, ldc are the row strides (in elements) of
 * A, B and C as stored (A [M,K] or, for TN, [K,M]; B [N,K] for NT, else [K,N]; C [M,N]).
 */
export function gemmWasmStrided(variant: GemmVariant, M: number, N: number, K: number, A: FloatArray, aOff: number, lda: number, B: GemmOperand, bOff: number, ldb: number, C: FloatArray, cOff: number, ldc: number, version: number = WASM_GEMM_LATEST): boolean {
  const w = gemmModule.get();
  if (w === null) return false;
  if (M <= 0 || N <= 0 || K <= 0) return true;
  const double = C instanceof Float64Array;
  const S = double ? 8 : 4;
  chunking(M, N, K, S);
  // Layout after the kernels' scratch: A chunk | B chunk | C chunk, 64-byte aligned.
  const aAt = scratchEnd;
  const bAt = alignUp(aAt + mC * kC * S, 64);
  const cAt = alignUp(bAt + nC * kC * S, 64);
  const half = isHalfArray(B) ? B : null;
  // A 16-bit B chunk is copied here, then widened into the B chunk.
  const hAt = alignUp(cAt + mC * nC * S, 64);
  views.ensure(w.memory, half === null ? cAt + mC * nC * S : hAt + nC * kC * 2);
  const view: FloatArray = double ? views.f64 : views.f32;
  const kernel = double ? w.gemm_f64 : w.gemm_f32;
  const gemv = variant === 'NT' && M <= GEMV_MAX_M && version === WASM_GEMM_LATEST ? (double ? w.gemvNT_f64 : w.gemvNT_f32) : null;
  const transA = variant === 'TN' ? 1 : 0;
  const transB = variant === 'NT' ? 1 : 0;
  const a0 = aAt / S;
  const b0 = bAt / S;
  const c0 = cAt / S;
  // With the whole depth in one chunk, an A chunk serves every column chunk and a B chunk
  // every row chunk: copy each once.
  const oneDepth = kC === K;
  for (let j = 0; j < N; j += nC) {
    const n = Math.min(nC, N - j);
    for (let i = 0; i < M; i += mC) {
      const m = Math.min(mC, M - i);
      copyIn(view, c0, C, cOff + i * ldc + j, m, n, ldc);
      for (let p = 0; p < K; p += kC) {
        const k = Math.min(kC, K - p);
        if (!oneDepth || j === 0 || mC < M) {
          // op(A)[i:+m, p:+k], stored as A is: m rows of k, or (TN) k rows of m
          if (transA) copyIn(view, a0, A, aOff + p * lda + i, k, m, lda);
          else copyIn(view, a0, A, aOff + i * lda + p, m, k, lda);
        }
        if (!oneDepth || i === 0) {
          // op(B)[p:+k, j:+n], stored as B is: (NT) n rows of k, or k rows of n
          const at = transB ? bOff + j * ldb + p : bOff + p * ldb + j;
          const rows = transB ? n : k;
          const cols = transB ? k : n;
          if (half !== null) copyInHalf(w, bAt, double, hAt, half, at, rows, cols, ldb);
          else copyIn(view, b0, B as FloatArray, at, rows, cols, ldb);
        }
        if (gemv !== null) gemv(m, n, k, aAt, k, bAt, k, cAt, n);
        else kernel(version, transA, transB, m, n, k, aAt, transA ? m : k, bAt, transB ? k : n, cAt, n, scratch);
      }
      copyOut(C, cOff + i * ldc + j, ldc, view, c0, m, n);
    }
  }
  return true;
}
