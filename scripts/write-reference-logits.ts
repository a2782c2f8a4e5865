/**
 * Writes reference_logits.safetensors into a checkpoint folder (what `iattn train` writes at
 * every save), for checkpoints trained before it did or not trained here:
 *
 *   npx tsx scripts/write-reference-logits.ts CHECKPOINT_DIR [--dtype float64]
 *
 * Then, on a machine with PyTorch + transformers: python scripts/check-from-pretrained.py CHECKPOINT_DIR
 */
import { writeReferenceLogits } from '../src/io/reference-logits.js';
import { loadTrainedModel } from '../src/io/training-checkpoint.js';

const [dir, flag, value] = process.argv.slice(2);
if (dir === undefined || (flag !== undefined && (flag !== '--dtype' || (value !== 'float32' && value !== 'float64')))) {
  process.stderr.write('usage: npx tsx scripts/write-reference-logits.ts CHECKPOINT_DIR [--dtype float32|float64]\n');
  process.exit(1);
}
const { model, head, tokenizerPath } = loadTrainedModel(dir, value === 'float64' ? 'float64' : 'float32');
process.stdout.write(`wrote ${writeReferenceLogits(dir, model, head, tokenizerPath)}\n`);
