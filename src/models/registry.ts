/**
 * Families keyed by Hugging Face `model_type`, and model construction from a tensor store
 * (a checkpoint) or from fresh initialisation. Node-free: directory loading is in src/io.
 */
import type { DType } from '../core/index.js';
import { ConfigError } from './config.js';
import type { RawConfig } from './config.js';
import type { Family } from './family.js';
import type { CommonConfig, DecoderLM } from './model.js';
import { InitSource, ParameterRegistry, StoreSource } from './parameters.js';
import type { TensorStore, WeightStorage } from './parameters.js';

const families = new Map<string, Family<CommonConfig>>();

export function registerFamily<C extends CommonConfig>(family: Family<C>): void {
  families.set(family.modelType, family as unknown as Family<CommonConfig>);
}

export function supportedModelTypes(): string[] {
  return [...families.keys()].sort();
}

export function getFamily(modelType: unknown): Family<CommonConfig> {
  const family = typeof modelType === 'string' ? families.get(modelType) : undefined;
  if (family === undefined) {
    throw new ConfigError(`unsupported model_type ${JSON.stringify(modelType)}; supported: ${supportedModelTypes().join(', ')}`);
  }
  return family;
}

/** Builds a model from a config.json object and its weights (held as `weights` says). */
export function modelFromStore(raw: RawConfig, store: TensorStore, dtype: DType, weights: WeightStorage = 'decoded'): DecoderLM {
  const family = getFamily(raw.model_type);
  const params = new ParameterRegistry(new StoreSource(store, dtype, weights));
  return family.build(family.parseConfig(raw), params);
}

/** Builds a freshly initialised model (for training) from a config.json-style object. */
export function initModel(raw: RawConfig, seed: number, dtype: DType = 'float32'): DecoderLM {
  const family = getFamily(raw.model_type);
  const params = new ParameterRegistry(new InitSource(seed, dtype));
  return family.build(family.parseConfig(raw), params);
}
