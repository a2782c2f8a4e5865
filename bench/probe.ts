/**
 * One measured task per process (see measure.ts `probe`): prints JSON with the task's time and
 * the process's peak resident memory, and the baseline of a process that only started.
 *   load DIR                     — load a checkpoint in float32
 *   forward DIR L [backward]     — one forward (and backward) of L tokens
 */
import * as F from '../src/core/index.js';
import { loadModel } from '../src/io/load-model.js';
import { Random } from '../src/core/index.js';

const [task, dir, lengthArg, withBackward] = process.argv.slice(2);
const rssMiB = () => process.resourceUsage().maxRSS / 1024;
const baseline = rssMiB();
const start = performance.now();
const { model } = loadModel(dir, { dtype: 'float32' });
const loadMs = performance.now() - start;
let result: Record<string, number> = { baselineMiB: baseline, loadMs };
if (task === 'forward') {
  const L = Number(lengthArg);
  const rng = new Random(1);
  const ids = Int32Array.from({ length: L }, () => rng.int(model.config.vocabSize));
  const t0 = performance.now();
  if (withBackward === 'backward') {
    for (const p of model.parameters.values()) p.requireGrad();
    const logits = model.forwardIds(ids, 1, L);
    const loss = F.crossEntropy(F.reshape(logits, [L, model.config.vocabSize]), ids);
    F.backward(loss);
  } else {
    F.noGrad(() => model.forwardIds(ids, 1, L));
  }
  const ms = performance.now() - t0;
  result = { ...result, ms, tokensPerSecond: (L / ms) * 1000 };
}
process.stdout.write(JSON.stringify({ ...result, peakMiB: rssMiB() }));
