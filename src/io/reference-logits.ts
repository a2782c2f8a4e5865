// reference_logits.safetensors (Node): a few token ids and the logits this implementation
// computes for them, written beside a checkpoint (by `iattn train` at every save, or by
// scripts/write-reference-logits.ts for any checkpoint folder), so that
// scripts/check-from-pretrained.py can load the folder with PyTorch + transformers and compare.
//
//   input_ids     I64 [2, L]     row 0: the tokenizer's encoding of REFERENCE_PROMPT (when the
//                                folder has a tokenizer whose ids fit the model), row 1: fixed
//                                pseudo-random ids; L = 16 (fewer if the prompt is shorter)
//   logits        F32 [2, L, V]  the causal-LM head's logits at every position
//   class_logits  F32 [2, C]     classifiers only: the head on the final-norm hidden state of
//                                the last token
// Metadata: format, model_type, compute dtype.
import * as path from 'node:path';
import { noGrad } from '../core/index.js';
import type { DecoderLM } from '../models/index.js';
import { classifierLogits } from '../train/classifier.js';
import type { ClassifierHead } from '../train/classifier.js';
import { writeFileAtomic } from './node-file.js';
import { serializeSafetensors } from './safetensors.js';
import { loadTokenizer } from './tokenizer.js';

export const REFERENCE_LOGITS_FILE = 'reference_logits.safetensors';
export const REFERENCE_PROMPT = 'Emma Woodhouse, handsome, clever, and rich, with a comfortable home and happy disposition';
const LENGTH = 16;

/** The two rows of reference ids, [2·L] row-major, and L. */
export function referenceIds(vocabSize: number, tokenizerPath: string | null): { ids: Int32Array; length: number } {
  let prompt: number[] = [];
  if (tokenizerPath !== null) {
    const encoded = loadTokenizer(tokenizerPath).encode(REFERENCE_PROMPT);
    if (encoded.length >= 2 && encoded.every((id) => id < vocabSize)) prompt = encoded.slice(0, LENGTH);
  }
  const L = prompt.length > 0 ? prompt.length : LENGTH;
  if (prompt.length === 0) prompt = Array.from({ length: L }, (_, i) => (3 * i + 1) % vocabSize);
  const other = Array.from({ length: L }, (_, i) => (i * 7919 + 13) % vocabSize);
  return { ids: Int32Array.from([...prompt, ...other]), length: L };
}

/** Computes the reference logits of `model` (and `head`) and writes them into `dir` atomically. */
export function writeReferenceLogits(dir: string, model: DecoderLM, head: ClassifierHead | null, tokenizerPath: string | null): string {
  const { ids, length: L } = referenceIds(model.config.vocabSize, tokenizerPath);
  const B = 2;
  const V = model.config.vocabSize;
  const logits = noGrad(() => model.forwardIds(ids, B, L));
  const tensors: Parameters<typeof serializeSafetensors>[0] = {
    input_ids: { dtype: 'I64', shape: [B, L], data: BigInt64Array.from(ids, (x) => BigInt(x)) },
    logits: { dtype: 'F32', shape: [B, L, V], data: logits.data },
  };
  if (head !== null) {
    const classes = noGrad(() => classifierLogits(model, head, ids, B, L));
    tensors.class_logits = { dtype: 'F32', shape: [B, head.numLabels], data: classes.data };
  }
  const file = path.join(dir, REFERENCE_LOGITS_FILE);
  writeFileAtomic(file, serializeSafetensors(tensors, { format: 'iattn-reference-logits', model_type: model.modelType, compute_dtype: model.dtype }));
  return file;
}
