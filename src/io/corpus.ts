// Corpus handling that needs no files (pure module): the Austen train/validation split.

export interface BookText {
  name: string;
  text: string;
}

/** Fraction of each book's characters (before the paragraph cut) that goes to training. */
export const TRAIN_FRACTION = 0.95;
const PARAGRAPH_BREAK = '\n\n';

/**
 * Splits each book, in the given order, into training and validation text: the first 95 % of
 * its characters (Unicode code points, as Python counts them), cut back to the last "\n\n"
 * that ends at or before that point — the break stays with the training part — are training
 * text; the rest is validation text. A book without such a break goes wholly to validation.
 */
export function austenSplit(books: BookText[]): { train: BookText[]; validation: BookText[] } {
  const train: BookText[] = [];
  const validation: BookText[] = [];
  for (const { name, text } of books) {
    const limit = codeUnitIndex(text, Math.floor(codePointCount(text) * TRAIN_FRACTION));
    // Python's rfind("\n\n", 0, limit): the whole break lies before `limit`.
    const cut = limit < PARAGRAPH_BREAK.length ? -1 : text.lastIndexOf(PARAGRAPH_BREAK, limit - PARAGRAPH_BREAK.length);
    const end = cut < 0 ? 0 : cut + PARAGRAPH_BREAK.length;
    train.push({ name, text: text.slice(0, end) });
    validation.push({ name, text: text.slice(end) });
  }
  return { train, validation };
}

function codePointCount(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

/** UTF-16 index of the code point number `codePoints` in `text`. */
function codeUnitIndex(text: string, codePoints: number): number {
  let index = 0;
  for (let i = 0; i < codePoints; i++) index += text.codePointAt(index)! > 0xffff ? 2 : 1;
  return index;
}
