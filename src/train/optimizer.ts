/**
 * AdamW (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization", Algorithm 2) with
 * PyTorch's `torch.optim.AdamW` update, and gradient clipping by global norm
 * (`torch.nn.utils.clip_grad_norm_`). Node-free; the trainer saves `state()` as safetensors.
 *
 * One step for a parameter θ with gradient g, at that parameter's step count t (1-based):
 *   θ ← θ − lr·λ·θ                          decoupled weight decay (λ = 0 for no-decay tensors)
 *   m ← β₁·m + (1 − β₁)·g                   first moment
 *   v ← β₂·v + (1 − β₂)·g²                  second moment
 *   θ ← θ − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)     bias-corrected step
 * Moments are kept in float64 whatever the parameter dtype, so that a saved state resumes
 * bit for bit. A parameter whose `.grad` is null is skipped entirely (no decay, no moment
 * update, its step count does not advance), as PyTorch skips parameters without gradients.
 */
import { ShapeError } from '../core/index.js';
import type { Tensor } from '../core/index.js';

export interface AdamWOptions {
  /** β₁ (0.9). */
  beta1?: number;
  /** β₂ (0.95, nanoGPT's choice for language models; PyTorch's default is 0.999). */
  beta2?: number;
  /** ε added to the denominator (1e-8). */
  eps?: number;
  /** λ, decoupled weight decay of the tensors `decays` selects (0.1). */
  weightDecay?: number;
  /** Which parameters get weight decay; default `decaysByDefault`. */
  decays?: (name: string, tensor: Tensor) => boolean;
}

/** Recurrence parameters that are never decayed although they may be 2-D (Mamba's A_log [D, N]). */
const NO_DECAY_NAMES = /(^|\.)(A_log|D|dt_bias|time_decay|time_first|recurrent_param|bonus|lower_bounds)$/;

/**
 * Default weight-decay rule (nanoGPT's, plus the recurrence parameters mamba_ssm and RWKV-LM
 * mark `no_weight_decay`): decay matrices (linear and conv weights, embeddings, the LM head),
 * do not decay
 *  - tensors with fewer than two dimensions of size > 1: norm weights, biases, per-channel
 *    vectors, RWKV's token-shift mixes [1, 1, C];
 *  - biases of any shape (names ending in `bias`, e.g. RG-LRU's `input_gate_bias` [heads, W/heads]);
 *  - the recurrence parameters A_log, D, dt_bias, time_decay, time_first, recurrent_param,
 *    bonus, lower_bounds (decaying them would pull decay rates towards "no memory").
 */
export function decaysByDefault(name: string, tensor: Tensor): boolean {
  if (name.endsWith('bias')) return false;
  if (NO_DECAY_NAMES.test(name)) return false;
  return tensor.shape.filter((d) => d > 1).length >= 2;
}

interface Slot {
  readonly name: string;
  readonly param: Tensor;
  readonly decay: boolean;
  readonly m: Float64Array;
  readonly v: Float64Array;
  /** Updates applied to this parameter so far (PyTorch's per-parameter `step`). */
  step: number;
}

/** Everything needed to resume: the moments of each parameter and its step count. */
export interface AdamWState {
  /** `exp_avg.NAME` and `exp_avg_sq.NAME` (PyTorch's state key names), float64, parameter-shaped. */
  moments: Map<string, { shape: readonly number[]; data: Float64Array }>;
  /** Per-parameter step counts. */
  steps: Record<string, number>;
}

export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  private readonly slots: Slot[];

  /** `params`: parameter name → tensor (e.g. `model.parameters`), updated in place by `step`. */
  constructor(params: Iterable<[string, Tensor]>, options: AdamWOptions = {}) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.95;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.1;
    for (const [key, value] of [['beta1', this.beta1], ['beta2', this.beta2]] as const) {
      if (!(value >= 0 && value < 1)) throw new ShapeError(`AdamW: ${key} should be in [0, 1), got ${value}`);
    }
    if (!(this.eps > 0)) throw new ShapeError(`AdamW: eps should be positive, got ${this.eps}`);
    if (!(this.weightDecay >= 0)) throw new ShapeError(`AdamW: weightDecay should be ≥ 0, got ${this.weightDecay}`);
    const decays = options.decays ?? decaysByDefault;
    this.slots = [...params].map(([name, param]) => ({
      name,
      param,
      decay: decays(name, param),
      m: new Float64Array(param.size),
      v: new Float64Array(param.size),
      step: 0,
    }));
  }

  /** Names of the parameters that get weight decay (for logs and tests). */
  decayedNames(): string[] {
    return this.slots.filter((s) => s.decay).map((s) => s.name);
  }

  /** One update of every parameter that has a gradient, at learning rate `lr`. */
  step(lr: number): void {
    const { beta1, beta2, eps } = this;
    for (const slot of this.slots) {
      const g = slot.param.grad;
      if (g === null) continue;
      slot.step++;
      const theta = slot.param.data;
      const { m, v } = slot;
      const stepSize = lr / (1 - beta1 ** slot.step);
      const sqrtCorrection = Math.sqrt(1 - beta2 ** slot.step);
      const shrink = slot.decay ? 1 - lr * this.weightDecay : 1;
      for (let i = 0; i < theta.length; i++) {
        const gi = g[i];
        m[i] = beta1 * m[i] + (1 - beta1) * gi;
        v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
        theta[i] = theta[i] * shrink - (stepSize * m[i]) / (Math.sqrt(v[i]) / sqrtCorrection + eps);
      }
    }
  }

  /** A copy of the optimizer state (moments and step counts). */
  state(): AdamWState {
    const moments = new Map<string, { shape: readonly number[]; data: Float64Array }>();
    const steps: Record<string, number> = {};
    for (const s of this.slots) {
      moments.set(`exp_avg.${s.name}`, { shape: s.param.shape, data: s.m.slice() });
      moments.set(`exp_avg_sq.${s.name}`, { shape: s.param.shape, data: s.v.slice() });
      steps[s.name] = s.step;
    }
    return { moments, steps };
  }

  /** Restores a state written by `state()`; every parameter must be present with its shape. */
  loadState(state: AdamWState): void {
    for (const s of this.slots) {
      for (const [key, target] of [[`exp_avg.${s.name}`, s.m], [`exp_avg_sq.${s.name}`, s.v]] as const) {
        const saved = state.moments.get(key);
        if (saved === undefined) throw new ShapeError(`AdamW.loadState: no '${key}' in the saved optimizer state`);
        if (saved.data.length !== target.length) {
          throw new ShapeError(`AdamW.loadState: '${key}' has ${saved.data.length} values, parameter '${s.name}' has ${target.length}`);
        }
        target.set(saved.data);
      }
      const step = state.steps[s.name];
      if (!Number.isInteger(step) || step < 0) throw new ShapeError(`AdamW.loadState: no step count for '${s.name}'`);
      s.step = step;
    }
  }
}

/**
 * Global-norm gradient clipping: n = ‖concat(all grads)‖₂; when n > maxNorm every gradient is
 * scaled by maxNorm / (n + 1e-6), as torch.nn.utils.clip_grad_norm_. Returns n (before
 * clipping), the number the trainer logs. Parameters without a gradient are ignored;
 * maxNorm = Infinity only measures.
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number): number {
  const grads = [...params].map((p) => p.grad).filter((g): g is NonNullable<typeof g> => g !== null);
  let sumSquares = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sumSquares += g[i] * g[i];
  const norm = Math.sqrt(sumSquares);
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) for (const g of grads) for (let i = 0; i < g.length; i++) g[i] *= coef;
  return norm;
}
