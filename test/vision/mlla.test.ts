import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as F from '../../src/core/index.js';
import { gradcheck } from '../../src/core/index.js';
import type { Tensor } from '../../src/core/index.js';
import { extract } from '../../src/implicit/extract.js';
import type { Trace } from '../../src/models/model.js';
import { loadVisionModel, saveVisionModel } from '../../src/io/vision-checkpoint.js';
import { classify } from '../../src/vision/model.js';
import type { VisionModel } from '../../src/vision/model.js';
import type { Mlla } from '../../src/vision/mlla.js';
import { relativeError } from '../helpers/ops.js';
import { expectRowsMatchMatrices, randomImages, reconstructionError, TINY_MLLA, tinyModel, upperMass } from './helpers.js';

type Arr = Float32Array | Float64Array;
const silu = (v: number) => v / (1 + Math.exp(-v));
const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

/** MLLA written out token by token from the raw tensors (official `MLLABlock` / `LinearAttention`), independent of the model code. */
function plainMlla(model: VisionModel, images: Tensor): Float64Array {
  const p = (name: string): Arr => {
    const t = model.parameters.get(name);
    if (t === undefined) throw new Error(`no ${name}`);
    return t.data;
  };
  const cfg = (model as Mlla).config;
  const { hiddenSize: E, patchSize: P, imageSize: S, numHeads: Hd, layerNormEps: eps } = cfg;
  const G = S / P;
  const L = G * G;
  const hd = E / Hd;
  const B = images.shape[0];
  const Kc = cfg.labels.length;
  const out = new Float64Array(B * Kc);
  const linear = (W: Arr, b: Arr | null, x: number[], rows: number) => Array.from({ length: rows }, (_, o) => x.reduce((a, v, i) => a + W[o * x.length + i] * v, b ? b[o] : 0));
  const layerNorm = (x: number[], w: Arr, b: Arr) => {
    const mu = x.reduce((a, v) => a + v, 0) / x.length;
    const varx = x.reduce((a, v) => a + (v - mu) ** 2, 0) / x.length;
    return x.map((v, i) => ((v - mu) / Math.sqrt(varx + eps)) * w[i] + b[i]);
  };
  const dwconv = (x: number[][], name: string) =>
    x.map((_, t) => {
      const [i, j] = [Math.floor(t / G), t % G];
      return Array.from({ length: E }, (_, e) => {
        let acc = p(`${name}.bias`)[e];
        for (let u = 0; u < 3; u++) for (let v = 0; v < 3; v++) {
          const [si, sj] = [i + u - 1, j + v - 1];
          if (si >= 0 && sj >= 0 && si < G && sj < G) acc += p(`${name}.weight`)[e * 9 + u * 3 + v] * x[si * G + sj][e];
        }
        return acc;
      });
    });
  const rope = (x: number[], t: number) => {
    const [i, j] = [Math.floor(t / G), t % G];
    const K = E / 4;
    const y = [...x];
    for (let q = 0; q < E / 2; q++) {
      const angle = (q < K ? i : j) * 10000 ** (-(q % K) / K);
      y[2 * q] = x[2 * q] * Math.cos(angle) - x[2 * q + 1] * Math.sin(angle);
      y[2 * q + 1] = x[2 * q] * Math.sin(angle) + x[2 * q + 1] * Math.cos(angle);
    }
    return y;
  };
  const elu1 = (v: number) => (v > 0 ? v + 1 : Math.exp(v));
  for (let b = 0; b < B; b++) {
    let h: number[][] = Array.from({ length: L }, (_, m) => {
      const [gi, gj] = [Math.floor(m / G), m % G];
      return Array.from({ length: E }, (_, o) => {
        let acc = p('patch_embed.proj.bias')[o];
        for (let c = 0; c < 3; c++) for (let di = 0; di < P; di++) for (let dj = 0; dj < P; dj++) acc += p('patch_embed.proj.weight')[((o * 3 + c) * P + di) * P + dj] * images.data[((b * 3 + c) * S + gi * P + di) * S + gj * P + dj];
        return acc;
      });
    });
    for (let l = 0; l < cfg.numLayers; l++) {
      const n = `layers.0.blocks.${l}`;
      const c1 = dwconv(h, `${n}.cpe1`);
      h = h.map((row, t) => row.map((v, e) => v + c1[t][e]));
      const x = h.map((row) => layerNorm(row, p(`${n}.norm1.weight`), p(`${n}.norm1.bias`)));
      const actRes = x.map((row) => linear(p(`${n}.act_proj.weight`), p(`${n}.act_proj.bias`), row, E).map(silu));
      const u = dwconv(x.map((row) => linear(p(`${n}.in_proj.weight`), p(`${n}.in_proj.bias`), row, E)), `${n}.dwc`).map((row) => row.map(silu));
      const qk = u.map((row) => linear(p(`${n}.attn.qk.weight`), p(`${n}.attn.qk.bias`), row, 2 * E));
      const q = qk.map((row) => row.slice(0, E).map(elu1));
      const k = qk.map((row) => row.slice(E).map(elu1));
      const qr = q.map((row, t) => rope(row, t));
      const kr = k.map((row, t) => rope(row, t));
      const lepe = dwconv(u, `${n}.attn.lepe`);
      const attn = Array.from({ length: L }, (_, t) => {
        const o = new Array<number>(E).fill(0);
        for (let head = 0; head < Hd; head++) {
          const range = Array.from({ length: hd }, (_, i) => head * hd + i);
          const kmean = range.map((c) => k.reduce((a, row) => a + row[c], 0) / L);
          const z = 1 / (range.reduce((a, c, i) => a + q[t][c] * kmean[i], 0) + 1e-6);
          for (const c of range) {
            let acc = 0;
            for (let s = 0; s < L; s++) acc += (range.reduce((a, cc) => a + qr[t][cc] * kr[s][cc], 0) / L) * u[s][c];
            o[c] = acc * z;
          }
        }
        return o.map((v, c) => (v + lepe[t][c]) * actRes[t][c]);
      });
      h = h.map((row, t) => {
        const y = linear(p(`${n}.out_proj.weight`), p(`${n}.out_proj.bias`), attn[t], E);
        return row.map((v, e) => v + y[e]);
      });
      const c2 = dwconv(h, `${n}.cpe2`);
      h = h.map((row, t) => row.map((v, e) => v + c2[t][e]));
      h = h.map((row) => {
        const hidden = linear(p(`${n}.mlp.fc1.weight`), p(`${n}.mlp.fc1.bias`), layerNorm(row, p(`${n}.norm2.weight`), p(`${n}.norm2.bias`)), Math.round(E * cfg.mlpRatio)).map(gelu);
        const y = linear(p(`${n}.mlp.fc2.weight`), p(`${n}.mlp.fc2.bias`), hidden, E);
        return row.map((v, e) => v + y[e]);
      });
    }
    const normed = h.map((row) => layerNorm(row, p('norm.weight'), p('norm.bias')));
    const pooled = Array.from({ length: E }, (_, e) => normed.reduce((a, row) => a + row[e], 0) / L);
    linear(p('head.weight'), p('head.bias'), pooled, Kc).forEach((v, c) => (out[b * Kc + c] = v));
  }
  return out;
}

