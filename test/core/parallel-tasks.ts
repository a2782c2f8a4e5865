/**
 * Tasks for test/core/parallel.test.ts. A worker imports this module to define them, so it must
 * not import vitest.
 */
import process from 'node:process';
import { threadId } from 'node:worker_threads';
import { defineTask } from '../../src/core/parallel.js';

export interface ScaleArgs {
  x: Float64Array;
  y: Float64Array;
  /** Which thread computed each channel. */
  who: Int32Array;
  length: number;
  factor: number;
}

/** y[c, :] = factor · x[c, :] for channels [c0, c1). */
export const scaleChannels = defineTask(import.meta.url, 'test-scale-channels', (a: ScaleArgs, c0: number, c1: number) => {
  for (let c = c0; c < c1; c++) {
    for (let i = c * a.length; i < (c + 1) * a.length; i++) a.y[i] = a.factor * a.x[i];
    a.who[c] = threadId;
  }
});

/** Throws for a range that contains channel `bad`, except on the calling thread `caller`. */
export const throwAt = defineTask(import.meta.url, 'test-throw-at', (a: { bad: number; caller: number }, c0: number, c1: number) => {
  if (threadId !== a.caller && a.bad >= c0 && a.bad < c1) throw new RangeError(`boom at channel ${a.bad}`);
});

/** Ends its worker thread abruptly (a crash), except on the calling thread `caller`. */
export const exitWorker = defineTask(import.meta.url, 'test-exit-worker', (a: { caller: number }, _c0: number, _c1: number) => {
  if (threadId !== a.caller) process.exit(7);
});
