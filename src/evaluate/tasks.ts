/**
 * Synthetic tasks with a known answer source, for the ground-truth evaluation
 * (explain-and-evaluate.md §3), registered in the training task registry so that
 * `iattn train --data task:needle` trains on them. Pure module (no Node APIs).
 *
 * - `task:assoc-recall` (src/train/data.ts, reused as is): key–value pairs then a key; the
 *   evidence is the queried key's earlier position and its value's position.
 * - `task:needle` (here): needle classification — one trigger token among distractors sets the
 *   class; the evidence is the trigger's position.
 *
 * Also the small word-level vocabulary the task models are trained with (`taskTokenizerJson`):
 * with the project's 4096-token BPE the embedding and LM head of a tiny model would be most of
 * its parameters and most of its training time, although a task uses a few dozen ids.
 */
import { ShapeError } from '../core/index.js';
import { registerTask } from '../train/data.js';
import type { SyntheticTask, TaskSample } from '../train/data.js';

/** Classes of the needle task; class c is answered by token 1 + c. */
export const NEEDLE_CLASSES = 4;
/** Trigger tokens per class. */
export const NEEDLE_TRIGGERS_PER_CLASS = 2;

/**
 * The needle task's vocabulary layout (V ids):
 *   0                      pad (unused)
 *   1 … C                  class tokens: the answers, never in the input
 *   C + 1                  the query token, always the last input token
 *   C + 2 … C + 1 + T      trigger tokens, T = C·triggersPerClass; trigger i sets class i mod C
 *   C + 2 + T … V − 1      distractors
 */
export function needleLayout(vocabSize: number): { classToken: (c: number) => number; query: number; firstTrigger: number; triggers: number; firstDistractor: number; distractors: number } {
  const C = NEEDLE_CLASSES;
  const T = C * NEEDLE_TRIGGERS_PER_CLASS;
  const firstDistractor = C + 2 + T;
  return { classToken: (c) => 1 + c, query: C + 1, firstTrigger: C + 2, triggers: T, firstDistractor, distractors: vocabSize - firstDistractor };
}

/**
 * Needle classification: L − 1 distractor tokens drawn uniformly, one of them replaced by a
 * trigger token at a uniform position, then the query token.
 *   ids = d … d TRIGGER d … d QUERY         target = L − 1
 *   label = class token 1 + (i mod C) for trigger i;   evidence = [the trigger's position]
 * Answering needs the one trigger token and nothing else: the distractors carry no
 * information about the label.
 */
export const needle: SyntheticTask = {
  name: 'needle',
  description: 'needle classification: one trigger token among distractors sets the class; predict the class token after the query',
  minVocab() {
    return needleLayout(0).firstDistractor + 2;
  },
  generate(rng, length, vocabSize): TaskSample {
    if (length < 2) throw new ShapeError(`task:needle: needs at least 2 tokens per sequence (the trigger and the query), got ${length}`);
    const layout = needleLayout(vocabSize);
    if (layout.distractors < 2) throw new ShapeError(`task:needle: a vocabulary of ${vocabSize} leaves ${layout.distractors} distractor ids; at least ${this.minVocab(length)} ids are needed`);
    const ids = new Int32Array(length);
    for (let i = 0; i < length - 1; i++) ids[i] = layout.firstDistractor + rng.int(layout.distractors);
    const trigger = rng.int(layout.triggers);
    const position = rng.int(length - 1);
    ids[position] = layout.firstTrigger + trigger;
    ids[length - 1] = layout.query;
    return { ids, target: length - 1, label: layout.classToken(trigger % NEEDLE_CLASSES), evidence: [position] };
  },
};

registerTask(needle);

/** The evaluation's tasks (both registered; assoc-recall by src/train/data.ts). */
export const GROUND_TRUTH_TASKS = ['assoc-recall', 'needle'] as const;

/** Display symbols of the task vocabulary: id 0 is `<|endoftext|>`, then one character per id. */
const TASK_SYMBOLS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789?#$%&*+-/:;<=>@^_~';

/**
 * A tokenizer.json (Hugging Face format; BPE without merges) of `vocabSize` ids: id 0 is
 * `<|endoftext|>`, ids 1 … V − 1 are single characters, so a task sequence prints as one
 * character per token. Training a task model with `--tokenizer` on this file sets its
 * vocabulary to V.
 */
export function taskTokenizerJson(vocabSize = 64): Record<string, unknown> {
  if (!Number.isInteger(vocabSize) || vocabSize < 2 || vocabSize > TASK_SYMBOLS.length + 1) {
    throw new ShapeError(`taskTokenizerJson: vocabulary size should be an integer in [2, ${TASK_SYMBOLS.length + 1}], got ${vocabSize}`);
  }
  const symbols = ['<|endoftext|>', ...TASK_SYMBOLS.slice(0, vocabSize - 1)];
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [{ id: 0, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    decoder: null,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: Object.fromEntries(symbols.map((s, i) => [s, i])),
      merges: [],
    },
  };
}

/** What counts as evidence in each task's ground truth (for reports). */
export const EVIDENCE_DESCRIPTIONS: Record<string, string> = {
  'assoc-recall': "the queried key's earlier occurrence and its value (2 positions)",
  needle: "the trigger token's position (1 position)",
};
