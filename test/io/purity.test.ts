import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const IO = fileURLToPath(new URL('../../src/io/', import.meta.url));

/** Modules that must run in a browser: no Node APIs, and only pure modules imported. */
const PURE = [
  'bytes', 'half', 'dtypes', 'strict-json', 'safetensors-error', 'safetensors-header',
  'safetensors-reader', 'safetensors-writer', 'checkpoint-error', 'config-json', 'text-tokenizer', 'corpus',
];

function imports(module: string): string[] {
  const source = fs.readFileSync(path.join(IO, `${module}.ts`), 'utf8');
  return [...source.matchAll(/^(?:import|export)[^'"]*from '([^']+)'/gm)].map((m) => m[1]!);
}

describe('the parsing core stays Node-free', () => {
  it.each(PURE)('%s imports no Node module and only pure modules', (module) => {
    for (const specifier of imports(module)) {
      if (specifier.startsWith('./')) expect(PURE, `${module} imports ${specifier}`).toContain(specifier.slice(2, -'.js'.length));
      else expect(specifier, module).toBe('@huggingface/tokenizers');
    }
  });
});
