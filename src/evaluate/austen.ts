/**
 * The evaluation samples drawn from the Austen corpus (Node: reads data/austen through
 * src/io): the validation split of src/io/corpus.ts (the last ~5 % of each book, cut at a
 * paragraph break), each book tokenised on its own with the model's tokenizer.
 *
 * - Language models: windows of `length` tokens at offsets 0, length + 1, 2(length + 1), … of
 *   each book's validation tokens (non-overlapping, never across books); the token after the
 *   window is its label (the true next token). The explained position is the window's last.
 * - Classifiers ("which novel?"): passages of `length` tokens at offsets 0, length, 2·length, …
 *   of each book's validation tokens (as the classification data source's validation set);
 *   the label is the book's index among the classifier's labels.
 * A fixed seeded sample of `count` of them (without replacement) is evaluated.
 */
import { Random } from '../core/index.js';
import { austenSplit } from '../io/corpus.js';
import type { BookText } from '../io/corpus.js';
import { readBooks } from '../io/corpus-files.js';
import type { TextTokenizer } from '../io/tokenizer.js';
import { EvaluationError } from './metrics.js';
import type { EvaluationInput } from './runner.js';

/** An evaluation input with where it comes from. */
export interface AustenSample extends EvaluationInput {
  book: string;
  /** Offset of the first token in the book's validation tokens. */
  offset: number;
}

export interface SampleSet {
  samples: AustenSample[];
  /** How many candidates the sample was drawn from. */
  candidates: number;
  /** Human description of the data slice. */
  slice: string;
}

function validationTokens(tokenizer: TextTokenizer, books: BookText[]): Array<{ name: string; ids: Int32Array }> {
  const { validation } = austenSplit(books);
  return validation.map((b) => ({ name: b.name, ids: Int32Array.from(tokenizer.encode(b.text)) }));
}

function draw<T>(candidates: T[], count: number, seed: number): T[] {
  if (candidates.length === 0) throw new EvaluationError('the validation text holds no window of the requested length');
  const picked = new Random(seed).shuffle(candidates.map((_, i) => i)).slice(0, Math.min(count, candidates.length));
  return picked.sort((a, b) => a - b).map((i) => candidates[i]);
}

/** Seeded sample of next-token windows (see the module comment). */
export function languageModelWindows(tokenizer: TextTokenizer, length: number, count: number, seed: number, books: BookText[] = readBooks()): SampleSet {
  const candidates: AustenSample[] = [];
  for (const { name, ids } of validationTokens(tokenizer, books)) {
    for (let offset = 0; offset + length + 1 <= ids.length; offset += length + 1) {
      candidates.push({ ids: ids.slice(offset, offset + length), position: length - 1, label: ids[offset + length], book: name, offset });
    }
  }
  return {
    samples: draw(candidates, count, seed),
    candidates: candidates.length,
    slice: `Austen validation split (last ~5 % of each of ${books.length} books), windows of ${length} tokens (+ the next token as label), ${candidates.length} candidates`,
  };
}

/** Seeded sample of classification passages; `labels` are the classifier's class names (book names). */
export function classificationPassages(tokenizer: TextTokenizer, length: number, count: number, seed: number, labels: readonly string[], books: BookText[] = readBooks()): SampleSet {
  const candidates: AustenSample[] = [];
  for (const { name, ids } of validationTokens(tokenizer, books)) {
    const label = labels.indexOf(name);
    if (label < 0) throw new EvaluationError(`the classifier's labels (${labels.join(', ')}) do not include the book '${name}'`);
    for (let offset = 0; offset + length <= ids.length; offset += length) {
      candidates.push({ ids: ids.slice(offset, offset + length), position: length - 1, label, book: name, offset });
    }
  }
  return {
    samples: draw(candidates, count, seed),
    candidates: candidates.length,
    slice: `Austen validation split (last ~5 % of each of ${books.length} books), passages of ${length} tokens labelled by book, ${candidates.length} candidates`,
  };
}
