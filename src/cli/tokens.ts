/** Display labels of the input tokens (their text when a tokenizer exists, else their ids). */
import type { LoadedModel } from '../io/load-model.js';
import { loadTokenizer } from '../io/tokenizer.js';

export function tokenLabels(loaded: LoadedModel, ids: Int32Array): string[] {
  if (loaded.tokenizerPath === null) return Array.from(ids, (id) => `#${id}`);
  const tokenizer = loadTokenizer(loaded.tokenizerPath);
  return Array.from(ids, (id) => tokenizer.tokenToString(id));
}
