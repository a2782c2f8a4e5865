/**
 * Vision models from a config.json (`model_type` vim or mlla) and a tensor store under the
 * tensor names of vim.ts / mlla.ts: building, seeded initialisation, and completing a bare
 * hustvl/Vim config from the tensor shapes. Reading and writing checkpoint folders is
 * src/io/vision-checkpoint.ts (Node). Released hustvl/Vim weights are PyTorch pickles:
 * convert their `checkpoint["model"]` state dict to safetensors (docs/vision.md).
 */
import type { DType } from '../core/index.js';
import { ConfigError } from '../models/config.js';
import type { RawConfig } from '../models/config.js';
import { InitSource, ParameterRegistry } from '../models/parameters.js';
import type { ParameterSource, TensorStore } from '../models/parameters.js';
import { Mlla, parseMllaConfig } from './mlla.js';
import { VISION_MODEL_TYPES } from './model.js';
import type { VisionModel } from './model.js';
import { parseVimConfig, VisionMamba } from './vim.js';

/** Builds a vision model of config.json `raw` with parameters from `source`. */
export function buildVisionModel(raw: RawConfig, source: ParameterSource): VisionModel {
  const params = new ParameterRegistry(source);
  switch (raw.model_type) {
    case 'vim':
      return new VisionMamba(parseVimConfig(raw), params);
    case 'mlla':
      return new Mlla(parseMllaConfig(raw), params);
    default:
      throw new ConfigError(`not a vision model: model_type ${JSON.stringify(raw.model_type)} (vision model types: ${VISION_MODEL_TYPES.join(', ')})`);
  }
}

/** A freshly initialised model (seeded). */
export function initVisionModel(raw: RawConfig, seed: number, dtype: DType = 'float32'): VisionModel {
  return buildVisionModel(raw, new InitSource(seed, dtype));
}

/** Whether a checkpoint folder's config.json names a vision model type. */
export function isVisionConfig(raw: RawConfig): boolean {
  return (VISION_MODEL_TYPES as readonly unknown[]).includes(raw.model_type);
}

/**
 * A hustvl/Vim state dict converted to safetensors needs only `{"model_type": "vim"}` in
 * config.json: every size missing from it is read off the tensor shapes (E, C, P from
 * patch_embed.proj.weight [E, C, P, P]; image size from pos_embed [1, (S/P)² + 1, E]; depth from
 * layers.ℓ.norm.weight; D, N, R, K from in_proj, A_log, dt_proj, conv1d; classes from head;
 * RMSNorm unless layers.0.norm.bias exists). Keys given in config.json win.
 */
export function completeVimConfig(raw: RawConfig, store: TensorStore): RawConfig {
  const shape = (name: string): number[] | null => (store.has(name) ? store.info(name).shape : null);
  const inferred: RawConfig = {};
  const patch = shape('patch_embed.proj.weight');
  const pos = shape('pos_embed');
  if (patch !== null && patch.length === 4) Object.assign(inferred, { hidden_size: patch[0], num_channels: patch[1], patch_size: patch[2] });
  if (patch !== null && pos !== null && pos.length === 3) inferred.image_size = Math.round(Math.sqrt(pos[1] - 1)) * patch[2];
  let depth = 0;
  while (store.has(`layers.${depth}.norm.weight`)) depth++;
  if (depth > 0) inferred.num_hidden_layers = depth;
  const inProj = shape('layers.0.mixer.in_proj.weight');
  if (inProj !== null) inferred.intermediate_size = inProj[0] / 2;
  const aLog = shape('layers.0.mixer.A_log');
  if (aLog !== null) inferred.state_size = aLog[1];
  const dt = shape('layers.0.mixer.dt_proj.weight');
  if (dt !== null) inferred.time_step_rank = dt[1];
  const conv = shape('layers.0.mixer.conv1d.weight');
  if (conv !== null) inferred.conv_kernel = conv[2];
  const head = shape('head.weight');
  if (head !== null && raw.id2label === undefined) inferred.num_labels = head[0];
  if (depth > 0) inferred.rms_norm = !store.has('layers.0.norm.bias');
  inferred.use_conv_bias = store.has('layers.0.mixer.conv1d.bias');
  inferred.use_bias = store.has('layers.0.mixer.in_proj.bias');
  if (inProj !== null && typeof inferred.hidden_size === 'number') inferred.expand = (inProj[0] / 2) / inferred.hidden_size;
  return { ...inferred, ...Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined && v !== null)) };
}
