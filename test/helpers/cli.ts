/** Runs `iattn` commands in tests: the real bin/iattn.js in a child process, as a user would, or one subcommand in-process. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { vi } from 'vitest';

const BIN = fileURLToPath(new URL('../../bin/iattn.js', import.meta.url));

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

export function iattn(args: string[], options: { timeoutMs?: number; env?: Record<string, string> } = {}): CliResult {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 120_000,
    env: { ...process.env, NO_COLOR: '1', ...options.env },
  });
  if (result.error) throw result.error;
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/**
 * Runs one `iattn` subcommand in this process (registered by `register`, e.g. registerExplain)
 * with `argv` after the command name; returns what it wrote to stdout. Errors propagate
 * (commander's exits are thrown, not taken).
 */
export async function runInProcess(register: (program: Command) => void, argv: string[]): Promise<string> {
  const program = new Command('iattn').exitOverride();
  register(program);
  for (const command of program.commands) command.exitOverride();
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    await program.parseAsync(['node', 'iattn', ...argv]);
  } finally {
    spy.mockRestore();
  }
  return out;
}
