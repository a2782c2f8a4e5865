/**
 * Checking request bodies (already parsed JSON) into typed jobs, with one clear message per
 * problem (HTTP 400; an unknown model 404). The model is resolved here, on the server's
 * catalogue, so a job carries a folder the server chose — never a path from the client.
 */
import type {
  AnalyzeRequest,
  AttentionRequest,
  AttentionSpec,
  ExplainOptionsJson,
  PerturbationKind,
  PerturbationRequest,
  TargetSpecJson,
  ViewerLimits,
  ViewerReduce,
  ViewerVariant,
} from '../protocol.js';
import { PERTURBATION_KINDS, VIEWER_AGGREGATIONS, VIEWER_REDUCTIONS, VIEWER_VARIANTS } from '../protocol.js';
import type { ModelCatalogue, ModelEntry } from './catalogue.js';

/** A request the server refuses, with its HTTP status and a message for the user. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The model and the input of every job. */
export interface InputJob {
  model: ModelEntry;
  text?: string;
  ids?: number[];
}

export interface AnalyzeJob extends InputJob {
  methods: string[];
  target: TargetSpecJson;
  options: ExplainOptionsJson;
  attention?: Required<Pick<AttentionSpec, 'variant' | 'reduce' | 'mode'>> & { channel: number; maxSide?: number; layers: number[] | 'all' };
}

export interface AttentionJob extends InputJob {
  layer: number;
  variant: ViewerVariant;
  reduce: ViewerReduce;
  channel: number;
  mode: 'matrix' | 'row' | 'auto';
  maxSide?: number;
  target: TargetSpecJson;
}

export interface PerturbationJob extends InputJob {
  method: string;
  target: TargetSpecJson;
  options: ExplainOptionsJson;
  perturbation: PerturbationKind;
}

export type Json = Record<string, unknown>;

export function object(value: unknown, what: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ApiError(400, `${what} must be a JSON object`);
  return value as Json;
}

export function onlyKeys(o: Json, allowed: readonly string[], what: string): void {
  for (const key of Object.keys(o)) {
    if (!allowed.includes(key)) throw new ApiError(400, `${what}: unknown field '${key}' (fields: ${allowed.join(', ')})`);
  }
}

export function integerField(o: Json, key: string, what: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ApiError(400, `${what}.${key} must be an integer in [${min}, ${max === Number.MAX_SAFE_INTEGER ? '∞' : max}], got ${JSON.stringify(v)}`);
  }
  return v;
}

