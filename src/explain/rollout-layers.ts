/**
 * The loop every rollout-style recipe shares (rollout, hidden-attr, unified-attr, grad-attn):
 * the target row r of R = A_last ⋯ A_start starts as e_t and is carried from the last layer
 * down to start_layer, one layer's map at a time (only one L×L map alive), while each layer's
 * own row is kept as its per-layer scores.
 */
import type { ExplainContext, MixerRef } from './context.js';
import { ExplainError } from './types.js';
import type { LayerScores, MethodOutput, ResolvedOptions, ResolvedTarget } from './types.js';
import { sensitivity, unitRow } from './vectors.js';

export interface LayerStep {
  /** The layer's row for the per-layer maps. */
  scores: Float64Array;
  /** r after this layer. */
  next: Float64Array;
}

export function rollOutLayers(
  context: ExplainContext,
  options: ResolvedOptions,
  target: ResolvedTarget,
  step: (mixer: MixerRef, r: Float64Array) => LayerStep,
): MethodOutput {
  const mixers = context.mixers(options.startLayer);
  const layers: LayerScores[] = new Array(mixers.length);
  let r = unitRow(target.position, context.length);
  for (let i = mixers.length - 1; i >= 0; i--) {
    const { scores, next } = step(mixers[i], r);
    layers[i] = { layer: mixers[i].layer, kind: mixers[i].kind, scores };
    r = next;
  }
  return { scores: r, layers };
}

/** s_ℓ[j] = minmax_j max_k ReLU(∂target/∂h_ℓ[j, k]) for the residual stream entering block ℓ. */
export function blockSensitivity(context: ExplainContext, target: ResolvedTarget, layer: number, method: string): Float64Array {
  const grad = context.gradients(target).blockIn.get(layer);
  if (grad === undefined) throw new ExplainError(`${method}: no gradient for the input of block ${layer}`);
  return sensitivity(grad, context.length, context.model.config.hiddenSize, target.position);
}
