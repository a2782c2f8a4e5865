/**
 * Default model configs for training from scratch, by architecture name (`iattn train --arch`).
 * Each entry turns three sizes — V (vocab_size, from the tokenizer), H (hidden_size) and
 * the number of layers — into a config.json object with `model_type` whose other sizes
 * keep the proportions of the family's reference models (written explicitly, so the file
 * does not depend on any library's defaults). Presets:
 *   tiny   H = 64,  2 layers (griffin: 3, so the local-attention block is present)   — seconds per step on a CPU
 *   small  H = 256, 6 layers (the size of the project's trained Austen models)
 * A config.json object may be given instead of a name; its sizes are kept, except that
 * vocab_size, hidden_size and num_hidden_layers take the values asked for.
 */
import { ConfigError } from '../models/index.js';

export type RawConfig = Record<string, unknown>;

export interface ArchSizes {
  /** V, vocab_size. */
  vocabSize: number;
  /** H, hidden_size. */
  hidden: number;
  /** num_hidden_layers. */
  layers: number;
}

export interface Architecture {
  /** Hugging Face model_type it builds. */
  modelType: string;
  description: string;
  /** Layers of the tiny preset. */
  tinyLayers: number;
  config(s: ArchSizes): RawConfig;
}

export type SizePreset = 'tiny' | 'small';

export const SIZE_PRESETS: Record<SizePreset, { hidden: number; layers: number }> = {
  tiny: { hidden: 64, layers: 2 },
  small: { hidden: 256, layers: 6 },
};

/** Heads of width `headDim` that fill `width` (at least 1). */
const headsOf = (width: number, headDim: number): number => Math.max(1, Math.floor(width / headDim));

/** SwiGLU width ≈ 8/3·H rounded up to a multiple of 32 (fla rounds to 256, too coarse for tiny models). */
const swigluWidth = (hidden: number, ratio: number): number => 32 * Math.ceil((hidden * ratio * 2) / 3 / 32);

export const ARCHITECTURES: Record<string, Architecture> = {
  mamba: {
    modelType: 'mamba',
    description: 'Mamba (S6): expand 2, state 16, conv 4, dt rank ⌈H/16⌉, tied embeddings',
    tinyLayers: 2,
    config: ({ vocabSize, hidden, layers }) => ({
      model_type: 'mamba',
      vocab_size: vocabSize,
      hidden_size: hidden,
      num_hidden_layers: layers,
      state_size: 16,
      expand: 2,
      intermediate_size: 2 * hidden,
      conv_kernel: 4,
      time_step_rank: Math.ceil(hidden / 16),
      use_bias: false,
      use_conv_bias: true,
      layer_norm_epsilon: 1e-5,
      tie_word_embeddings: true,
    }),
  },
  mamba2: {
    modelType: 'mamba2',
    description: 'Mamba-2 (SSD): expand 2, head dim 16 (64 from H = 256), 1 group, state 16 (64 from H = 256), tied embeddings',
    tinyLayers: 2,
    config: ({ vocabSize, hidden, layers }) => {
      const headDim = hidden >= 256 ? 64 : 16;
      return {
        model_type: 'mamba2',
        vocab_size: vocabSize,
        hidden_size: hidden,
        num_hidden_layers: layers,
        expand: 2,
        head_dim: headDim,
        num_heads: (2 * hidden) / headDim,
        n_groups: 1,
        state_size: hidden >= 256 ? 64 : 16,
        conv_kernel: 4,
        chunk_size: 64,
        use_bias: false,
        use_conv_bias: true,
        layer_norm_epsilon: 1e-5,
        tie_word_embeddings: true,
      };
    },
  },
  rwkv: {
    modelType: 'rwkv',
    description: 'RWKV-4: attention width H, channel-mix width 4H, no rescaling, untied head',
    tinyLayers: 2,
    config: ({ vocabSize, hidden, layers }) => ({
      model_type: 'rwkv',
      vocab_size: vocabSize,
      hidden_size: hidden,
      num_hidden_layers: layers,
      attention_hidden_size: hidden,
      intermediate_size: 4 * hidden,
      layer_norm_epsilon: 1e-5,
      rescale_every: 0,
      context_length: 1024,
      tie_word_embeddings: false,
    }),
  },
  griffin: {
    modelType: 'recurrent_gemma',
    description: 'Griffin / RecurrentGemma: blocks recurrent, recurrent, local attention (window 2048); LRU width H; MLP 3H; heads of 16 (64 from H = 256), 1 KV head',
    tinyLayers: 3,
    config: ({ vocabSize, hidden, layers }) => {
      const heads = headsOf(hidden, hidden >= 256 ? 64 : 16);
      return {
        model_type: 'recurrent_gemma',
        vocab_size: vocabSize,
        hidden_size: hidden,
        num_hidden_layers: layers,
        intermediate_size: 6 * hidden,
        num_attention_heads: heads,
        num_key_value_heads: 1,
        head_dim: hidden / heads,
        lru_width: hidden,
        attention_window_size: 2048,
        conv1d_width: 4,
        logits_soft_cap: 30,
        rms_norm_eps: 1e-6,
        partial_rotary_factor: 0.5,
        rope_parameters: { rope_type: 'default', rope_theta: 10000, partial_rotary_factor: 0.5 },
        block_types: ['recurrent', 'recurrent', 'attention'],
        attention_bias: false,
        hidden_activation: 'gelu_pytorch_tanh',
        w_init_variance_scale: 0.01,
        final_w_init_variance_scale: 2 / layers,
        tie_word_embeddings: true,
      };
    },
  },
  gla: {
    modelType: 'gla',
    description: 'GLA (fla): expand_k 0.5, expand_v 1, 2 heads (4 from H = 256, as fla), SwiGLU ≈ 8/3·H',
    tinyLayers: 2,
    config: ({ vocabSize, hidden, layers }) => ({
      model_type: 'gla',
      vocab_size: vocabSize,
      hidden_size: hidden,
      num_hidden_layers: layers,
      num_heads: hidden >= 256 ? 4 : 2,
      expand_k: 0.5,
      expand_v: 1,
      hidden_ratio: 4,
      intermediate_size: swigluWidth(hidden, 4),
      hidden_act: 'swish',
      attn_mode: 'chunk',
      use_short_conv: false,
      use_output_gate: true,
      norm_eps: 1e-6,
      tie_word_embeddings: false,
    }),
  },
  retnet: {
    modelType: 'retnet',
    description: 'RetNet (fla): expand_k 1, expand_v 2, heads of 16 keys (32 from H = 256), SwiGLU ≈ 4/3·H',
    tinyLayers: 2,
    config: ({ vocabSize, hidden, layers }) => ({
      model_type: 'retnet',
      vocab_size: vocabSize,
      hidden_size: hidden,
      num_hidden_layers: layers,
      num_heads: headsOf(hidden, hidden >= 256 ? 32 : 16),
      expand_k: 1,
      expand_v: 2,
      hidden_ratio: 2,
      intermediate_size: swigluWidth(hidden, 2),
      hidden_act: 'swish',
      attn_mode: 'chunk',
      use_short_conv: false,
      use_output_gate: true,
      norm_eps: 1e-6,
      tie_word_embeddings: false,
    }),
  },
  hgrn: {
    modelType: 'hgrn',
    description: 'HGRN (fla): expand_ratio 1, lower bounds on, SwiGLU ≈ 8/3·H',
    tinyLayers: 2,
    config: ({ vocabSize, hidden, layers }) => ({
      model_type: 'hgrn',
      vocab_size: vocabSize,
      hidden_size: hidden,
      num_hidden_layers: layers,
      num_heads: 1,
      expand_ratio: 1,
      use_lower_bound: true,
      hidden_ratio: 4,
      intermediate_size: swigluWidth(hidden, 4),
      hidden_act: 'swish',
      attn_mode: 'chunk',
      use_short_conv: false,
      norm_eps: 1e-6,
      tie_word_embeddings: false,
    }),
  },
};