describe('MLLA', () => {
  const model = tinyModel(TINY_MLLA);
  const images = randomImages(model, 2);

  it('declares the official one-stage tensor names', () => {
    const names = [...model.parameters.keys()].filter((n) => n.startsWith('layers.0.blocks.0.')).map((n) => n.slice('layers.0.blocks.0.'.length));
    for (const n of ['cpe1.weight', 'norm1.weight', 'norm1.bias', 'in_proj.weight', 'act_proj.weight', 'dwc.weight', 'attn.qk.weight', 'attn.qk.bias', 'attn.lepe.weight', 'out_proj.weight', 'cpe2.weight', 'norm2.weight', 'mlp.fc1.weight', 'mlp.fc2.bias']) {
      expect(names).toContain(n);
    }
    expect(model.readout).toEqual({ kind: 'mean' });
    expect(model.length).toBe(16);
  });

  it('forward equals a plain token-by-token implementation (float64, rtol 1e-10)', () => {
    expect(relativeError(classify(model, images).data, plainMlla(model, images))).toBeLessThan(1e-10);
  });

  it('H·v + bias reconstructs every layer pre-output (float64 ≤ 1e-10); H is full, not triangular', () => {
    const trace: Trace = new Map();
    F.noGrad(() => classify(model, images, trace));
    for (let l = 0; l < 2; l++) {
      const d = model.decompose(l, trace.get(`mixer_in.${l}.mlla`)!);
      expect(reconstructionError(d), `layer ${l}`).toBeLessThan(1e-10);
      expect(relativeError(d.projectOutput(d.preOut).data, trace.get(`mixer_out.${l}.mlla`)!.data)).toBeLessThan(1e-12);
      expect(upperMass(d)).toBeGreaterThan(0.3);
    }
  });

  it('hidden is the per-head linear attention z_t·(q̃_t·k̃_s)/L, one matrix per head', () => {
    const trace: Trace = new Map();
    F.noGrad(() => classify(model, images, trace));
    const x = trace.get('mixer_in.0.mlla')!;
    const d = model.decompose(0, x);
    const hidden = extract(d, { variant: 'hidden', reduce: 'none', dtype: 'float64' });
    expect(hidden.shape).toEqual([2, 2, 16, 16]);
    expect(d.matrixCount('exact')).toBe(8);
    const m = F.noGrad(() => (model as Mlla).blocks[0].mixer.internals(x));
    const [b, h, t, s, P, L, C] = [1, 1, 5, 12, 4, 16, 8];
    let dot = 0;
    for (let p = 0; p < P; p++) dot += m.qRope.data[(b * L + t) * C + h * P + p] * m.kRope.data[(b * L + s) * C + h * P + p];
    const expected = (m.z.data[(b * 2 + h) * L + t] * dot) / L;
    expect(hidden.data[((b * 2 + h) * L + t) * L + s]).toBeCloseTo(expected, 12);
  });

  it('row mode equals the full matrix rows for every variant', () => {
    const trace: Trace = new Map();
    F.noGrad(() => classify(model, images, trace));
    expectRowsMatchMatrices(model.decompose(1, trace.get('mixer_in.1.mlla')!), [0, 5, 15]);
  });

  it('gradients of the logits by finite differences (float64)', () => {
    const one = randomImages(model, 1, 5);
    const embeds = F.noGrad(() => model.embedPatches(one));
    const result = gradcheck((e) => model.forward(e), [embeds], { maxElements: 24, names: ['patch_embeds'] });
    expect(result.worst, JSON.stringify(result.inputs)).toBeLessThanOrEqual(1);
    const names = ['layers.0.blocks.0.cpe1.weight', 'layers.0.blocks.0.dwc.weight', 'layers.0.blocks.0.attn.qk.weight', 'layers.0.blocks.0.attn.lepe.bias', 'layers.0.blocks.1.act_proj.weight', 'layers.0.blocks.1.mlp.fc1.weight', 'norm.bias'];
    const params = names.map((n) => model.parameters.get(n)!);
    const withParams = gradcheck(() => model.forward(embeds), params, { maxElements: 6, names, rtol: 1e-5, atol: 1e-8 });
    expect(withParams.worst, JSON.stringify(withParams.inputs)).toBeLessThanOrEqual(1);
    for (const p of params) p.requiresGrad = false;
  });

  it('saves and loads a checkpoint with the same logits', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlla-'));
    saveVisionModel(dir, model);
    const loaded = loadVisionModel(dir, 'float64');
    expect(relativeError(F.noGrad(() => classify(loaded, images)).data, F.noGrad(() => classify(model, images)).data)).toBeLessThan(1e-6);
  });
});
