/**
 * `iattn explain` in process (commander program with only this command) on the trained
 * Mamba2 checkpoint: JSON document, human output with and without colour, the HTML report
 * with escaped text, and one-line errors for bad input. One real subprocess checks that the
 * command is registered in the `iattn` entry point.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { registerExplain } from '../../src/cli/commands/explain.js';
import { CliError } from '../../src/cli/errors.js';
import { METHOD_NAMES } from '../../src/explain/registry.js';
import { runInProcess } from '../helpers/cli.js';
import { fixturePath } from '../helpers/fixtures.js';

const MODEL = fixturePath('trained', 'mamba2');
const TEXT = 'Emma Woodhouse, handsome, clever, and rich'; // 9 tokens
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

async function run(args: string[]): Promise<string> {
  return runInProcess(registerExplain, ['explain', '--model', MODEL, ...args]);
}

const savedTty = process.stdout.isTTY;
const savedNoColor = process.env.NO_COLOR;
afterEach(() => {
  Object.defineProperty(process.stdout, 'isTTY', { value: savedTty, configurable: true });
  if (savedNoColor === undefined) delete process.env.NO_COLOR;
  else process.env.NO_COLOR = savedNoColor;
});

describe('iattn explain', () => {
  it('--json prints one document: tokens, target, per-method scores and metadata', async () => {
    const doc = JSON.parse(await run(['--text', TEXT, '--method', 'unified-attr', '--json']));
    const L = doc.tokens.length;
    expect(doc.tokens[0]).toEqual({ id: expect.any(Number), text: 'Emma' });
    expect(doc.target.position).toBe(L - 1);
    expect(doc.target.token).toBe(doc.target.topToken);
    expect(typeof doc.target.text).toBe('string');
    const m = doc.methods['unified-attr'];
    expect(m.scores).toHaveLength(L);
    expect(m.layers).toHaveLength(6);
    expect(m.metadata.options).toMatchObject({ variant: 'paper', startLayer: 0, aggregation: 'positive' });
    expect(m.recipe).toContain('rownorm');
  });

  it('--method all runs every method (progress bar on stderr only), --target and --position honoured', async () => {
    const doc = JSON.parse(await run(['--text', TEXT, '--method', 'all', '--steps', '2', '--target', ' Emma', '--position', '3', '--json']));
    expect(Object.keys(doc.methods)).toEqual([...METHOD_NAMES]);
    for (const name of METHOD_NAMES) {
      const m = doc.methods[name];
      expect(m.error, name).toBeUndefined();
      expect(m.scores.slice(4).every((s: number) => s === 0), name).toBe(true);
      expect(m.metadata.target).toMatchObject({ position: 3 });
    }
    expect(doc.target.text).toBe(' Emma');
    const byId = JSON.parse(await run(['--text', TEXT, '--method', 'saliency', '--target', `#${doc.target.token}`, '--position', '3', '--json']));
    expect(byId.methods.saliency.scores).toEqual(doc.methods.saliency.scores);
  });

  it('human output without a terminal: the target line, then each method’s top-10 tokens with scores', async () => {
    Object.defineProperty(process.stdout, 'isTTY', { value: false, configurable: true });
    const out = await run(['--text', TEXT, '--method', 'recency']);
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^next token '.*' p=0\.\d+ at position 8$/);
    expect(lines[1]).toMatch(/^recency +' rich'#8 1\.00, ' and'#7 0\.889, /);
    expect(lines[1].split(', ')).toHaveLength(9);
    expect(out).not.toContain('\u001b[');
  });

  it('colours tokens on a terminal unless NO_COLOR is set', async () => {
    Object.defineProperty(process.stdout, 'isTTY', { value: true, configurable: true });
    delete process.env.NO_COLOR;
    expect(await run(['--text', TEXT, '--method', 'raw'])).toContain('\u001b[48;2;');
    process.env.NO_COLOR = '1';
    expect(await run(['--text', TEXT, '--method', 'raw'])).not.toContain('\u001b[');
    delete process.env.NO_COLOR;
    expect(await run(['--text', TEXT, '--method', 'raw', '--no-color'])).not.toContain('\u001b[');
  });

  it('--out writes a self-contained HTML report with every string escaped', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iattn-explain-'));
    try {
      const file = path.join(dir, 'report.html');
      await run(['--text', 'Emma said <b>"yes" & left', '--method', 'raw', '--out', file, '--json']);
      const html = fs.readFileSync(file, 'utf8');
      expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
      expect(html).toContain('<svg');
      expect(html).toContain('&lt;');
      expect(html).toContain('&amp;');
      expect(html).not.toContain('<b>');
      expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('bad input is one clear CliError', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--method', 'lrp'], /unknown explanation method 'lrp'; methods: raw, rollout, hidden-attr/],
      [['--target', ' Emma Woodhouse'], /--target ' Emma Woodhouse' encodes to 2 tokens \(' Emma' ' Woodhouse'\); give exactly one token/],
      [['--target', '#99999'], /--target #99999 is outside the model's vocabulary \[0, 4096\)/],
      [['--position', '9'], /--position must be 'last' or an integer in \[0, 9\) \(the input has 9 tokens\), got '9'/],
      [['--start-layer', '6'], /--start-layer 6 is outside the model's layers \[0, 6\)/],
      [['--variant', 'full'], /--variant must be one of paper, exact/],
      [['--aggregation', 'max'], /--aggregation must be one of positive, signed, abs/],
      [['--steps', '0'], /--steps must be a positive integer/],
      [['--out', 'report.svg'], /--out writes an HTML report/],
    ];
    for (const [args, message] of cases) {
      const attempt = run(['--text', TEXT, ...args]);
      await expect(attempt, args.join(' ')).rejects.toThrow(CliError);
      await expect(attempt, args.join(' ')).rejects.toThrow(message);
    }
  });

  it('is registered in the iattn entry point', () => {
    const out = execFileSync(process.execPath, [path.join(ROOT, 'bin', 'iattn.js'), 'explain', '--model', MODEL, '--text', TEXT, '--method', 'last-tokens', '--json'], {
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
    });
    expect(JSON.parse(out).methods.recency.scores).toHaveLength(9);
  });
});
