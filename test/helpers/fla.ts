/**
 * Tests shared by the flash-linear-attention families (GLA, RetNet, later HGRN), which have no
 * PyTorch fixtures: checkpoint round trips through safetensors, the older fused MLP layout,
 * missing tensors, gradients reaching every parameter, a short training run; and a plain,
 * token-by-token version of the GLA/RetNet layer written from spec fla-families.md with
 * ordinary arrays, independent of the model code.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import * as F from '../../src/core/index.js';
import { Tensor } from '../../src/core/index.js';
import { writeCheckpoint } from '../../src/io/checkpoint.js';
import type { TensorsToWrite } from '../../src/io/safetensors.js';
import { loadModel } from '../../src/io/load-model.js';
import { initModel, WeightError } from '../../src/models/index.js';
import type { DecoderLM } from '../../src/models/index.js';
import type { GatedAttentionModelConfig } from '../../src/models/gla.js';
import { relativeError } from './ops.js';

/** Token ids [B·L] of a fixed pseudo-random sequence over `vocab`. */
export function randomIds(count: number, vocab: number, seed = 3): Int32Array {
  const rng = new F.Random(seed);
  return Int32Array.from({ length: count }, () => rng.int(vocab));
}

/** The model's parameters as a safetensors tensor map (float64 stays exact), with optional edits. */
export function parameterTensors(model: DecoderLM): TensorsToWrite {
  const tensors: TensorsToWrite = {};
  for (const [name, t] of model.parameters) tensors[name] = { dtype: t.dtype === 'float64' ? 'F64' : 'F32', shape: [...t.shape], data: t.data };
  return tensors;
}

/** Writes a checkpoint folder in a fresh temp dir and returns its path. */
export function writeTempCheckpoint(config: Record<string, unknown>, tensors: TensorsToWrite): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iattn-fla-'));
  writeCheckpoint(dir, config, tensors);
  return dir;
}

/** Rewrites each layer's MLP into the older layout: one gate_proj [2I, D] = [gate; up], no up_proj. */
export function fuseGateAndUp(tensors: TensorsToWrite, numLayers: number): TensorsToWrite {
  const out = { ...tensors };
  for (let i = 0; i < numLayers; i++) {
    const gate = out[`model.layers.${i}.mlp.gate_proj.weight`];
    const up = out[`model.layers.${i}.mlp.up_proj.weight`];
    const data = new Float64Array(gate.data.length + up.data.length);
    data.set(gate.data as ArrayLike<number>);
    data.set(up.data as ArrayLike<number>, gate.data.length);
    out[`model.layers.${i}.mlp.gate_proj.weight`] = { dtype: gate.dtype, shape: [2 * gate.shape[0], gate.shape[1]], data };
    delete out[`model.layers.${i}.mlp.up_proj.weight`];
  }
  return out;
}

/**
 * Registers the loading and training tests of a family on the tiny config `config`
 * (model_type set; vocab_size ≥ 16): save/reload gives identical logits, the older fused MLP
 * layout loads to the same model, a missing tensor is named, gradients reach every
 * parameter, and 30 Adam steps clearly lower the loss.
 */
