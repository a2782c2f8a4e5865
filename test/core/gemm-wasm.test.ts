/**
 * WebAssembly SIMD GEMM (assembly/gemm.ts) against the JS references of src/core/kernels/gemm.ts:
 * every numbered kernel version, all three layouts, both dtypes, odd sizes, offsets, accumulation
 * into non-zero C, chunked copies, NaN/Inf, the dispatcher and IATTN_KERNELS, and the committed
 * binary against its source.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { FloatArray } from '../../src/core/dtype.js';
import { gemmBackend, gemmNN, gemmNNReference, gemmNT, gemmNTReference, gemmTN, gemmTNReference, setGemmBackend } from '../../src/core/kernels/gemm.js';
import { GEMM_WASM_COMPILER_VERSION, GEMM_WASM_SHA256, GEMM_WASM_SOURCE_SHA256 } from '../../src/core/kernels/wasm/gemm-binary.js';
import { gemmWasm, gemmWasmBytes, type GemmVariant, setOperandBudget, simdSupported, WASM_GEMM_LATEST, WASM_GEMM_VERSIONS } from '../../src/core/kernels/wasm/gemm-wasm.js';
import { describeWasmArtefact } from '../helpers/wasm-artefact.js';
import { randomArray, rng } from '../helpers/random-arrays.js';

type Gemm = (M: number, N: number, K: number, A: FloatArray, aOff: number, B: FloatArray, bOff: number, C: FloatArray, cOff: number) => void;
const REFERENCE: Record<GemmVariant, Gemm> = { NT: gemmNTReference, NN: gemmNNReference, TN: gemmTNReference };
const DISPATCH: Record<GemmVariant, Gemm> = { NT: gemmNT, NN: gemmNN, TN: gemmTN };
const VARIANTS: GemmVariant[] = ['NT', 'NN', 'TN'];
const DTYPES = ['float32', 'float64'] as const;
/** Relative to Σ|a||b| + |C₀|: float32 sums in float32 lanes, float64 as the reference. */
const RTOL = { float32: 1e-5, float64: 1e-12 };
const SIZES = [1, 3, 7, 17, 33, 65, 257];
/** Rows of A: also 2, the largest that takes the unpacked gemvNT kernel. */
const ROWS = [1, 2, 3, 7, 17, 33, 65, 257];
const OFF = { a: 3, b: 5, c: 7 };
const PAD = 4;

interface Problem {
  M: number;
  N: number;
  K: number;
  A: FloatArray;
  B: FloatArray;
  C: FloatArray;
}

/** Operands at offsets OFF with PAD trailing sentinels; C is random (accumulation into non-zero C). */
function problem(dtype: (typeof DTYPES)[number], M: number, N: number, K: number, seed: number): Problem {
  const next = rng(seed);
  return {
    M,
    N,
    K,
    A: randomArray(dtype, OFF.a + M * K + PAD, next),
    B: randomArray(dtype, OFF.b + K * N + PAD, next),
    C: randomArray(dtype, OFF.c + M * N + PAD, next),
  };
}

/** Σ_p |A||B| + |C₀| per entry of C: the scale the rounding error is measured against. */
function magnitude(variant: GemmVariant, p: Problem): FloatArray {
  const abs = (x: FloatArray) => x.map(Math.abs) as FloatArray;
  const out = abs(p.C);
  REFERENCE[variant](p.M, p.N, p.K, abs(p.A), OFF.a, abs(p.B), OFF.b, out, OFF.c);
  return out;
}

/** Largest |got − want| / scale over C; entries outside C's block must be untouched. */
function worstError(got: FloatArray, want: FloatArray, scale: FloatArray, original: FloatArray): number {
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    if (i < OFF.c || i >= got.length - PAD) {
      if (got[i] !== original[i]) return Infinity;
      continue;
    }
    const e = Math.abs(got[i] - want[i]) / Math.max(scale[i], 1e-30);
    if (!(e <= worst)) worst = Number.isNaN(e) ? Infinity : Math.max(worst, e);
  }
  return worst;
}

