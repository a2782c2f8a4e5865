/** Paths of the test fixtures (test/fixtures), resolved relative to this file, never ../shared. */
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

/** Absolute path of test/fixtures/<parts...>, e.g. fixturePath('hf', 'mamba', 'config.json'). */
export function fixturePath(...parts: string[]): string {
  return path.join(FIXTURES, ...parts);
}

/** The tiny random Hugging Face fixtures in test/fixtures/hf. */
export const HF_ARCHS = ['mamba', 'falcon_mamba', 'mamba2', 'rwkv', 'recurrent_gemma'] as const;

/** The Austen-trained checkpoints in test/fixtures/trained. */
export const TRAINED_ARCHS = ['rwkv', 'mamba2'] as const;

/** Book names of the Austen corpus, in the sorted file order the split uses. */
export const AUSTEN_BOOKS = [
  'emma', 'mansfield_park', 'northanger_abbey', 'persuasion', 'pride_prejudice', 'sense_sensibility',
] as const;
