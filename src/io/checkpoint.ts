// Hugging Face checkpoint folders (Node): config.json + model.safetensors, or shards listed
// in model.safetensors.index.json, + optional tokenizer.json. Which model types and tensor
// shapes are valid is the model registry's business, not this module's.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CheckpointError } from './checkpoint-error.js';
import { parseConfigJson, stringifyConfigJson } from './config-json.js';
import type { HalfArray } from '../core/stored-weight.js';
import { writeFileAtomic } from './node-file.js';
import {
  SafetensorsError, SafetensorsReader, serializeSafetensors, type FloatKind, type TensorInfo, type TensorsToWrite,
} from './safetensors.js';

export { CheckpointError, type CheckpointErrorCode } from './checkpoint-error.js';
export { parseConfigJson, stringifyConfigJson } from './config-json.js';

export const CONFIG_FILE = 'config.json';
export const WEIGHTS_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';
export const TOKENIZER_FILE = 'tokenizer.json';

export interface Checkpoint {
  readonly dir: string;
  readonly config: Record<string, unknown>;
  readonly modelType: string;
  /** tokenizer.json in the folder, or null. */
  readonly tokenizerPath: string | null;
  /** Tensor names, sorted. */
  tensorNames(): string[];
  has(name: string): boolean;
  info(name: string): TensorInfo;
  /** The tensor as float32/float64, into `out` when given (see SafetensorsReader.readFloat). */
  readFloat(name: string, dtype: 'float32', out?: Float32Array): Float32Array;
  readFloat(name: string, dtype: 'float64', out?: Float64Array): Float64Array;
  readFloat(name: string, dtype: FloatKind, out?: Float32Array | Float64Array): Float32Array | Float64Array;
  /** The 16-bit values of a BF16 or F16 tensor (bit patterns, into `out` when given), or null for other dtypes. */
  readHalf(name: string, out?: Uint16Array): HalfArray | null;
  /** Number of tensors of each stored dtype, e.g. { F32: 22 }. */
  dtypes(): Record<string, number>;
  close(): void;
}

/** Opens a checkpoint folder, reading config.json and every weight file's header (no tensor data). */
export function openCheckpoint(dir: string): Checkpoint {
  checkDirectory(dir);
  const config = readConfig(dir);
  const modelType = config.model_type;
  if (typeof modelType !== 'string' || modelType === '') {
    throw new CheckpointError('NO_MODEL_TYPE', `${path.join(dir, CONFIG_FILE)} has no "model_type"`);
  }
  const tokenizer = path.join(dir, TOKENIZER_FILE);
  return new FolderCheckpoint(dir, config, modelType, fs.existsSync(tokenizer) ? tokenizer : null, openWeights(dir));
}

function checkDirectory(dir: string): void {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    throw new CheckpointError('NOT_FOUND', `checkpoint folder ${dir} does not exist`);
  }
  if (!stat.isDirectory()) throw new CheckpointError('NOT_A_DIRECTORY', `${dir} is not a folder (a checkpoint is a folder with config.json)`);
}

function readConfig(dir: string): Record<string, unknown> {
  const file = path.join(dir, CONFIG_FILE);
  if (!fs.existsSync(file)) throw new CheckpointError('NO_CONFIG', `${dir} has no ${CONFIG_FILE}`);
  try {
    return parseConfigJson(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    if (error instanceof CheckpointError) throw new CheckpointError(error.code, `${file}: ${error.message}`);
    throw error;
  }
}

/** Tensor name → the reader holding it. A single file wins over an index, as in transformers. */
function openWeights(dir: string): Map<string, SafetensorsReader> {
  const single = path.join(dir, WEIGHTS_FILE);
  if (fs.existsSync(single)) {
    const reader = openWeightFile(single);
    return new Map(reader.keys().map((name) => [name, reader]));
  }
  const index = path.join(dir, INDEX_FILE);
  if (fs.existsSync(index)) return openShards(dir, readShardIndex(index));
  const hint = fs.existsSync(path.join(dir, 'pytorch_model.bin')) ? ' (pytorch_model.bin found: only safetensors weights are supported)' : '';
  throw new CheckpointError('NO_WEIGHTS', `${dir} has no ${WEIGHTS_FILE} or ${INDEX_FILE}${hint}`);
}

function openWeightFile(file: string): SafetensorsReader {
  try {
    return SafetensorsReader.open(file);
  } catch (error) {
    if (!(error instanceof SafetensorsError)) throw error;
    throw new CheckpointError('BAD_WEIGHTS', `${file}: ${error.message}`, { cause: error });
  }
}

/** The index's weight_map (tensor name → shard file name), checked for form. */
function readShardIndex(file: string): Map<string, string> {
  const bad = (why: string): CheckpointError => new CheckpointError('BAD_INDEX', `${file}: ${why}`);
  let index: unknown;
  try {
    index = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw bad(`not valid JSON (${(error as Error).message})`);
  }
  const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) throw bad('no "weight_map" object');
  const entries = Object.entries(weightMap);
  for (const [name, shard] of entries) {
    if (typeof shard !== 'string') throw bad(`weight_map[${JSON.stringify(name)}] is not a file name`);
    // Shards are plain file names in the folder; anything else could read outside it.
    if (shard !== path.basename(shard) || shard === '.' || shard === '..') {
      throw bad(`shard ${JSON.stringify(shard)} is not a file name inside the checkpoint folder`);
    }
  }
  return new Map(entries as [string, string][]);
}

