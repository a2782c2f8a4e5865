/**
 * A compute worker: one ViewerEngine (text) and one VisionEngine (images) answering jobs one at a time. Replies carry the JSON
 * body as bytes (transferred, not copied) so the HTTP thread only writes them out.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ViewerLimits } from '../protocol.js';
import { failureOf, ViewerEngine } from './engine.js';
import { READY } from './pool.js';
import { VisionEngine } from './vision-engine.js';
import type { JobMessage, ReplyMessage } from './pool.js';

const engine = new ViewerEngine((workerData as { limits: ViewerLimits }).limits);
const vision = new VisionEngine();
const encoder = new TextEncoder();

function reply(message: ReplyMessage): void {
  parentPort!.postMessage(message, [message.body.buffer as ArrayBuffer]);
}

parentPort!.on('message', (message: JobMessage) => {
  try {
    const result =
      message.kind === 'analyze'
        ? engine.analyze(message.job)
        : message.kind === 'attention'
          ? engine.attention(message.job)
          : message.kind === 'image'
            ? vision.image(message.job)
            : engine.perturbation(message.job);
    reply({ id: message.id, status: 200, body: encoder.encode(JSON.stringify(result)) });
  } catch (error) {
    const failure = failureOf(error);
    if (failure.status >= 500) process.stderr.write(`iattn serve: ${message.kind} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    reply({ id: message.id, status: failure.status, body: encoder.encode(JSON.stringify({ error: failure.message })) });
  }
});

parentPort!.postMessage(READY);
