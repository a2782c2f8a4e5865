/**
 * The WebAssembly SIMD GEMM (assembly/gemm.ts, embedded in ./gemm-binary.ts) seen from JS:
 * synchronous loading, feature detection, and the copies between JS typed arrays and the
 * module's linear memory. The dispatch (which sizes go where, IATTN_KERNELS) lives in
 * ../gemm.ts.
 *
 * Memory: one module instance per process; its memory holds [scratch for packed panels |
 * A | B | C], grown on demand and reused by every call (memory is never shrunk, so the
 * footprint is the largest chunk seen, at most ≈ `operandBudget` (64 MiB) + 2.3 MiB of scratch). A product whose
 * operands exceed the budget is cut into chunks of rows of C (mC), columns of C (nC) and depth
 * (kC); C's chunk stays in the module across the depth chunks. Each call copies its operands
 * in with TypedArray.set (memcpy speed), runs the kernel, which accumulates into the copy of C,
 * and copies C back: the only JS-heap allocations are subarray views for strided chunks.
 */
import type { FloatArray } from '../../dtype.js';
import { GEMM_WASM_BASE64 } from './gemm-binary.js';

/** The subset of the WebAssembly JS API used here (the project's lib has no DOM typings). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
  compile?(bytes: Uint8Array): Promise<object>;
}
type GemmFn = (version: number, transA: number, transB: number, m: number, n: number, k: number, a: number, lda: number, b: number, ldb: number, c: number, ldc: number, work: number) => void;
type GemvFn = (m: number, n: number, k: number, a: number, lda: number, b: number, ldb: number, c: number, ldc: number) => void;
interface GemmExports {
  memory: WasmMemory;
  gemm_f32: GemmFn;
  gemm_f64: GemmFn;
  gemvNT_f32: GemvFn;
  gemvNT_f64: GemvFn;
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

/**
 * Smallest module using a v128 instruction (`(func (result v128) i32.const 0 i8x16.splat
 * i8x16.popcnt)`), as in wasm-feature-detect: `WebAssembly.validate` says whether SIMD exists.
 */
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);

function wasmApi(): WasmApi | null {
  const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  return api !== undefined && typeof api.validate === 'function' ? api : null;
}

/** Whether this runtime has WebAssembly with fixed-width SIMD. */
export function simdSupported(): boolean {
  const api = wasmApi();
  if (api === null) return false;
  try {
    return api.validate(SIMD_PROBE);
  } catch {
    return false;
  }
}

function decodeBase64(text: string): Uint8Array {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const lookup = new Uint8Array(128);
  for (let i = 0; i < alphabet.length; i++) lookup[alphabet.charCodeAt(i)] = i;
  const clean = text.replace(/=+$/, '');
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0;
  let value = 0;
  let o = 0;
  for (let i = 0; i < clean.length; i++) {
    value = (value << 6) | lookup[clean.charCodeAt(i)];
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (value >> bits) & 0xff;
    }
  }
  return out;
}

/** The embedded module's bytes. */
export function gemmWasmBytes(): Uint8Array {
  return decodeBase64(GEMM_WASM_BASE64);
}

let state: 'unloaded' | 'loading' | 'ready' | 'unavailable' = 'unloaded';
let wasm: GemmExports | null = null;
let unavailableReason = '';

/** Byte address of the kernels' scratch (packed panels) and the first byte after it. */
let scratch = 0;
let scratchEnd = 0;

function instantiate(api: WasmApi, module: object): void {
  const w = new api.Instance(module, {}).exports as GemmExports;
  scratch = Math.ceil(w.heapBase() / 64) * 64;
  scratchEnd = Math.ceil((scratch + w.workBytes()) / 64) * 64;
  wasm = w;
  state = 'ready';
}

/**
 * Loads the module on first use: synchronously with `new WebAssembly.Module` (Node, workers);
 * where the runtime refuses synchronous compiles of this size (Chrome's main thread, > 4 KiB),
 * compiles asynchronously and lets callers use the JS kernels until it is ready.
 */
function load(): GemmExports | null {
  if (state === 'ready') return wasm;
  if (state !== 'unloaded') return null;
  const api = wasmApi();
  if (api === null || !simdSupported()) {
    state = 'unavailable';
    unavailableReason = api === null ? 'no WebAssembly' : 'no WebAssembly SIMD';
    return null;
  }
  const bytes = gemmWasmBytes();
  try {
    instantiate(api, new api.Module(bytes));
    return wasm;
  } catch (e) {
    if (typeof api.compile !== 'function') {
      state = 'unavailable';
      unavailableReason = e instanceof Error ? e.message : String(e);
      return null;
    }
    state = 'loading';
    const fail = (err: unknown) => {
      state = 'unavailable';
      unavailableReason = err instanceof Error ? err.message : String(err);
    };
    api.compile(bytes).then((module) => {
      try {
        instantiate(api, module);
      } catch (err) {
        fail(err);
      }
    }, fail);
    return null;
  }
}

/** Whether the WASM kernels can run now (loads the module on first call). */
export function wasmGemmReady(): boolean {
  return load() !== null;
}

/** Why the WASM kernels are unavailable ('' when they are available or still loading). */
export function wasmGemmUnavailableReason(): string {
  load();
  return unavailableReason;
}

// ---- memory layout ------------------------------------------------------------------------

const PAGE = 65536;
/** Bytes of A + B + C chunk kept in the module at once; larger products are chunked. */
let operandBudget = 64 << 20;

