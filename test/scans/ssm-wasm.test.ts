/**
 * The WebAssembly SIMD scans (assembly/ssm.ts) against the JS kernels of the same ops
 * (src/scans/selective-scan.ts, src/scans/ssd.ts, selected with the IATTN_KERNELS switch):
 * outputs and the gradient of every input, float32 and float64, odd sizes, several time chunks,
 * extreme decays; the vector exp against Math.exp; the switch; the committed binary.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as F from '../../src/core/index.js';
import { Random, Tensor } from '../../src/core/index.js';
import type { DType } from '../../src/core/index.js';
import { setGemmBackend } from '../../src/core/kernels/gemm.js';
import type { GemmBackendMode } from '../../src/core/kernels/gemm.js';
import { SSM_WASM_COMPILER_VERSION, SSM_WASM_SHA256, SSM_WASM_SOURCE_SHA256 } from '../../src/core/kernels/wasm/ssm-binary.js';
import { expWasm, SCAN_CHUNK, ssmWasmBytes, ssmWasmReady } from '../../src/core/kernels/wasm/ssm-wasm.js';
import { simdSupported } from '../../src/core/kernels/wasm/runtime.js';
import { selectiveScan, selectiveScanState, selectiveScanStep } from '../../src/scans/selective-scan.js';
import { ssd, ssdStep } from '../../src/scans/ssd.js';
import { relativeError } from '../helpers/ops.js';
import { describeWasmArtefact } from '../helpers/wasm-artefact.js';
import type { SsdShape } from '../../src/core/kernels/wasm/ssm-wasm.js';
import { SSD_NAMES, ssdInputs } from '../helpers/ssd.js';

type Op = (...inputs: Tensor[]) => Tensor;

/**
 * max|wasm − js| / max|js| per tensor. float32: the WASM kernels carry states and sums in
 * float32 lanes where the JS kernels use float64 scalars (measured worst 6·10⁻⁷ over these
 * cases); float64: the two differ by the rounding of exp and of sums (worst 7·10⁻¹⁵, and
 * 7·10⁻¹³ for ∂A under strong decay, where the sums behind it cancel — as in ssd.test.ts).
 */
const TOLERANCE: Record<DType, number> = { float32: 1e-5, float64: 1e-12 };

/** y and the gradient of Σ w ⊙ y for every input (w fixed), with the kernels of `mode`. */
function run(mode: GemmBackendMode, fn: Op, inputs: Tensor[]): { y: Float64Array; grads: Float64Array[] } {
  const old = setGemmBackend(mode);
  try {
    const leaves = inputs.map((t) => new Tensor(t.data.slice(), t.shape).requireGrad());
    const y = fn(...leaves);
    F.backward(y, new Random(99).tensor(y.shape, y.dtype).data);
    return { y: Float64Array.from(y.data), grads: leaves.map((t) => Float64Array.from(t.grad!)) };
  } finally {
    setGemmBackend(old);
  }
}

/** Compares the WASM path ('wasm') with the JS path ('js') on outputs and every gradient. */
function expectPathsAgree(fn: Op, inputs: Tensor[], names: readonly string[], label: string, tolerance = TOLERANCE): void {
  const dtype = inputs[0].dtype;
  const js = run('js', fn, inputs);
  const wasm = run('wasm', fn, inputs);
  const failures: string[] = [];
  const check = (name: string, got: Float64Array, want: Float64Array) => {
    const err = relativeError(got, want);
    if (!(err <= tolerance[dtype])) failures.push(`${label} ${dtype} ${name}: relative error ${err}`);
  };
  check('y', wasm.y, js.y);
  names.forEach((name, i) => check(`d${name}`, wasm.grads[i], js.grads[i]));
  expect(failures).toEqual([]);
}

const SCAN_NAMES = ['u', 'delta', 'A', 'Bm', 'Cm', 'Dskip'] as const;

/** Selective-scan inputs in Mamba's ranges: Δ > 0 (softplus), A < 0; `deltaMax` scales Δ. */
function scanInputs(rng: Random, B: number, L: number, D: number, N: number, dtype: DType, deltaMax = 2): Tensor[] {
  return [
    rng.tensor([B, L, D], 'float64'),
    rng.uniform([B, L, D], 0.001, deltaMax, 'float64'),
    F.neg(F.exp(rng.tensor([D, N], 'float64', 0.7))),
    rng.tensor([B, L, N], 'float64'),
    rng.tensor([B, L, N], 'float64'),
    rng.tensor([D], 'float64'),
  ].map((t) => F.noGrad(() => F.cast(t, dtype)));
}

