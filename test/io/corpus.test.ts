import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readBooks } from '../../src/io/corpus-files.js';
import { austenSplit } from '../../src/io/corpus.js';
import { AUSTEN_BOOKS, fixturePath } from '../helpers/fixtures.js';

describe('the Austen corpus', () => {
  const books = readBooks();

  it('holds the six novels in sorted file order', () => {
    expect(books.map((b) => b.name)).toEqual([...AUSTEN_BOOKS]);
  });

  it('splits into validation texts equal to the fixtures byte for byte', () => {
    const { validation } = austenSplit(books);
    expect(validation.map((b) => b.name)).toEqual([...AUSTEN_BOOKS]);
    for (const { name, text } of validation) {
      const expected = fs.readFileSync(fixturePath('trained', 'val_text', `${name}.txt`));
      expect(Buffer.from(text, 'utf8').equals(expected), name).toBe(true);
    }
  });

  it('keeps the paragraph break with the training part; the parts make up the book', () => {
    const { train, validation } = austenSplit(books);
    books.forEach((book, i) => {
      expect(train[i]!.text.endsWith('\n\n')).toBe(true);
      expect(train[i]!.text + validation[i]!.text).toBe(book.text);
      expect(train[i]!.text.length / book.text.length).toBeGreaterThan(0.9);
    });
  });
});

describe('austenSplit', () => {
  it('cuts at the last paragraph break ending at or before 95 % of the characters', () => {
    // 40 characters: 95 % is 38; the break at 36..38 ends exactly there.
    const text = `${'a'.repeat(36)}\n\n${'b'.repeat(2)}`;
    expect(austenSplit([{ name: 'x', text }]).validation[0]!.text).toBe('bb');
    // Moving the break one character later makes it end past the limit: the earlier one is used.
    const later = `aa\n\n${'a'.repeat(33)}\n\n${'b'}`;
    expect(austenSplit([{ name: 'x', text: later }]).train[0]!.text).toBe('aa\n\n');
  });

  it('counts characters as code points, like Python', () => {
    // 100 code points (103 UTF-16 units): the limit is 95, so the break ending at 97 is too late;
    // counting UTF-16 units (limit 97) would wrongly take it.
    const text = `x\n\n${'a'.repeat(92)}\n\n${'😀'.repeat(3)}`;
    expect(austenSplit([{ name: 'x', text }]).train[0]!.text).toBe('x\n\n');
  });

  it('sends a book without a paragraph break wholly to validation', () => {
    const { train, validation } = austenSplit([{ name: 'x', text: 'no breaks here' }]);
    expect(train[0]!.text).toBe('');
    expect(validation[0]!.text).toBe('no breaks here');
  });
});
