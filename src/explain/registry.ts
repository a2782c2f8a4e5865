/**
 * The explanation methods behind one registry (explain-and-evaluate.md §1): name → method
 * {description, recipe, run}, and `explain`, which resolves the common options and the
 * target, runs a method on a shared context and adds the metadata.
 *
 *   const context = new ExplainContext(model, ids);
 *   const result = explain(context, 'unified-attr', { startLayer: 2, target: { position: 10 } });
 */
import { VARIANTS } from '../implicit/decomposition.js';
import type { DecoderLM } from '../models/index.js';
import { ExplainContext } from './context.js';
import { gradAttn } from './methods/grad-attn.js';
import { gradInput } from './methods/grad-input.js';
import { hiddenAttr } from './methods/hidden-attr.js';
import { integratedGradients } from './methods/integrated-gradients.js';
import { random } from './methods/random.js';
import { raw } from './methods/raw.js';
import { recency } from './methods/recency.js';
import { rollout } from './methods/rollout.js';
import { saliency } from './methods/saliency.js';
import { unifiedAttr } from './methods/unified-attr.js';
import { AGGREGATIONS, ExplainError } from './types.js';
import type { ExplainMethod, ExplainOptions, Explanation, ResolvedOptions, ResolvedTarget } from './types.js';

/** Every method, in the order reports list them. */
export const METHODS: readonly ExplainMethod[] = [
  raw,
  rollout,
  hiddenAttr,
  unifiedAttr,
  gradAttn,
  gradInput,
  integratedGradients,
  saliency,
  random,
  recency,
];

export const METHOD_NAMES: readonly string[] = METHODS.map((m) => m.name);

export const DEFAULT_METHOD = 'unified-attr';

/** Default number of integrated-gradients steps (the spec asks for ≥ 32). */
export const DEFAULT_IG_STEPS = 32;

export class UnknownMethodError extends ExplainError {
  override name = 'UnknownMethodError';
}

/** The method called `name` (or one of its aliases); throws an error listing the methods otherwise. */
export function getMethod(name: string): ExplainMethod {
  const found = METHODS.find((m) => m.name === name || (m.aliases ?? []).includes(name));
  if (found === undefined) {
    const aliases = METHODS.flatMap((m) => (m.aliases ?? []).map((a) => `${a} = ${m.name}`));
    throw new UnknownMethodError(`unknown explanation method '${name}'; methods: ${METHOD_NAMES.join(', ')} (aliases: ${aliases.join(', ')})`);
  }
  return found;
}

/** The options with every default filled in, checked. */
export function resolveOptions(method: ExplainMethod, options: ExplainOptions = {}): ResolvedOptions {
  const variant = options.variant ?? method.defaultVariant ?? 'paper';
  if (!VARIANTS.includes(variant)) throw new ExplainError(`unknown variant '${variant}'; variants: ${VARIANTS.join(', ')}`);
  const aggregation = options.aggregation ?? 'positive';
  if (!AGGREGATIONS.includes(aggregation)) throw new ExplainError(`unknown channel aggregation '${aggregation}'; aggregations: ${AGGREGATIONS.join(', ')}`);
  const startLayer = options.startLayer ?? 0;
  if (!Number.isInteger(startLayer) || startLayer < 0) throw new ExplainError(`start layer must be an integer ≥ 0, got ${startLayer}`);
  const steps = options.steps ?? DEFAULT_IG_STEPS;
  if (!Number.isInteger(steps) || steps < 1) throw new ExplainError(`integration steps must be a positive integer, got ${steps}`);
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed)) throw new ExplainError(`seed must be an integer, got ${seed}`);
  return { variant, startLayer, aggregation, steps, seed };
}

/**
 * Runs method `name` on the context's sequence. Relevance is per input position [L]; the
 * target defaults to the model's top next token at the last position.
 */
export function explain(context: ExplainContext, name: string, options: ExplainOptions = {}): Explanation {
  const method = getMethod(name);
  const resolved = resolveOptions(method, options);
  const target: ResolvedTarget = context.target(options.target);
  const started = performance.now();
  const output = method.run(context, target, resolved);
  return {
    method: method.name,
    scores: output.scores,
    ...(output.layers === undefined ? {} : { layers: output.layers }),
    metadata: { method: method.name, target, options: resolved, ...output.extra, elapsedMs: performance.now() - started },
  };
}

/** Convenience: one method on token ids [L] of a model (a fresh context). */
export function explainIds(model: DecoderLM, ids: Int32Array, name: string, options: ExplainOptions = {}): Explanation {
  return explain(new ExplainContext(model, ids), name, options);
}