export function flaCheckpointAndTrainingTests(config: Record<string, unknown>, missing: string): void {
  const B = 2;
  const L = 11;
  const V = config.vocab_size as number;

  it('saved to safetensors and reloaded, a fresh model gives identical logits', () => {
    const model = initModel(config, 5, 'float64');
    const dir = writeTempCheckpoint(model.hfConfig, parameterTensors(model));
    const ids = randomIds(B * L, V);
    const reloaded = loadModel(dir, { dtype: 'float64' }).model;
    expect([...reloaded.parameters.keys()].sort()).toEqual([...model.parameters.keys()].sort());
    const expected = F.noGrad(() => model.forwardIds(ids, B, L));
    expect(Array.from(F.noGrad(() => reloaded.forwardIds(ids, B, L)).data)).toEqual(Array.from(expected.data));
    fs.rmSync(dir, { recursive: true });
  });

  it('the older fused gate_proj [2I, D] layout loads to the same model', () => {
    const model = initModel(config, 6, 'float64');
    const numLayers = config.num_hidden_layers as number;
    const dir = writeTempCheckpoint(model.hfConfig, fuseGateAndUp(parameterTensors(model), numLayers));
    const reloaded = loadModel(dir, { dtype: 'float64' }).model;
    expect(reloaded.parameters.has('model.layers.0.mlp.up_proj.weight')).toBe(false);
    expect(reloaded.parameters.get('model.layers.0.mlp.gate_proj.weight')!.shape[0]).toBe(2 * (model.parameters.get('model.layers.0.mlp.up_proj.weight')!.shape[0]));
    const ids = randomIds(B * L, V);
    const expected = F.noGrad(() => model.forwardIds(ids, B, L));
    expect(relativeError(F.noGrad(() => reloaded.forwardIds(ids, B, L)).data, expected.data)).toBeLessThan(1e-14);
    fs.rmSync(dir, { recursive: true });
  });

  it(`a checkpoint without ${missing} throws a WeightError naming it`, () => {
    const model = initModel(config, 7, 'float32');
    const tensors = parameterTensors(model);
    delete tensors[missing];
    const dir = writeTempCheckpoint(model.hfConfig, tensors);
    expect(() => loadModel(dir)).toThrow(WeightError);
    expect(() => loadModel(dir)).toThrow(`missing tensor '${missing}'`);
    fs.rmSync(dir, { recursive: true });
  });

  it('gradients reach every parameter of a fresh model', () => {
    const model = initModel(config, 8, 'float64');
    for (const t of model.parameters.values()) t.requireGrad();
    const ids = randomIds(B * L, V, 4);
    const targets = randomIds(B * L, V, 5);
    F.backward(F.crossEntropy(F.reshape(model.forwardIds(ids, B, L), [B * L, V]), targets));
    for (const [name, t] of model.parameters) {
      expect(t.grad, name).not.toBeNull();
      expect(t.grad!.some((g) => g !== 0), name).toBe(true);
    }
  });

  it('30 Adam steps of next-token cross-entropy on a fixed sequence clearly lower the loss', () => {
    const model = initModel(config, 9, 'float32');
    const length = 24;
    const sequence = randomIds(length + 1, V, 6);
    const ids = sequence.slice(0, length);
    const targets = sequence.slice(1);
    const params = [...model.parameters.values()].map((t) => t.requireGrad());
    const adam = new TinyAdam(params, 0.02);
    const losses: number[] = [];
    for (let stepIndex = 0; stepIndex < 30; stepIndex++) {
      F.zeroGrad(params);
      const loss = F.crossEntropy(F.reshape(model.forwardIds(ids, 1, length), [length, V]), targets);
      F.backward(loss);
      adam.step();
      losses.push(loss.item());
    }
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[losses.length - 1], `losses ${losses.map((l) => l.toFixed(3)).join(' ')}`).toBeLessThan(0.5 * losses[0]);
  });
}

/** Adam (Kingma & Ba 2015, Algorithm 1) over the parameters' `.grad`, for the training test. */
class TinyAdam {
  private readonly m: Float64Array[];
  private readonly v: Float64Array[];
  private t = 0;

  constructor(
    private readonly params: Tensor[],
    private readonly lr: number,
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly eps = 1e-8,
  ) {
    this.m = params.map((p) => new Float64Array(p.size));
    this.v = params.map((p) => new Float64Array(p.size));
  }

  step(): void {
    this.t++;
    const c1 = 1 - this.beta1 ** this.t;
    const c2 = 1 - this.beta2 ** this.t;
    this.params.forEach((p, i) => {
      const g = p.grad;
      if (g === null) return;
      const [m, v] = [this.m[i], this.v[i]];
      for (let j = 0; j < p.size; j++) {
        m[j] = this.beta1 * m[j] + (1 - this.beta1) * g[j];
        v[j] = this.beta2 * v[j] + (1 - this.beta2) * g[j] * g[j];
        p.data[j] -= (this.lr * (m[j] / c1)) / (Math.sqrt(v[j] / c2) + this.eps);
      }
    });
  }
}

