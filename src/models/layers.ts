/** Layers shared by every family: linear projections, norms, gated MLPs. */
import * as F from '../core/index.js';
import type { Tensor } from '../core/index.js';
import { normal, ones, zeros } from './parameters.js';
import type { ParameterRegistry } from './parameters.js';

export interface Linear {
  weight: Tensor; // [out, in]
  bias: Tensor | null; // [out]
}

/** Declares `${name}.weight` [out, in] (and `${name}.bias` [out] when `bias`). */
export function declareLinear(params: ParameterRegistry, name: string, inFeatures: number, outFeatures: number, bias: boolean, std = 0.02): Linear {
  return {
    weight: params.take(`${name}.weight`, [outFeatures, inFeatures], normal(std)),
    bias: params.optional(bias, `${name}.bias`, [outFeatures], zeros),
  };
}

export function applyLinear(layer: Linear, x: Tensor): Tensor {
  return F.linear(x, layer.weight, layer.bias);
}

export type Norm = (x: Tensor) => Tensor;

/** x / sqrt(mean(x²) + eps) ⊙ w over the last axis (`${name}.weight` [size]). */
export function declareRmsNorm(params: ParameterRegistry, name: string, size: number, eps: number): Norm {
  const weight = params.take(`${name}.weight`, [size], ones);
  return (x) => F.rmsNorm(x, weight, eps);
}

/** Gemma's RMSNorm: x / sqrt(mean(x²) + eps) ⊙ (1 + w); w starts at zero. */
export function declareGemmaRmsNorm(params: ParameterRegistry, name: string, size: number, eps: number): Norm {
  const weight = params.take(`${name}.weight`, [size], zeros);
  return (x) => F.rmsNorm(x, weight, eps, 1);
}

/** PyTorch LayerNorm with weight and bias (`${name}.weight`, `${name}.bias`). */
export function declareLayerNorm(params: ParameterRegistry, name: string, size: number, eps: number): Norm {
  const weight = params.take(`${name}.weight`, [size], ones);
  const bias = params.take(`${name}.bias`, [size], zeros);
  return (x) => F.layerNorm(x, weight, bias, eps);
}

/**
 * Gated MLP: down(act(gate x) ⊙ up x), with `gate_proj`, `up_proj`, `down_proj` under `name`.
 * RecurrentGemma uses gelu_tanh with biases; GLA/HGRN/RetNet (SwiGLU) silu without.
 */
export function declareGatedMlp(
  params: ParameterRegistry,
  name: string,
  hidden: number,
  intermediate: number,
  activation: (x: Tensor) => Tensor,
  bias: boolean,
): (x: Tensor) => Tensor {
  const gate = declareLinear(params, `${name}.gate_proj`, hidden, intermediate, bias);
  const up = declareLinear(params, `${name}.up_proj`, hidden, intermediate, bias);
  const down = declareLinear(params, `${name}.down_proj`, intermediate, hidden, bias);
  return (x) => applyLinear(down, F.mul(activation(applyLinear(gate, x)), applyLinear(up, x)));
}
