import { describe, expect, it } from 'vitest';
import { Tensor } from '../../src/core/index.js';
import { AdamW, clipGradNorm, decaysByDefault } from '../../src/train/optimizer.js';
import { defaultWarmup, learningRate } from '../../src/train/schedule.js';

/** Two AdamW steps on f(θ) = Σ θᵢ² (∇ = 2θ) from θ₀ = [1, −2, 0.5], lr 0.1, β = (0.9, 0.999), ε = 1e-8. */
function twoSteps(weightDecay: number): number[][] {
  const theta = Tensor.from([1, -2, 0.5], [3], 'float64');
  const opt = new AdamW([['theta', theta]], { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay, decays: () => true });
  const seen: number[][] = [];
  for (let t = 0; t < 2; t++) {
    theta.grad = Float64Array.from(theta.data, (x) => 2 * x);
    opt.step(0.1);
    seen.push([...theta.data]);
  }
  return seen;
}

describe('AdamW', () => {
  // Step 1: m̂ = g, v̂ = g², so θ₁ = θ₀(1 − lr·λ) − lr·g / (|g| + ε) ≈ θ₀(1 − lr·λ) − 0.1·sign(g).
  // Step 2 (no decay): g = [1.8, −3.8, 0.8]; m = 0.09·g₁ + 0.1·g₂ = [0.36, −0.74, 0.17];
  // v = 0.000999·g₁² + 0.001·g₂² = [0.007236, 0.030424, 0.001639]; bias corrections 0.19, 0.001999;
  // θ₂ = θ₁ − 0.1·(m / 0.19) / (√(v / 0.001999) + ε).
  it('matches two hand-computed steps without weight decay', () => {
    const [s1, s2] = twoSteps(0);
    expect(s1[0]).toBeCloseTo(0.9000000005, 12);
    expect(s1[1]).toBeCloseTo(-1.90000000025, 12);
    expect(s1[2]).toBeCloseTo(0.400000001, 12);
    expect(s2[0]).toBeCloseTo(0.8004122286917928, 12);
    expect(s2[1]).toBeCloseTo(-1.8001664861157012, 12);
    expect(s2[2]).toBeCloseTo(0.30118742165916684, 12);
  });

  it('matches two hand-computed steps with decoupled weight decay 0.1', () => {
    // Decay first: θ ← θ·(1 − 0.1·0.1), then the same Adam step on the un-decayed gradient 2θ.
    const [s1, s2] = twoSteps(0.1);
    expect(s1[0]).toBeCloseTo(0.8900000005, 12);
    expect(s1[1]).toBeCloseTo(-1.88000000025, 12);
    expect(s1[2]).toBeCloseTo(0.395000001, 12);
    expect(s2[0]).toBeCloseTo(0.7815718559365048, 12);
    expect(s2[1]).toBeCloseTo(-1.7614089505845592, 12);
    expect(s2[2]).toBeCloseTo(0.2923387042550786, 12);
  });

  it('skips parameters without a gradient and resumes exactly from a saved state', () => {
    const a = Tensor.from([1, 2, 3, 4], [2, 2]);
    const b = Tensor.from([5], [1]);
    const opt = new AdamW([['a', a], ['b', b]]);
    a.grad = Float32Array.from([0.1, -0.2, 0.3, -0.4]);
    opt.step(0.01);
    expect([...b.data]).toEqual([5]);
    expect(opt.state().steps).toEqual({ a: 1, b: 0 });
    // Copy everything, take one more step on both, compare.
    const a2 = Tensor.from(a.data, [2, 2]);
    const b2 = Tensor.from(b.data, [1]);
    const opt2 = new AdamW([['a', a2], ['b', b2]]);
    opt2.loadState(opt.state());
    for (const [t, o] of [[a, opt], [a2, opt2]] as const) {
      t.grad = Float32Array.from([0.5, 0.5, -0.5, 0.1]);
      o.step(0.01);
    }
    expect([...a2.data]).toEqual([...a.data]);
  });

  it('decays matrices but not norms, biases, 1-D or recurrence parameters', () => {
    const t = (...shape: number[]) => Tensor.zeros(shape);
    expect(decaysByDefault('backbone.layers.0.mixer.in_proj.weight', t(8, 4))).toBe(true);
    expect(decaysByDefault('backbone.embeddings.weight', t(16, 4))).toBe(true);
    expect(decaysByDefault('backbone.layers.0.mixer.conv1d.weight', t(8, 1, 4))).toBe(true);
    expect(decaysByDefault('backbone.layers.0.norm.weight', t(4))).toBe(false);
    expect(decaysByDefault('backbone.layers.0.mixer.A_log', t(8, 16))).toBe(false);
    expect(decaysByDefault('rwkv.blocks.0.attention.time_mix_key', t(1, 1, 4))).toBe(false);
    expect(decaysByDefault('model.layers.0.temporal_block.rg_lru.input_gate_bias', t(2, 4))).toBe(false);
    expect(decaysByDefault('classifier.weight', t(6, 4))).toBe(true);
  });
});

describe('clipGradNorm', () => {
  it('scales all gradients to the global norm and returns the norm before clipping', () => {
    const a = Tensor.zeros([2]);
    const b = Tensor.zeros([1]);
    const c = Tensor.zeros([1]); // no gradient: ignored
    a.grad = Float32Array.from([3, 0]);
    b.grad = Float32Array.from([4]);
    expect(clipGradNorm([a, b, c], 1)).toBeCloseTo(5, 6);
    expect(a.grad[0]).toBeCloseTo(0.6, 6);
    expect(b.grad[0]).toBeCloseTo(0.8, 6);
    expect(c.grad).toBeNull();
    // Below the limit (and with Infinity) nothing changes.
    expect(clipGradNorm([a, b], 10)).toBeCloseTo(1, 6);
    expect(clipGradNorm([a, b], Infinity)).toBeCloseTo(1, 6);
    expect(b.grad[0]).toBeCloseTo(0.8, 6);
  });
});

describe('learning-rate schedule', () => {
  const s = { peak: 1e-3, floor: 1e-4, warmup: 10, total: 101 };
  it('warms up linearly, peaks, decays by cosine to the floor on the last step', () => {
    expect(learningRate(s, 0)).toBeCloseTo(1e-4, 12); // peak · 1/10
    expect(learningRate(s, 4)).toBeCloseTo(5e-4, 12);
    expect(learningRate(s, 9)).toBeCloseTo(1e-3, 12); // end of warm-up
    expect(learningRate(s, 10)).toBeCloseTo(1e-3, 12); // cosine starts at the peak
    expect(learningRate(s, 55)).toBeCloseTo(5.5e-4, 12); // halfway: (peak + floor) / 2
    expect(learningRate(s, 100)).toBeCloseTo(1e-4, 12); // last step: the floor
    expect(learningRate(s, 500)).toBeCloseTo(1e-4, 12);
    expect(learningRate({ ...s, warmup: 0 }, 0)).toBeCloseTo(1e-3, 12);
    expect(defaultWarmup(100)).toBe(10);
    expect(defaultWarmup(10_000)).toBe(200);
  });
});
