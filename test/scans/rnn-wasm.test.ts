/**
 * The WebAssembly SIMD recurrences (assembly/rnn*.ts via src/core/kernels/wasm/rnn-wasm.ts)
 * against the JS kernels of src/scans (IATTN_KERNELS=js, the references): WKV, RG-LRU, HGRN and
 * chunked gated linear attention, forward and the gradient of every input, float32 and float64,
 * odd sizes (L = 1, 7, 33, 100; odd widths, heads, key and value dims), blocks of one row, a
 * float64 upstream gradient on float32 tensors, recurrent state carried across calls; the
 * module's vector exp/expm1/log and float64 products; the committed binary against its source.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as F from '../../src/core/index.js';
import { Random, Tensor } from '../../src/core/index.js';
import type { DType } from '../../src/core/index.js';
import { gemmBackend, setGemmBackend } from '../../src/core/kernels/gemm.js';
import type { GemmBackendMode } from '../../src/core/kernels/gemm.js';
import { RNN_WASM_COMPILER_VERSION, RNN_WASM_SHA256, RNN_WASM_SOURCE_SHA256 } from '../../src/core/kernels/wasm/rnn-binary.js';
import { rnnWasmBytes, rnnWasmEnabled, rnnWasmGemm64, rnnWasmMath, rnnWasmReady, setRnnBlockBudget } from '../../src/core/kernels/wasm/rnn-wasm.js';
import { simdSupported } from '../../src/core/kernels/wasm/runtime.js';
import { gatedLinearAttention, gatedLinearAttentionStep } from '../../src/scans/gated-linear-attention.js';
import { hgrnScan } from '../../src/scans/hgrn.js';
import { rglru } from '../../src/scans/rglru.js';
import { wkv, wkvState, wkvStep } from '../../src/scans/wkv.js';
import { relativeError } from '../helpers/ops.js';
import { describeWasmArtefact } from '../helpers/wasm-artefact.js';

/** max|wasm − js| / max|js| per tensor: float64 agrees to rounding, float32 to float32 rounding. */
const RTOL: Record<DType, number> = { float64: 1e-12, float32: 5e-6 };
const LENGTHS = [1, 7, 33, 100];

function withBackend<T>(mode: GemmBackendMode, fn: () => T): T {
  const old = setGemmBackend(mode);
  try {
    return fn();
  } finally {
    setGemmBackend(old);
  }
}

interface Result {
  y: Float64Array;
  grads: Float64Array[];
}

/**
 * Output and the gradient of Σ weights ⊙ y for every input, with the upstream gradient given as
 * a float64 array whatever the dtype (as F.backward's seed may be).
 */
function run(fn: (...inputs: Tensor[]) => Tensor, inputs: Tensor[], weights: Float64Array): Result {
  const leaves = inputs.map((t) => new Tensor(t.data.slice(), t.shape).requireGrad());
  const y = fn(...leaves);
  F.backward(y, weights);
  return { y: Float64Array.from(y.data), grads: leaves.map((t) => Float64Array.from(t.grad ?? new Float64Array(t.size))) };
}

/** WASM ('wasm' backend) against JS ('js' backend) on outputs and every named gradient. */
function expectAgreement(label: string, fn: (...inputs: Tensor[]) => Tensor, inputs: Tensor[], names: string[], failures: string[]): void {
  const dtype = inputs[0].dtype;
  const outSize = withBackend('js', () => F.noGrad(() => fn(...inputs)).size);
  const weights = new Random(outSize + 17).tensor([outSize], 'float64').data as Float64Array;
  const js = withBackend('js', () => run(fn, inputs, weights));
  const wasm = withBackend('wasm', () => run(fn, inputs, weights));
  const check = (name: string, got: Float64Array, want: Float64Array) => {
    const err = relativeError(got, want);
    const finite = got.every((x, i) => Number.isFinite(x) === Number.isFinite(want[i]));
    if (!(err <= RTOL[dtype]) || !finite) failures.push(`${label} ${dtype} ${name}: relative error ${err}${finite ? '' : ' (finiteness differs)'}`);
  };
  check('y', wasm.y, js.y);
  names.forEach((name, i) => check(`d${name}`, wasm.grads[i], js.grads[i]));
}

function cast(inputs: Tensor[], dtype: DType): Tensor[] {
  return inputs.map((t) => F.cast(t, dtype));
}

