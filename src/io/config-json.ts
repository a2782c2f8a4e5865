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
 * config.json text as transformers writes it: keys sorted at every level, two-space indent,
 * a final newline, non-finite numbers as {"__float__": ...}.
 */
export function stringifyConfigJson(config: Record<string, unknown>): string {
  const replacer = (_key: string, value: unknown): unknown => {
    if (typeof value === 'number' && !Number.isFinite(value)) return { [FLOAT_KEY]: String(value) };
    if (!isPlainObject(value)) return value;
    return Object.fromEntries(Object.keys(value).sort().map((key) => [key, value[key]]));
  };
  return `${JSON.stringify(config, replacer, 2)}\n`;
}
