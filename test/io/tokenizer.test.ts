import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SafetensorsReader } from '../../src/io/safetensors.js';
import { loadTokenizer, TextTokenizer, TokenizerError } from '../../src/io/tokenizer.js';
import { AUSTEN_BOOKS, fixturePath } from '../helpers/fixtures.js';

const tokenizer = loadTokenizer(fixturePath('trained', 'tokenizer.json'));
const valText = (book: string): string => fs.readFileSync(fixturePath('trained', 'val_text', `${book}.txt`), 'utf8');

describe('the trained byte-level BPE tokenizer', () => {
  it('encodes the validation texts to exactly val_ids (each book on its own, in book order)', () => {
    const ids = AUSTEN_BOOKS.flatMap((book) => tokenizer.encode(valText(book)));
    const reader = SafetensorsReader.open(fixturePath('trained', 'val_ids.safetensors'));
    const expected = reader.readInt('val_ids');
    reader.close();
    expect(ids.length).toBeGreaterThanOrEqual(expected.length);
    expect(Int32Array.from(ids.slice(0, expected.length))).toEqual(expected);
  });

  it('decodes back to the original text', () => {
    const text = valText('persuasion');
    expect(tokenizer.decode(tokenizer.encode(text))).toBe(text);
    expect(tokenizer.decode(new Int32Array(tokenizer.encode('  Mr. Darcy,\n\n"No!" £5')))).toBe('  Mr. Darcy,\n\n"No!" £5');
  });

  it('adds no special tokens, but recognises them in the text', () => {
    expect(tokenizer.encode('')).toEqual([]);
    expect(tokenizer.encode('<|endoftext|>')).toEqual([0]);
  });

  it('has 4096 tokens and shows each token as its own decoding', () => {
    expect(tokenizer.vocabSize).toBe(4096);
    expect(tokenizer.tokenToString(0)).toBe('<|endoftext|>');
    const [id] = tokenizer.encode(' Emma');
    expect(tokenizer.encode(' Emma')).toHaveLength(1);
    expect(tokenizer.tokenToString(id!)).toBe(' Emma');
    const labels = tokenizer.encode('Mrs. Weston').map((i) => tokenizer.tokenToString(i));
    expect(labels.join('')).toBe('Mrs. Weston');
  });

  it('rejects ids outside the vocabulary', () => {
    expect(() => tokenizer.decode([4096])).toThrow(/token id 4096 is outside the vocabulary \[0, 4096\)/);
    expect(() => tokenizer.decode([-1])).toThrow(TokenizerError);
    expect(() => tokenizer.tokenToString(1.5)).toThrow(TokenizerError);
  });

  it('can be built from the parsed JSON (no files), as in a browser', () => {
    const json = JSON.parse(fs.readFileSync(fixturePath('trained', 'tokenizer.json'), 'utf8')) as object;
    expect(new TextTokenizer(json).encode('Emma')).toEqual(tokenizer.encode('Emma'));
  });
});

describe('loadTokenizer errors', () => {
  const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'tokenizer-test-'));
  afterAll(() => fs.rmSync(temp, { recursive: true, force: true }));
  const file = (name: string, content: string): string => {
    fs.writeFileSync(path.join(temp, name), content);
    return path.join(temp, name);
  };

  it('a missing file', () => {
    expect(() => loadTokenizer(path.join(temp, 'none.json'))).toThrow(/cannot read tokenizer .*none\.json/);
  });
  it('a file that is not JSON', () => {
    expect(() => loadTokenizer(file('bad.json', '{'))).toThrow(/bad\.json is not valid JSON/);
  });
  it('JSON that is not an object', () => {
    expect(() => loadTokenizer(file('array.json', '[]'))).toThrow(/is not a tokenizer\.json object/);
  });
  it('an object the tokenizer library cannot use', () => {
    expect(() => loadTokenizer(file('empty.json', '{}'))).toThrow(TokenizerError);
  });
});
