/** What a model family module provides to the registry. */
import type { CommonConfig, DecoderLM } from './model.js';
import type { ParameterRegistry } from './parameters.js';
import type { RawConfig } from './config.js';

export interface Family<C extends CommonConfig = CommonConfig> {
  /** Hugging Face `model_type`. */
  readonly modelType: string;
  /** One line for `iattn info` and help texts. */
  readonly description: string;
  /** Typed, validated config with the defaults transformers uses; throws ConfigError. */
  parseConfig(raw: RawConfig): C;
  /** Declares every parameter through `params` and assembles the model. */
  build(config: C, params: ParameterRegistry): DecoderLM;
  /** config.json contents for a model of this config (used when saving trained models). */
  toHfConfig(config: C): RawConfig;
}
