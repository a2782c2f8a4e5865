/**
 * Library code runs in a browser worker too: only src/io, src/cli and the viewer's server (and
 * its build) may use Node APIs or Node-only packages. A module elsewhere that imports one fails here.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));
const NODE_SIDE = [/^io\//, /^cli\//, /^viewer\/server\//, /^viewer\/build\.ts$/, /^viewer\/vite\.config\.ts$/];
const NODE_ONLY = /^(node:|fs$|path$|child_process$|worker_threads$|@resvg\/|pngjs$|vite$|playwright-core$)/;

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
}

describe('library code stays Node-free', () => {
  const library = sources(SRC)
    .map((f) => path.relative(SRC, f).split(path.sep).join('/'))
    .filter((f) => !NODE_SIDE.some((p) => p.test(f)));
  it('finds the library modules', () => expect(library.length).toBeGreaterThan(100));
  it.each(library)('%s imports no Node module and touches no process state', (file) => {
    const text = fs.readFileSync(path.join(SRC, file), 'utf8');
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)) expect(m[1], file).not.toMatch(NODE_ONLY);
    expect(text, file).not.toMatch(/\bprocess\.(env|argv|stdout|stderr|exit|cwd)/);
  });
});
