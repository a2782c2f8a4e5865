/**
 * Parallel execution over index ranges, seen from library code (pure: no Node APIs, so it
 * also runs in a browser worker, where it simply stays single-threaded).
 *
 * The library says *how work is split*; an executor installed by the application says *where
 * it runs*. Without an executor (the default for library users, browsers, tests) every
 * function here runs its work on the calling thread, with identical results.
 *
 *   defineTask(moduleUrl, name, fn)      registers fn(args, start, end) under a name, in the
 *                                        module at moduleUrl (pass `import.meta.url`): a worker
 *                                        imports that module to find the same function.
 *   parallelFor(task, count, args, opts) runs fn over [0, count) cut into contiguous ranges,
 *                                        one per thread (each a multiple of opts.grain, at least
 *                                        opts.minPerThread long); the calling thread takes the
 *                                        first range. Returns when every range is done; a range
 *                                        that fails in a worker throws a ParallelError here.
 *   sharedFloatArray(dtype, n)           a Float32Array/Float64Array that workers see (on a
 *                                        SharedArrayBuffer where one exists, else plain).
 *   setParallelExecutor(e), parallelThreads()   the executor in force and its thread count.
 *
 * `args` travel to workers by structured clone: numbers, strings, plain objects and typed
 * arrays. Typed arrays must live on a SharedArrayBuffer (sharedFloatArray) — a plain array
 * would be *copied* to the worker and its writes lost — and parallelFor checks that. Each
 * range must write only its own part of the outputs (e.g. channels [start, end) of a
 * [C, L, L] buffer), so that the result does not depend on the split.
 *
 * Example, a per-channel builder (the implicit-attention builders can use this shape):
 *
 *   const scale = defineTask(import.meta.url, 'scale-channels', (a: { x: Float64Array; y: Float64Array; L: number }, c0, c1) => {
 *     for (let i = c0 * a.L; i < c1 * a.L; i++) a.y[i] = 2 * a.x[i];
 *   });
 *   const x = sharedFloatArray('float64', C * L), y = sharedFloatArray('float64', C * L);
 *   parallelFor(scale, C, { x, y, L }, { minPerThread: 4 });
 *
 * Matrix products use the same machinery through ./parallel-gemm.ts (rows of C across threads).
 * The Node executor (worker_threads, Atomics.wait) is in src/io/parallel-node.ts; browsers run
 * single-threaded (see the README).
 */
import type { DType, FloatArray } from './dtype.js';

/** A half-open range of indices [start, end). */
export interface Range {
  readonly start: number;
  readonly end: number;
}

/** Structured-cloneable task arguments (typed arrays on SharedArrayBuffers). */
export type TaskArgs = object;

/** The work of one range: reads and writes only through `args`. */
export type TaskFn<A extends TaskArgs = TaskArgs> = (args: A, start: number, end: number) => void;

/** A registered task: the module that defines it and its name there. */
export interface TaskRef<A extends TaskArgs = TaskArgs> {
  readonly module: string;
  readonly name: string;
  /** Type marker only. */
  readonly _args?: A;
}

/**
 * Where ranges run. `threads` counts the calling thread; `ready()` says whether workers can take
 * a job now (booted, not broken, not already inside run). `run` starts task on `ranges[w]` in
 * worker w for every w < ranges.length, runs `local()` on the calling thread meanwhile, and
 * returns when all are done; it throws a ParallelError naming the worker and the task if one
 * failed or died (after every other range has finished, so shared buffers are no longer in use).
 */
export interface ParallelExecutor {
  readonly threads: number;
  ready(): boolean;
  run<A extends TaskArgs>(task: TaskRef<A>, args: A, ranges: readonly Range[], local: () => void): void;
  /** Stops the workers (idempotent). */
  close(): Promise<void>;
}

/** A range failed in a worker, or a worker died; the message names both. */
export class ParallelError extends Error {
  override name = 'ParallelError';
}

/** Task name → its module and function. Names are global: one module per name. */
const tasks = new Map<string, { module: string; fn: TaskFn }>();

/**
 * Registers `fn` as task `name`, defined by the module at `module` (its `import.meta.url`: a
 * worker imports it to define the task there too). A name belongs to one module.
 */
export function defineTask<A extends TaskArgs>(module: string, name: string, fn: TaskFn<A>): TaskRef<A> {
  const known = tasks.get(name);
  if (known !== undefined && known.module !== module) throw new Error(`defineTask: task '${name}' is defined by ${known.module} and again by ${module}`);
  tasks.set(name, { module, fn: fn as TaskFn });
  return { module, name };
}

/** A task that does nothing: the bench times a round trip through the workers with it. */
export const NOOP_TASK = defineTask(import.meta.url, 'noop', () => {});

