/**
 * Vision checkpoint folders (Node): config.json (`model_type` vim or mlla) + model.safetensors
 * under the tensor names of src/vision/vim.ts and src/vision/mlla.ts, read and written with
 * the project's checkpoint code. A bare hustvl/Vim config is completed from the tensor shapes
 * (completeVimConfig).
 */
import type { DType } from '../core/index.js';
import { StoreSource } from '../models/parameters.js';
import type { RawConfig } from '../models/config.js';
import { buildVisionModel, completeVimConfig } from '../vision/checkpoint.js';
import type { VisionModel } from '../vision/model.js';
import { openCheckpoint, writeCheckpoint } from './checkpoint.js';
import type { TensorsToWrite } from './safetensors.js';

export function loadVisionModel(dir: string, dtype: DType = 'float32'): VisionModel {
  const checkpoint = openCheckpoint(dir);
  try {
    const raw = checkpoint.config.model_type === 'vim' ? completeVimConfig(checkpoint.config, checkpoint) : checkpoint.config;
    return buildVisionModel(raw, new StoreSource(checkpoint, dtype));
  } finally {
    checkpoint.close();
  }
}

/** Writes config.json + model.safetensors (float32) into `dir`; `extra` keys are added to config.json. */
export function saveVisionModel(dir: string, model: VisionModel, extra: RawConfig = {}): void {
  const tensors: TensorsToWrite = {};
  for (const [name, t] of model.parameters) tensors[name] = { dtype: 'F32', shape: [...t.shape], data: Float32Array.from(t.data) };
  writeCheckpoint(dir, { ...extra, ...model.hfConfig }, tensors);
}
