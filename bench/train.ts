/**
 * Bench section `train`: training throughput (forward + backward + clip + AdamW, tokens/s)
 * of every registered architecture at the tiny preset (H 64, 2 layers; griffin 3) with the
 * project's vocabulary of 4096, batch 8 × 64 tokens, on random token windows. One warm-up
 * step, then the median of the timed steps. Architectures whose family is not registered are
 * reported as skipped. Run alone: node --import tsx bench/train.ts
 */
import { fileURLToPath } from 'node:url';
import { Random } from '../src/core/index.js';
import { initModel, supportedModelTypes } from '../src/models/index.js';
import { architectureConfig, architectureNames, getArchitecture } from '../src/train/architectures.js';
import { languageModelSource } from '../src/train/data.js';
import { startRun, train, trainSettings } from '../src/train/trainer.js';
import { round } from './measure.js';

const VOCAB = 4096;
const BATCH = 8;
const SEQ = 64;
const TIMED_STEPS = 4;

export function trainBench(): unknown {
  const rng = new Random(0);
  const stream = Int32Array.from({ length: 50_000 }, () => rng.int(VOCAB));
  const data = languageModelSource({ name: 'random', train: stream, validation: stream.subarray(0, 2 * SEQ + 1), vocabSize: VOCAB, length: SEQ, seed: 0 });
  const rows: Array<Record<string, unknown>> = [];
  for (const arch of architectureNames()) {
    const { modelType } = getArchitecture(arch);
    if (!supportedModelTypes().includes(modelType)) {
      rows.push({ arch, modelType, skipped: 'family not registered' });
      process.stderr.write(`train ${arch}: skipped (${modelType} not registered)\n`);
      continue;
    }
    const model = initModel(architectureConfig(arch, { vocabSize: VOCAB, size: 'tiny' }), 0);
    const run = startRun({ model, data, settings: trainSettings({ steps: 1 + TIMED_STEPS, batchSize: BATCH, evalBatches: 1 }) });
    const times: number[] = [];
    train(run, { stopAt: 1 }); // warm-up
    train(run, { hooks: { onStep: (log) => times.push((BATCH * SEQ) / log.tokens_per_s) } });
    times.sort((a, b) => a - b);
    const seconds = times[Math.floor(times.length / 2)];
    const row = { arch, modelType, parameters: model.parameterCount(), batch: BATCH, seq: SEQ, msPerStep: round(seconds * 1000), tokensPerSecond: round((BATCH * SEQ) / seconds) };
    rows.push(row);
    process.stderr.write(`train ${arch} (${row.parameters} parameters): ${row.tokensPerSecond} tokens/s, ${row.msPerStep} ms/step\n`);
  }
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.stdout.write(`${JSON.stringify(trainBench(), null, 2)}\n`);