describe.skipIf(!simdSupported())('WASM gemm vs JS reference', () => {
  afterEach(() => {
    setOperandBudget(64 << 20);
  });

  for (const dtype of DTYPES) {
    for (const variant of VARIANTS) {
      it(`${variant} ${dtype}: every version, M ∈ {${ROWS.join(', ')}}, N, K ∈ {${SIZES.join(', ')}}, offsets, C ≠ 0`, () => {
        const failures: string[] = [];
        let seed = 1;
        for (const M of ROWS) {
          for (const N of SIZES) {
            for (const K of SIZES) {
              const p = problem(dtype, M, N, K, seed++);
              const want = p.C.slice();
              REFERENCE[variant](M, N, K, p.A, OFF.a, p.B, OFF.b, want, OFF.c);
              const scale = magnitude(variant, p);
              for (const version of WASM_GEMM_VERSIONS) {
                const got = p.C.slice();
                expect(gemmWasm(variant, M, N, K, p.A, OFF.a, p.B, OFF.b, got, OFF.c, version)).toBe(true);
                const err = worstError(got, want, scale, p.C);
                if (!(err <= RTOL[dtype])) failures.push(`v${version} M=${M} N=${N} K=${K}: relative error ${err}`);
              }
            }
          }
        }
        expect(failures).toEqual([]);
      });
    }
  }

  it('chunked copies (operands larger than the memory budget) match the reference', () => {
    setOperandBudget(1); // every dimension cut into chunks of 192
    const failures: string[] = [];
    for (const dtype of DTYPES) {
      for (const variant of VARIANTS) {
        const [M, N, K] = [401, 389, 397];
        const p = problem(dtype, M, N, K, 99);
        const want = p.C.slice();
        REFERENCE[variant](M, N, K, p.A, OFF.a, p.B, OFF.b, want, OFF.c);
        const got = p.C.slice();
        gemmWasm(variant, M, N, K, p.A, OFF.a, p.B, OFF.b, got, OFF.c);
        const err = worstError(got, want, magnitude(variant, p), p.C);
        if (!(err <= RTOL[dtype])) failures.push(`${variant} ${dtype}: relative error ${err}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('NaN and ±Inf propagate exactly as in the reference (edge tiles included)', () => {
    for (const dtype of DTYPES) {
      for (const variant of VARIANTS) {
        for (const [M, N, K] of [
          [7, 9, 13],
          [33, 17, 300],
        ]) {
          const p = problem(dtype, M, N, K, 7);
          // op(A)(i,p) / op(B)(p,j) element offsets for each layout
          const aAt = (i: number, q: number) => OFF.a + (variant === 'TN' ? q * M + i : i * K + q);
          const bAt = (q: number, j: number) => OFF.b + (variant === 'NT' ? j * K + q : q * N + j);
          p.A[aAt(1, 2)] = NaN; // row 1 of C: NaN
          p.B[bAt(3, N - 1)] = Infinity; // last column: ±Inf (NaN in row 1)
          p.B[bAt(4, 0)] = -Infinity;
          p.A[aAt(M - 1, 4)] = 0; // 0·(−Inf) = NaN at (M−1, 0)
          p.C[OFF.c + (M - 1) * N + 2] = NaN; // NaN already in C stays
          const want = p.C.slice();
          REFERENCE[variant](M, N, K, p.A, OFF.a, p.B, OFF.b, want, OFF.c);
          for (const version of WASM_GEMM_VERSIONS) {
            const got = p.C.slice();
            gemmWasm(variant, M, N, K, p.A, OFF.a, p.B, OFF.b, got, OFF.c, version);
            for (let i = 0; i < got.length; i++) {
              const where = `${variant} ${dtype} v${version} ${M}×${N}×${K} at ${i}`;
              expect(Number.isNaN(got[i]), where).toBe(Number.isNaN(want[i]));
              if (!Number.isFinite(want[i]) && !Number.isNaN(want[i])) expect(got[i], where).toBe(want[i]);
              if (Number.isFinite(want[i])) expect(Number.isFinite(got[i]), where).toBe(true);
            }
            expect(Number.isNaN(got[OFF.c + N])).toBe(true);
            expect(Number.isNaN(got[OFF.c + (M - 1) * N])).toBe(true);
            expect(Math.abs(got[OFF.c + N - 1])).toBe(Infinity);
          }
        }
      }
    }
  });
});

describe('gemm dispatch', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.resetModules();
  });

  it.skipIf(!simdSupported())('auto: large products run in WASM, small ones in the JS reference', () => {
    const old = setGemmBackend('auto');
    try {
      for (const variant of VARIANTS) {
        // large: bitwise the WASM result (float32 sums differ from the reference's rounding)
        const big = problem('float32', 65, 64, 300, 3);
        const viaWasm = big.C.slice();
        const viaDispatch = big.C.slice();
        const viaReference = big.C.slice();
        gemmWasm(variant, 65, 64, 300, big.A, OFF.a, big.B, OFF.b, viaWasm, OFF.c, WASM_GEMM_LATEST);
        DISPATCH[variant](65, 64, 300, big.A, OFF.a, big.B, OFF.b, viaDispatch, OFF.c);
        REFERENCE[variant](65, 64, 300, big.A, OFF.a, big.B, OFF.b, viaReference, OFF.c);
        expect(viaDispatch).toEqual(viaWasm);
        expect(viaReference).not.toEqual(viaWasm);
        // small: bitwise the reference
        const small = problem('float32', 3, 5, 7, 4);
        const a = small.C.slice();
        const b = small.C.slice();
        DISPATCH[variant](3, 5, 7, small.A, OFF.a, small.B, OFF.b, a, OFF.c);
        REFERENCE[variant](3, 5, 7, small.A, OFF.a, small.B, OFF.b, b, OFF.c);
        expect(a).toEqual(b);
      }
    } finally {
      setGemmBackend(old);
    }
  });

  it('IATTN_KERNELS=js forces the JS reference for every size', async () => {
    vi.stubEnv('IATTN_KERNELS', 'js');
    vi.resetModules();
    const fresh = await import('../../src/core/kernels/gemm.js');
    expect(fresh.gemmBackend()).toBe('js');
    const table: Record<GemmVariant, [Gemm, Gemm]> = {
      NT: [fresh.gemmNT, fresh.gemmNTReference],
      NN: [fresh.gemmNN, fresh.gemmNNReference],
      TN: [fresh.gemmTN, fresh.gemmTNReference],
    };
    for (const variant of VARIANTS) {
      const p = problem('float32', 65, 64, 300, 5);
      const a = p.C.slice();
      const b = p.C.slice();
      table[variant][0](65, 64, 300, p.A, OFF.a, p.B, OFF.b, a, OFF.c);
      table[variant][1](65, 64, 300, p.A, OFF.a, p.B, OFF.b, b, OFF.c);
      expect(a).toEqual(b);
    }
  });

  it('IATTN_KERNELS=wasm is read; an unknown value is an error naming the variable', async () => {
    vi.stubEnv('IATTN_KERNELS', 'WASM');
    vi.resetModules();
    expect((await import('../../src/core/kernels/gemm.js')).gemmBackend()).toBe('wasm');
    vi.stubEnv('IATTN_KERNELS', 'fast');
    vi.resetModules();
    await expect(import('../../src/core/kernels/gemm.js')).rejects.toThrow(/IATTN_KERNELS should be 'js', 'wasm' or 'auto', got 'fast'/);
  });

  it('without WebAssembly SIMD the JS reference runs (and says why)', async () => {
    const real = (globalThis as { WebAssembly?: object }).WebAssembly as Record<string, unknown>;
    vi.stubGlobal('WebAssembly', { Module: real.Module, Instance: real.Instance, validate: () => false });
    vi.resetModules();
    try {
      const wasmMod = await import('../../src/core/kernels/wasm/gemm-wasm.js');
      const fresh = await import('../../src/core/kernels/gemm.js');
      fresh.setGemmBackend('wasm');
      const p = problem('float32', 65, 64, 300, 6);
      const a = p.C.slice();
      const b = p.C.slice();
      fresh.gemmNT(65, 64, 300, p.A, OFF.a, p.B, OFF.b, a, OFF.c);
      fresh.gemmNTReference(65, 64, 300, p.A, OFF.a, p.B, OFF.b, b, OFF.c);
      expect(a).toEqual(b);
      expect(wasmMod.wasmGemmReady()).toBe(false);
      expect(wasmMod.wasmGemmUnavailableReason()).toBe('no WebAssembly SIMD');
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it.skipIf(!simdSupported())('where synchronous compiles are refused (browser main thread), JS runs until the async compile lands', async () => {
    const real = (globalThis as { WebAssembly?: object }).WebAssembly as Record<string, unknown>;
    const Refusing = function () {
      throw new RangeError('WebAssembly.Compile is disallowed on the main thread, if the buffer size is larger than 4KB.');
    };
    vi.stubGlobal('WebAssembly', { validate: real.validate, Module: Refusing, Instance: real.Instance, compile: real.compile });
    vi.resetModules();
    try {
      const wasmMod = await import('../../src/core/kernels/wasm/gemm-wasm.js');
      const p = problem('float64', 20, 30, 40, 8);
      expect(wasmMod.gemmWasm('NN', 20, 30, 40, p.A, OFF.a, p.B, OFF.b, p.C.slice(), OFF.c)).toBe(false);
      for (let i = 0; i < 100 && !wasmMod.wasmGemmReady(); i++) await new Promise((r) => setTimeout(r, 20));
      expect(wasmMod.wasmGemmReady()).toBe(true);
      const got = p.C.slice();
      const want = p.C.slice();
      expect(wasmMod.gemmWasm('NN', 20, 30, 40, p.A, OFF.a, p.B, OFF.b, got, OFF.c)).toBe(true);
      gemmNNReference(20, 30, 40, p.A, OFF.a, p.B, OFF.b, want, OFF.c);
      expect(worstError(got, want, magnitude('NN', p), p.C)).toBeLessThan(RTOL.float64);
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('the mode in force is reported', () => {
    expect(['auto', 'js', 'wasm']).toContain(gemmBackend());
  });
});

describeWasmArtefact('committed WASM artefact', {
  name: 'gemm',
  sources: 'assembly/',
  compilerVersion: GEMM_WASM_COMPILER_VERSION,
  sourceSha256: GEMM_WASM_SOURCE_SHA256,
  sha256: GEMM_WASM_SHA256,
  bytes: gemmWasmBytes,
});
