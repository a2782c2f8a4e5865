/** Loads a model from a checkpoint folder (config.json + safetensors weights). */
import type { DType } from '../core/index.js';
import type { DecoderLM } from '../models/model.js';
import { modelFromStore } from '../models/index.js';
import type { WeightStorage } from '../models/parameters.js';
import { openCheckpoint } from './checkpoint.js';

export interface LoadedModel {
  model: DecoderLM;
  dir: string;
  tokenizerPath: string | null;
}

export interface LoadOptions {
  /** Compute dtype (default float32). */
  dtype?: DType;
  /**
   * 'decoded' (default): every weight as a float32/float64 copy. 'stored': BF16/F16 matrices
   * stay 16-bit and are widened inside the matrix products — half the weight memory, the same
   * numbers, a little slower (src/core/stored-weight.ts; bench section `weights`).
   */
  weights?: WeightStorage;
}

export function loadModel(dir: string, options: LoadOptions = {}): LoadedModel {
  const checkpoint = openCheckpoint(dir);
  try {
    const model = modelFromStore(checkpoint.config, checkpoint, options.dtype ?? 'float32', options.weights ?? 'decoded');
    return { model, dir, tokenizerPath: checkpoint.tokenizerPath };
  } finally {
    checkpoint.close();
  }
}
