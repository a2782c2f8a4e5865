/** Loads a model from a checkpoint folder (config.json + safetensors weights). */
import type { DType } from '../core/index.js';
import type { DecoderLM } from '../models/model.js';
import { modelFromStore } from '../models/index.js';
import { openCheckpoint } from './checkpoint.js';

export interface LoadedModel {
  model: DecoderLM;
  dir: string;
  tokenizerPath: string | null;
}

export function loadModel(dir: string, options: { dtype?: DType } = {}): LoadedModel {
  const checkpoint = openCheckpoint(dir);
  try {
    const model = modelFromStore(checkpoint.config, checkpoint, options.dtype ?? 'float32');
    return { model, dir, tokenizerPath: checkpoint.tokenizerPath };
  } finally {
    checkpoint.close();
  }
}