function openShards(dir: string, weightMap: Map<string, string>): Map<string, SafetensorsReader> {
  const readers = new Map<string, SafetensorsReader>();
  const byTensor = new Map<string, SafetensorsReader>();
  try {
    for (const [name, shard] of weightMap) {
      const reader = readers.get(shard) ?? openShard(dir, shard);
      readers.set(shard, reader);
      if (!reader.has(name)) {
        throw new CheckpointError('SHARD_MISSING_TENSOR', `${path.join(dir, shard)} lacks tensor ${JSON.stringify(name)} that ${INDEX_FILE} places there`);
      }
      byTensor.set(name, reader);
    }
  } catch (error) {
    for (const reader of readers.values()) reader.close();
    throw error;
  }
  return byTensor;
}

function openShard(dir: string, shard: string): SafetensorsReader {
  const file = path.join(dir, shard);
  if (!fs.existsSync(file)) throw new CheckpointError('MISSING_SHARD', `${INDEX_FILE} lists shard ${shard}, which is missing from ${dir}`);
  return openWeightFile(file);
}

class FolderCheckpoint implements Checkpoint {
  constructor(
    readonly dir: string,
    readonly config: Record<string, unknown>,
    readonly modelType: string,
    readonly tokenizerPath: string | null,
    private readonly readers: Map<string, SafetensorsReader>,
  ) {}

  tensorNames(): string[] {
    return [...this.readers.keys()].sort();
  }

  has(name: string): boolean {
    return this.readers.has(name);
  }

  info(name: string): TensorInfo {
    return this.reader(name).info(name);
  }

  readFloat(name: string, dtype: 'float32', out?: Float32Array): Float32Array;
  readFloat(name: string, dtype: 'float64', out?: Float64Array): Float64Array;
  readFloat(name: string, dtype: FloatKind, out?: Float32Array | Float64Array): Float32Array | Float64Array;
  readFloat(name: string, dtype: FloatKind, out?: Float32Array | Float64Array): Float32Array | Float64Array {
    return this.reader(name).readFloat(name, dtype, out);
  }

  readHalf(name: string, out?: Uint16Array): HalfArray | null {
    const { dtype } = this.info(name);
    if (dtype !== 'BF16' && dtype !== 'F16') return null;
    return { format: dtype === 'BF16' ? 'bf16' : 'f16', bits: this.reader(name).readHalfBits(name, out) };
  }

  dtypes(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const name of this.readers.keys()) {
      const { dtype } = this.info(name);
      counts[dtype] = (counts[dtype] ?? 0) + 1;
    }
    return counts;
  }

  close(): void {
    for (const reader of new Set(this.readers.values())) reader.close();
  }

  private reader(name: string): SafetensorsReader {
    const reader = this.readers.get(name);
    if (!reader) throw new CheckpointError('TENSOR_NOT_FOUND', `checkpoint ${this.dir} has no tensor ${JSON.stringify(name)}`);
    return reader;
  }
}

/**
 * Writes a loadable checkpoint into `dir` (created if needed): model.safetensors, then
 * tokenizer.json (copied from `tokenizerJsonPath`), then config.json. Each file is written
 * atomically (temporary file + rename), config.json last, so a crash never leaves a
 * half-written file, nor a config.json beside stale weights. A stale shard index is removed
 * (it would otherwise describe other weights). Other files in `dir` are left alone.
 */
export function writeCheckpoint(
  dir: string,
  config: Record<string, unknown>,
  tensors: TensorsToWrite,
  tokenizerJsonPath?: string,
): void {
  if (typeof config.model_type !== 'string' || config.model_type === '') {
    throw new CheckpointError('NO_MODEL_TYPE', 'cannot write a checkpoint whose config has no "model_type"');
  }
  // Everything that can fail on bad input happens before the folder is touched.
  const weights = serializeSafetensors(tensors, { format: 'pt' });
  const configText = stringifyConfigJson(config);
  try {
    const tokenizer = tokenizerJsonPath === undefined ? null : fs.readFileSync(tokenizerJsonPath);
    fs.mkdirSync(dir, { recursive: true });
    fs.rmSync(path.join(dir, CONFIG_FILE), { force: true });
    writeFileAtomic(path.join(dir, WEIGHTS_FILE), weights);
    fs.rmSync(path.join(dir, INDEX_FILE), { force: true });
    if (tokenizer) writeFileAtomic(path.join(dir, TOKENIZER_FILE), tokenizer);
    writeFileAtomic(path.join(dir, CONFIG_FILE), configText);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new CheckpointError('WRITE_FAILED', `cannot write checkpoint ${dir}: ${reason}`, { cause: error });
  }
}