const scanOp: Op = (u, delta, A, Bm, Cm, D) => selectiveScan(u, delta, A, Bm, Cm, D);

/** An SSD shape and its chunk length. */
type SsdSizes = SsdShape & { Q: number };

const ssdOp = (Q: number): Op => (x, dt, A, Bm, Cm, D) => ssd(x, dt, A, Bm, Cm, D, Q);

const DTYPES: DType[] = ['float32', 'float64'];

describe.skipIf(!simdSupported())('WASM selective scan vs the JS kernels', () => {
  // [B, L, D, N]: odd channels (partial SIMD blocks), odd state sizes, L across SCAN_CHUNK
  const SHAPES: [number, number, number, number][] = [
    [1, 1, 1, 1],
    [2, 7, 5, 3],
    [1, 33, 8, 16],
    [3, 100, 7, 5],
    [1, 2 * SCAN_CHUNK + 1, 9, 4],
    [2, SCAN_CHUNK, 6, 1],
  ];
  for (const dtype of DTYPES) {
    it(`${dtype}: y and all six gradients, B·L·D·N ∈ {${SHAPES.map((s) => s.join('·')).join(', ')}}`, () => {
      let seed = 1;
      for (const [B, L, D, N] of SHAPES) expectPathsAgree(scanOp, scanInputs(new Random(seed++), B, L, D, N, dtype), SCAN_NAMES, `B=${B} L=${L} D=${D} N=${N}`);
    });
  }

  it('float32 over 4000 steps with Δ up to 60: finite, and equal to the JS kernel (decays underflow to 0)', () => {
    const inputs = scanInputs(new Random(4), 1, 4000, 5, 3, 'float32', 60);
    const wasm = run('wasm', scanOp, inputs);
    expect(wasm.y.every(Number.isFinite)).toBe(true);
    wasm.grads.forEach((g, i) => expect(g.every(Number.isFinite), SCAN_NAMES[i]).toBe(true));
    expectPathsAgree(scanOp, inputs, SCAN_NAMES, 'long');
  });

  it('a NaN in u poisons only its own channel from that step on (float32 lanes)', () => {
    const [B, L, D, N] = [1, 70, 6, 3];
    const inputs = scanInputs(new Random(2), B, L, D, N, 'float32');
    inputs[0].data[66 * D + 4] = NaN; // t = 66 (second chunk), d = 4 (second SIMD block)
    const y = run('wasm', scanOp, inputs).y;
    for (let t = 0; t < L; t++) {
      for (let d = 0; d < D; d++) expect(Number.isNaN(y[t * D + d]), `t=${t} d=${d}`).toBe(d === 4 && t >= 66);
    }
  });
});

describe.skipIf(!simdSupported())('WASM SSD vs the JS kernels', () => {
  // odd L, heads per group 1–3, odd P and N, last chunk shorter than Q, one chunk, Q = 1
  const SHAPES: SsdSizes[] = [
    { B: 1, L: 1, Hd: 1, P: 1, G: 1, N: 1, Q: 4 },
    { B: 2, L: 7, Hd: 4, P: 3, G: 2, N: 5, Q: 256 },
    { B: 1, L: 33, Hd: 3, P: 5, G: 1, N: 7, Q: 8 },
    { B: 2, L: 100, Hd: 4, P: 8, G: 2, N: 16, Q: 32 },
    { B: 1, L: 13, Hd: 2, P: 9, G: 2, N: 3, Q: 1 },
    { B: 1, L: 70, Hd: 2, P: 16, G: 1, N: 16, Q: 64 },
  ];
  for (const dtype of DTYPES) {
    it(`${dtype}: y and all six gradients over ${SHAPES.length} shapes`, () => {
      let seed = 10;
      for (const s of SHAPES) expectPathsAgree(ssdOp(s.Q), ssdInputs(new Random(seed++), s, dtype), SSD_NAMES, JSON.stringify(s));
    });
  }

  it('strong decay (A·Σdt ≈ −6000 over the sequence): finite and equal to the JS kernel, both dtypes', () => {
    const sizes = { B: 1, L: 300, Hd: 2, P: 4, G: 1, N: 3, Q: 64 };
    for (const dtype of DTYPES) {
      const inputs = ssdInputs(new Random(5), sizes, dtype, 20);
      const wasm = run('wasm', ssdOp(64), inputs);
      expect(wasm.y.every(Number.isFinite)).toBe(true);
      wasm.grads.forEach((g, i) => expect(g.every(Number.isFinite), SSD_NAMES[i]).toBe(true));
      expectPathsAgree(ssdOp(64), inputs, SSD_NAMES, 'strong decay', { ...TOLERANCE, float64: 1e-11 });
    }
  });

  it('causal for non-finite inputs in float32: a NaN at step s reaches outputs t ≥ s only', () => {
    const sizes = { B: 1, L: 21, Hd: 2, P: 5, G: 1, N: 4, Q: 8 };
    const inputs = ssdInputs(new Random(6), sizes, 'float32');
    const s = 11;
    inputs[0].data[s * 2 * 5] = NaN; // x[0, s, 0, 0]
    inputs[3].data[s * 4 + 1] = Infinity; // Bm[0, s, 0, 1]
    const clean = run('js', ssdOp(8), ssdInputs(new Random(6), sizes, 'float32')).y;
    const y = run('wasm', ssdOp(8), inputs).y;
    const row = 2 * 5;
    expect(relativeError(y.subarray(0, s * row), clean.subarray(0, s * row))).toBeLessThan(TOLERANCE.float32);
    expect(Number.isNaN(y[s * row])).toBe(true);
    expect(Number.isNaN(y[(sizes.L - 1) * row])).toBe(true);
  });
});

