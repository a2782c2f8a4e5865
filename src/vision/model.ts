/**
 * What every vision classifier of this project shares: images → patch embeddings → a token
 * sequence → residual blocks with one sequence mixer each → a class readout. Vision Mamba
 * (vim.ts) reads its class token, MLLA (mlla.ts) the mean of all tokens; the explanation and
 * evaluation code (explain.ts, evaluate.ts) only sees this interface.
 *
 * Shapes: B batch, C image channels, S image side, P patch side, G = S/P grid side,
 * M = G² patches, L tokens (M, or M + 1 with a class token), E width, K classes.
 * Traces use the key names of src/models/model.ts: `block_in.ℓ` (residual stream entering
 * block ℓ), `mixer_in.ℓ.KIND`, `mixer_out.ℓ.KIND`, plus `patch_embeds` and `tokens`.
 */
import * as F from '../core/index.js';
import { ShapeError } from '../core/index.js';
import type { DType, Tensor } from '../core/index.js';
import type { NonCausalDecomposition } from '../implicit/decomposition.js';
import { ConfigError, ConfigReader } from '../models/config.js';
import type { RawConfig } from '../models/config.js';
import type { Trace } from '../models/model.js';
import { normal, zeros } from '../models/parameters.js';
import type { ParameterRegistry } from '../models/parameters.js';
import { patchify } from './ops.js';

export type VisionModelType = 'vim' | 'mlla';
export const VISION_MODEL_TYPES: readonly VisionModelType[] = ['vim', 'mlla'];

/**
 * How the classifier reads the sequence: the hidden state of one token (Vim's class token)
 * or the mean over all tokens (MLLA's average pool). Explanations use the same readout as
 * their query: the CLS row of an attention matrix, or the mean of its rows.
 */
export type Readout = { kind: 'token'; position: number } | { kind: 'mean' };

/** The image-side configuration every vision model has (config.json keys in comments). */
export interface ImageConfig {
  /** S, `image_size` (32). */
  imageSize: number;
  /** P, `patch_size` (4). */
  patchSize: number;
  /** C, `num_channels` (3). */
  numChannels: number;
  /** E, `hidden_size` (64). */
  hiddenSize: number;
  /** Blocks, `num_hidden_layers` (4). */
  numLayers: number;
  /** Class names, `id2label` (index order). */
  labels: string[];
  /** Per-channel normalisation of [0, 1] pixels: (x − mean) / std, `image_mean`, `image_std` (0.5, 0.5). */
  imageMean: number[];
  imageStd: number[];
}

export interface VisionModel {
  readonly modelType: VisionModelType;
  readonly image: ImageConfig;
  /** config.json as written next to the weights. */
  readonly hfConfig: RawConfig;
  /** Every parameter by checkpoint name. */
  readonly parameters: Map<string, Tensor>;
  readonly dtype: DType;
  /** G, the patch grid side. */
  readonly grid: number;
  /** L, tokens per image. */
  readonly length: number;
  readonly readout: Readout;
  /** The mixer kind traced as `mixer_out.ℓ.KIND` (vim, mlla). */
  readonly mixerKind: string;
  /** Token index of patch m (row-major over the grid) [M]. */
  readonly patchTokens: Int32Array;
  /** Patch embeddings [B, M, E] of normalised images [B, C, S, S]. */
  embedPatches(images: Tensor): Tensor;
  /** Class logits [B, K] from patch embeddings [B, M, E] (differentiable in them); fills `trace`. */
  forward(patchEmbeds: Tensor, trace?: Trace): Tensor;
  /** The implicit attention of block ℓ's mixer, given its traced input `mixer_in.ℓ.KIND`. */
  decompose(layer: number, mixerInput: Tensor): NonCausalDecomposition;
}

/** Class logits [B, K] of normalised images [B, C, S, S]. */
export function classify(model: VisionModel, images: Tensor, trace?: Trace): Tensor {
  return model.forward(model.embedPatches(images), trace);
}

