import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveStatic } from '../../src/viewer/server/static.js';

describe('static files come only from the client folder', () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'iattn-static-'));
  const root = path.join(base, 'viewer');
  fs.mkdirSync(path.join(root, 'assets'), { recursive: true });
  fs.writeFileSync(path.join(root, 'index.html'), '<!doctype html>');
  fs.writeFileSync(path.join(root, 'assets', 'app-1234.js'), 'export {}');
  fs.writeFileSync(path.join(base, 'secret.txt'), 'secret');
  fs.writeFileSync(path.join(base, 'viewer-secret.html'), 'secret');
  fs.symlinkSync(path.join(base, 'secret.txt'), path.join(root, 'link.txt'));
  fs.mkdirSync(path.join(root, 'folder.js'));

  it('serves the client files with their types', () => {
    expect(resolveStatic(root, '/')).toMatchObject({ file: fs.realpathSync(path.join(root, 'index.html')), contentType: 'text/html; charset=utf-8', immutable: false });
    expect(resolveStatic(root, '/index.html')?.contentType).toMatch(/text\/html/);
    expect(resolveStatic(root, '/assets/app-1234.js')).toMatchObject({ contentType: 'text/javascript; charset=utf-8', immutable: true });
  });

  const refused = [
    '/../secret.txt',
    '/assets/../../secret.txt',
    '/%2e%2e/secret.txt',
    '/%2E%2E%2Fsecret.txt',
    '/..%2fviewer-secret.html',
    '/..%5csecret.txt',
    '/assets\\..\\..\\secret.txt',
    '/index.html%00.js',
    '/%E0%A4%A',
    '/link.txt',
    '/folder.js',
    '/missing.js',
    '/./index.html',
    `/${path.join(base, 'secret.txt')}`,
    '/package.json',
    '/index.ts',
  ];
  for (const url of refused) {
    it(`refuses ${url}`, () => expect(resolveStatic(root, url)).toBeNull());
  }
});
