/** The model zoo: every family registered by its Hugging Face model_type. */
import { registerFamily } from './registry.js';
import { falconMambaFamily, mambaFamily } from './mamba.js';
import { mamba2Family } from './mamba2.js';
import { rwkvFamily } from './rwkv.js';
import { recurrentGemmaFamily } from './recurrent-gemma.js';
import { glaFamily } from './gla.js';
import { retnetFamily } from './retnet.js';
import { hgrnFamily } from './hgrn.js';

// Each family module exports its Family object(s); register them here, one line each.
registerFamily(mambaFamily);
registerFamily(falconMambaFamily);
registerFamily(mamba2Family);
registerFamily(rwkvFamily);
registerFamily(recurrentGemmaFamily);
registerFamily(glaFamily);
registerFamily(retnetFamily);
registerFamily(hgrnFamily);

export { supportedModelTypes, getFamily, modelFromStore, initModel } from './registry.js';
export { DecoderLM } from './model.js';
export type { Trace, Sublayer, Layer, ModelState, CommonConfig } from './model.js';
export { ConfigError } from './config.js';
export { WeightError } from './parameters.js';
