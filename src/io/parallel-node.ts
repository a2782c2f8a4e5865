/**
 * The Node executor of src/core/parallel.ts: worker threads that run task ranges on shared
 * memory while the calling thread runs its own range and then blocks in Atomics.wait.
 *
 * Protocol, per worker, on one Int32Array over a SharedArrayBuffer (`control`):
 *   STATE  a job number and a state in one word (seq · 8 + state), so that a claim can never
 *          match a stale job: IDLE → POSTED (main, after posting job seq on the worker's
 *          MessagePort) → RUNNING (the worker claims it) → DONE or FAILED (the message goes to
 *          the worker's error bytes); or POSTED → IDLE when the calling thread takes the range
 *          back; DEAD (the worker's 'exit' handler: it stopped and will not answer again);
 *   READY  1 once the worker has loaded its code (the WASM GEMM included).
 * The worker sleeps in Atomics.wait on STATE and takes the job with receiveMessageOnPort, so a
 * job starts within tens of microseconds (an event-loop message takes ~0.3 ms); it returns to
 * its event loop every 200 ms. The calling thread runs its own range, then takes back every
 * range whose worker has not started yet (on a busy machine a woken thread may wait for a core:
 * the split then costs little more than one thread would), and waits for the others in
 * Atomics.wait. A failed range or a dead worker throws a ParallelError that names the worker and
 * the task — never a hang (a worker's death is seen through its 'exit' handler, which Node runs
 * for uncaught errors and process.exit; only a thread killed from outside while it runs a range,
 * which nothing here does, would go unnoticed). A broken pool stays out of use (ready() is
 * false: work runs on the calling thread) and says why once on stderr.
 *
 * Cost: each worker is a V8 isolate with tsx's TypeScript loader (and its hooks thread): ≈ 35 MiB
 * of resident memory when idle (VmRSS, Node 20), plus its WASM memory, which grows to the
 * largest block it has multiplied (bounded by the staging budget of ../core/parallel-gemm.ts).
 *
 * Workers start on first use (the first large product, or whenReady()), so commands that never
 * multiply large matrices never start one; until they have booted (≈ 0.3–0.7 s) work stays on
 * the calling thread. They are unref'd (they never keep the process alive) and stop with close().
 * IATTN_THREADS sets the thread count, the calling thread included: unset = the machine's
 * available parallelism, 1 = no workers at all.
 */
import * as os from 'node:os';
import { MessageChannel, Worker } from 'node:worker_threads';
import { ParallelError, setParallelExecutor, parallelExecutor, taskFunction } from '../core/parallel.js';
import type { ParallelExecutor, Range, TaskArgs, TaskRef } from '../core/parallel.js';

/** Indices into a worker's slice of the control array. */
export const STATE = 0;
export const READY = 1;
export const SLOT = 4; // int32 per worker
/** States, in the low 3 bits of the STATE word (the job number is above them). */
export const IDLE = 0;
export const POSTED = 1;
export const RUNNING = 2;
export const DONE = 3;
export const FAILED = 4;
export const DEAD = 5;
export const stateOf = (word: number): number => word & 7;
export const seqOf = (word: number): number => word >>> 3;
export const word = (seq: number, state: number): number => ((seq & 0x0fffffff) << 3) | state;
/** Bytes of error text a worker can report. */
export const ERROR_BYTES = 2048;

const ENTRY = new URL('./parallel-worker-entry.js', import.meta.url);

/** What the calling thread sends a worker. */
export interface JobMessage {
  seq: number;
  module: string;
  name: string;
  args: TaskArgs;
  start: number;
  end: number;
}

export interface NodeExecutorOptions {
  /** Whether the calling thread runs the ranges no worker has started yet (default true). */
  takeBack?: boolean;
  /** Tests only: workers wait this long before claiming a job (simulates a starved worker). */
  claimDelayMs?: number;
}

