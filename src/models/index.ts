/** The model zoo: every family registered by its Hugging Face model_type. */
import { registerFamily } from './registry.js';

// Each family module exports its Family object(s); register them here, one line each.

export { supportedModelTypes, getFamily, modelFromStore, initModel } from './registry.js';
export { DecoderLM } from './model.js';
export type { Trace, Sublayer, Layer, ModelState, CommonConfig } from './model.js';
export { ConfigError } from './config.js';
export { WeightError } from './parameters.js';
