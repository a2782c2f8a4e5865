/**
 * Converting a checkpoint folder's floating-point weights to another stored dtype (BF16, F16 or
 * F32), e.g. to make a bfloat16 checkpoint from a float32 fixture for the stored-weights bench
 * and tests. Values are rounded to nearest even by the project's safetensors writer; integer
 * tensors, config.json and tokenizer.json are carried over unchanged.
 */
import { openCheckpoint, writeCheckpoint } from './checkpoint.js';
import type { TensorsToWrite } from './safetensors.js';

export type FloatStorage = 'BF16' | 'F16' | 'F32';

const FLOAT_DTYPES = new Set(['F64', 'F32', 'F16', 'BF16']);

/** Writes `from`'s checkpoint into `to` with every floating-point tensor stored as `dtype`. */
export function convertCheckpoint(from: string, to: string, dtype: FloatStorage): void {
  const checkpoint = openCheckpoint(from);
  try {
    const tensors: TensorsToWrite = {};
    for (const name of checkpoint.tensorNames()) {
      const info = checkpoint.info(name);
      if (!FLOAT_DTYPES.has(info.dtype)) throw new Error(`convertCheckpoint: ${from} tensor '${name}' has dtype ${info.dtype}; only floating-point checkpoints are converted`);
      tensors[name] = { dtype, shape: info.shape, data: checkpoint.readFloat(name, 'float64') };
    }
    writeCheckpoint(to, { ...checkpoint.config, torch_dtype: dtype === 'BF16' ? 'bfloat16' : dtype === 'F16' ? 'float16' : 'float32' }, tensors, checkpoint.tokenizerPath ?? undefined);
  } finally {
    checkpoint.close();
  }
}