/** Log-decays ≤ 0 spanning weak to strong decay: −softplus(z)·scale. */
function logDecay(rng: Random, shape: number[], scale: number): Tensor {
  return F.noGrad(() => F.scale(F.softplus(rng.tensor(shape, 'float64', 2)), -scale));
}

describe.skipIf(!simdSupported())('WASM recurrences vs the JS kernels', () => {
  afterEach(() => {
    setRnnBlockBudget(8 << 20);
  });

  it('the module loads and the default backend uses it', () => {
    expect(rnnWasmReady()).toBe(true);
    expect(withBackend('auto', rnnWasmEnabled)).toBe(true);
    expect(withBackend('wasm', rnnWasmEnabled)).toBe(true);
    expect(withBackend('js', rnnWasmEnabled)).toBe(false);
    expect(['auto', 'js', 'wasm']).toContain(gemmBackend());
  });

  for (const dtype of ['float64', 'float32'] as const) {
    it(`wkv ${dtype}: y and dw, du, dk, dv for L ∈ {${LENGTHS.join(', ')}}, C ∈ {1, 2, 5, 17}, B ∈ {1, 2}`, () => {
      const failures: string[] = [];
      for (const L of LENGTHS) {
        for (const [B, C] of [
          [1, 1],
          [2, 2],
          [1, 5],
          [2, 17],
        ]) {
          const rng = new Random(L * 31 + C);
          const inputs = cast([rng.tensor([C], 'float64'), rng.tensor([C], 'float64'), rng.tensor([B, L, C], 'float64', 3), rng.tensor([B, L, C], 'float64')], dtype);
          expectAgreement(`wkv B=${B} L=${L} C=${C}`, wkv, inputs, ['w', 'u', 'k', 'v'], failures);
        }
      }
      expect(failures).toEqual([]);
    });

    it(`rglru ${dtype}: h and dℓ, dx for L ∈ {${LENGTHS.join(', ')}}, W ∈ {1, 3, 16}`, () => {
      const failures: string[] = [];
      for (const L of LENGTHS) {
        for (const [B, W] of [
          [1, 1],
          [2, 3],
          [1, 16],
        ]) {
          const rng = new Random(L * 7 + W);
          const inputs = cast([logDecay(rng, [B, L, W], 0.3), rng.tensor([B, L, W], 'float64')], dtype);
          expectAgreement(`rglru B=${B} L=${L} W=${W}`, rglru, inputs, ['logA', 'x'], failures);
        }
      }
      expect(failures).toEqual([]);
    });

    it(`hgrn ${dtype}: h and dℓ, dx, dh₀ for L ∈ {${LENGTHS.join(', ')}}, E ∈ {1, 3, 16}, with and without h₀`, () => {
      const failures: string[] = [];
      for (const L of LENGTHS) {
        for (const [B, E] of [
          [1, 1],
          [2, 3],
          [1, 16],
        ]) {
          const rng = new Random(L * 13 + E);
          const [g, x, h0] = cast([logDecay(rng, [B, L, E], 0.3), rng.tensor([B, L, E], 'float64'), rng.tensor([B, E], 'float64')], dtype);
          expectAgreement(`hgrn B=${B} L=${L} E=${E}`, (a, b) => hgrnScan(a, b), [g, x], ['logDecay', 'x'], failures);
          expectAgreement(`hgrn+h0 B=${B} L=${L} E=${E}`, (a, b, c) => hgrnScan(a, b, c), [g, x, h0], ['logDecay', 'x', 'h0'], failures);
        }
      }
      expect(failures).toEqual([]);
    });

    it(`gated linear attention ${dtype}: o and dq, dk, dv, dγ for L ∈ {${LENGTHS.join(', ')}}, odd H, K, V, chunks 1, 16, 64`, () => {
      const failures: string[] = [];
      const shapes = [
        { B: 1, H: 1, K: 1, V: 1 },
        { B: 2, H: 3, K: 5, V: 7 },
        { B: 1, H: 2, K: 9, V: 10 },
      ];
      for (const L of LENGTHS) {
        for (const { B, H, K, V } of shapes) {
          const rng = new Random(L * 101 + K * 7 + V);
          const inputs = cast([rng.tensor([B, L, H, K], 'float64'), rng.tensor([B, L, H, K], 'float64'), rng.tensor([B, L, H, V], 'float64'), logDecay(rng, [B, L, H, K], 1 / 16)], dtype);
          for (const chunk of [1, 16, 64]) {
            if (chunk === 1 && L > 33) continue;
            expectAgreement(`gla B=${B} L=${L} H=${H} K=${K} V=${V} chunk=${chunk}`, (q, k, v, g) => gatedLinearAttention(q, k, v, g, chunk), inputs, ['q', 'k', 'v', 'logDecay'], failures);
          }
        }
      }
      expect(failures).toEqual([]);
    });
  }

  it('gated linear attention at a model-like head size (K = 64, V = 96, L = 130: full 4×4 tiles and a partial chunk)', () => {
    const failures: string[] = [];
    const rng = new Random(3);
    const [B, L, H, K, V] = [1, 130, 2, 64, 96];
    const inputs = [rng.tensor([B, L, H, K], 'float64', 0.2), rng.tensor([B, L, H, K], 'float64'), rng.tensor([B, L, H, V], 'float64'), logDecay(rng, [B, L, H, K], 1 / 16)];
    expectAgreement('gla model-like', (q, k, v, g) => gatedLinearAttention(q, k, v, g), inputs, ['q', 'k', 'v', 'logDecay'], failures);
    expectAgreement('gla model-like', (q, k, v, g) => gatedLinearAttention(q, k, v, g), cast(inputs, 'float32'), ['q', 'k', 'v', 'logDecay'], failures);
    expect(failures).toEqual([]);
  });

  it('gated linear attention with strong decay (Σγ ≈ −1000: no overflow) and a constant RetNet decay', () => {
    const failures: string[] = [];
    const rng = new Random(4);
    const [B, L, H, K, V] = [1, 300, 1, 3, 2];
    const strong = [rng.tensor([B, L, H, K], 'float64'), rng.tensor([B, L, H, K], 'float64'), rng.tensor([B, L, H, V], 'float64'), logDecay(rng, [B, L, H, K], 5)];
    expectAgreement('gla strong decay', (q, k, v, g) => gatedLinearAttention(q, k, v, g), strong, ['q', 'k', 'v', 'logDecay'], failures);
    const retnet = Tensor.from(Array.from({ length: 2 * 70 * 2 * 4 }, (_, i) => Math.log1p(-(2 ** (-5 - (Math.floor(i / 4) % 2))))), [2, 70, 2, 4], 'float64');
    const qkv = [rng.tensor([2, 70, 2, 4], 'float64'), rng.tensor([2, 70, 2, 4], 'float64'), rng.tensor([2, 70, 2, 3], 'float64')];
    expectAgreement('retnet', (q, k, v, g) => gatedLinearAttention(q, k, v, g, 16), [...qkv, retnet], ['q', 'k', 'v', 'logDecay'], failures);
    expect(failures).toEqual([]);
  });

  it('wkv stays finite and matches at large keys and extreme decays (k ~ ±60, L = 500)', () => {
    const failures: string[] = [];
    const rng = new Random(3);
    const w = Tensor.from([-8, -1, 1, 4], [4], 'float64');
    const k = F.noGrad(() => F.clamp(rng.tensor([1, 500, 4], 'float64', 30), -60, 60));
    const inputs = [w, rng.tensor([4], 'float64'), k, rng.tensor([1, 500, 4], 'float64')];
    expectAgreement('wkv extreme', wkv, inputs, ['w', 'u', 'k', 'v'], failures);
    expectAgreement('wkv extreme', wkv, cast(inputs, 'float32'), ['w', 'u', 'k', 'v'], failures);
    expect(failures).toEqual([]);
  });

  it('element-wise scans stream in blocks of one and of three rows (state carried across blocks)', () => {
    const failures: string[] = [];
    for (const budget of [1, 3 * 5 * 8 * 8]) {
      setRnnBlockBudget(budget);
      const rng = new Random(budget);
      const [B, L, C] = [2, 33, 5];
      expectAgreement(`wkv budget ${budget}`, wkv, [rng.tensor([C], 'float64'), rng.tensor([C], 'float64'), rng.tensor([B, L, C], 'float64'), rng.tensor([B, L, C], 'float64')], ['w', 'u', 'k', 'v'], failures);
      expectAgreement(`rglru budget ${budget}`, rglru, [logDecay(rng, [B, L, C], 0.3), rng.tensor([B, L, C], 'float64')], ['logA', 'x'], failures);
      const h0 = rng.tensor([B, C], 'float32');
      expectAgreement(`hgrn budget ${budget}`, (a, b, c) => hgrnScan(a, b, c), [...cast([logDecay(rng, [B, L, C], 0.3), rng.tensor([B, L, C], 'float64')], 'float32'), h0], ['logDecay', 'x', 'h0'], failures);
    }
    expect(failures).toEqual([]);
  });

  it('recurrent steps continue the state as the JS kernels do (wkvStep, gatedLinearAttentionStep)', () => {
    const rng = new Random(8);
    const [B, L, C] = [2, 9, 5];
    const [w, u, k, v] = [rng.tensor([C], 'float64'), rng.tensor([C], 'float64'), rng.tensor([B, L, C], 'float64'), rng.tensor([B, L, C], 'float64')];
    const steps = (mode: GemmBackendMode) =>
      withBackend(mode, () => {
        const state = wkvState(B, C);
        const first = wkvStep(w, u, F.slice(k, 1, 0, 4), F.slice(v, 1, 0, 4), state);
        const rest = wkvStep(w, u, F.slice(k, 1, 4, L), F.slice(v, 1, 4, L), state);
        return [...first.data, ...rest.data, ...state.numerator, ...state.denominator, ...state.max];
      });
    expect(relativeError(steps('wasm'), steps('js'))).toBeLessThan(1e-13);
    // GLA's step kernel has no WASM version; its parallel form does: token by token equals it.
    const [H, K, V] = [2, 3, 4];
    const q = rng.tensor([1, 7, H, K], 'float64');
    const kk = rng.tensor([1, 7, H, K], 'float64');
    const vv = rng.tensor([1, 7, H, V], 'float64');
    const g = logDecay(rng, [1, 7, H, K], 0.2);
    const parallel = withBackend('wasm', () => F.noGrad(() => gatedLinearAttention(q, kk, vv, g, 4)));
    const state = Tensor.zeros([1, H, K, V], 'float64');
    const at = (t: Tensor, s: number) => F.reshape(F.slice(t, 1, s, s + 1), [1, H, t.shape[3]]);
    const tokens = F.noGrad(() => Array.from({ length: 7 }, (_, s) => F.reshape(gatedLinearAttentionStep(at(q, s), at(kk, s), at(vv, s), at(g, s), state), [1, 1, H, V])));
    expect(relativeError(F.concat(tokens, 1).data, parallel.data)).toBeLessThan(1e-13);
  });

  it('NaN in v propagates forward in time only, as in the JS kernel', () => {
    const rng = new Random(13);
    const v = rng.tensor([1, 6, 3], 'float64');
    v.data[3 * 3] = NaN;
    const args = [rng.tensor([3], 'float64'), rng.tensor([3], 'float64'), rng.tensor([1, 6, 3], 'float64'), v] as const;
    const wasmY = withBackend('wasm', () => wkv(...args).data);
    const jsY = withBackend('js', () => wkv(...args).data);
    expect(Array.from(wasmY, Number.isNaN)).toEqual(Array.from(jsY, Number.isNaN));
  });

  it('vector exp, expm1 and log agree with Math.exp, Math.expm1 and Math.log', () => {
    const rng = new Random(21);
    const uniform = (n: number, lo: number, hi: number) => Array.from({ length: n }, () => lo + (hi - lo) * rng.next());
    const worst = (fn: 0 | 1 | 2, ref: (x: number) => number, xs: number[]) => {
      const got = rnnWasmMath(fn, Float64Array.from(xs))!;
      let e = 0;
      xs.forEach((x, i) => {
        const want = ref(x);
        if (!Object.is(want, got[i])) e = Math.max(e, want === 0 ? Math.abs(got[i]) : Math.abs(got[i] - want) / Math.abs(want));
      });
      return e;
    };
    const ulp = 2 ** -52;
    expect(worst(0, Math.exp, [...uniform(20000, -708.39, 709.7), ...uniform(2000, -1e-6, 1e-6), 0, 1, -1])).toBeLessThanOrEqual(2 * ulp);
    expect(worst(1, Math.expm1, [...uniform(20000, -40, 40), ...uniform(2000, -0.005, 0.005), 1e-300, -1e-300, 1e-9])).toBeLessThanOrEqual(2e-14);
    expect(worst(2, Math.log, [...uniform(20000, 1, 5000), ...uniform(2000, 0.999, 1.001), 1e-300, 1e300, 1])).toBeLessThanOrEqual(4 * ulp);
    expect(Array.from(rnnWasmMath(0, Float64Array.from([NaN, -Infinity, Infinity, 710, -800]))!)).toEqual([NaN, 0, Infinity, Infinity, 0]);
    expect(Array.from(rnnWasmMath(1, Float64Array.from([NaN, -Infinity, Infinity, -800]))!)).toEqual([NaN, -1, Infinity, -1]);
    expect(Array.from(rnnWasmMath(2, Float64Array.from([NaN, Infinity, 1]))!)).toEqual([NaN, Infinity, 0]);
  });

  it('float64 products (NN, TN, NT) match a plain triple loop at odd sizes', () => {
    const failures: string[] = [];
    const rng = new Random(5);
    for (const variant of ['NN', 'TN', 'NT'] as const) {
      for (const [M, N, K] of [
        [1, 1, 1],
        [3, 5, 7],
        [4, 4, 4],
        [9, 10, 11],
        [17, 13, 33],
      ]) {
        const A = rng.tensor([M * K], 'float64').data as Float64Array;
        const B = rng.tensor([K * N], 'float64').data as Float64Array;
        const C = rng.tensor([M * N], 'float64').data as Float64Array;
        const want = C.slice();
        for (let i = 0; i < M; i++) {
          for (let j = 0; j < N; j++) {
            let s = 0;
            for (let p = 0; p < K; p++) s += (variant === 'TN' ? A[p * M + i] : A[i * K + p]) * (variant === 'NT' ? B[j * K + p] : B[p * N + j]);
            want[i * N + j] += s;
          }
        }
        const got = C.slice();
        expect(rnnWasmGemm64(variant, M, N, K, A, B, got)).toBe(true);
        const err = relativeError(got, want);
        if (!(err < 1e-14)) failures.push(`${variant} ${M}×${N}×${K}: ${err}`);
      }
    }
    expect(failures).toEqual([]);
  });
});

