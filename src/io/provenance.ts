/**
 * The code version recorded in every evaluation output (Node): the package version from
 * package.json and, in a git checkout, the commit HEAD points at — read from the .git files,
 * without running git. Uncommitted changes are not detected; `commit` names the last commit.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface CodeVersion {
  package: string;
  version: string;
  /** 40-hex commit of HEAD, or null outside a git checkout. */
  commit: string | null;
}

function readHead(root: string): string | null {
  try {
    const gitDir = path.join(root, '.git');
    const head = fs.readFileSync(path.join(gitDir, 'HEAD'), 'utf8').trim();
    if (/^[0-9a-f]{40}$/.test(head)) return head;
    const ref = /^ref: (.+)$/.exec(head)?.[1];
    if (ref === undefined) return null;
    const loose = path.join(gitDir, ref);
    if (fs.existsSync(loose)) return fs.readFileSync(loose, 'utf8').trim();
    const packed = fs.readFileSync(path.join(gitDir, 'packed-refs'), 'utf8');
    const line = packed.split('\n').find((l) => l.endsWith(` ${ref}`));
    return line?.split(' ')[0] ?? null;
  } catch {
    return null;
  }
}

export function codeVersion(root: string = PACKAGE_ROOT): CodeVersion {
  let name = 'implicit-attention';
  let version = 'unknown';
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { name?: string; version?: string };
    name = pkg.name ?? name;
    version = pkg.version ?? version;
  } catch {
    // keep the defaults
  }
  return { package: name, version, commit: readHead(root) };
}
