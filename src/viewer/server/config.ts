/**
 * The viewer server's configuration: one typed object with documented defaults, and the
 * limits it enforces on every request. Derived values are computed in `resolveConfig`.
 */
import * as os from 'node:os';
import type { MethodCost, ViewerLimits } from '../protocol.js';

export interface ViewerConfig {
  /** Interface to bind (default 127.0.0.1: only this machine can connect). */
  host: string;
  /** Port (default 7860; 0 picks a free one). */
  port: number;
  /** Checkpoint folders the viewer may open; requests address them by id, never by path. */
  modelDirs: string[];
  /** Which of `modelDirs` is the embedded default model (marked in /api/models), if any. */
  defaultModelDir?: string;
  /** Folder of the built client (index.html + assets); static files come only from here. */
  staticDir: string;
  /** Compute workers (threads); each loads the models it needs once. */
  workers: number;
  /** Jobs that may wait for a worker before requests are refused with 503. */
  maxQueue: number;
  limits: ViewerLimits;
}

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 7860;

export const DEFAULT_LIMITS: ViewerLimits = {
  maxBodyBytes: 1024 * 1024,
  maxTokens: 2048,
  maxMatrixMethodTokens: 512,
  maxStepsMethodTokens: 256,
  maxSteps: 64,
  // 2^28 entries: one Mamba2 head (64 channels) at L = 2048, or every channel of a layer at L ≈ 700.
  maxMatrixWork: 2 ** 28,
  maxPerturbationTokens: 512,
  timeoutSeconds: 300,
  // An uploaded PNG: 2 MiB of file, at most 2048 × 2048 pixels once decoded (16 MiB of RGBA).
  maxImageBytes: 2 * 1024 * 1024,
  maxImagePixels: 2048 * 2048,
};

/** The largest JSON body of POST /api/image: the PNG as base64 (4/3 of its bytes) and 64 KiB for the rest. */
export function imageBodyBytes(limits: ViewerLimits): number {
  return Math.ceil(limits.maxImageBytes / 3) * 4 + 64 * 1024;
}

/** Two workers (so a slow request does not hold up the next), at most one per spare core beyond that. */
export function defaultWorkers(): number {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(2, Math.min(4, cores - 1));
}

export function resolveConfig(partial: Partial<ViewerConfig> & Pick<ViewerConfig, 'modelDirs' | 'staticDir'>): ViewerConfig {
  return {
    host: partial.host ?? DEFAULT_HOST,
    port: partial.port ?? DEFAULT_PORT,
    modelDirs: partial.modelDirs,
    ...(partial.defaultModelDir === undefined ? {} : { defaultModelDir: partial.defaultModelDir }),
    staticDir: partial.staticDir,
    workers: partial.workers ?? defaultWorkers(),
    maxQueue: partial.maxQueue ?? 32,
    limits: { ...DEFAULT_LIMITS, ...partial.limits },
  };
}

/**
 * What each explanation method costs (src/explain/methods): `row` methods need one query row
 * of every channel (O(C·L) per layer); `matrix` methods build every channel's L×L matrix
 * (O(C·L²) per layer); `gradient` methods one backward pass; `steps` methods one pass per
 * integration step. A method not listed (added later) is treated as `matrix`.
 */
export const METHOD_COSTS: Readonly<Record<string, MethodCost>> = {
  raw: 'row',
  rollout: 'matrix',
  'hidden-attr': 'matrix',
  'unified-attr': 'row',
  'grad-attn': 'matrix',
  'grad-input': 'gradient',
  'integrated-gradients': 'steps',
  saliency: 'gradient',
  random: 'free',
  recency: 'free',
};

/** The vision methods (src/vision/explain.ts): every one is cheap at the L = G² + 1 tokens of an image but integrated gradients. */
export const VISION_METHOD_COSTS: Readonly<Record<string, MethodCost>> = {
  raw: 'row',
  rollout: 'matrix',
  'hidden-attr': 'matrix',
  'unified-attr': 'row',
  'grad-attn': 'matrix',
  'grad-input': 'gradient',
  saliency: 'gradient',
  'integrated-gradients': 'steps',
  random: 'free',
};

export function methodCost(name: string): MethodCost {
  return METHOD_COSTS[name] ?? 'matrix';
}

/** Why `method` may not run on `length` tokens (with `steps` integration steps), or null when it may. */
export function methodLimitReason(method: string, length: number, limits: ViewerLimits, steps: number): string | null {
  const cost = methodCost(method);
  if (cost === 'matrix' && length > limits.maxMatrixMethodTokens) {
    return `${method} builds every channel's ${length}×${length} matrix in every layer; this server runs it on at most ${limits.maxMatrixMethodTokens} tokens (the input has ${length})`;
  }
  if (cost === 'steps' && length > limits.maxStepsMethodTokens) {
    return `${method} runs ${steps} forward and backward passes; this server runs it on at most ${limits.maxStepsMethodTokens} tokens (the input has ${length})`;
  }
  return null;
}
