import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as F from '../../src/core/index.js';
import { gradcheck, Tensor } from '../../src/core/index.js';
import { extract } from '../../src/implicit/extract.js';
import type { Trace } from '../../src/models/model.js';
import { loadVisionModel, saveVisionModel } from '../../src/io/vision-checkpoint.js';
import { classify } from '../../src/vision/model.js';
import type { VisionModel } from '../../src/vision/model.js';
import type { VisionMamba } from '../../src/vision/vim.js';
import { writeCheckpoint } from '../../src/io/checkpoint.js';
import { relativeError } from '../helpers/ops.js';
import { expectRowsMatchMatrices, randomImages, reconstructionError, TINY_VIM, tinyModel, upperMass } from './helpers.js';
import { hustvlStateDict } from './hustvl.js';

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
const silu = (v: number) => v * sigmoid(v);
const softplus = (v: number) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));

/**
 * Vim written out step by step from the raw tensors (hustvl's `Mamba.step` per time step, for
 * both branches; the backward branch walks t = L−1 … 0), independent of the model code.
 */
function plainVim(model: VisionModel, images: Tensor): Float64Array {
  const p = (name: string) => {
    const t = model.parameters.get(name);
    if (t === undefined) throw new Error(`no ${name}`);
    return t.data;
  };
  const cfg = (model as VisionMamba).config;
  const { hiddenSize: E, intermediateSize: D, stateSize: N, timeStepRank: R, convKernel: K, patchSize: P, imageSize: S } = cfg;
  const G = S / P;
  const M = G * G;
  const L = M + 1;
  const cls = Math.floor(M / 2);
  const B = images.shape[0];
  const Kc = cfg.labels.length;
  const out = new Float64Array(B * Kc);
  const rms = (x: number[], w: Float32Array | Float64Array) => {
    const r = 1 / Math.sqrt(x.reduce((a, v) => a + v * v, 0) / x.length + cfg.normEpsilon);
    return x.map((v, i) => v * r * w[i]);
  };
  const matvec = (W: Float32Array | Float64Array, x: number[], rows: number, bias?: Float32Array | Float64Array) =>
    Array.from({ length: rows }, (_, o) => x.reduce((a, v, i) => a + W[o * x.length + i] * v, bias ? bias[o] : 0));
  for (let b = 0; b < B; b++) {
    // Patch embedding: Conv2d(3, E, P, stride P).
    const patches: number[][] = [];
    for (let m = 0; m < M; m++) {
      const [gi, gj] = [Math.floor(m / G), m % G];
      const e = Array.from({ length: E }, (_, o) => {
        let acc = p('patch_embed.proj.bias')[o];
        for (let c = 0; c < 3; c++) for (let di = 0; di < P; di++) for (let dj = 0; dj < P; dj++) acc += p('patch_embed.proj.weight')[((o * 3 + c) * P + di) * P + dj] * images.data[((b * 3 + c) * S + gi * P + di) * S + gj * P + dj];
        return acc;
      });
      patches.push(e);
    }
    const tokens = [...patches.slice(0, cls), Array.from(p('cls_token')), ...patches.slice(cls)];
    let h = tokens.map((tok, t) => tok.map((v, e) => v + p('pos_embed')[t * E + e]));
    for (let l = 0; l < cfg.numLayers; l++) {
      const pre = `layers.${l}.mixer`;
      const x = h.map((row) => rms(row, p(`layers.${l}.norm.weight`)));
      const xz = x.map((row) => matvec(p(`${pre}.in_proj.weight`), row, 2 * D));
      const branch = (sfx: string, aName: string, dName: string, order: number[]): number[][] => {
        const y: number[][] = Array.from({ length: L }, () => new Array<number>(D).fill(0));
        const state = Array.from({ length: D }, () => new Array<number>(N).fill(0));
        const window: number[][] = [];
        for (const t of order) {
          window.push(xz[t].slice(0, D));
          if (window.length > K) window.shift();
          const u = Array.from({ length: D }, (_, d) => {
            let acc = p(`${pre}.conv1d${sfx}.bias`)[d];
            window.forEach((xs, j) => (acc += p(`${pre}.conv1d${sfx}.weight`)[d * K + K - window.length + j] * xs[d]));
            return silu(acc);
          });
          const dbc = matvec(p(`${pre}.x_proj${sfx}.weight`), u, R + 2 * N);
          const delta = matvec(p(`${pre}.dt_proj${sfx}.weight`), dbc.slice(0, R), D, p(`${pre}.dt_proj${sfx}.bias`)).map(softplus);
          for (let d = 0; d < D; d++) {
            let acc = 0;
            for (let n = 0; n < N; n++) {
              const A = -Math.exp(p(`${pre}.${aName}`)[d * N + n]);
              state[d][n] = Math.exp(delta[d] * A) * state[d][n] + delta[d] * dbc[R + n] * u[d];
              acc += dbc[R + N + n] * state[d][n];
            }
            y[t][d] = (acc + p(`${pre}.${dName}`)[d] * u[d]) * silu(xz[t][D + d]);
          }
        }
        return y;
      };
      const forward = Array.from({ length: L }, (_, t) => t);
      const yf = branch('', 'A_log', 'D', forward);
      const yb = branch('_b', 'A_b_log', 'D_b', [...forward].reverse());
      h = h.map((row, t) => {
        const preOut = yf[t].map((v, d) => (v + yb[t][d]) / 2);
        const y = matvec(p(`${pre}.out_proj.weight`), preOut, E);
        return row.map((v, e) => v + y[e]);
      });
    }
    const feat = rms(h[cls], p('norm_f.weight'));
    matvec(p('head.weight'), feat, Kc, p('head.bias')).forEach((v, k) => (out[b * Kc + k] = v));
  }
  return out;
}