/** Sets the chunking budget in bytes (tests use a tiny one to exercise chunking); returns the old one. */
export function setOperandBudget(bytes: number): number {
  const old = operandBudget;
  operandBudget = Math.max(1, bytes);
  return old;
}

let f32: Float32Array = new Float32Array(0);
let f64: Float64Array = new Float64Array(0);

/** Ensures `bytes` of memory and returns views that are valid for this call. */
function ensureMemory(w: GemmExports, bytes: number): void {
  const have = w.memory.buffer.byteLength;
  if (bytes > have) w.memory.grow(Math.ceil((bytes - have) / PAGE));
  if (f32.buffer !== w.memory.buffer) {
    f32 = new Float32Array(w.memory.buffer);
    f64 = new Float64Array(w.memory.buffer);
  }
}

/** Copies the rows×cols block at src[off], row stride ld, to dst[at] with row stride cols. */
function copyIn(dst: FloatArray, at: number, src: FloatArray, off: number, rows: number, cols: number, ld: number): void {
  if (cols === ld || rows === 1) dst.set(src.subarray(off, off + rows * cols), at);
  else for (let r = 0; r < rows; r++) dst.set(src.subarray(off + r * ld, off + r * ld + cols), at + r * cols);
}

/** Copies the contiguous rows×cols block at src[at] back to dst[off], row stride ld. */
function copyOut(dst: FloatArray, off: number, ld: number, src: FloatArray, at: number, rows: number, cols: number): void {
  if (cols === ld || rows === 1) dst.set(src.subarray(at, at + rows * cols), off);
  else for (let r = 0; r < rows; r++) dst.set(src.subarray(at + r * cols, at + (r + 1) * cols), off + r * ld);
}

const roundUp = (x: number, m: number) => Math.ceil(x / m) * m;

/** Chunk sizes chosen by chunking() (module state, so that no array is allocated per call). */
let mC = 0;
let nC = 0;
let kC = 0;

/**
 * Chunk sizes (rows of C, columns of C, depth) whose operands fit the budget: halve the
 * largest until they fit, never below 192 (whole kernel blocks).
 */
function chunking(M: number, N: number, K: number, S: number): void {
  mC = M;
  nC = N;
  kC = K;
  const MIN = 192;
  while ((mC * kC + nC * kC + mC * nC) * S > operandBudget) {
    if (nC >= mC && nC >= kC && nC > MIN) nC = roundUp(Math.ceil(nC / 2), MIN);
    else if (mC >= kC && mC > MIN) mC = roundUp(Math.ceil(mC / 2), MIN);
    else if (kC > MIN) kC = roundUp(Math.ceil(kC / 2), MIN);
    else if (nC > MIN) nC = roundUp(Math.ceil(nC / 2), MIN);
    else if (mC > MIN) mC = roundUp(Math.ceil(mC / 2), MIN);
    else break;
  }
  mC = Math.min(mC, M);
  nC = Math.min(nC, N);
  kC = Math.min(kC, K);
}

/**
 * C[M,N] += op(A)·op(B) with the WASM kernel `version`, for Float32Array or Float64Array
 * operands (all the same type) at element offsets aOff, bOff, cOff. Returns false (and does
 * nothing) when the module is unavailable. Shapes as in ../gemm.ts: NT A[M,K] B[N,K];
 * NN A[M,K] B[K,N]; TN A[K,M] B[K,N]; C[M,N].
 */
export function gemmWasm(variant: GemmVariant, M: number, N: number, K: number, A: FloatArray, aOff: number, B: FloatArray, bOff: number, C: FloatArray, cOff: number, version: number = WASM_GEMM_LATEST): boolean {
  const w = load();
  if (w === null) return false;
  if (M <= 0 || N <= 0 || K <= 0) return true;
  const double = C instanceof Float64Array;
  const S = double ? 8 : 4;
  chunking(M, N, K, S);
  // Layout after the kernels' scratch: A chunk | B chunk | C chunk, 64-byte aligned.
  const aAt = scratchEnd;
  const bAt = roundUp(aAt + mC * kC * S, 64);
  const cAt = roundUp(bAt + nC * kC * S, 64);
  ensureMemory(w, cAt + mC * nC * S);
  const view: FloatArray = double ? f64 : f32;
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
      copyIn(view, c0, C, cOff + i * N + j, m, n, N);
      for (let p = 0; p < K; p += kC) {
        const k = Math.min(kC, K - p);
        if (!oneDepth || j === 0 || mC < M) {
          // op(A)[i:+m, p:+k], stored as A is: m rows of k, or (TN) k rows of m
          if (transA) copyIn(view, a0, A, aOff + p * M + i, k, m, M);
          else copyIn(view, a0, A, aOff + i * K + p, m, k, K);
        }
        if (!oneDepth || i === 0) {
          // op(B)[p:+k, j:+n], stored as B is: (NT) n rows of k, or k rows of n
          if (transB) copyIn(view, b0, B, bOff + j * K + p, n, k, K);
          else copyIn(view, b0, B, bOff + p * N + j, k, n, N);
        }
        if (gemv !== null) gemv(m, n, k, aAt, k, bAt, k, cAt, n);
        else kernel(version, transA, transB, m, n, k, aAt, transA ? m : k, bAt, transB ? k : n, cAt, n, scratch);
      }
      copyOut(C, cOff + i * N + j, N, view, c0, m, n);
    }
  }
  return true;
}