/** Whether task `name` is defined in this thread. */
export function hasTask(name: string): boolean {
  return tasks.has(name);
}

/** The function of a defined task (a worker calls this after importing task.module). */
export function taskFunction<A extends TaskArgs>(task: TaskRef<A>): TaskFn<A> {
  const known = tasks.get(task.name);
  if (known === undefined) throw new Error(`parallel task '${task.name}' is not defined (its module ${task.module} does not define it)`);
  return known.fn as TaskFn<A>;
}

let executor: ParallelExecutor | null = null;

/** Installs (or, with null, removes) the executor; returns the previous one. */
export function setParallelExecutor(next: ParallelExecutor | null): ParallelExecutor | null {
  const old = executor;
  executor = next;
  return old;
}

export function parallelExecutor(): ParallelExecutor | null {
  return executor;
}

/** Threads the installed executor offers, the calling one included (1 without an executor). */
export function parallelThreads(): number {
  return executor?.threads ?? 1;
}

/**
 * Cuts [0, count) into at most `parts` contiguous ranges of nearly equal length, each a
 * multiple of `grain` except the last (which is the longest), and fewer parts when count is
 * under parts · minLength.
 */
export function splitRange(count: number, parts: number, grain = 1, minLength = 1): Range[] {
  const units = Math.ceil(count / grain);
  const n = Math.max(1, Math.min(parts, units, Math.floor(count / Math.max(1, minLength))));
  const ranges: Range[] = [];
  let start = 0;
  for (let i = 0; i < n; i++) {
    const end = i === n - 1 ? count : Math.min(count, Math.floor(((i + 1) * units) / n) * grain);
    if (end > start) ranges.push({ start, end });
    start = end;
  }
  return ranges;
}

const sharedMemory = (globalThis as { SharedArrayBuffer?: typeof SharedArrayBuffer }).SharedArrayBuffer;

/** Whether `view` lives on a SharedArrayBuffer (visible to workers without a copy). */
export function isShared(view: { buffer: ArrayBufferLike }): boolean {
  return sharedMemory !== undefined && view.buffer instanceof sharedMemory;
}

/** A zeroed float array on a SharedArrayBuffer where the runtime has them, else a plain one. */
export function sharedFloatArray(dtype: 'float32', n: number): Float32Array;
export function sharedFloatArray(dtype: 'float64', n: number): Float64Array;
export function sharedFloatArray(dtype: DType, n: number): FloatArray;
export function sharedFloatArray(dtype: DType, n: number): FloatArray {
  const bytes = dtype === 'float64' ? 8 : 4;
  if (sharedMemory === undefined) return dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
  const buffer = new sharedMemory(n * bytes);
  return dtype === 'float64' ? new Float64Array(buffer) : new Float32Array(buffer);
}

/** A zeroed Uint16Array on a SharedArrayBuffer where the runtime has them. */
export function sharedUint16Array(n: number): Uint16Array {
  return sharedMemory === undefined ? new Uint16Array(n) : new Uint16Array(new sharedMemory(n * 2));
}

/**
 * `a` itself, or a copy on a SharedArrayBuffer when an executor with workers is installed and
 * `a` is not shared yet: for arrays that workers read on every call.
 */
export function shareable<T extends Float32Array | Float64Array | Uint16Array>(a: T): T {
  if (sharedMemory === undefined || parallelThreads() < 2 || isShared(a)) return a;
  const copy = new (a.constructor as new (buffer: SharedArrayBuffer) => T)(new sharedMemory(a.byteLength));
  copy.set(a);
  return copy;
}

export interface ParallelForOptions {
  /** Ranges are multiples of this (default 1). */
  grain?: number;
  /** No thread gets fewer indices than this (default 1): small loops stay on the calling thread. */
  minPerThread?: number;
}

/**
 * Runs task over [0, count) on every thread of the executor (see the header); on the calling
 * thread alone when there is no executor, it is busy, or count is too small to split.
 */
export function parallelFor<A extends TaskArgs>(task: TaskRef<A>, count: number, args: A, options: ParallelForOptions = {}): void {
  for (const [name, value] of Object.entries(args)) {
    if (ArrayBuffer.isView(value) && sharedMemory !== undefined && !isShared(value)) {
      throw new Error(`parallelFor(${task.name}): argument '${name}' is not on a SharedArrayBuffer (allocate it with sharedFloatArray)`);
    }
  }
  const fn = taskFunction(task);
  const ex = executor;
  const ranges = ex !== null && ex.ready() ? splitRange(count, ex.threads, options.grain ?? 1, options.minPerThread ?? 1) : [];
  if (ex === null || ranges.length < 2) {
    if (count > 0) fn(args, 0, count);
    return;
  }
  const [mine, ...theirs] = ranges;
  ex.run(task, args, theirs, () => fn(args, mine.start, mine.end));
}