describe('Vision Mamba', () => {
  const model = tinyModel(TINY_VIM);
  const images = randomImages(model, 2);

  it('declares the hustvl/Vim tensor names', () => {
    const names = [...model.parameters.keys()];
    for (const n of ['patch_embed.proj.weight', 'patch_embed.proj.bias', 'cls_token', 'pos_embed', 'norm_f.weight', 'head.weight', 'head.bias']) expect(names).toContain(n);
    const mixer = names.filter((n) => n.startsWith('layers.0.mixer.')).map((n) => n.slice('layers.0.mixer.'.length)).sort();
    expect(mixer).toEqual(
      [
        'A_b_log', 'A_log', 'D', 'D_b', 'conv1d.bias', 'conv1d.weight', 'conv1d_b.bias', 'conv1d_b.weight', 'dt_proj.bias', 'dt_proj.weight',
        'dt_proj_b.bias', 'dt_proj_b.weight', 'in_proj.weight', 'out_proj.weight', 'x_proj.weight', 'x_proj_b.weight',
      ].sort(),
    );
    expect(model.parameters.get('pos_embed')!.shape).toEqual([1, 17, 8]);
    expect(model.parameters.get('layers.1.norm.weight')!.shape).toEqual([8]);
  });

  it('puts the class token in the middle (position ⌊M/2⌋) and reads it out', () => {
    expect(model.readout).toEqual({ kind: 'token', position: 8 });
    expect(Array.from(model.patchTokens.slice(6, 10))).toEqual([6, 7, 9, 10]);
  });

  it('forward equals a plain step-by-step recurrence of both branches (float64, rtol 1e-10)', () => {
    const logits = classify(model, images);
    expect(logits.shape).toEqual([2, 3]);
    expect(relativeError(logits.data, plainVim(model, images))).toBeLessThan(1e-10);
  });

  it('H·v + bias reconstructs every layer pre-output (float64 ≤ 1e-10); projectOutput(pre_out) is the traced mixer output', () => {
    const trace: Trace = new Map();
    F.noGrad(() => classify(model, images, trace));
    for (let l = 0; l < 2; l++) {
      const d = model.decompose(l, trace.get(`mixer_in.${l}.vim`)!);
      expect(d.kind).toBe('non-causal');
      expect(reconstructionError(d), `layer ${l}`).toBeLessThan(1e-10);
      expect(relativeError(d.projectOutput(d.preOut).data, trace.get(`mixer_out.${l}.vim`)!.data), `layer ${l} out`).toBeLessThan(1e-12);
      expect(upperMass(d), 'the backward branch fills the upper triangle').toBeGreaterThan(0.2);
    }
  });

  it('H = ½(H_fwd + J·H_bwd·J): the lower triangle is the forward scan only', () => {
    const trace: Trace = new Map();
    F.noGrad(() => classify(model, images, trace));
    const d = model.decompose(0, trace.get('mixer_in.0.vim')!);
    const L = d.length;
    const hidden = extract(d, { variant: 'hidden', reduce: 'none', channels: [3], dtype: 'float64' }).data;
    // Strictly below the diagonal only the forward S6 contributes (the backward one is upper-triangular after J·J).
    const mixer = (model as VisionMamba).mixers[0];
    const m = F.noGrad(() => mixer.internals(trace.get('mixer_in.0.vim')!));
    const [t, s] = [10, 4];
    const N = m.forward.A.shape[1];
    const D = m.forward.A.shape[0];
    const at = (x: Tensor, i: number, j: number, w: number) => x.data[(0 * L + i) * w + j];
    let logDecay = 0;
    for (let k = s + 1; k <= t; k++) logDecay += at(m.forward.delta, k, 3, D);
    let expected = 0;
    for (let n = 0; n < N; n++) expected += at(m.forward.C, t, n, N) * Math.exp(m.forward.A.data[3 * N + n] * logDecay) * at(m.forward.delta, s, 3, D) * at(m.forward.B, s, n, N);
    expect(hidden[t * L + s]).toBeCloseTo(0.5 * expected, 12);
  });

  it('row mode equals the full matrix rows for every variant (the CLS row included)', () => {
    const trace: Trace = new Map();
    F.noGrad(() => classify(model, images, trace));
    const d = model.decompose(1, trace.get('mixer_in.1.vim')!);
    expectRowsMatchMatrices(d, [0, 8, 16]);
  });

  it('gradients of the logits by finite differences (float64): patch embeddings and every parameter kind', () => {
    const one = randomImages(model, 1, 5);
    const embeds = F.noGrad(() => model.embedPatches(one));
    const names = ['cls_token', 'pos_embed', 'layers.0.mixer.in_proj.weight', 'layers.0.mixer.conv1d_b.weight', 'layers.0.mixer.x_proj_b.weight', 'layers.0.mixer.dt_proj_b.bias', 'layers.0.mixer.A_b_log', 'layers.0.mixer.D_b', 'layers.1.mixer.A_log', 'layers.1.mixer.out_proj.weight', 'norm_f.weight'];
    const params = names.map((n) => model.parameters.get(n)!);
    const result = gradcheck((e) => model.forward(e), [embeds], { maxElements: 24, names: ['patch_embeds'] });
    expect(result.worst, JSON.stringify(result.inputs)).toBeLessThanOrEqual(1);
    const withParams = gradcheck(() => model.forward(embeds), params, { maxElements: 6, names, rtol: 1e-5, atol: 1e-8 });
    expect(withParams.worst, JSON.stringify(withParams.inputs)).toBeLessThanOrEqual(1);
    for (const p of params) p.requiresGrad = false;
  });

  it('saves and loads a checkpoint with the same logits', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vim-'));
    saveVisionModel(dir, model);
    const loaded = loadVisionModel(dir, 'float64');
    const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ model_type: 'vim', if_divide_out: true, use_middle_cls_token: true, bimamba_type: 'v2', num_labels: 3 });
    const a = F.noGrad(() => classify(model, images));
    const b = F.noGrad(() => classify(loaded, images));
    expect(relativeError(b.data, a.data)).toBeLessThan(1e-6); // weights are stored as float32
  });

  it('loads a converted hustvl state dict with a config.json of just {"model_type": "vim"} (sizes read off the tensors)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vim-raw-'));
    saveVisionModel(dir, model);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'vim' }));
    const loaded = loadVisionModel(dir, 'float64') as VisionMamba;
    expect(loaded.config).toMatchObject({ imageSize: 8, patchSize: 2, hiddenSize: 8, numLayers: 2, stateSize: 4, intermediateSize: 16, timeStepRank: 1, convKernel: 4, rmsNorm: true, labels: ['LABEL_0', 'LABEL_1', 'LABEL_2'] });
    expect(relativeError(F.noGrad(() => classify(loaded, images)).data, F.noGrad(() => classify(model, images)).data)).toBeLessThan(1e-6);
  });
});

