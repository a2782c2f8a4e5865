/**
 * The WebAssembly SIMD block builders (assembly/implicit.ts via src/core/kernels/wasm/
 * implicit-wasm.ts) against the JS references (the families' coreMatrix, compose.ts's
 * channelMatrix / channelBias, extract.ts's reductions): every family's core on random
 * decompositions at odd lengths, every variant, every reduction, full matrices and rows, the
 * exact bias, odd band heights and forced chunking, extremes, NaN, the fallbacks, and the
 * committed binary against its source.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import * as F from '../../src/core/index.js';
import type { DType, Tensor } from '../../src/core/index.js';
import { setGemmBackend } from '../../src/core/kernels/gemm.js';
import { IMPLICIT_WASM_COMPILER_VERSION, IMPLICIT_WASM_SHA256, IMPLICIT_WASM_SOURCE_SHA256 } from '../../src/core/kernels/wasm/implicit-binary.js';
import { implicitWasmBytes, setBandRows, setChunkBudget, setFusedParallelMinWork } from '../../src/core/kernels/wasm/implicit-wasm.js';
import { setParallelExecutor } from '../../src/core/parallel.js';
import { NodeExecutor } from '../../src/io/parallel-node.js';
import { simdSupported } from '../../src/core/kernels/wasm/runtime.js';
import { fusedMatrices, kernelCoreOf, wasmBuilders } from '../../src/implicit/compose.js';
import type { RecurrentDecomposition, Variant } from '../../src/implicit/decomposition.js';
import { VARIANTS } from '../../src/implicit/decomposition.js';
import type { ExtractOptions, Extraction, Reduce } from '../../src/implicit/extract.js';
import { extract, REDUCTIONS } from '../../src/implicit/extract.js';
import { gatedLinearAttentionDecomposition } from '../../src/implicit/families/gla.js';
import { hgrnDecomposition } from '../../src/implicit/families/hgrn.js';
import { mambaDecomposition } from '../../src/implicit/families/mamba.js';
import { mamba2Decomposition } from '../../src/implicit/families/mamba2.js';
import { rglruDecomposition } from '../../src/implicit/families/rglru.js';
import { rwkvDecomposition } from '../../src/implicit/families/rwkv.js';
import type { RecurrentBlock } from '../../src/models/recurrent-gemma.js';
import { describeWasmArtefact } from '../helpers/wasm-artefact.js';

const BATCH = 2;
const LENGTHS = [1, 7, 33, 100];
/** Relative to the largest |entry| of the reference. */
const RTOL = 1e-12;

/** Random decompositions of every family (float64 unless asked), built from frozen internals. */
function families(L: number, seed: number, dtype: DType = 'float64'): Record<string, RecurrentDecomposition> {
  const rng = new F.Random(seed);
  const t = (shape: number[], std = 1) => rng.tensor(shape, dtype, std);
  const u = (shape: number[], lo: number, hi: number) => rng.uniform(shape, lo, hi, dtype);
  const id = (p: Tensor) => p;
  const [D, N, K] = [5, 3, 4];
  const mamba = mambaDecomposition('mamba', {
    x: t([BATCH, L, D]), z: t([BATCH, L, D]), convPre: t([BATCH, L, D]), u: t([BATCH, L, D]),
    delta: u([BATCH, L, D], 0.01, 1.5), B: t([BATCH, L, N]), C: t([BATCH, L, N]), A: u([D, N], -4, -0.1),
    Dskip: t([D]), convWeight: t([D, K]), convBias: t([D]),
  } as never, id);
  // Mamba2: 4 heads of P = 2 channels in G = 2 groups, N = 5.
  const [H, P, G, N2] = [4, 2, 2, 5];
  const mamba2 = mamba2Decomposition({
    x: t([BATCH, L, H * P]), z: t([BATCH, L, H * P]), convPre: t([BATCH, L, H * P]), u: t([BATCH, L, H * P]),
    B: t([BATCH, L, G, N2]), C: t([BATCH, L, G, N2]), dt: u([BATCH, L, H], 0.01, 1), A: u([H], -3, -0.2), Dskip: t([H]),
    y: t([BATCH, L, H * P]), normGain: t([BATCH, L, H * P]), convWeight: t([H * P, 3]), convBias: t([H * P]), headDim: P, nGroups: G,
  } as never, id);
  const C = 6;
  const rwkv = rwkvDecomposition({ k: u([BATCH, L, C], -3, 3), v: t([BATCH, L, C]), r: u([BATCH, L, C], 0, 1), w: u([C], -3, 1.5), u: t([C]), wkv: t([BATCH, L, C]) }, id);
  const [GH, dk, dv] = [2, 3, 2];
  const gla = gatedLinearAttentionDecomposition('gla', {
    q: t([BATCH, L, GH, dk]), k: t([BATCH, L, GH, dk]), logDecay: u([BATCH, L, GH, dk], -2, 0), values: t([BATCH, L, GH * dv]),
    o: t([BATCH, L, GH * dv]), normGain: t([BATCH, L, GH * dv]), preOut: t([BATCH, L, GH * dv]), headVDim: dv,
  }, id);
  const E = 5;
  const hgrn = hgrnDecomposition({
    values: t([BATCH, L, E]), activation: u([BATCH, L, E], 0, 1), logDecay: u([BATCH, L, E], -3, 0), inputGate: u([BATCH, L, E], 0, 1),
    h: t([BATCH, L, E]), normGain: t([BATCH, L, E]), preOut: t([BATCH, L, E]),
  }, id);
  const W = 4;
  const rg = {
    x: t([BATCH, L, W]), logA: u([BATCH, L, W], -3, 0), inputGate: u([BATCH, L, W], 0, 1), m: u([BATCH, L, W], 0, 1),
    gate: t([BATCH, L, W]), h: t([BATCH, L, W]), convWeight: t([W, 2]), convBias: t([W]),
  };
  const block = { internals: () => rg, projectOutput: id } as unknown as RecurrentBlock;
  const rglru = rglruDecomposition(block, rg.x);
  return { mamba, mamba2, rwkv, gla, hgrn, rglru };
}

