/**
 * What the viewer computes, independent of HTTP and threads: analyses (explanations of the
 * next-token prediction), one layer's implicit attention, and perturbation curves. One engine
 * lives in each compute worker and runs one job at a time; it loads each model once and keeps
 * the last few inputs' contexts (forward pass, decompositions, gradients — all deterministic
 * functions of model and ids), so changing a selector does not re-run the model.
 */
import { ShapeError } from '../../core/index.js';
import { EvaluationError } from '../../evaluate/metrics.js';
import { ExplainContext } from '../../explain/context.js';
import { explain, getMethod } from '../../explain/registry.js';
import { ExplainError } from '../../explain/types.js';
import type { ExplainOptions, ResolvedTarget } from '../../explain/types.js';
import type { LayerDecomposition } from '../../implicit/decomposition.js';
import { extract, MemoryBudgetError } from '../../implicit/extract.js';
import type { Reduce } from '../../implicit/extract.js';
import { mixerLayers } from '../../implicit/model-layers.js';
import { classifierOf } from '../../io/classifier-checkpoint.js';
import { loadModel } from '../../io/load-model.js';
import type { LoadedModel } from '../../io/load-model.js';
import { loadTokenizer, TokenizerError } from '../../io/tokenizer.js';
import type { TextTokenizer } from '../../io/tokenizer.js';
import { ConfigError } from '../../models/config.js';
import { ImageError } from '../../vision/image.js';
import type {
  AnalyzeResponse,
  AttentionJson,
  AttentionResponse,
  ExplainOptionsJson,
  ExplanationJson,
  PerturbationResponse,
  TargetJson,
  TargetSpecJson,
  ViewerLimits,
  ViewerReduce,
  ViewerVariant,
} from '../protocol.js';
import type { ModelEntry } from './catalogue.js';
import { methodCost, methodLimitReason } from './config.js';
import { perturbationCurve } from './perturbation.js';
import { ApiError, tooLong } from './validate.js';
import type { AnalyzeJob, AttentionJob, InputJob, PerturbationJob } from './validate.js';

interface LoadedEntry {
  loaded: LoadedModel;
  tokenizer: TextTokenizer | null;
  /** A classifier's class names (its explained "token" is the class read at the last position), else null. */
  labels: string[] | null;
}

/** One input on one model: its tokens and the shared explanation context. */
interface Session {
  entry: LoadedEntry;
  model: ModelEntry;
  ids: Int32Array;
  tokens: string[];
  context: ExplainContext;
}

/** Inputs whose contexts are kept per engine (each holds a forward trace): at most this many … */
const SESSIONS_KEPT = 3;
/** … and, beyond the current one, at most this many tokens in all (a 2048-token trace is hundreds of MB). */
const SESSION_TOKENS_KEPT = 4096;

