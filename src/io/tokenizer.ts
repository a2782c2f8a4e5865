// Loading a tokenizer.json file (Node). Fully offline: the file is read and parsed here.
import * as fs from 'node:fs';
import { TextTokenizer, TokenizerError } from './text-tokenizer.js';

export { TextTokenizer, TokenizerError } from './text-tokenizer.js';

export function loadTokenizer(path: string): TextTokenizer {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (error) {
    throw new TokenizerError(`cannot read tokenizer ${path}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new TokenizerError(`${path} is not valid JSON (${(error as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new TokenizerError(`${path} is not a tokenizer.json object`);
  }
  try {
    return new TextTokenizer(json);
  } catch (error) {
    if (error instanceof TokenizerError) throw new TokenizerError(`${path}: ${error.message}`);
    throw error;
  }
}