export function parseImageConfig(r: ConfigReader, defaults: { hiddenSize: number; numLayers: number }): ImageConfig {
  const numChannels = r.size('num_channels', 3);
  const imageSize = r.size('image_size', 32);
  const patchSize = r.size('patch_size', 4);
  if (imageSize % patchSize !== 0) throw new ConfigError(`config: image_size ${imageSize} is not a multiple of patch_size ${patchSize}`);
  const labels = labelsOf(r.raw);
  const mean = r.numberArray('image_mean', new Array<number>(numChannels).fill(0.5));
  const std = r.numberArray('image_std', new Array<number>(numChannels).fill(0.5));
  if (mean.length !== numChannels || std.length !== numChannels || std.some((s) => !(s > 0))) {
    throw new ConfigError(`config: image_mean and image_std should hold ${numChannels} values (std > 0)`);
  }
  return {
    imageSize,
    patchSize,
    numChannels,
    hiddenSize: r.size('hidden_size', defaults.hiddenSize),
    numLayers: r.size('num_hidden_layers', defaults.numLayers),
    labels,
    imageMean: mean,
    imageStd: std,
  };
}

/** Class names from id2label, or from num_labels as LABEL_0 … (transformers' defaults). */
function labelsOf(raw: RawConfig): string[] {
  const id2label = raw.id2label;
  if (typeof id2label === 'object' && id2label !== null && !Array.isArray(id2label)) {
    const entries = Object.entries(id2label as Record<string, unknown>);
    const labels: string[] = [];
    for (const [key, value] of entries) {
      const i = Number(key);
      if (!Number.isInteger(i) || i < 0 || i >= entries.length || typeof value !== 'string') throw new ConfigError('config: id2label should map 0 … K−1 to names');
      labels[i] = value;
    }
    if (labels.length === entries.length) return labels;
  }
  const n = new ConfigReader(raw, String(raw.model_type)).size('num_labels', 1000);
  return Array.from({ length: n }, (_, i) => `LABEL_${i}`);
}

/** The image keys of config.json. */
export function imageConfigJson(c: ImageConfig): RawConfig {
  return {
    image_size: c.imageSize,
    patch_size: c.patchSize,
    num_channels: c.numChannels,
    hidden_size: c.hiddenSize,
    num_hidden_layers: c.numLayers,
    num_labels: c.labels.length,
    id2label: Object.fromEntries(c.labels.map((l, i) => [String(i), l])),
    label2id: Object.fromEntries(c.labels.map((l, i) => [l, i])),
    image_mean: c.imageMean,
    image_std: c.imageStd,
  };
}

/**
 * The patch embedding of ViT / Vim: Conv2d(C, E, P, stride P) as a linear map of each
 * flattened patch (`patch_embed.proj.weight` [E, C, P, P], `.bias` [E]).
 */
export function declarePatchEmbed(params: ParameterRegistry, c: ImageConfig): (images: Tensor) => Tensor {
  const { numChannels: C, patchSize: P, hiddenSize: E } = c;
  const fanIn = C * P * P;
  const weight = params.take('patch_embed.proj.weight', [E, C, P, P], normal(1 / Math.sqrt(fanIn)));
  const bias = params.take('patch_embed.proj.bias', [E], zeros);
  return (images) => {
    if (images.rank !== 4 || images.shape[1] !== C || images.shape[2] !== c.imageSize || images.shape[3] !== c.imageSize) {
      throw new ShapeError(`vision model: images should be [B, ${C}, ${c.imageSize}, ${c.imageSize}], got [${images.shape.join(', ')}]`);
    }
    return F.linear(patchify(images, P), F.reshape(weight, [E, fanIn]), bias); // [B, M, C·P·P] → [B, M, E]
  };
}

/** Rows of `x` [B, L, E] at the readout: [B, E]. */
export function readOut(x: Tensor, readout: Readout): Tensor {
  if (readout.kind === 'mean') return F.mean(x, 1); // [B, L, E] → [B, E]
  const [B, , E] = x.shape;
  return F.reshape(F.slice(x, 1, readout.position, readout.position + 1), [B, E]); // [B, 1, E] → [B, E]
}