describe('a checkpoint with exactly the hustvl/Vim release names', () => {
  const sizes = { E: 16, C: 3, P: 4, S: 16, depth: 2, N: 4, K: 4, classes: 5 };
  it.each([
    { rmsNorm: true, bias: false },
    { rmsNorm: false, bias: true },
  ])('loads with config.json {"model_type": "vim"} only and uses every tensor (%o)', (options) => {
    const state = hustvlStateDict({ ...sizes, ...options });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vim-hustvl-'));
    try {
      writeCheckpoint(dir, { model_type: 'vim' }, Object.fromEntries([...state].map(([name, t]) => [name, { dtype: 'F32' as const, shape: t.shape, data: t.data }])));
      const loaded = loadVisionModel(dir, 'float64') as VisionMamba;
      // Every release tensor is a parameter of the model and nothing else is.
      expect([...loaded.parameters.keys()].sort()).toEqual([...state.keys()].sort());
      for (const [name, t] of state) {
        expect(loaded.parameters.get(name)!.shape, name).toEqual(t.shape);
        expect(Array.from(loaded.parameters.get(name)!.data), name).toEqual(Array.from(t.data));
      }
      expect(loaded.config).toMatchObject({
        imageSize: 16, patchSize: 4, numChannels: 3, hiddenSize: 16, numLayers: 2, stateSize: 4, intermediateSize: 32, expand: 2, timeStepRank: 1, convKernel: 4,
        useConvBias: true, useBias: options.bias, rmsNorm: options.rmsNorm, middleClsToken: true, divideOut: true, labels: ['LABEL_0', 'LABEL_1', 'LABEL_2', 'LABEL_3', 'LABEL_4'],
      });
      expect(loaded.readout).toEqual({ kind: 'token', position: 8 });
      const images = randomImages(loaded, 2);
      const logits = F.noGrad(() => classify(loaded, images)).data;
      expect(logits).toHaveLength(10);
      expect(Array.from(logits).every(Number.isFinite)).toBe(true);
      // The RMSNorm, bias-free layout of the releases against the step-by-step reference.
      if (options.rmsNorm && !options.bias) expect(relativeError(logits, plainVim(loaded, images))).toBeLessThan(1e-10);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
