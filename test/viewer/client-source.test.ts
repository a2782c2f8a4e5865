/**
 * The client builds every piece of text with textContent / setAttribute: no HTML parsing of
 * strings anywhere in its source (the end-to-end tests check the page itself).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const CLIENT = fileURLToPath(new URL('../../src/viewer/client/', import.meta.url));

describe('viewer client source', () => {
  const files = fs.readdirSync(CLIENT).filter((f) => /\.(ts|html)$/.test(f));
  it('has its files', () => expect(files).toEqual(expect.arrayContaining(['main.ts', 'pane.ts', 'dom.ts', 'index.html'])));
  for (const file of files) {
    it(`${file} never turns strings into markup or code`, () => {
      const code = fs.readFileSync(path.join(CLIENT, file), 'utf8');
      expect(code).not.toMatch(/\.(innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write|\beval\(|new Function\(|\son[a-z]+=["']/);
    });
  }
});
