/**
 * Vite build of the viewer's browser client (src/viewer/client → dist/viewer). Run through
 * `npm run build:viewer` (src/viewer/build.ts, which also records a hash of the sources so
 * `iattn serve` can tell a stale build), or for client development:
 *   npx iattn serve &  npx vite --config src/viewer/vite.config.ts   (API calls are proxied to :7860)
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root: path.join(here, 'client'),
  base: './',
  logLevel: 'warn',
  clearScreen: false,
  publicDir: false,
  build: {
    outDir: path.resolve(here, '../../dist/viewer'),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
  },
  server: {
    host: '127.0.0.1',
    proxy: { '/api': 'http://127.0.0.1:7860' },
  },
});
