/**
 * Compute workers for the viewer: a few worker threads, each with its own engine (its own
 * loaded models and caches: no state is shared between concurrent jobs), a bounded queue,
 * and a time limit per job. The HTTP thread never computes, so it keeps answering while a
 * long analysis runs; a job that overruns is stopped by replacing its worker, and a worker
 * that dies (out of memory, a bug) fails only its own job and is replaced.
 */
import { Worker } from 'node:worker_threads';
import type { ViewerLimits } from '../protocol.js';
import type { ImageJob } from './image-request.js';
import type { AnalyzeJob, AttentionJob, PerturbationJob } from './validate.js';

export type JobMessage =
  | { id: number; kind: 'analyze'; job: AnalyzeJob }
  | { id: number; kind: 'attention'; job: AttentionJob }
  | { id: number; kind: 'perturbation'; job: PerturbationJob }
  | { id: number; kind: 'image'; job: ImageJob };

export type JobKind = JobMessage['kind'];
type JobOf<K extends JobKind> = Extract<JobMessage, { kind: K }>['job'];

/** A worker's answer: HTTP status and the JSON body as UTF-8 bytes. */
export interface ReplyMessage {
  id: number;
  status: number;
  body: Uint8Array;
}

export type JobResult = Omit<ReplyMessage, 'id'>;

interface Pending {
  message: JobMessage;
  resolve: (result: JobResult) => void;
}

interface Slot {
  worker: Worker;
  /** The worker has loaded its code (time limits start only then). */
  ready: boolean;
  current: Pending | null;
  timer: NodeJS.Timeout | null;
}

/** What a worker posts once its code is loaded. */
export const READY = 'ready';

const WORKER_ENTRY = new URL('./worker-entry.js', import.meta.url);

function errorResult(status: number, message: string): JobResult {
  return { status, body: new TextEncoder().encode(JSON.stringify({ error: message })) };
}

export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closed = false;
  /** Workers that died before they were ready, in a row; after three the pool gives up. */
  private bootFailures = 0;
  private broken: string | null = null;

  constructor(
    size: number,
    private readonly limits: ViewerLimits,
    private readonly maxQueue: number,
  ) {
    for (let i = 0; i < Math.max(1, size); i++) this.slots.push(this.spawn());
  }

  /**
   * Runs a job on the next free worker; always resolves (failures are error results). When
   * `signal` aborts (the client went away) before a worker took the job, it is dropped.
   */
  run<K extends JobKind>(kind: K, job: JobOf<K>, signal?: AbortSignal): Promise<JobResult> {
    if (this.closed) return Promise.resolve(errorResult(503, 'the server is shutting down'));
    if (this.broken !== null) return Promise.resolve(errorResult(500, this.broken));
    if (this.queue.length >= this.maxQueue) {
      return Promise.resolve(errorResult(503, `the server is busy (${this.queue.length} requests waiting); try again in a moment`));
    }
    return new Promise((resolve) => {
      const pending: Pending = { message: { id: this.nextId++, kind, job } as JobMessage, resolve };
      this.queue.push(pending);
      signal?.addEventListener('abort', () => {
        const at = this.queue.indexOf(pending);
        if (at >= 0) {
          this.queue.splice(at, 1);
          resolve(errorResult(499, 'the client closed the request'));
        }
      });
      this.dispatch();
    });
  }

  /** Jobs waiting for a worker. */
  get waiting(): number {
    return this.queue.length;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const pending of this.queue.splice(0)) pending.resolve(errorResult(503, 'the server is shutting down'));
    await Promise.all(
      this.slots.map(async (slot) => {
        this.finish(slot, errorResult(503, 'the server is shutting down'));
        slot.worker.removeAllListeners();
        await slot.worker.terminate();
      }),
    );
  }

  private spawn(): Slot {
    const worker = new Worker(WORKER_ENTRY, { workerData: { limits: this.limits } });
    const slot: Slot = { worker, ready: false, current: null, timer: null };
    worker.on('message', (reply: ReplyMessage | typeof READY) => {
      if (reply === READY) {
        slot.ready = true;
        this.bootFailures = 0;
        this.dispatch();
        return;
      }
      if (slot.current?.message.id !== reply.id) return;
      this.finish(slot, { status: reply.status, body: reply.body });
      this.dispatch();
    });
    worker.on('error', (error) => this.replace(slot, 500, `the computation failed: ${error.message}`));
    worker.on('exit', (code) => this.replace(slot, 500, `the computation stopped unexpectedly (worker exit code ${code})`));
    return slot;
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (!slot.ready || slot.current !== null) continue;
      const pending = this.queue.shift()!;
      slot.current = pending;
      slot.timer = setTimeout(() => {
        const seconds = this.limits.timeoutSeconds;
        this.replace(slot, 503, `the computation took longer than ${seconds} s and was stopped; try a shorter input, fewer methods, one channel or row mode`);
      }, this.limits.timeoutSeconds * 1000);
      slot.worker.postMessage(pending.message);
    }
  }

  private finish(slot: Slot, result: JobResult): void {
    if (slot.timer !== null) clearTimeout(slot.timer);
    slot.timer = null;
    const pending = slot.current;
    slot.current = null;
    pending?.resolve(result);
  }

  /** Fails the slot's job, stops its worker and starts a fresh one in its place. */
  private replace(slot: Slot, status: number, message: string): void {
    if (this.closed) return;
    this.finish(slot, errorResult(status, message));
    const old = slot.worker;
    old.removeAllListeners();
    old.on('error', () => {});
    void old.terminate();
    if (!slot.ready && ++this.bootFailures >= 3) {
      // The worker code itself cannot start: say so instead of restarting forever.
      this.broken = `the compute workers cannot start: ${message}`;
      this.slots.splice(this.slots.indexOf(slot), 1);
      for (const pending of this.queue.splice(0)) pending.resolve(errorResult(500, this.broken));
      return;
    }
    const fresh = this.spawn();
    this.slots[this.slots.indexOf(slot)] = fresh;
    this.dispatch();
  }
}