// ---------------------------------------------------------------------------------------
// The GLA / RetNet layer, token by token with plain arrays (fla-families.md §GLA, §RetNet)

/** W x for W [out, in] (+ bias). */
export function matVec(W: Tensor, x: ArrayLike<number>, bias?: Tensor): Float64Array {
  const [out, inp] = W.shape;
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let acc = bias?.data[o] ?? 0;
    for (let i = 0; i < inp; i++) acc += W.data[o * inp + i] * x[i];
    y[o] = acc;
  }
  return y;
}

const silu = (u: number) => u / (1 + Math.exp(-u));

/**
 * What a family adds at token t: rotate the per-head q, k in place (RetNet) and return the
 * log-decay γ_t[h][j] of every query head (GLA: from x_t).
 */
export type PlainFeatures = (t: number, x: Float64Array, q: Float64Array[], k: Float64Array[]) => Float64Array[];

/**
 * The layer under `prefix` on x [B, L, D] (float64), one sequence and one token at a time:
 *   q, k, v, g = W_q x, W_k x, W_v x, W_g x; head h reads key/value head ⌊h/(H/Hkv)⌋
 *   S_h ← diag(exp γ_h) S_h + k_h v_hᵀ;  o_h = S_hᵀ q_h · dk^−½
 *   y = o_proj( [o_h / sqrt(mean(o_h²) + ε) ⊙ w ⊙ silu(g_h)]_h )
 */
export function plainGatedAttention(parameters: Map<string, Tensor>, prefix: string, c: GatedAttentionModelConfig, x: Tensor, features: PlainFeatures): Float64Array {
  const [B, L, D] = x.shape;
  const { numHeads: H, numKvHeads: Hkv, headKDim: dk, headVDim: dv } = c;
  const p = (name: string) => parameters.get(`${prefix}.${name}`)!;
  const normWeight = parameters.get(`${prefix}.g_norm_swish_gate.weight`) ?? parameters.get(`${prefix}.g_norm.weight`);
  const heads = (vec: Float64Array, n: number, d: number) => Array.from({ length: n }, (_, h) => vec.slice(h * d, (h + 1) * d));
  const y = new Float64Array(B * L * D);
  for (let b = 0; b < B; b++) {
    const S = Array.from({ length: H }, () => new Float64Array(dk * dv));
    for (let t = 0; t < L; t++) {
      const xt = Float64Array.from(x.data.subarray((b * L + t) * D, (b * L + t + 1) * D));
      const q = heads(matVec(p('q_proj.weight'), xt), H, dk);
      const kvK = heads(matVec(p('k_proj.weight'), xt), Hkv, dk);
      const kvV = heads(matVec(p('v_proj.weight'), xt), Hkv, dv);
      const k = Array.from({ length: H }, (_, h) => Float64Array.from(kvK[Math.floor(h / (H / Hkv))]));
      const v = Array.from({ length: H }, (_, h) => kvV[Math.floor(h / (H / Hkv))]);
      const logDecay = features(t, xt, q, k);
      const g = c.useOutputGate ? matVec(p('g_proj.weight'), xt) : null;
      const normed = new Float64Array(H * dv);
      for (let h = 0; h < H; h++) {
        const o = new Float64Array(dv);
        for (let j = 0; j < dk; j++) {
          for (let e = 0; e < dv; e++) {
            S[h][j * dv + e] = Math.exp(logDecay[h][j]) * S[h][j * dv + e] + k[h][j] * v[h][e];
            o[e] += q[h][j] * dk ** -0.5 * S[h][j * dv + e];
          }
        }
        const rms = Math.sqrt(o.reduce((s, u) => s + u * u, 0) / dv + c.normEps);
        for (let e = 0; e < dv; e++) {
          const w = normWeight === undefined ? 1 : normWeight.data[e];
          normed[h * dv + e] = (o[e] / rms) * w * (g === null ? 1 : silu(g[h * dv + e]));
        }
      }
      y.set(matVec(p('o_proj.weight'), normed), (b * L + t) * D);
    }
  }
  return y;
}