describe('WASM recurrences unavailable', () => {
  it('without WebAssembly SIMD every scan runs its JS kernel (and the module says why)', async () => {
    const real = (globalThis as { WebAssembly?: object }).WebAssembly as Record<string, unknown>;
    vi.stubGlobal('WebAssembly', { Module: real.Module, Instance: real.Instance, validate: () => false });
    vi.resetModules();
    try {
      const rnn = await import('../../src/core/kernels/wasm/rnn-wasm.js');
      const gemm = await import('../../src/core/kernels/gemm.js');
      const scans = {
        wkv: (await import('../../src/scans/wkv.js')).wkv,
        rglru: (await import('../../src/scans/rglru.js')).rglru,
        hgrn: (await import('../../src/scans/hgrn.js')).hgrnScan,
        gla: (await import('../../src/scans/gated-linear-attention.js')).gatedLinearAttention,
      };
      const rng = new Random(2);
      const [B, L, C] = [2, 9, 3];
      const inputs: Record<keyof typeof scans, Tensor[]> = {
        wkv: [rng.tensor([C], 'float64'), rng.tensor([C], 'float64'), rng.tensor([B, L, C], 'float64'), rng.tensor([B, L, C], 'float64')],
        rglru: [logDecay(rng, [B, L, C], 0.3), rng.tensor([B, L, C], 'float64')],
        hgrn: [logDecay(rng, [B, L, C], 0.3), rng.tensor([B, L, C], 'float64')],
        gla: [rng.tensor([B, L, 2, C], 'float64'), rng.tensor([B, L, 2, C], 'float64'), rng.tensor([B, L, 2, 4], 'float64'), logDecay(rng, [B, L, 2, C], 0.1)],
      };
      for (const name of Object.keys(scans) as (keyof typeof scans)[]) {
        const fn = scans[name] as (...t: Tensor[]) => Tensor;
        const weights = new Random(3).tensor([fn(...inputs[name]).size], 'float64').data as Float64Array;
        gemm.setGemmBackend('wasm');
        const fallback = run(fn, inputs[name], weights);
        gemm.setGemmBackend('js');
        const js = run(fn, inputs[name], weights);
        expect(fallback, name).toEqual(js);
      }
      expect(rnn.rnnWasmReady()).toBe(false);
      expect(rnn.rnnWasmUnavailableReason()).toBe('no WebAssembly SIMD');
    } finally {
      vi.unstubAllGlobals();
      vi.resetModules();
    }
  });
});

describeWasmArtefact('committed WASM artefact (rnn)', {
  name: 'rnn',
  sources: 'assembly/rnn*.ts',
  compilerVersion: RNN_WASM_COMPILER_VERSION,
  sourceSha256: RNN_WASM_SOURCE_SHA256,
  sha256: RNN_WASM_SHA256,
  bytes: rnnWasmBytes,
});