/** Time step t of a [B, L, ...] tensor as [B, ...]. */
function at(t: Tensor, s: number): Tensor {
  return F.reshape(F.slice(t, 1, s, s + 1), [t.shape[0], ...t.shape.slice(2)]);
}

describe.skipIf(!simdSupported())('WASM one-token steps vs the JS kernels', () => {
  for (const dtype of DTYPES) {
    it(`selectiveScanStep ${dtype}: outputs and float64 states over L steps, odd D and N`, () => {
      for (const [B, L, D, N] of [
        [2, 9, 5, 3],
        [1, 4, 7, 16],
        [1, 3, 1, 1],
      ]) {
        const [u, delta, A, Bm, Cm, Ds] = scanInputs(new Random(B * 10 + N), B, L, D, N, dtype);
        const states = { js: selectiveScanState(B, D, N), wasm: selectiveScanState(B, D, N) };
        for (let t = 0; t < L; t++) {
          const y: Record<string, Tensor> = {};
          for (const mode of ['js', 'wasm'] as const) {
            const old = setGemmBackend(mode);
            y[mode] = selectiveScanStep(at(u, t), at(delta, t), A, at(Bm, t), at(Cm, t), Ds, states[mode]);
            setGemmBackend(old);
          }
          expect(relativeError(y.wasm.data, y.js.data), `y, t = ${t}, D=${D} N=${N}`).toBeLessThan(dtype === 'float32' ? 1e-6 : 1e-13);
          expect(relativeError(states.wasm, states.js), `state, t = ${t}, D=${D} N=${N}`).toBeLessThan(1e-13);
        }
      }
    });

    it(`ssdStep ${dtype}: outputs and states over L steps, odd P and N, groups`, () => {
      for (const sizes of [
        { B: 2, L: 6, Hd: 4, P: 3, G: 2, N: 5, Q: 4 },
        { B: 1, L: 4, Hd: 3, P: 8, G: 1, N: 16, Q: 4 },
      ]) {
        const { B, L, Hd, P, N } = sizes;
        const [x, dt, A, Bm, Cm, Ds] = ssdInputs(new Random(L * 7 + N), sizes, dtype);
        const states = { js: Tensor.zeros([B, Hd, P, N], dtype), wasm: Tensor.zeros([B, Hd, P, N], dtype) };
        for (let t = 0; t < L; t++) {
          const y: Record<string, Tensor> = {};
          for (const mode of ['js', 'wasm'] as const) {
            const old = setGemmBackend(mode);
            y[mode] = F.noGrad(() => ssdStep(at(x, t), at(dt, t), A, at(Bm, t), at(Cm, t), Ds, states[mode]));
            setGemmBackend(old);
          }
          expect(relativeError(y.wasm.data, y.js.data), `y, t = ${t}`).toBeLessThan(TOLERANCE[dtype]);
          expect(relativeError(states.wasm.data, states.js.data), `state, t = ${t}`).toBeLessThan(TOLERANCE[dtype]);
        }
      }
    });
  }
});

