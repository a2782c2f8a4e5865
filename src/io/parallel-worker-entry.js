// Entry of a parallel worker thread (src/io/parallel-node.ts). First, so that even a failure to
// load marks the worker dead: on exit, STATE = DEAD and READY = 0, and the waiting thread is
// woken. Then TypeScript runs through tsx's loader, registered here because a worker does not
// inherit the loader of the thread that started it.
import process from 'node:process';
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

const { index, control } = workerData;
const SLOT = 4;
process.on('exit', () => {
  Atomics.store(control, index * SLOT + 1, 0);
  Atomics.store(control, index * SLOT, 5);
  Atomics.notify(control, index * SLOT);
});

register();
await import('./parallel-worker.ts');