// ---------------------------------------------------------------------------------------
// The HGRN layer, token by token with plain arrays, in fla's own form (fla-families.md §HGRN)

/**
 * β_l [D] of every layer from `model.lower_bounds` [n, D]: P = softmax over layers per
 * column, Γ = cumsum(P) − P[0].
 */
export function plainLowerBounds(bounds: Tensor): Float64Array[] {
  const [n, D] = bounds.shape;
  const beta = Array.from({ length: n }, () => new Float64Array(D));
  for (let d = 0; d < D; d++) {
    const column = Array.from({ length: n }, (_, l) => bounds.data[l * D + d]);
    const top = Math.max(...column);
    const e = column.map((u) => Math.exp(u - top));
    const total = e.reduce((s, u) => s + u, 0);
    let cumulative = 0;
    for (let l = 0; l < n; l++) {
      cumulative += e[l] / total;
      beta[l][d] = cumulative - e[0] / total;
    }
  }
  return beta;
}

/**
 * Layer `layer` of an HGRN model (parameters under `prefix`) on x [B, L, D] (float64), as fla's
 * HGRNAttention computes it:
 *   i, f, g = W_i x, W_f x, W_g x;   f ← logsigmoid(f)
 *   above layer 0 with a lower bound β: f ← logaddexp(log β, log1p(−β) + f)
 *   i ← silu(i) ⊙ (1 − exp f);   h ← exp(f) ⊙ h + i
 *   y = o_proj(h / sqrt(mean(h²) + ε) ⊙ w ⊙ silu(g))      (one norm over the whole width)
 */
export function plainHgrn(parameters: Map<string, Tensor>, prefix: string, layer: number, normEps: number, x: Tensor): Float64Array {
  const [B, L, D] = x.shape;
  const p = (name: string) => parameters.get(`${prefix}.${name}`)!;
  const E = p('i_proj.weight').shape[0];
  const normWeight = parameters.get(`${prefix}.g_norm.weight`);
  const bounds = parameters.get('model.lower_bounds');
  const beta = bounds !== undefined && layer > 0 ? plainLowerBounds(bounds)[layer] : null;
  const logSigmoid = (u: number) => -Math.log1p(Math.exp(-u));
  const logAddExp = (a: number, b: number) => Math.max(a, b) + Math.log1p(Math.exp(-Math.abs(a - b)));
  const y = new Float64Array(B * L * D);
  for (let b = 0; b < B; b++) {
    const h = new Float64Array(E);
    for (let t = 0; t < L; t++) {
      const xt = Float64Array.from(x.data.subarray((b * L + t) * D, (b * L + t + 1) * D));
      const [i, f, g] = ['i_proj', 'f_proj', 'g_proj'].map((name) => matVec(p(`${name}.weight`), xt));
      for (let e = 0; e < E; e++) {
        let logForget = logSigmoid(f[e]);
        if (beta !== null) logForget = logAddExp(Math.log(beta[e]), Math.log1p(-beta[e]) + logForget);
        h[e] = Math.exp(logForget) * h[e] + silu(i[e]) * (1 - Math.exp(logForget));
      }
      const rms = Math.sqrt(h.reduce((s, u) => s + u * u, 0) / E + normEps);
      const normed = Float64Array.from(h, (u, e) => (u / rms) * (normWeight === undefined ? 1 : normWeight.data[e]) * silu(g[e]));
      y.set(matVec(p('o_proj.weight'), normed), (b * L + t) * D);
    }
  }
  return y;
}