export class ViewerEngine {
  private readonly models = new Map<string, LoadedEntry>();
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly limits: ViewerLimits) {}

  analyze(job: AnalyzeJob): AnalyzeResponse {
    const started = performance.now();
    const s = this.session(job);
    const target = s.context.target(job.target);
    const explanations = job.methods.map((name) => this.explainOne(s, name, job.options, target));
    const layers = mixerLayers(s.entry.loaded.model).map(({ layer, kind }) => ({ layer, mixer: kind }));
    const response: AnalyzeResponse = {
      model: summary(job.model),
      tokens: Array.from(s.ids, (id, i) => ({ id, text: s.tokens[i] })),
      target: this.targetJson(s, target),
      explanations,
      layers,
      elapsedMs: 0,
    };
    if (job.attention !== undefined) {
      const { layers: wanted, ...spec } = job.attention;
      const chosen = wanted === 'all' ? layers.map((l) => l.layer) : wanted;
      response.attention = chosen.map((layer) => this.attentionOf(s, { layer, ...spec, target: job.target }));
    }
    response.elapsedMs = performance.now() - started;
    return response;
  }

  attention(job: AttentionJob): AttentionResponse {
    const s = this.session(job);
    return { model: job.model.id, ...this.attentionOf(s, job) };
  }

  perturbation(job: PerturbationJob): PerturbationResponse {
    const started = performance.now();
    const s = this.session(job);
    const L = s.ids.length;
    if (L > this.limits.maxPerturbationTokens) {
      throw new ApiError(400, `perturbation curves re-run the model 19 times; this server computes them for at most ${this.limits.maxPerturbationTokens} tokens (the input has ${L})`);
    }
    const target = s.context.target(job.target);
    const reason = methodLimitReason(job.method, L, this.limits, job.options.steps ?? 32);
    if (reason !== null) throw new ApiError(400, reason);
    const explanation = explain(s.context, job.method, explainOptions(job.options, job.target));
    const pad = s.entry.loaded.model.hfConfig.pad_token_id;
    const padId = typeof pad === 'number' && Number.isInteger(pad) ? pad : 0;
    const curve = perturbationCurve(s.entry.loaded.model, s.ids, explanation.scores, target, job.perturbation, padId, job.options.seed ?? 0);
    return {
      model: job.model.id,
      method: explanation.method,
      perturbation: job.perturbation,
      target: this.targetJson(s, target),
      fractions: curve.fractions,
      morf: curve.morf,
      lerf: curve.lerf,
      auc: curve.auc,
      perturbable: curve.perturbable,
      elapsedMs: performance.now() - started,
    };
  }

  private explainOne(s: Session, name: string, options: ExplainOptionsJson, target: ResolvedTarget): ExplanationJson {
    const method = getMethod(name);
    const base = { method: method.name, description: method.description, recipe: method.recipe, cost: methodCost(method.name) };
    const reason = methodLimitReason(method.name, s.ids.length, this.limits, options.steps ?? 32);
    if (reason !== null) return { ...base, error: reason };
    try {
      const e = explain(s.context, name, explainOptions(options, { position: target.position, token: target.token }));
      return { ...base, scores: Array.from(e.scores), elapsedMs: e.metadata.elapsedMs };
    } catch (error) {
      // One method failing (unsupported layer, too large, a bug) must not lose the others.
      return { ...base, error: describe(error) };
    }
  }

  private attentionOf(s: Session, spec: Pick<AttentionJob, 'layer' | 'variant' | 'reduce' | 'channel' | 'mode' | 'maxSide' | 'target'>): AttentionJson {
    const started = performance.now();
    const L = s.ids.length;
    const d = s.context.decomposition(spec.layer);
    const { count, heads, perHead } = matrixCounts(d, spec.variant);
    const pick = selection(spec.reduce, spec.channel, count, heads, perHead);
    let mode: 'matrix' | 'row' = spec.mode === 'row' ? 'row' : 'matrix';
    let note: string | undefined;
    const work = pick.composed * L * L;
    if (work > this.limits.maxMatrixWork) {
      const why = `the ${spec.reduce} of ${pick.composed} matrices of ${L}×${L} is ${formatCount(work)} entries (this server's limit: ${formatCount(this.limits.maxMatrixWork)} per request)`;
      if (spec.mode === 'matrix') throw new ApiError(400, `${why}; ask for row mode, one channel, or the hidden variant, or start the server with a larger --max-work`);
      if (spec.mode === 'auto') {
        mode = 'row';
        note = `${why}: showing the target row`;
      }
    }
    const row = mode === 'row' ? (s.context.target(spec.target).position) : undefined;
    const extraction = extract(d, { variant: spec.variant, reduce: pick.reduce, ...(pick.channels === undefined ? {} : { channels: pick.channels }), ...(row === undefined ? {} : { row }), dtype: 'float32' });
    let data = extraction.data as Float32Array;
    const side = mode === 'matrix' && spec.maxSide !== undefined && spec.maxSide < L ? spec.maxSide : L;
    if (side < L) data = poolCausal(data, L, side);
    const { min, max } = side < L ? finiteRange(data) : causalRange(data, L, row);
    return {
      layer: spec.layer,
      mixer: d.mixer,
      kind: d.kind,
      variant: spec.variant,
      reduce: spec.reduce,
      ...(spec.reduce === 'channel' || spec.reduce === 'head' ? { channel: spec.channel } : {}),
      mode,
      ...(row === undefined ? {} : { row }),
      length: L,
      shape: mode === 'row' ? [L] : [side, side],
      pooled: side < L,
      data: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64'),
      min,
      max,
      channels: count,
      heads,
      ...(note === undefined ? {} : { note }),
      elapsedMs: performance.now() - started,
    };
  }

  private targetJson(s: Session, t: ResolvedTarget): TargetJson {
    const labels = s.entry.labels;
    const text = (id: number) => (labels === null ? tokenText(s.entry.tokenizer, id) : (labels[id] ?? `class ${id}`));
    return { position: t.position, token: t.token, text: text(t.token), logit: t.logit, probability: t.probability, topToken: t.topToken, topText: text(t.topToken), topProbability: t.topProbability };
  }

  /** The model, loaded once per engine. */
  private model(model: ModelEntry): LoadedEntry {
    let entry = this.models.get(model.id);
    if (entry === undefined) {
      const base = loadModel(model.dir);
      const classifier = classifierOf(base); // a classifier head: explain the class, named by id2label
      const loaded = classifier ?? base;
      entry = { loaded, tokenizer: loaded.tokenizerPath === null ? null : loadTokenizer(loaded.tokenizerPath), labels: classifier?.classifier.labels ?? null };
      this.models.set(model.id, entry);
    }
    return entry;
  }

  private session(job: InputJob): Session {
    const entry = this.model(job.model);
    const ids = this.ids(job, entry);
    const key = `${job.model.id}\u0000${ids.join(',')}`;
    let s = this.sessions.get(key);
    if (s !== undefined) {
      this.sessions.delete(key); // most recently used last
    } else {
      s = { entry, model: job.model, ids, tokens: Array.from(ids, (id) => tokenText(entry.tokenizer, id)), context: new ExplainContext(entry.loaded.model, ids) };
    }
    this.sessions.set(key, s);
    // Forget the least recently used inputs beyond the limits (never the current one).
    const kept = () => [...this.sessions.values()].reduce((n, x) => n + x.ids.length, 0);
    while (this.sessions.size > 1 && (this.sessions.size > SESSIONS_KEPT || kept() > SESSION_TOKENS_KEPT)) {
      this.sessions.delete(this.sessions.keys().next().value!);
    }
    return s;
  }

  private ids(job: InputJob, entry: LoadedEntry): Int32Array {
    let ids: Int32Array;
    if (job.text !== undefined) {
      if (entry.tokenizer === null) throw new ApiError(400, `model '${job.model.id}' has no tokenizer.json; send token ids instead of text`);
      ids = Int32Array.from(entry.tokenizer.encode(job.text));
    } else {
      ids = Int32Array.from(job.ids ?? []);
    }
    if (ids.length === 0) throw new ApiError(400, 'the input is empty (no tokens)');
    if (ids.length > this.limits.maxTokens) throw new ApiError(400, tooLong(ids.length, this.limits));
    const vocab = entry.loaded.model.config.vocabSize;
    const bad = ids.findIndex((id) => id >= vocab);
    if (bad >= 0) throw new ApiError(400, `token id ${ids[bad]} at position ${bad} is outside the vocabulary of model '${job.model.id}' [0, ${vocab})`);
    return ids;
  }
}

