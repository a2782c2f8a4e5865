/** Typed reading of a Hugging Face config.json, with one clear error per problem. */

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export type RawConfig = Record<string, unknown>;

/** Reads config fields by name; every accessor names the key and model type in its error. */
export class ConfigReader {
  constructor(
    readonly raw: RawConfig,
    private readonly modelType: string,
  ) {}

  private fail(key: string, expected: string): never {
    throw new ConfigError(`${this.modelType} config: '${key}' should be ${expected}, got ${JSON.stringify(this.raw[key])}`);
  }

  number(key: string, fallback?: number): number {
    const v = this.raw[key];
    if (v === undefined || v === null) {
      if (fallback === undefined) throw new ConfigError(`${this.modelType} config: missing '${key}'`);
      return fallback;
    }
    if (typeof v !== 'number' || Number.isNaN(v)) this.fail(key, 'a number');
    return v;
  }

  /** A positive integer (sizes, counts). */
  size(key: string, fallback?: number): number {
    const v = this.number(key, fallback);
    if (!Number.isInteger(v) || v <= 0) this.fail(key, 'a positive integer');
    return v;
  }

  boolean(key: string, fallback: boolean): boolean {
    const v = this.raw[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') this.fail(key, 'true or false');
    return v;
  }

  string(key: string, fallback?: string): string {
    const v = this.raw[key];
    if (v === undefined || v === null) {
      if (fallback === undefined) throw new ConfigError(`${this.modelType} config: missing '${key}'`);
      return fallback;
    }
    if (typeof v !== 'string') this.fail(key, 'a string');
    return v;
  }

  /** A value that must be one of `allowed` (e.g. activation names we implement). */
  oneOf<T extends string>(key: string, allowed: readonly T[], fallback: T): T {
    const v = this.string(key, fallback);
    if (!(allowed as readonly string[]).includes(v)) {
      throw new ConfigError(`${this.modelType} config: '${key}' = ${JSON.stringify(v)} is not supported (supported: ${allowed.join(', ')})`);
    }
    return v as T;
  }

  numberArray(key: string, fallback?: number[]): number[] {
    const v = this.raw[key];
    if (v === undefined || v === null) {
      if (fallback === undefined) throw new ConfigError(`${this.modelType} config: missing '${key}'`);
      return fallback;
    }
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'number')) this.fail(key, 'an array of numbers');
    return v as number[];
  }

  stringArray(key: string, fallback?: string[]): string[] {
    const v = this.raw[key];
    if (v === undefined || v === null) {
      if (fallback === undefined) throw new ConfigError(`${this.modelType} config: missing '${key}'`);
      return fallback;
    }
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) this.fail(key, 'an array of strings');
    return v as string[];
  }
}

/** `bos_token_id`, `eos_token_id`, `pad_token_id` as config.json carries them. */
export type SpecialTokens = Record<string, number | number[] | null>;

/**
 * The special-token ids of a config.json, carried verbatim into the config.json a trained
 * model is saved with (an id, a list of ids, or null); absent keys take the config class's
 * `defaults`; a key whose default is undefined (RWKV's config class has no pad id) is carried
 * only when present.
 */
export function specialTokens(raw: RawConfig, modelType: string, defaults: Record<string, number | null | undefined>): SpecialTokens {
  const out: SpecialTokens = {};
  for (const [key, fallback] of Object.entries(defaults)) {
    const v = raw[key];
    const isId = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0;
    if (v === undefined) {
      if (fallback !== undefined) out[key] = fallback;
    } else if (v === null || isId(v)) out[key] = v;
    else if (Array.isArray(v) && v.every(isId)) out[key] = [...v];
    else throw new ConfigError(`${modelType} config: '${key}' should be a token id, a list of ids or null, got ${JSON.stringify(v)}`);
  }
  return out;
}