interface Slot {
  worker: Worker;
  port: MessagePort;
}
type MessagePort = InstanceType<typeof MessageChannel>['port1'];

export class NodeExecutor implements ParallelExecutor {
  readonly threads: number;
  private readonly slots: Slot[] = [];
  private started = false;
  private readonly control: Int32Array;
  private readonly errors: Uint8Array;
  private running = false;
  private seq = 0;
  /** Ranges run by workers so far (tests and the bench check that work was really split). */
  workerRanges = 0;
  /** Ranges taken back by the calling thread because their worker had not started them. */
  takenBack = 0;
  private broken: string | null = null;
  private closed = false;

  /** A pool of threads − 1 workers, started on first use (ready() or whenReady()). */
  constructor(
    threads: number,
    private readonly options: NodeExecutorOptions = {},
  ) {
    if (!Number.isInteger(threads) || threads < 2) throw new Error(`NodeExecutor: needs at least 2 threads, got ${threads}`);
    this.threads = threads;
    this.control = new Int32Array(new SharedArrayBuffer((threads - 1) * SLOT * 4));
    this.errors = new Uint8Array(new SharedArrayBuffer((threads - 1) * ERROR_BYTES));
  }

  /** Spawns the workers (once); they boot in the background. */
  private start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    for (let w = 0; w < this.threads - 1; w++) {
      const { port1, port2 } = new MessageChannel();
      const worker = new Worker(ENTRY, {
        workerData: { index: w, control: this.control, errors: this.errors, port: port2, claimDelayMs: this.options.claimDelayMs ?? 0 },
        transferList: [port2],
        // None of the parent's flags: the entry registers tsx itself, and flags such as
        // --input-type or --eval would stop the worker from starting.
        execArgv: [],
      });
      worker.unref();
      worker.on('error', (error) => this.fail(`parallel worker ${w + 1} failed: ${error.message}`));
      worker.on('exit', (code) => {
        if (!this.closed) this.fail(`parallel worker ${w + 1} exited (code ${code})`);
      });
      this.slots.push({ worker, port: port1 });
    }
  }

  /** Whether every worker has booted and the pool is neither broken, closed nor busy (starts the pool). */
  ready(): boolean {
    if (this.running || this.broken !== null || this.closed) return false;
    if (!this.started) this.start();
    for (let w = 0; w < this.slots.length; w++) if (Atomics.load(this.control, w * SLOT + READY) !== 1) return false;
    return true;
  }

  /** Why the pool is out of use, or null. */
  get failure(): string | null {
    return this.broken;
  }

  /** Waits (asynchronously) until every worker has booted; rejects if the pool broke. */
  async whenReady(timeoutMs = 60_000): Promise<void> {
    this.start();
    const until = Date.now() + timeoutMs;
    while (!this.ready()) {
      if (this.broken !== null) throw new ParallelError(this.broken);
      if (this.closed) throw new ParallelError('the parallel pool is closed');
      if (Date.now() > until) throw new ParallelError(`parallel workers did not start within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  run<A extends TaskArgs>(task: TaskRef<A>, args: A, ranges: readonly Range[], local: () => void): void {
    if (ranges.length > this.slots.length) throw new Error(`NodeExecutor.run: ${ranges.length} ranges for ${this.slots.length} workers`);
    if (ranges.length > 0 && !this.ready()) throw new ParallelError(this.broken ?? 'the parallel pool is not ready');
    this.running = true;
    try {
      this.seq = (this.seq + 1) & 0x0fffffff;
      const seq = this.seq;
      for (let w = 0; w < ranges.length; w++) {
        const at = w * SLOT + STATE;
        const message: JobMessage = { seq, module: task.module, name: task.name, args, start: ranges[w].start, end: ranges[w].end };
        this.slots[w].port.postMessage(message);
        // IDLE → POSTED; a worker that died meanwhile stays DEAD and waitFor reports it.
        if (stateOf(Atomics.load(this.control, at)) !== DEAD) Atomics.store(this.control, at, word(seq, POSTED));
        Atomics.notify(this.control, at);
      }
      let localError: unknown = null;
      try {
        local();
      } catch (error) {
        localError = error;
      }
      // Ranges whose worker has not started them yet run here, now (or are dropped after an error).
      for (let w = 0; w < ranges.length; w++) {
        if (localError === null && this.options.takeBack === false) break;
        if (Atomics.compareExchange(this.control, w * SLOT + STATE, word(seq, POSTED), word(seq, IDLE)) !== word(seq, POSTED)) continue;
        if (localError !== null) continue;
        this.takenBack++;
        try {
          taskFunction(task)(args, ranges[w].start, ranges[w].end);
        } catch (error) {
          localError = error;
        }
      }
      // Every worker must be finished before anything returns: they write into shared buffers.
      const failures: string[] = [];
      for (let w = 0; w < ranges.length; w++) {
        const why = this.waitFor(w, seq);
        if (why !== null) failures.push(`parallel worker ${w + 1} (task '${task.name}', range ${ranges[w].start}–${ranges[w].end}): ${why}`);
      }
      if (localError !== null) throw localError;
      if (failures.length > 0) throw new ParallelError(failures.join('; '));
    } finally {
      this.running = false;
    }
  }

  /** Blocks until worker w is done with job seq (or it was taken back); null on success, else why it failed. */
  private waitFor(w: number, seq: number): string | null {
    const at = w * SLOT + STATE;
    for (;;) {
      const current = Atomics.load(this.control, at);
      const state = stateOf(current);
      if (state === DEAD) {
        this.fail(`parallel worker ${w + 1} stopped`);
        return 'the worker stopped (it crashed or exited) before finishing its range';
      }
      if (seqOf(current) === seq && (state === IDLE || state === DONE)) {
        if (state === DONE) this.workerRanges++;
        return null;
      }
      if (seqOf(current) === seq && state === FAILED) return this.errorText(w);
      Atomics.wait(this.control, at, current, 1000);
    }
  }

  private errorText(w: number): string {
    const bytes = this.errors.subarray(w * ERROR_BYTES, (w + 1) * ERROR_BYTES);
    const end = bytes.indexOf(0);
    return new TextDecoder().decode(bytes.slice(0, end < 0 ? bytes.length : end)) || 'unknown error';
  }

  private fail(reason: string): void {
    if (this.broken !== null || this.closed) return;
    this.broken = reason;
    process.stderr.write(`iattn: ${reason}; running on one thread from now on\n`);
  }

  /** Stops every worker (idempotent); the pool is out of use afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (parallelExecutor() === this) setParallelExecutor(null);
    await Promise.all(this.slots.map(async ({ worker, port }) => {
      port.close();
      await worker.terminate();
    }));
  }
}

/**
 * Threads to use from IATTN_THREADS: unset or empty = available parallelism; otherwise a
 * positive integer. Anything else is an error naming the variable.
 */
export function threadsFromEnvironment(env: NodeJS.ProcessEnv = process.env): number {
  const raw = (env.IATTN_THREADS ?? '').trim();
  if (raw === '') return os.availableParallelism();
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`IATTN_THREADS should be a positive integer (1 = no worker threads), got '${env.IATTN_THREADS}'`);
  return n;
}

/**
 * Installs a NodeExecutor with `threads` threads (default: threadsFromEnvironment()) as the
 * library's executor, unless one is installed already or threads is 1. Returns the executor in
 * force (null when single-threaded). Call once at start-up: the workers boot while the model
 * loads.
 */
export function installNodeExecutor(threads: number = threadsFromEnvironment()): ParallelExecutor | null {
  const current = parallelExecutor();
  if (current !== null || threads < 2) return current;
  const executor = new NodeExecutor(threads);
  setParallelExecutor(executor);
  return executor;
}