function summary(model: ModelEntry): AnalyzeResponse['model'] {
  const { dir: _dir, ...rest } = model;
  return rest;
}

function explainOptions(options: ExplainOptionsJson, target: TargetSpecJson): ExplainOptions {
  const out: ExplainOptions = { target };
  if (options.variant !== undefined) out.variant = options.variant;
  if (options.aggregation !== undefined) out.aggregation = options.aggregation;
  if (options.startLayer !== undefined) out.startLayer = options.startLayer;
  if (options.steps !== undefined) out.steps = options.steps;
  if (options.seed !== undefined) out.seed = options.seed;
  return out;
}

/** A token's text, or '#id' when there is no tokenizer (or it does not know the id). */
function tokenText(tokenizer: TextTokenizer | null, id: number): string {
  if (tokenizer === null) return `#${id}`;
  try {
    return tokenizer.tokenToString(id);
  } catch {
    return `#${id}`;
  }
}

/** Matrices a layer has for a variant, its heads, and channels per head. */
function matrixCounts(d: LayerDecomposition, variant: ViewerVariant): { count: number; heads: number; perHead: number } {
  if (d.kind === 'attention') return { count: d.heads, heads: d.heads, perHead: 1 };
  if (variant === 'hidden') return { count: d.cores, heads: d.cores, perHead: 1 };
  const perHead = Math.max(1, d.channelsPerHead);
  return { count: d.channels, heads: Math.ceil(d.channels / perHead), perHead };
}

