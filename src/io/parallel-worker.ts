/**
 * A parallel worker thread (started by ./parallel-node.ts through parallel-worker-entry.js):
 * loads the WASM GEMM and warms it up (V8 first runs WebAssembly from its baseline compiler and
 * optimises hot functions later: without the warm-up a worker's first products run at half
 * speed), says READY, then loops: sleep in Atomics.wait on its STATE word; when a job is posted,
 * take its message from the MessagePort synchronously (dropping messages of jobs the calling
 * thread took back), claim it (POSTED → RUNNING, which fails if it was taken back meanwhile),
 * import the task's module the first time it is named, run the range, and report DONE or
 * FAILED (with the message in its error bytes).
 */
import { receiveMessageOnPort, workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import '../core/parallel-gemm.js';
import { gemmWasm, wasmGemmReady } from '../core/kernels/wasm/gemm-wasm.js';
import { hasTask, taskFunction } from '../core/parallel.js';
import { DONE, ERROR_BYTES, FAILED, POSTED, READY, RUNNING, seqOf, SLOT, STATE, stateOf, word } from './parallel-node.js';
import type { JobMessage } from './parallel-node.js';

const { index, control, errors, port, claimDelayMs } = workerData as { index: number; control: Int32Array; errors: Uint8Array; port: MessagePort; claimDelayMs: number };
const delay = new Int32Array(new SharedArrayBuffer(4));
const stateAt = index * SLOT + STATE;

function finish(seq: number, state: number): void {
  Atomics.store(control, stateAt, word(seq, state));
  Atomics.notify(control, stateAt);
}

function report(seq: number, error: unknown): void {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  const bytes = new TextEncoder().encode(text).subarray(0, ERROR_BYTES - 1);
  const slot = errors.subarray(index * ERROR_BYTES, (index + 1) * ERROR_BYTES);
  slot.fill(0);
  slot.set(bytes);
  finish(seq, FAILED);
}

function execute(job: JobMessage): void {
  try {
    taskFunction({ module: job.module, name: job.name })(job.args, job.start, job.end);
    finish(job.seq, DONE);
  } catch (error) {
    report(job.seq, error);
  }
}

/** The message of job `seq`, dropping older ones; undefined if it is not visible yet. */
function take(seq: number): JobMessage | undefined {
  for (;;) {
    const received = receiveMessageOnPort(port);
    if (received === undefined) return undefined;
    const job = received.message as JobMessage;
    if (job.seq === seq) return job;
  }
}

let pending: JobMessage | undefined;

/** Serves jobs until 200 ms pass without one, then yields to the event loop and comes back. */
function serve(): void {
  for (;;) {
    const current = Atomics.load(control, stateAt);
    if (stateOf(current) === POSTED) {
      const seq = seqOf(current);
      if (pending?.seq !== seq) pending = take(seq);
      if (pending === undefined) continue; // posted but not visible yet: look again
      const job = pending;
      pending = undefined;
      if (claimDelayMs > 0) Atomics.wait(delay, 0, 0, claimDelayMs);
      if (Atomics.compareExchange(control, stateAt, current, word(seq, RUNNING)) !== current) continue; // taken back
      if (!hasTask(job.name)) {
        import(job.module).then(
          () => {
            execute(job);
            serve();
          },
          (error: unknown) => {
            report(job.seq, error);
            serve();
          },
        );
        return;
      }
      execute(job);
      continue;
    }
    if (Atomics.wait(control, stateAt, current, 200) === 'timed-out') {
      setImmediate(serve);
      return;
    }
  }
}

if (!wasmGemmReady()) throw new Error('parallel worker: the WebAssembly GEMM did not load');
for (const make of [(n: number) => new Float32Array(n), (n: number) => new Float64Array(n)]) {
  const n = 192;
  const a = make(n * n).fill(1);
  const c = make(n * n);
  for (let i = 0; i < 4; i++) for (const variant of ['NT', 'NN', 'TN'] as const) gemmWasm(variant, n, n, n, a, 0, a, 0, c, 0);
}
Atomics.store(control, index * SLOT + READY, 1);
Atomics.notify(control, stateAt);
serve();
