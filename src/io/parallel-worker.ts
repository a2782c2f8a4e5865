/**
 * A parallel worker thread (started by ./parallel-node.ts through parallel-worker-entry.js):
 * loads the WASM GEMM and warms it up (V8 first runs WebAssembly from its baseline compiler and
 * optimises hot functions later: without the warm-up a worker's first products run at half
 * speed), says READY, then loops: sleep in Atomics.wait on its STATE word, take the
 * posted job from its MessagePort synchronously, import the task's module the first time it is
 * named, run the range, and report DONE or FAILED (with the message in its error bytes).
 */
import { receiveMessageOnPort, workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import '../core/parallel-gemm.js';
import { gemmWasm, wasmGemmReady } from '../core/kernels/wasm/gemm-wasm.js';
import { hasTask, taskFunction } from '../core/parallel.js';
import { DONE, ERROR_BYTES, FAILED, POSTED, READY, RUNNING, SLOT, STATE } from './parallel-node.js';
import type { JobMessage } from './parallel-node.js';

const { index, control, errors, port } = workerData as { index: number; control: Int32Array; errors: Uint8Array; port: MessagePort };
const stateAt = index * SLOT + STATE;

function finish(state: number): void {
  Atomics.store(control, stateAt, state);
  Atomics.notify(control, stateAt);
}

function report(error: unknown): void {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  const bytes = new TextEncoder().encode(text).subarray(0, ERROR_BYTES - 1);
  const slot = errors.subarray(index * ERROR_BYTES, (index + 1) * ERROR_BYTES);
  slot.fill(0);
  slot.set(bytes);
  finish(FAILED);
}

function execute(job: JobMessage): void {
  try {
    taskFunction({ module: job.module, name: job.name })(job.args, job.start, job.end);
    finish(DONE);
  } catch (error) {
    report(error);
  }
}

/** Serves jobs until 200 ms pass without one, then yields to the event loop and comes back. */
function serve(): void {
  for (;;) {
    const state = Atomics.load(control, stateAt);
    if (state === POSTED) {
      const received = receiveMessageOnPort(port);
      if (received === undefined) continue; // posted but not yet visible: look again
      Atomics.store(control, stateAt, RUNNING);
      const job = received.message as JobMessage;
      if (!hasTask(job.name)) {
        import(job.module).then(
          () => {
            execute(job);
            serve();
          },
          (error: unknown) => {
            report(error);
            serve();
          },
        );
        return;
      }
      execute(job);
      continue;
    }
    if (Atomics.wait(control, stateAt, state, 200) === 'timed-out') {
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
Atomics.notify(control, index * SLOT + STATE);
serve();
