/** `iattn serve` as a user starts it: the printed address, the default models (text and vision) plus --model folders, Ctrl+C, one-line errors. */
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { iattn } from '../helpers/cli.js';
import { RWKV } from './helpers.js';

const BIN = fileURLToPath(new URL('../../bin/iattn.js', import.meta.url));

describe('iattn serve', () => {
  it('prints its address, serves the default model, the which-novel classifier, the shipped vision models and --model folders, and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--model', RWKV, '--workers', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no address after 90 s; stdout: ${stdout}; stderr: ${stderr}`)), 90_000);
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          const match = /viewer at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stdout);
          if (match !== null) {
            clearTimeout(timer);
            resolve(match[1]);
          }
        });
        child.on('exit', () => reject(new Error(`serve exited; stderr: ${stderr}`)));
      });
      expect(stdout).toMatch(/models: default \(mamba2\), classifier \(rwkv\), vim \(vim\), mlla \(mlla\), rwkv \(rwkv\)/);
      const models = (await (await fetch(`${url}api/models`)).json()) as { models: Array<{ id: string; kind: string; isDefault: boolean }> };
      expect(models.models.map((m) => [m.id, m.kind, m.isDefault])).toEqual([
        ['default', 'text', true],
        ['classifier', 'text', false],
        ['vim', 'vision', false],
        ['mlla', 'vision', false],
        ['rwkv', 'text', false],
      ]);
      const page = await fetch(url);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('implicit-attention viewer');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });

  it('refuses a folder that is not a checkpoint, a bad port and a taken port with one line', async () => {
    const missing = iattn(['serve', '--model', path.join(RWKV, 'nope'), '--port', '0']);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/^iattn: --model: .*nope.*\n$/);
    const badPort = iattn(['serve', '--port', '70000']);
    expect(badPort.status).toBe(1);
    expect(badPort.stderr).toMatch(/--port must be at most 65535/);
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const port = (blocker.address() as net.AddressInfo).port;
      const taken = iattn(['serve', '--port', String(port), '--workers', '1']);
      expect(taken.status).toBe(1);
      expect(taken.stderr).toMatch(new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use; pass --port N`));
    } finally {
      blocker.close();
    }
  });
});