/** Other spellings accepted by --arch. */
const ALIASES: Record<string, string> = { recurrent_gemma: 'griffin', 'recurrent-gemma': 'griffin', recurrentgemma: 'griffin' };

export function architectureNames(): string[] {
  return Object.keys(ARCHITECTURES);
}

export function getArchitecture(name: string): Architecture {
  const arch = ARCHITECTURES[ALIASES[name] ?? name];
  if (arch === undefined) throw new ConfigError(`unknown architecture '${name}'; choose one of ${architectureNames().join(', ')} or give a config.json path`);
  return arch;
}

export interface ArchOptions {
  vocabSize: number;
  size?: SizePreset;
  /** Overrides the preset's hidden size. */
  hidden?: number;
  /** Overrides the preset's (or the config's) number of layers. */
  layers?: number;
}

/**
 * The config.json object to train: from an architecture name (sizes from the preset and the
 * overrides), or from a given config.json object (vocab_size set to `vocabSize`; hidden_size
 * and num_hidden_layers replaced only when given).
 */
export function architectureConfig(arch: string | RawConfig, o: ArchOptions): RawConfig {
  for (const [key, value] of [['vocab size', o.vocabSize], ['hidden size', o.hidden], ['layers', o.layers]] as const) {
    if (value !== undefined && (!Number.isInteger(value) || value <= 0)) throw new ConfigError(`${key} should be a positive integer, got ${value}`);
  }
  if (typeof arch !== 'string') {
    if (typeof arch.model_type !== 'string') throw new ConfigError('the architecture config.json has no "model_type"');
    return {
      ...arch,
      vocab_size: o.vocabSize,
      ...(o.hidden === undefined ? {} : { hidden_size: o.hidden }),
      ...(o.layers === undefined ? {} : { num_hidden_layers: o.layers }),
    };
  }
  const a = getArchitecture(arch);
  const preset = SIZE_PRESETS[o.size ?? 'tiny'];
  if (preset === undefined) throw new ConfigError(`unknown size '${o.size}'; choose ${Object.keys(SIZE_PRESETS).join(' or ')}`);
  const layers = o.layers ?? ((o.size ?? 'tiny') === 'tiny' ? a.tinyLayers : preset.layers);
  return a.config({ vocabSize: o.vocabSize, hidden: o.hidden ?? preset.hidden, layers });
}
