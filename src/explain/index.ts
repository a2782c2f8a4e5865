/** Explanations of a model's predictions: one registry of attribution methods over a shared context. */
export * from './types.js';
export { ExplainContext, modelLayerSource } from './context.js';
export type { GradientPass, LayerSource, MixerRef } from './context.js';
export { DEFAULT_IG_STEPS, DEFAULT_METHOD, explain, explainIds, getMethod, METHOD_NAMES, METHODS, resolveOptions, UnknownMethodError } from './registry.js';