/** The viewer's reduction as extract() options, and how many matrices it composes. */
function selection(reduce: ViewerReduce, channel: number, count: number, heads: number, perHead: number): { reduce: Reduce; channels?: number[]; composed: number } {
  switch (reduce) {
    case 'mean-abs':
    case 'mean':
    case 'mean-positive':
      return { reduce, composed: count };
    case 'channel':
      if (channel >= count) throw new ApiError(400, `channel ${channel} is outside this layer's ${count} matrices [0, ${count})`);
      return { reduce: 'none', channels: [channel], composed: 1 };
    case 'head': {
      if (channel >= heads) throw new ApiError(400, `head ${channel} is outside this layer's ${heads} heads [0, ${heads})`);
      const channels = Array.from({ length: Math.min(perHead, count - channel * perHead) }, (_, i) => channel * perHead + i);
      return { reduce: 'head-mean', channels, composed: channels.length };
    }
  }
}

/** Min and max over the causal entries (s ≤ t; s ≤ row in row mode). */
function causalRange(data: Float32Array, L: number, row: number | undefined): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  const visit = (v: number) => {
    if (v < min) min = v;
    if (v > max) max = v;
  };
  if (row !== undefined) for (let s = 0; s <= row; s++) visit(data[s]);
  else for (let t = 0; t < L; t++) for (let s = 0; s <= t; s++) visit(data[t * L + s]);
  return { min: Number.isFinite(min) ? min : 0, max: Number.isFinite(max) ? max : 0 };
}

/**
 * An L×L causal matrix pooled to P×P: cell (i, j) is the mean of the entries s ≤ t of rows
 * ⌊iL/P⌋…⌊(i+1)L/P⌋−1 and columns ⌊jL/P⌋…⌊(j+1)L/P⌋−1; NaN where the block has none.
 */
export function poolCausal(m: Float32Array, L: number, P: number): Float32Array {
  const edge = (i: number) => Math.floor((i * L) / P);
  const out = new Float32Array(P * P);
  for (let i = 0; i < P; i++) {
    for (let j = 0; j < P; j++) {
      let sum = 0;
      let n = 0;
      for (let t = edge(i); t < edge(i + 1); t++) {
        const end = Math.min(edge(j + 1) - 1, t);
        for (let s = edge(j); s <= end; s++) {
          sum += m[t * L + s];
          n++;
        }
      }
      out[i * P + j] = n > 0 ? sum / n : NaN;
    }
  }
  return out;
}

function finiteRange(data: Float32Array): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (const v of data) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { min: Number.isFinite(min) ? min : 0, max: Number.isFinite(max) ? max : 0 };
}

function formatCount(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(1)} G` : n >= 1e6 ? `${(n / 1e6).toFixed(1)} M` : String(n);
}

/** Errors caused by the request (HTTP 400) rather than by the server. */
const REQUEST_ERRORS = [ExplainError, MemoryBudgetError, ShapeError, TokenizerError, ConfigError, EvaluationError, ImageError];

/** HTTP status and one-line message of any failure of a job. */
export function failureOf(error: unknown): { status: number; message: string } {
  if (error instanceof ApiError) return { status: error.status, message: error.message };
  if (error instanceof Error) {
    if (REQUEST_ERRORS.some((kind) => error instanceof kind)) return { status: 400, message: error.message.split('\n')[0] };
    if (error instanceof RangeError && /allocation|Array buffer|Invalid typed array length/i.test(error.message)) {
      return { status: 500, message: `out of memory: ${error.message} (try a shorter input, one channel, or row mode)` };
    }
    return { status: 500, message: `internal error: ${error.message.split('\n')[0]}` };
  }
  return { status: 500, message: `internal error: ${String(error)}` };
}

function describe(error: unknown): string {
  return failureOf(error).message;
}
