/**
 * Classifier checkpoints (a causal-LM backbone + `classifier.weight`/`classifier.bias`, see
 * src/train/classifier.ts) for the commands that explain a prediction. `classifierOf` turns a
 * loaded backbone into the model the explanation methods see: the same layers, with logits
 * [B, L, C] = the head at every position (classifierAsLM), so the target at the last position
 * is the class; class names come from config.json's id2label.
 */
import { classifierAsLM } from '../evaluate/classifier-target.js';
import type { DecoderLM } from '../models/index.js';
import type { ClassifierHead } from '../train/classifier.js';
import { labelsOf } from '../train/classifier.js';
import { openCheckpoint } from './checkpoint.js';
import type { LoadedModel } from './load-model.js';
import { readClassifierHead } from './training-checkpoint.js';

export interface ClassifierView {
  head: ClassifierHead;
  /** Class names, index = class id (id2label; `class i` where config.json has none). */
  labels: string[];
  /** The causal-LM model the head reads. */
  backbone: DecoderLM;
}

export type LoadedClassifier = LoadedModel & { classifier: ClassifierView };

/** True when the checkpoint folder has a classifier head (reads tensor headers only). */
export function hasClassifierHead(dir: string): boolean {
  const checkpoint = openCheckpoint(dir);
  try {
    return readClassifierHead(checkpoint, 'float32') !== null;
  } finally {
    checkpoint.close();
  }
}

/**
 * The classifier view of a loaded checkpoint whose folder holds a classifier head (its model's
 * logits are the class logits), or null when the folder has no head.
 */
export function classifierOf(loaded: LoadedModel): LoadedClassifier | null {
  const checkpoint = openCheckpoint(loaded.dir);
  try {
    const head = readClassifierHead(checkpoint, loaded.model.dtype);
    if (head === null) return null;
    const named = labelsOf(checkpoint.config);
    const labels = named !== null && named.length === head.numLabels ? named : Array.from({ length: head.numLabels }, (_, i) => `class ${i}`);
    return { ...loaded, model: classifierAsLM(loaded.model, head), classifier: { head, labels, backbone: loaded.model } };
  } finally {
    checkpoint.close();
  }
}
