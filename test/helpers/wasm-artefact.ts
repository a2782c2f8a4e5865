/**
 * The committed-artefact check every embedded WebAssembly module gets: the recorded hash of
 * its AssemblyScript sources matches assembly/ (a stale binary is detected), the embedded
 * bytes match their recorded hash, and, when the recorded compiler version is installed, a
 * fresh `npm run build:wasm` build is byte-identical.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { bytesHash, compileWasm, sourceHash } from '../../scripts/build-wasm.js';

/** What a module's *-binary.ts records, and its embedded bytes. */
export interface WasmArtefact {
  /** The module's name in scripts/build-wasm.ts ('gemm', 'rnn', 'ssm', 'implicit'). */
  name: string;
  /** The sources the hash covers, for the failure message (e.g. 'assembly/rnn*.ts'). */
  sources: string;
  compilerVersion: string;
  sourceSha256: string;
  sha256: string;
  bytes: () => Uint8Array;
}

/** The installed AssemblyScript version, or null. */
function installedCompiler(): string | null {
  try {
    return (createRequire(import.meta.url)('assemblyscript/package.json') as { version: string }).version;
  } catch {
    return null;
  }
}

/** A `describe(title)` block with the artefact checks of one module. */
export function describeWasmArtefact(title: string, artefact: WasmArtefact): void {
  describe(title, () => {
    it('records the hash of the current kernel source (a stale binary is detected)', () => {
      expect(sourceHash(artefact.compilerVersion, artefact.name), `${artefact.sources} changed since the last \`npm run build:wasm\``).toBe(artefact.sourceSha256);
      expect(bytesHash(artefact.bytes())).toBe(artefact.sha256);
    });

    it.skipIf(installedCompiler() !== artefact.compilerVersion)('is byte-identical to a fresh build (same compiler version)', async () => {
      const { bytes } = await compileWasm(artefact.name);
      expect(bytesHash(bytes)).toBe(artefact.sha256);
    });
  });
}