/** extract with the JS references and with the WASM builders. */
function both(d: RecurrentDecomposition, options: ExtractOptions): { js: Extraction; wasm: Extraction } {
  const old = setGemmBackend('js');
  try {
    const js = extract(d, options);
    setGemmBackend('wasm');
    return { js, wasm: extract(d, options) };
  } finally {
    setGemmBackend(old);
  }
}

/** max |got − want| / max |want| (NaN and Inf where they differ: Infinity). */
function relative(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return Infinity;
  let scale = 0;
  let diff = 0;
  for (let i = 0; i < want.length; i++) {
    if (Number.isNaN(want[i]) !== Number.isNaN(got[i])) return Infinity;
    if (Number.isNaN(want[i])) continue;
    scale = Math.max(scale, Math.abs(want[i]));
    diff = Math.max(diff, Math.abs(got[i] - want[i]));
  }
  return diff / (scale || 1);
}

function compare(d: RecurrentDecomposition, options: ExtractOptions, where: string, failures: string[]): void {
  const { js, wasm } = both(d, options);
  if (JSON.stringify(js.shape) !== JSON.stringify(wasm.shape)) failures.push(`${where}: shape ${wasm.shape} vs ${js.shape}`);
  const err = relative(wasm.data, js.data);
  if (!(err <= RTOL)) failures.push(`${where}: relative error ${err}`);
  if ((js.bias === undefined) !== (wasm.bias === undefined)) failures.push(`${where}: bias present in one path only`);
  if (js.bias !== undefined && wasm.bias !== undefined) {
    const e = relative(wasm.bias, js.bias);
    if (!(e <= RTOL)) failures.push(`${where}: bias relative error ${e}`);
  }
}

