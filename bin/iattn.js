#!/usr/bin/env node
// Entry point of the `iattn` command: runs the TypeScript CLI through tsx's loader.
import { register } from 'tsx/esm/api';

register();
try {
  await import('../src/cli/main.ts');
} catch (error) {
  // A module refusing its configuration while loading (e.g. a bad IATTN_KERNELS) is the user's
  // error too: one line, non-zero exit (IATTN_DEBUG=1 adds the stack).
  process.stderr.write(`iattn: ${error instanceof Error ? error.message : String(error)}\n`);
  if (process.env.IATTN_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  process.exitCode = 1;
}
