/**
 * `npm run build:viewer` (also run by `npm install` through the `prepare` script): builds the
 * viewer client into dist/viewer. When Vite is not installed (npm install --omit=dev) it
 * says so and exits 0, so installing never fails on it; `iattn serve` then reports it.
 */
import { buildClient, CLIENT_OUT_DIR } from './server/client-build.js';

try {
  const started = performance.now();
  await buildClient();
  process.stdout.write(`viewer client built into ${CLIENT_OUT_DIR} (${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
} catch (error) {
  const message = (error as Error).message;
  if (/Vite is not installed/.test(message)) {
    process.stderr.write(`warning: ${message}; \`iattn serve\` will need it\n`);
  } else {
    process.stderr.write(`build:viewer failed: ${message}\n`);
    process.exitCode = 1;
  }
}