export function oneOfField<T extends string>(o: Json, key: string, allowed: readonly T[], what: string): T | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new ApiError(400, `${what}.${key} must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  }
  return v as T;
}

/** The model by id, and exactly one of text / ids within the limits. */
function input(o: Json, catalogue: ModelCatalogue, limits: ViewerLimits, what: string): InputJob {
  const id = o.model;
  if (typeof id !== 'string' || id.length === 0) throw new ApiError(400, `${what}.model must be a model id from GET /api/models (${catalogue.ids().join(', ')})`);
  const model = modelOf(catalogue, id, 'text', what);
  const { text, ids } = o;
  if ((text === undefined) === (ids === undefined)) throw new ApiError(400, `${what}: give exactly one of text and ids`);
  if (text !== undefined) {
    if (typeof text !== 'string') throw new ApiError(400, `${what}.text must be a string`);
    if (text.length === 0) throw new ApiError(400, 'the text is empty');
    return { model, text };
  }
  if (!Array.isArray(ids) || ids.some((x) => typeof x !== 'number' || !Number.isInteger(x) || x < 0)) {
    throw new ApiError(400, `${what}.ids must be an array of non-negative integer token ids`);
  }
  if (ids.length === 0) throw new ApiError(400, 'the input is empty (no token ids)');
  if (ids.length > limits.maxTokens) throw new ApiError(400, tooLong(ids.length, limits));
  return { model, ids: ids as number[] };
}

/** The catalogue entry of model `id`, which must read `kind` (text or images). */
export function modelOf(catalogue: ModelCatalogue, id: string, kind: 'text' | 'vision', what: string): ModelEntry {
  const entry = catalogue.get(id);
  if (entry === undefined) throw new ApiError(404, `unknown model '${id.slice(0, 100)}'; models: ${catalogue.ids().join(', ')}`);
  if (entry.kind !== kind) {
    throw new ApiError(
      400,
      kind === 'text'
        ? `${what}: model '${id}' is a vision model (${entry.modelType}): send images to POST /api/image`
        : `${what}: model '${id}' is a language model (${entry.modelType}), not a vision model; vision models: ${catalogue.ids().filter((m) => catalogue.get(m)!.kind === 'vision').join(', ') || 'none'}`,
    );
  }
  return { ...entry };
}

/** The message for an input over the sequence-length limit. */
export function tooLong(length: number, limits: ViewerLimits): string {
  return `the input has ${length} tokens; this server accepts at most ${limits.maxTokens} (start it with --max-tokens N to change that)`;
}

function target(value: unknown, what: string): TargetSpecJson {
  if (value === undefined || value === null) return {};
  const o = object(value, `${what}.target`);
  onlyKeys(o, ['position', 'token'], `${what}.target`);
  const out: TargetSpecJson = {};
  const position = integerField(o, 'position', `${what}.target`, 0);
  const token = integerField(o, 'token', `${what}.target`, 0);
  if (position !== undefined) out.position = position;
  if (token !== undefined) out.token = token;
  return out;
}

function explainOptions(value: unknown, limits: ViewerLimits, what: string): ExplainOptionsJson {
  if (value === undefined || value === null) return {};
  const o = object(value, `${what}.options`);
  onlyKeys(o, ['variant', 'aggregation', 'startLayer', 'steps', 'seed'], `${what}.options`);
  const out: ExplainOptionsJson = {};
  const variant = oneOfField(o, 'variant', VIEWER_VARIANTS, `${what}.options`);
  const aggregation = oneOfField(o, 'aggregation', VIEWER_AGGREGATIONS, `${what}.options`);
  const startLayer = integerField(o, 'startLayer', `${what}.options`, 0);
  const steps = integerField(o, 'steps', `${what}.options`, 1, limits.maxSteps);
  const seed = integerField(o, 'seed', `${what}.options`, -(2 ** 31), 2 ** 31 - 1);
  if (variant !== undefined) out.variant = variant;
  if (aggregation !== undefined) out.aggregation = aggregation;
  if (startLayer !== undefined) out.startLayer = startLayer;
  if (steps !== undefined) out.steps = steps;
  if (seed !== undefined) out.seed = seed;
  return out;
}

function methodName(value: unknown, methods: readonly string[], what: string): string {
  if (typeof value !== 'string' || !methods.includes(value)) {
    throw new ApiError(400, `${what}: unknown method ${JSON.stringify(value)}; methods: ${methods.join(', ')}`);
  }
  return value;
}

function attentionSpec(o: Json, what: string): { variant: ViewerVariant; reduce: ViewerReduce; channel: number; mode: 'matrix' | 'row' | 'auto'; maxSide?: number } {
  const reduce = oneOfField(o, 'reduce', VIEWER_REDUCTIONS, what) ?? 'mean-abs';
  const channel = integerField(o, 'channel', what, 0);
  if ((reduce === 'channel' || reduce === 'head') && channel === undefined) throw new ApiError(400, `${what}.channel is required with reduce '${reduce}'`);
  const maxSide = integerField(o, 'maxSide', what, 8, 65536);
  return {
    variant: oneOfField(o, 'variant', VIEWER_VARIANTS, what) ?? 'paper',
    reduce,
    channel: channel ?? 0,
    mode: oneOfField(o, 'mode', ['matrix', 'row', 'auto'] as const, what) ?? 'auto',
    ...(maxSide === undefined ? {} : { maxSide }),
  };
}

export function parseAnalyze(body: unknown, catalogue: ModelCatalogue, limits: ViewerLimits, methods: readonly string[]): AnalyzeJob {
  const o = object(body, 'the request');
  const keys: (keyof AnalyzeRequest)[] = ['model', 'text', 'ids', 'methods', 'target', 'options', 'attention'];
  onlyKeys(o, keys, 'analyze');
  const job: AnalyzeJob = {
    ...input(o, catalogue, limits, 'analyze'),
    methods: [...methods],
    target: target(o.target, 'analyze'),
    options: explainOptions(o.options, limits, 'analyze'),
  };
  if (o.methods !== undefined) {
    if (!Array.isArray(o.methods) || o.methods.length === 0) throw new ApiError(400, `analyze.methods must be a non-empty array of method names (${methods.join(', ')})`);
    job.methods = [...new Set(o.methods.map((m) => methodName(m, methods, 'analyze.methods')))];
  }
  if (o.attention !== undefined && o.attention !== null) {
    const a = object(o.attention, 'analyze.attention');
    onlyKeys(a, ['variant', 'reduce', 'channel', 'mode', 'maxSide', 'layers'], 'analyze.attention');
    let layers: number[] | 'all' = 'all';
    if (a.layers !== undefined && a.layers !== 'all') {
      if (!Array.isArray(a.layers) || a.layers.some((l) => typeof l !== 'number' || !Number.isInteger(l) || l < 0)) {
        throw new ApiError(400, "analyze.attention.layers must be 'all' or an array of layer numbers");
      }
      layers = [...new Set(a.layers as number[])];
    }
    job.attention = { ...attentionSpec(a, 'analyze.attention'), layers };
  }
  return job;
}

export function parseAttention(body: unknown, catalogue: ModelCatalogue, limits: ViewerLimits): AttentionJob {
  const o = object(body, 'the request');
  const keys: (keyof AttentionRequest)[] = ['model', 'text', 'ids', 'layer', 'variant', 'reduce', 'channel', 'mode', 'maxSide', 'target'];
  onlyKeys(o, keys, 'attention');
  const layer = integerField(o, 'layer', 'attention', 0);
  if (layer === undefined) throw new ApiError(400, 'attention.layer is required (a layer number)');
  return { ...input(o, catalogue, limits, 'attention'), layer, ...attentionSpec(o, 'attention'), target: target(o.target, 'attention') };
}

export function parsePerturbation(body: unknown, catalogue: ModelCatalogue, limits: ViewerLimits, methods: readonly string[]): PerturbationJob {
  const o = object(body, 'the request');
  const keys: (keyof PerturbationRequest)[] = ['model', 'text', 'ids', 'method', 'target', 'options', 'perturbation'];
  onlyKeys(o, keys, 'perturbation');
  return {
    ...input(o, catalogue, limits, 'perturbation'),
    method: methodName(o.method, methods, 'perturbation.method'),
    target: target(o.target, 'perturbation'),
    options: explainOptions(o.options, limits, 'perturbation'),
    perturbation: oneOfField(o, 'perturbation', PERTURBATION_KINDS, 'perturbation') ?? 'delete',
  };
}
