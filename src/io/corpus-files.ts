// Reading a corpus folder of .txt books (Node).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BookText } from './corpus.js';

/** The project's Austen corpus folder (data/austen). */
export const AUSTEN_DIR = fileURLToPath(new URL('../../data/austen/', import.meta.url));

/** Every `<name>.txt` of `dir` as { name, text }, sorted by file name (the split's book order). */
export function readBooks(dir: string = AUSTEN_DIR): BookText[] {
  return fs
    .readdirSync(dir)
    .filter((file) => file.endsWith('.txt'))
    .sort()
    .map((file) => ({ name: file.slice(0, -'.txt'.length), text: fs.readFileSync(path.join(dir, file), 'utf8') }));
}