describe.skipIf(!simdSupported())('the kernels\' vector exp', () => {
  for (const dtype of DTYPES) {
    it(`${dtype}: within ${dtype === 'float32' ? '2' : '4'} ulp of Math.exp over [−700, 700], 0 below the normal range, ∞ above, NaN kept`, () => {
      const xs: number[] = [];
      for (let i = 0; i <= 40000; i++) xs.push(-100 + i * 0.005); // dense where the scans live
      for (let i = 0; i <= 2000; i++) xs.push(-700 + i * 0.7);
      const extremes = [0, -0, 1e-30, -1e-30, -87.5, -1000, -Infinity, 89.5, 710, Infinity, NaN, -745];
      xs.push(...extremes);
      while (xs.length % 4 !== 0) xs.push(0);
      const arr = dtype === 'float64' ? Float64Array.from(xs) : Float32Array.from(xs);
      const got = expWasm(arr)!;
      const [lo, hi] = dtype === 'float64' ? [-708, 709] : [-87, 88];
      const eps = dtype === 'float64' ? 2 ** -52 : 2 ** -23;
      let worst = 0;
      for (let i = 0; i < arr.length; i++) {
        const x = arr[i];
        if (Number.isNaN(x)) expect(Number.isNaN(got[i])).toBe(true);
        else if (x < lo) expect(got[i], `exp(${x})`).toBe(0);
        else if (x > hi) expect(got[i], `exp(${x})`).toBe(Infinity);
        else {
          const want = dtype === 'float64' ? Math.exp(x) : Math.fround(Math.exp(x));
          worst = Math.max(worst, Math.abs(got[i] - want) / want / eps);
        }
      }
      expect(worst).toBeLessThanOrEqual(dtype === 'float32' ? 2 : 4);
    });
  }
});

describe('kernel switch', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.resetModules();
  });

  it.skipIf(!simdSupported())('the WASM kernels are the default', () => {
    expect(ssmWasmReady()).toBe(true);
    const inputs = scanInputs(new Random(3), 1, 9, 5, 3, 'float32');
    const auto = run('auto', scanOp, inputs);
    const wasm = run('wasm', scanOp, inputs);
    const js = run('js', scanOp, inputs);
    expect(auto.y).toEqual(wasm.y);
    expect(auto.y).not.toEqual(js.y); // float32 lanes round differently from the float64 JS states
  });

  it('IATTN_KERNELS=js selects the JS kernels of both scans', async () => {
    vi.stubEnv('IATTN_KERNELS', 'js');
    vi.resetModules();
    const fresh = {
      scan: (await import('../../src/scans/selective-scan.js')).selectiveScan,
      ssd: (await import('../../src/scans/ssd.js')).ssd,
      gemm: await import('../../src/core/kernels/gemm.js'),
    };
    expect(fresh.gemm.gemmBackend()).toBe('js');
    const scanIn = scanInputs(new Random(7), 1, 9, 5, 3, 'float32');
    const ssdIn = ssdInputs(new Random(8), { B: 1, L: 9, Hd: 2, P: 4, G: 1, N: 3 }, 'float32');
    const viaEnv = {
      scan: F.noGrad(() => fresh.scan(scanIn[0], scanIn[1], scanIn[2], scanIn[3], scanIn[4], scanIn[5])).data,
      ssd: F.noGrad(() => fresh.ssd(ssdIn[0], ssdIn[1], ssdIn[2], ssdIn[3], ssdIn[4], ssdIn[5], 4)).data,
    };
    expect(Float64Array.from(viaEnv.scan)).toEqual(run('js', scanOp, scanIn).y);
    expect(Float64Array.from(viaEnv.ssd)).toEqual(run('js', ssdOp(4), ssdIn).y);
  });

  it('without WebAssembly SIMD the JS kernels run', async () => {
    const real = (globalThis as { WebAssembly?: object }).WebAssembly as Record<string, unknown>;
    vi.stubGlobal('WebAssembly', { Module: real.Module, Instance: real.Instance, validate: () => false });
    vi.resetModules();
    try {
      const wasmMod = await import('../../src/core/kernels/wasm/ssm-wasm.js');
      const scan = (await import('../../src/scans/selective-scan.js')).selectiveScan;
      const inputs = scanInputs(new Random(9), 1, 9, 5, 3, 'float32');
      const y = F.noGrad(() => scan(inputs[0], inputs[1], inputs[2], inputs[3], inputs[4], inputs[5])).data;
      expect(wasmMod.ssmWasmReady()).toBe(false);
      expect(wasmMod.ssmWasmUnavailableReason()).toBe('no WebAssembly SIMD');
      expect(Float64Array.from(y)).toEqual(run('js', scanOp, inputs).y);
    } finally {
      vi.unstubAllGlobals();
    }
  });
});

describeWasmArtefact('committed WASM artefact (ssm)', {
  name: 'ssm',
  sources: 'assembly/ssm.ts',
  compilerVersion: SSM_WASM_COMPILER_VERSION,
  sourceSha256: SSM_WASM_SOURCE_SHA256,
  sha256: SSM_WASM_SHA256,
  bytes: ssmWasmBytes,
});
