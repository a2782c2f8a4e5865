// The --data sources of `iattn train` (Node: reads the corpus and the tokenizer).
//   austen           language modelling on the Austen training split (src/io/corpus.ts),
//                    each book tokenised on its own and concatenated in book order, as
//                    val_ids; validation = the validation split, tokenised the same way
//   austen-classify  which of the 6 novels a passage of --seq tokens comes from
//                    (label = book index in file order); validation passages from the
//                    validation split
//   task:NAME        a registered synthetic task (src/train/data.ts)
// Tokenising the training split (~1 M tokens) takes a few seconds; it is done once per process.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { austenSplit } from './corpus.js';
import type { BookText } from './corpus.js';
import { readBooks } from './corpus-files.js';
import { loadTokenizer } from './tokenizer.js';
import type { TextTokenizer } from './tokenizer.js';
import { TrainingError } from './training-checkpoint.js';
import { classificationSource, getTask, languageModelSource, taskSource } from '../train/data.js';
import type { DataSource } from '../train/data.js';

const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The project's 4096-token Austen BPE: the embedded default model's tokenizer.json, or (in a
 * checkout before the default model exists) the copy in the test fixtures.
 */
export function defaultTokenizerPath(): string {
  const candidates = [path.join(PACKAGE_ROOT, 'models/default/tokenizer.json'), path.join(PACKAGE_ROOT, 'test/fixtures/trained/tokenizer.json')];
  const found = candidates.find((file) => fs.existsSync(file));
  if (found === undefined) throw new TrainingError(`no default tokenizer (looked for ${candidates.join(', ')}); pass --tokenizer FILE`);
  return found;
}

/** Id of `<|endoftext|>` (or the first special added token) in a tokenizer.json, or null. */
export function endOfTextId(tokenizerJsonPath: string): number | null {
  const json = JSON.parse(fs.readFileSync(tokenizerJsonPath, 'utf8')) as { added_tokens?: Array<{ id: number; content: string; special?: boolean }> };
  const added = json.added_tokens ?? [];
  const token = added.find((t) => t.content === '<|endoftext|>') ?? added.find((t) => t.special === true);
  return token === undefined ? null : token.id;
}

export interface TokenisedBook {
  name: string;
  train: Int32Array;
  validation: Int32Array;
}

const cache = new Map<string, TokenisedBook[]>();

/** The Austen split, each book's parts tokenised on their own (cached per tokenizer and corpus folder). */
export function tokeniseAusten(tokenizer: TextTokenizer, tokenizerKey: string, books: BookText[] = readBooks()): TokenisedBook[] {
  const key = `${tokenizerKey}\u0000${books.map((b) => `${b.name}:${b.text.length}`).join(',')}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const { train, validation } = austenSplit(books);
  const result = train.map((b, i) => ({
    name: b.name,
    train: Int32Array.from(tokenizer.encode(b.text)),
    validation: Int32Array.from(tokenizer.encode(validation[i].text)),
  }));
  cache.set(key, result);
  return result;
}

function concat(parts: Int32Array[]): Int32Array {
  const out = new Int32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

export interface DataOptions {
  /** L, tokens per sequence. */
  length: number;
  seed: number;
  /** tokenizer.json for the Austen sources (default: `defaultTokenizerPath()`). */
  tokenizerPath?: string;
  /** Vocabulary of the model (synthetic tasks draw ids below it; default: the tokenizer's). */
  vocabSize?: number;
  /** Book texts (default: data/austen); tests pass small ones. */
  books?: BookText[];
}

export const DATA_NAMES = ['austen', 'austen-classify', 'task:NAME'];

/** The DataSource of a --data spec. */
export function openData(spec: string, o: DataOptions): DataSource {
  if (spec.startsWith('task:')) {
    const vocabSize = o.vocabSize ?? loadTokenizer(o.tokenizerPath ?? defaultTokenizerPath()).vocabSize;
    return taskSource({ task: getTask(spec.slice('task:'.length)), vocabSize, length: o.length, seed: o.seed });
  }
  if (spec !== 'austen' && spec !== 'austen-classify') throw new TrainingError(`unknown --data '${spec}'; choose ${DATA_NAMES.join(', ')}`);
  const tokenizerPath = o.tokenizerPath ?? defaultTokenizerPath();
  const tokenizer = loadTokenizer(tokenizerPath);
  const books = tokeniseAusten(tokenizer, path.resolve(tokenizerPath), o.books);
  const vocabSize = tokenizer.vocabSize;
  if (spec === 'austen') {
    return languageModelSource({
      name: spec,
      train: concat(books.map((b) => b.train)),
      validation: concat(books.map((b) => b.validation)),
      vocabSize,
      length: o.length,
      seed: o.seed,
    });
  }
  return classificationSource({
    name: spec,
    classes: books.map((b) => ({ label: b.name, train: b.train, validation: b.validation })),
    vocabSize,
    length: o.length,
    seed: o.seed,
  });
}
