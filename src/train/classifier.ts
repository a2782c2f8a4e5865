/**
 * Sequence classification on top of any registered decoder: a linear head on the final-norm
 * hidden state of the LAST token (as transformers' *ForSequenceClassification heads of causal
 * models pool the last token). The LM head's logits are not used.
 *
 *   h = final_norm(backbone(ids))[:, L − 1, :]       [B, H]
 *   logits = h · classifier.weightᵀ + classifier.bias [B, C]
 *
 * Checkpoint layout: the backbone keeps exactly its causal-LM tensor names (so the backbone
 * loads anywhere a causal LM of the family loads, `lm_head` included where untied), and the
 * head adds `classifier.weight` [C, H] and `classifier.bias` [C] to the same model.safetensors.
 *
 * transformers has no sequence-classification class for these families (its modeling files
 * export only *Model and *ForCausalLM for mamba, falcon_mamba, mamba2, rwkv and
 * recurrent_gemma; flash-linear-attention likewise for gla, hgrn, retnet), so config.json
 * keeps `architectures: ["<Family>ForCausalLM"]` — the class `from_pretrained` really builds,
 * which loads the backbone and reports the `classifier.*` tensors as unused — and describes
 * the head with the label keys transformers reads (`num_labels`, `id2label`, `label2id`,
 * `problem_type`) plus `classifier_head` (CLASSIFIER_HEAD_KEY): tensor names, input, pooling.
 */
import * as F from '../core/index.js';
import { Random, ShapeError, Tensor } from '../core/index.js';
import type { DType } from '../core/index.js';
import type { DecoderLM } from '../models/index.js';

export const CLASSIFIER_WEIGHT = 'classifier.weight';
export const CLASSIFIER_BIAS = 'classifier.bias';

export class ClassifierHead {
  constructor(
    readonly weight: Tensor, // [C, H]
    readonly bias: Tensor, // [C]
  ) {
    if (weight.rank !== 2 || bias.rank !== 1 || bias.shape[0] !== weight.shape[0]) {
      throw new ShapeError(`ClassifierHead: weight [C, H] and bias [C] expected, got [${weight.shape}] and [${bias.shape}]`);
    }
  }

  /** A fresh head: weight ~ N(0, std²) (transformers' initializer_range 0.02), bias 0. */
  static init(numLabels: number, hidden: number, seed: number, dtype: DType = 'float32', std = 0.02): ClassifierHead {
    return new ClassifierHead(new Random(seed).tensor([numLabels, hidden], dtype, std), Tensor.zeros([numLabels], dtype));
  }

  get numLabels(): number {
    return this.weight.shape[0];
  }

  /** The head's tensors under their checkpoint names. */
  parameters(): Map<string, Tensor> {
    return new Map([
      [CLASSIFIER_WEIGHT, this.weight],
      [CLASSIFIER_BIAS, this.bias],
    ]);
  }
}

/** Final-norm hidden state of the last token: ids [B, L] → [B, H]. */
export function lastHiddenState(model: DecoderLM, ids: Int32Array, batch: number, length: number): Tensor {
  const normed = model.hidden(model.embed(ids, batch, length)); // [B, L, H]; the LM head never runs
  const H = normed.shape[2];
  return F.reshape(F.slice(normed, 1, length - 1, length), [batch, H]); // [B, 1, H] → [B, H]
}

/** Class logits [B, C] for ids [B, L]. */
export function classifierLogits(model: DecoderLM, head: ClassifierHead, ids: Int32Array, batch: number, length: number): Tensor {
  return F.linear(lastHiddenState(model, ids, batch, length), head.weight, head.bias);
}

/** config.json key describing the head (an extra key transformers keeps as an unused attribute). */
export const CLASSIFIER_HEAD_KEY = 'classifier_head';

/** What `classifier_head` says: where the head is stored and what it reads. */
export const CLASSIFIER_HEAD_DESCRIPTION = {
  weight: CLASSIFIER_WEIGHT,
  bias: CLASSIFIER_BIAS,
  input: 'final-norm hidden state',
  pooling: 'last token',
} as const;

/**
 * config.json of a classifier: the backbone's config (its `architectures` unchanged: the
 * causal-LM class transformers has) plus the label keys transformers reads and the head's
 * description.
 */
export function classifierConfig(hfConfig: Record<string, unknown>, labels: readonly string[]): Record<string, unknown> {
  return {
    ...hfConfig,
    num_labels: labels.length,
    id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
    label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
    problem_type: 'single_label_classification',
    [CLASSIFIER_HEAD_KEY]: { ...CLASSIFIER_HEAD_DESCRIPTION },
  };
}

/** Class names from a config.json's id2label (index order), or null without one. */
export function labelsOf(config: Record<string, unknown>): string[] | null {
  const id2label = config.id2label;
  if (typeof id2label !== 'object' || id2label === null || Array.isArray(id2label)) return null;
  const entries = Object.entries(id2label as Record<string, unknown>);
  const labels: string[] = [];
  for (const [key, value] of entries) {
    const i = Number(key);
    if (!Number.isInteger(i) || i < 0 || i >= entries.length || typeof value !== 'string') return null;
    labels[i] = value;
  }
  return labels.length === entries.length ? labels : null;
}
