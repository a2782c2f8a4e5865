/**
 * The built client (dist/viewer): where it is, whether it matches the sources (a SHA-256 of
 * every file the bundle is made from, recorded in build-info.json), and building it with
 * Vite. `npm install` builds it (the `prepare` script runs `npm run build:viewer`);
 * `iattn serve` rebuilds it when it is missing or stale and Vite is installed, so a clone
 * works offline after `npm install` alone and a developer never looks at an old bundle.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const VIEWER_DIR = path.join(PACKAGE_ROOT, 'src', 'viewer');

/** The folder the server serves static files from. */
export const CLIENT_OUT_DIR = path.join(PACKAGE_ROOT, 'dist', 'viewer');
export const VITE_CONFIG = path.join(VIEWER_DIR, 'vite.config.ts');
const BUILD_INFO = 'build-info.json';

/** Everything the bundle is made from: the client, the shared protocol, src/viz, the Vite config. */
function sourceFiles(): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) files.push(full);
    }
  };
  walk(path.join(VIEWER_DIR, 'client'));
  walk(path.join(PACKAGE_ROOT, 'src', 'viz'));
  files.push(path.join(VIEWER_DIR, 'protocol.ts'), VITE_CONFIG);
  return files.sort();
}

export function clientSourceHash(): string {
  const hash = createHash('sha256');
  for (const file of sourceFiles()) {
    hash.update(path.relative(PACKAGE_ROOT, file).split(path.sep).join('/'));
    hash.update('\0');
    hash.update(fs.readFileSync(file));
    hash.update('\0');
  }
  return hash.digest('hex');
}

export type ClientState = 'fresh' | 'stale' | 'missing';

export function clientState(outDir = CLIENT_OUT_DIR): ClientState {
  if (!fs.existsSync(path.join(outDir, 'index.html'))) return 'missing';
  try {
    const info = JSON.parse(fs.readFileSync(path.join(outDir, BUILD_INFO), 'utf8')) as { hash?: string };
    return info.hash === clientSourceHash() ? 'fresh' : 'stale';
  } catch {
    return 'stale';
  }
}

/** Builds the client into `outDir` (a sibling temporary folder, then renamed into place). */
export async function buildClient(outDir = CLIENT_OUT_DIR): Promise<void> {
  let vite: typeof import('vite');
  try {
    vite = await import('vite');
  } catch {
    throw new Error('cannot build the viewer client: Vite is not installed (it is a development dependency; run npm install)');
  }
  const hash = clientSourceHash();
  const staging = `${outDir}.building-${process.pid}-${Date.now()}`;
  try {
    await vite.build({ configFile: VITE_CONFIG, logLevel: 'warn', build: { outDir: staging, emptyOutDir: true } });
    fs.writeFileSync(path.join(staging, BUILD_INFO), `${JSON.stringify({ hash, builtAt: new Date().toISOString() }, null, 2)}\n`);
    fs.rmSync(outDir, { recursive: true, force: true });
    fs.renameSync(staging, outDir);
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

/**
 * The client folder, built first when it is missing or stale. A stale build is still served
 * (with a warning) when Vite is missing; a missing one is an error.
 */
export async function ensureClient(log: (line: string) => void = () => {}, outDir = CLIENT_OUT_DIR): Promise<string> {
  if (clientState(outDir) === 'fresh') return outDir;
  const release = await lock(`${outDir}.lock`);
  try {
    // Another process may have built it while this one waited for the lock.
    const state = clientState(outDir);
    if (state === 'fresh') return outDir;
    log(state === 'missing' ? 'building the viewer client (first start)…' : 'the viewer client changed since it was built; rebuilding…');
    try {
      await buildClient(outDir);
    } catch (error) {
      if (state === 'missing') throw error;
      log(`warning: ${(error as Error).message}; serving the earlier build`);
    }
    return outDir;
  } finally {
    release();
  }
}

/** A lock between processes (a folder created atomically); one older than two minutes is taken as abandoned. */
async function lock(dir: string): Promise<() => void> {
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  for (;;) {
    try {
      fs.mkdirSync(dir);
      return () => fs.rmSync(dir, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      try {
        if (Date.now() - fs.statSync(dir).mtimeMs > 120_000) fs.rmSync(dir, { recursive: true, force: true });
      } catch {
        // released meanwhile
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
