// Reading and writing Hugging Face config.json text. Pure module.
//
// Non-finite floats are not JSON. transformers 5 writes them as {"__float__": "Infinity"}
// (e.g. Mamba2's time_step_limit); Python's json.dumps (older transformers) writes bare
// Infinity / -Infinity / NaN tokens. Both are read; the former is written.
import { CheckpointError } from './checkpoint-error.js';

const FLOAT_NAMES: Record<string, number> = { Infinity: Infinity, '-Infinity': -Infinity, NaN: NaN };
const FLOAT_KEY = '__float__';

/** Parses config.json text into a plain object, decoding non-finite floats anywhere in the tree. */
export function parseConfigJson(text: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(quotePythonFloats(text));
  } catch (error) {
    throw new CheckpointError('BAD_CONFIG_JSON', `config.json is not valid JSON (${(error as Error).message})`);
  }
  if (!isPlainObject(parsed)) throw new CheckpointError('BAD_CONFIG_JSON', 'config.json is not a JSON object');
  return decodeFloats(parsed) as Record<string, unknown>;
}

/** Rewrites bare NaN / Infinity / -Infinity tokens (outside strings) as __float__ objects. */
function quotePythonFloats(text: string): string {
  return text.replace(/"(?:[^"\\]|\\.)*"|-?Infinity|NaN/g, (token) =>
    token.startsWith('"') ? token : `{"${FLOAT_KEY}":"${token}"}`,
  );
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function decodeFloats(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decodeFloats);
  if (!isPlainObject(value)) return value;
  const keys = Object.keys(value);
  if (keys.length === 1 && keys[0] === FLOAT_KEY) return decodeFloat(value[FLOAT_KEY]);
  // Object.fromEntries defines own properties, so a "__proto__" key stays a key.
  return Object.fromEntries(keys.map((key) => [key, decodeFloats(value[key])]));
}

function decodeFloat(name: unknown): number {
  if (typeof name === 'string' && Object.hasOwn(FLOAT_NAMES, name)) return FLOAT_NAMES[name];
  throw new CheckpointError(
    'BAD_CONFIG_JSON',
    `config.json: unsupported ${JSON.stringify({ [FLOAT_KEY]: name })} (expected "Infinity", "-Infinity" or "NaN")`,
  );
}

/**
 * Keys that the Python config classes type as float, by model_type (transformers 5.17 and its
 * saved fixtures; flash-linear-attention's config classes). Their integral values are written
 * with a decimal point (30 → 30.0) so Python reads a float, as transformers writes them:
 * strictly typed configs (transformers 5, huggingface_hub @strict) reject an int where a
 * float is declared. Arrays under such a key (time_step_limit) are floats element-wise.
 */
export const PYTHON_FLOAT_KEYS: Readonly<Record<string, readonly string[]>> = {
  mamba: ['initializer_range', 'layer_norm_epsilon', 'time_step_floor', 'time_step_max', 'time_step_min', 'time_step_scale'],
  falcon_mamba: ['initializer_range', 'layer_norm_epsilon', 'mixer_rms_eps', 'time_step_floor', 'time_step_max', 'time_step_min', 'time_step_scale'],
  mamba2: ['initializer_range', 'layer_norm_epsilon', 'time_step_floor', 'time_step_limit', 'time_step_max', 'time_step_min'],
  rwkv: ['layer_norm_epsilon'],
  recurrent_gemma: ['attention_dropout', 'final_w_init_variance_scale', 'logits_soft_cap', 'partial_rotary_factor', 'rms_norm_eps', 'rope_theta', 'w_init_variance_scale'],
  gla: ['clamp_min', 'expand_k', 'initializer_range', 'norm_eps'],
  retnet: ['expand_k', 'expand_v', 'initializer_range', 'norm_eps'],
  hgrn: ['initializer_range', 'norm_eps'],
};

/** Marks an integral float while JSON.stringify runs; replaced by `N.0` in the text. */
const FLOAT_MARK = '__iattn_python_float__:';

/**
 * config.json text as transformers writes it: keys sorted at every level, two-space indent,
 * a final newline, non-finite numbers as {"__float__": ...}, and integral values of the
 * model type's float keys (PYTHON_FLOAT_KEYS) with a decimal point.
 */
export function stringifyConfigJson(config: Record<string, unknown>): string {
  const floatKeys = new Set(typeof config.model_type === 'string' ? (PYTHON_FLOAT_KEYS[config.model_type] ?? []) : []);
  const asFloat = (value: unknown): unknown =>
    typeof value === 'number' && Number.isInteger(value) && Math.abs(value) < 1e15 ? `${FLOAT_MARK}${value}` : value;
  const replacer = (key: string, value: unknown): unknown => {
    if (floatKeys.has(key)) {
      if (Array.isArray(value)) return value.map(asFloat);
      value = asFloat(value);
    }
    if (typeof value === 'number' && !Number.isFinite(value)) return { [FLOAT_KEY]: String(value) };
    if (!isPlainObject(value)) return value;
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, value[k]]));
  };
  const text = JSON.stringify(config, replacer, 2).replace(new RegExp(`"${FLOAT_MARK}(-?\\d+)"`, 'g'), '$1.0');
  return `${text}\n`;
}