describe.skipIf(!simdSupported())('WASM implicit-attention builders vs the JS references', () => {
  afterEach(() => {
    setBandRows(null);
    setChunkBudget(32 << 20);
  });

  it('every family records its core as data and builds with WASM by default', () => {
    for (const [name, d] of Object.entries(families(7, 1))) expect(kernelCoreOf(d), name).toBeDefined();
    const old = setGemmBackend('auto');
    expect(wasmBuilders()).toBe(true);
    setGemmBackend('js');
    expect(wasmBuilders()).toBe(false);
    setGemmBackend(old);
  });

  it(`core matrices (d.coreMatrix) at L ∈ {${LENGTHS.join(', ')}}, batch 2, every core`, () => {
    const failures: string[] = [];
    for (const L of LENGTHS) {
      for (const [name, d] of Object.entries(families(L, L))) {
        for (let b = 0; b < BATCH; b++) {
          for (let k = 0; k < d.cores; k++) {
            const want = new Float64Array(L * L);
            const got = new Float64Array(L * L);
            const old = setGemmBackend('js');
            d.coreMatrix(b, k, want);
            setGemmBackend('wasm');
            d.coreMatrix(b, k, got);
            setGemmBackend(old);
            const err = relative(got, want);
            if (!(err <= RTOL)) failures.push(`${name} L=${L} b=${b} core ${k}: ${err}`);
          }
        }
      }
    }
    expect(failures).toEqual([]);
  });

  for (const L of LENGTHS) {
    it(`L = ${L}: every family × variant × reduction, full matrices and rows, float64 and float32 output`, () => {
      const failures: string[] = [];
      for (const [name, d] of Object.entries(families(L, 100 + L))) {
        for (const variant of VARIANTS) {
          for (const reduce of REDUCTIONS) {
            const dtype: DType = reduce === 'mean' ? 'float32' : 'float64';
            compare(d, { variant, reduce, dtype }, `${name} ${variant} ${reduce} full`, failures);
            for (const row of new Set([0, Math.floor(L / 2), L - 1])) compare(d, { variant, reduce, row, dtype }, `${name} ${variant} ${reduce} row ${row}`, failures);
          }
        }
      }
      expect(failures).toEqual([]);
    });
  }

  it('selected channels (unordered, repeated), odd band heights and one chunk per core', () => {
    const failures: string[] = [];
    for (const [rows, budget] of [
      [1, 1],
      [3, 1],
      [5, 32 << 20],
      [64, 1],
    ] as const) {
      setBandRows(rows);
      setChunkBudget(budget);
      for (const [name, d] of Object.entries(families(33, 7))) {
        const count = d.channels;
        const channels = [count - 1, 0, 2, 2, 1].filter((c) => c < count);
        for (const variant of ['exact', 'hidden', 'without-gate'] as Variant[]) {
          const selected = variant === 'hidden' ? channels.map((c) => d.coreIndex(c)) : channels;
          for (const reduce of ['none', 'mean-abs', 'head-mean'] as Reduce[]) {
            compare(d, { variant, reduce, channels: selected, dtype: 'float64' }, `${name} ${variant} ${reduce} bands ${rows} budget ${budget}`, failures);
          }
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it('float32 decompositions (a float32 model) build the same float64 matrices', () => {
    const failures: string[] = [];
    for (const [name, d] of Object.entries(families(33, 3, 'float32'))) {
      for (const variant of ['paper', 'exact'] as Variant[]) compare(d, { variant, reduce: 'none', dtype: 'float64' }, `${name} ${variant}`, failures);
      compare(d, { variant: 'paper', reduce: 'mean-abs' }, `${name} mean-abs float32`, failures);
    }
    expect(failures).toEqual([]);
  });

  it('RWKV at extreme decays and keys: finite rows summing to one, as the reference', () => {
    const [L, C] = [300, 6];
    const rng = new F.Random(5);
    const d = rwkvDecomposition(
      {
        k: rng.uniform([1, L, C], -60, 60, 'float64'),
        v: rng.tensor([1, L, C], 'float64'),
        r: F.Tensor.full([1, L, C], 1, 'float64'),
        w: F.Tensor.from([-9, -3, 0, 1, 2, Math.log(55)], [C], 'float64'),
        u: rng.uniform([C], -5, 5, 'float64'),
        wkv: F.Tensor.zeros([1, L, C], 'float64'),
      },
      (p) => p,
    );
    const { js, wasm } = both(d, { variant: 'hidden', reduce: 'none', dtype: 'float64' });
    expect(wasm.data.every(Number.isFinite)).toBe(true);
    expect(relative(wasm.data, js.data)).toBeLessThan(RTOL);
    for (let c = 0; c < C; c++) {
      for (const t of [0, 1, 150, L - 1]) {
        let sum = 0;
        for (let s = 0; s <= t; s++) sum += wasm.data[(c * L + t) * L + s];
        expect(sum).toBeCloseTo(1, 12);
      }
    }
  });

  it('NaN in a gate, an activation or a core input reaches the same entries as in the reference', () => {
    const failures: string[] = [];
    for (const [name, d] of Object.entries(families(17, 9))) {
      if (d.gate !== null) d.gate[(0 * 17 + 5) * d.channels + 1] = NaN;
      if (d.act !== null) d.act[(1 * 17 + 3) * d.channels + 0] = NaN;
      for (const reduce of ['none', 'mean-abs', 'mean-positive'] as Reduce[]) {
        compare(d, { variant: 'exact', reduce, dtype: 'float64' }, `${name} ${reduce}`, failures);
      }
    }
    expect(failures).toEqual([]);
  });
});

describe.skipIf(!simdSupported())('WASM builders across two threads', () => {
  let executor: NodeExecutor;
  beforeAll(async () => {
    executor = new NodeExecutor(2, { takeBack: false }); // so that the worker really computes its part
    await executor.whenReady();
    setParallelExecutor(executor);
    setFusedParallelMinWork(0);
  }, 60_000);
  afterAll(async () => {
    setFusedParallelMinWork(1 << 22);
    await executor.close();
    setParallelExecutor(null);
  });

  it('split by cores, every reduction and the bias equal the JS references; work really reaches the worker', () => {
    const before = executor.workerRanges;
    const failures: string[] = [];
    for (const [name, d] of Object.entries(families(33, 21))) {
      for (const variant of ['exact', 'hidden'] as Variant[]) {
        for (const reduce of REDUCTIONS) compare(d, { variant, reduce, dtype: reduce === 'mean' ? 'float32' : 'float64' }, `${name} ${variant} ${reduce}`, failures);
      }
      // A chunk budget of one core per chunk: several chunks per part.
      setChunkBudget(1);
      compare(d, { variant: 'paper', reduce: 'mean-abs', dtype: 'float64' }, `${name} chunked`, failures);
      setChunkBudget(32 << 20);
    }
    expect(failures).toEqual([]);
    expect(executor.workerRanges).toBeGreaterThan(before);
  });

  it('into an output that is not shared: every accumulated target through the float64 part sums', () => {
    const d = families(33, 22).mamba2;
    const L = d.length;
    const all = Array.from({ length: d.channels }, (_, c) => c);
    const heads = [0, 1, 2, 3].map((h) => all.filter((c) => d.coreIndex(c) === h));
    const out = new Float64Array(heads.length * L * L);
    const before = executor.workerRanges;
    expect(fusedMatrices(d, 1, 'paper', heads.map((members) => ({ members, mode: 'abs' as const })), out, 0, null)).toBe(true);
    expect(executor.workerRanges).toBeGreaterThan(before);
    // A per-head mean of |H| (a reduction extract does not offer), from the JS per-channel matrices.
    const old = setGemmBackend('js');
    const each = extract(d, { variant: 'paper', reduce: 'none', dtype: 'float64' });
    setGemmBackend(old);
    const ref = new Float64Array(out.length);
    heads.forEach((members, g) => {
      for (const c of members) for (let i = 0; i < L * L; i++) ref[g * L * L + i] += Math.abs(each.data[((1 * d.channels + c) * L * L) + i]) / members.length;
    });
    expect(relative(out, ref)).toBeLessThan(RTOL);
  });
});

describe('fallbacks', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.resetModules();
  });

  it('IATTN_KERNELS=js (the gemm backend switch) builds with the JS references, bit for bit', () => {
    const d = families(20, 4).mamba;
    const old = setGemmBackend('js');
    try {
      expect(wasmBuilders()).toBe(false);
      const a = extract(d, { variant: 'exact', reduce: 'mean-abs', dtype: 'float64' });
      const b = extract(d, { variant: 'exact', reduce: 'mean-abs', dtype: 'float64' });
      expect(Array.from(a.data)).toEqual(Array.from(b.data));
    } finally {
      setGemmBackend(old);
    }
  });

  it('without WebAssembly SIMD the JS references run (and the reason is reported)', async () => {
    const real = (globalThis as { WebAssembly?: object }).WebAssembly as Record<string, unknown>;
    vi.stubGlobal('WebAssembly', { Module: real.Module, Instance: real.Instance, validate: () => false });
    vi.resetModules();
    const wasmMod = await import('../../src/core/kernels/wasm/implicit-wasm.js');
    const compose = await import('../../src/implicit/compose.js');
    const fresh = await import('../../src/implicit/extract.js');
    const rwkvFresh = await import('../../src/implicit/families/rwkv.js');
    expect(wasmMod.implicitWasmReady()).toBe(false);
    expect(wasmMod.implicitWasmUnavailableReason()).toBe('no WebAssembly SIMD');
    expect(compose.wasmBuilders()).toBe(false);
    const rng = new F.Random(2);
    const [L, C] = [9, 3];
    const d = rwkvFresh.rwkvDecomposition(
      { k: rng.tensor([1, L, C], 'float64'), v: rng.tensor([1, L, C], 'float64'), r: rng.uniform([1, L, C], 0, 1, 'float64'), w: rng.tensor([C], 'float64'), u: rng.tensor([C], 'float64'), wkv: F.Tensor.zeros([1, L, C], 'float64') },
      (p) => p,
    );
    const got = fresh.extract(d, { variant: 'paper', reduce: 'none', dtype: 'float64' });
    const core = new Float64Array(L * L);
    d.coreMatrix(0, 1, core);
    for (let t = 0; t < L; t++) for (let s = 0; s < L; s++) expect(got.data[(1 * L + t) * L + s]).toBe(core[t * L + s] * d.gate![t * C + 1]);
  });
});

describeWasmArtefact('committed implicit WASM artefact', {
  name: 'implicit',
  sources: 'assembly/implicit.ts',
  compilerVersion: IMPLICIT_WASM_COMPILER_VERSION,
  sourceSha256: IMPLICIT_WASM_SOURCE_SHA256,
  sha256: IMPLICIT_WASM_SHA256,
  bytes: implicitWasmBytes,
});
