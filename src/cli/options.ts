/**
 * The options every command shares (--model, --text/--text-file/--ids, --json, --dtype, --weights) and
 * turning them into a loaded model and token ids.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import type { DType } from '../core/index.js';
import type { WeightStorage } from '../models/parameters.js';
import { loadModel } from '../io/load-model.js';
import type { LoadedModel } from '../io/load-model.js';
import { SafetensorsReader } from '../io/safetensors.js';
import { loadTokenizer } from '../io/tokenizer.js';
import type { TextTokenizer } from '../io/tokenizer.js';
import { CliError } from './errors.js';

const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The embedded default model, used when --model is not given. */
export const DEFAULT_MODEL_DIR = path.join(PACKAGE_ROOT, 'models', 'default');

/** The embedded which-novel classifier: the demo's second part, and offered by the viewer. */
export const DEFAULT_CLASSIFIER_DIR = path.join(PACKAGE_ROOT, 'models', 'classifier');

export interface ModelOptions {
  model?: string;
  dtype?: string;
  weights?: string;
}

export interface InputOptions {
  text?: string;
  textFile?: string;
  ids?: string;
}

export function addModelOptions(command: Command): Command {
  return command
    .option('--model <dir>', 'checkpoint folder (config.json + model.safetensors); default: the embedded model')
    .option('--dtype <type>', 'compute type: float32 or float64', 'float32')
    .option('--weights <mode>', 'decoded: float copies of the weights; stored: keep bf16/f16 matrices 16-bit (half the memory, same results)', 'decoded');
}

export function addInputOptions(command: Command): Command {
  return command
    .option('--text <text>', 'input text')
    .option('--text-file <file>', 'read the input text from a file')
    .option('--ids <file[:key]>', 'token ids from a safetensors file (key optional when it holds one tensor)');
}

export function parseDType(value: string | undefined): DType {
  if (value === undefined || value === 'float32' || value === 'float64') return value ?? 'float32';
  throw new CliError(`--dtype must be float32 or float64, got '${value}'`);
}

export function parseWeights(value: string | undefined): WeightStorage {
  if (value === undefined || value === 'decoded' || value === 'stored') return value ?? 'decoded';
  throw new CliError(`--weights must be decoded or stored, got '${value}'`);
}

export function openModel(options: ModelOptions): LoadedModel {
  return loadModel(options.model ?? DEFAULT_MODEL_DIR, { dtype: parseDType(options.dtype), weights: parseWeights(options.weights) });
}

export function openTokenizer(loaded: LoadedModel): TextTokenizer {
  if (loaded.tokenizerPath === null) throw new CliError(`${loaded.dir} has no tokenizer.json; pass token ids with --ids instead of text`);
  return loadTokenizer(loaded.tokenizerPath);
}

/** Token ids from --ids, --text or --text-file (exactly one), checked against the vocabulary. */
export function readInputIds(options: InputOptions, loaded: LoadedModel, fallbackText?: string): Int32Array {
  const given = [options.text, options.textFile, options.ids].filter((v) => v !== undefined).length;
  if (given > 1) throw new CliError('give only one of --text, --text-file and --ids');
  let ids: Int32Array;
  if (options.ids !== undefined) {
    ids = readIdsFile(options.ids);
  } else {
    const text = options.textFile !== undefined ? readTextFile(options.textFile) : (options.text ?? fallbackText);
    if (text === undefined) throw new CliError('no input: give --text, --text-file or --ids');
    ids = Int32Array.from(openTokenizer(loaded).encode(text));
  }
  if (ids.length === 0) throw new CliError('the input is empty (no tokens)');
  const vocab = loaded.model.config.vocabSize;
  const bad = ids.findIndex((id) => id < 0 || id >= vocab);
  if (bad >= 0) throw new CliError(`token id ${ids[bad]} at position ${bad} is outside the model's vocabulary [0, ${vocab})`);
  return ids;
}

function readTextFile(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    throw new CliError(`cannot read text file ${file}`);
  }
}

/** `FILE.safetensors[:key]` → flat int32 ids. */
export function readIdsFile(spec: string): Int32Array {
  const match = /^(.*?\.safetensors)(?::(.+))?$/.exec(spec);
  if (match === null) throw new CliError(`--ids expects FILE.safetensors[:key], got '${spec}'`);
  const [, file, key] = match;
  if (!fs.existsSync(file)) throw new CliError(`ids file ${file} does not exist`);
  const reader = SafetensorsReader.open(file);
  try {
    const keys = reader.keys();
    const name = key ?? (keys.length === 1 ? keys[0] : undefined);
    if (name === undefined) throw new CliError(`${file} holds ${keys.length} tensors (${keys.slice(0, 5).join(', ')}…); name one as ${file}:KEY`);
    if (!reader.has(name)) throw new CliError(`${file} has no tensor '${name}' (it has ${keys.slice(0, 10).join(', ')})`);
    return reader.readInt(name);
  } finally {
    reader.close();
  }
}

/** Prints one JSON document (for --json) on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
