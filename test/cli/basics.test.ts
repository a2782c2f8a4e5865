import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SafetensorsReader } from '../../src/io/safetensors.js';
import { iattn } from '../helpers/cli.js';
import { fixturePath } from '../helpers/fixtures.js';

const trained = (name: string) => fixturePath('trained', name);

describe('iattn info', () => {
  const folders = [...['mamba', 'falcon_mamba', 'mamba2', 'rwkv', 'recurrent_gemma'].map((a) => fixturePath('hf', a)), trained('mamba2'), trained('rwkv')];
  for (const dir of folders) {
    it(`describes ${path.relative(fixturePath(), dir)}`, () => {
      const r = iattn(['info', '--model', dir, '--json']);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const info = JSON.parse(r.stdout);
      const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
      expect(info.modelType).toBe(config.model_type);
      expect(info.layers).toBe(config.num_hidden_layers);
      expect(info.hiddenSize).toBe(config.hidden_size);
      expect(info.parameters).toBeGreaterThan(0);
      expect(Object.keys(info.storedDtypes).length).toBeGreaterThan(0);
    });
  }
  it('prints a readable summary', () => {
    const r = iattn(['info', '--model', trained('rwkv')]);
    expect(r.stdout).toMatch(/family\s+rwkv/);
    expect(r.stdout).toMatch(/parameters\s+6,440,448/);
    expect(r.stdout).toMatch(/stored as\s+F16/);
  });
});

describe('bad input gets one line and a non-zero exit', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iattn-cli-'));
  const cases: Array<[string, string[], RegExp]> = [
    ['an unknown flag', ['info', '--frobnicate'], /unknown option '--frobnicate'/],
    ['an unknown command', ['explode'], /unknown command 'explode' \(Did you mean explain\?\)/],
    ['a missing folder', ['info', '--model', path.join(tmp, 'nope')], /does not exist/],
    ['a folder that is not a checkpoint', ['info', '--model', tmp], /config\.json/],
    ['an empty text', ['perplexity', '--model', trained('rwkv'), '--text', ''], /empty/],
    ['a bad --seq', ['perplexity', '--model', trained('rwkv'), '--text', 'a b', '--seq', 'x'], /--seq must be a positive integer/],
    ['two inputs at once', ['perplexity', '--model', trained('rwkv'), '--text', 'a', '--text-file', 'b'], /only one of/],
    ['a bad variant', ['attention', '--model', trained('rwkv'), '--text', 'a b', '--variant', 'nope'], /--variant must be one of/],
  ];
  for (const [what, args, message] of cases) {
    it(what, () => {
      const r = iattn(args);
      expect(r.status).not.toBe(0);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\bat .*\.ts:\d+/);
    });
  }

  it('a bad IATTN_KERNELS (read while the modules load) is one line and exit 1, not a stack trace', () => {
    const r = iattn(['--version'], { env: { IATTN_KERNELS: 'fast' } });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe("iattn: IATTN_KERNELS should be 'js', 'wasm' or 'auto', got 'fast'");
  });

  it('a malformed safetensors file', () => {
    const dir = path.join(tmp, 'broken');
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(trained('rwkv'), 'config.json'), path.join(dir, 'config.json'));
    fs.writeFileSync(path.join(dir, 'model.safetensors'), Buffer.from([8, 0, 0, 0, 0, 0, 0, 0, 123, 34]));
    const r = iattn(['info', '--model', dir]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/safetensors|header/i);
  });

  it('a checkpoint with a missing tensor names it', () => {
    const dir = path.join(tmp, 'missing');
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(fixturePath('hf', 'mamba'), 'config.json'), path.join(dir, 'config.json'));
    const source = SafetensorsReader.open(path.join(fixturePath('hf', 'mamba'), 'model.safetensors'));
    const tensors = Object.fromEntries(source.keys().filter((k) => k !== 'backbone.layers.1.mixer.A_log').map((k) => {
      const info = source.info(k);
      return [k, { dtype: 'F32' as const, shape: info.shape, data: source.readFloat(k, 'float32') }];
    }));
    source.close();
    // serializeSafetensors is exercised by the io tests; write through the public writer here.
    return import('../../src/io/safetensors.js').then(({ writeSafetensors }) => {
      writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
      const r = iattn(['info', '--model', dir]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/missing tensor 'backbone\.layers\.1\.mixer\.A_log'/);
    });
  });

  it('token ids outside the vocabulary', async () => {
    const { writeSafetensors } = await import('../../src/io/safetensors.js');
    const file = path.join(tmp, 'ids.safetensors');
    writeSafetensors(file, { ids: { dtype: 'I64', shape: [3], data: BigInt64Array.from([1n, 5000n, 2n]) } });
    const r = iattn(['perplexity', '--model', trained('rwkv'), '--ids', file]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/token id 5000 at position 1 is outside the model's vocabulary \[0, 4096\)/);
  });

  it('an unsupported model_type lists the supported ones', () => {
    const dir = path.join(tmp, 'llama');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'llama' }));
    fs.copyFileSync(path.join(trained('rwkv'), 'model.safetensors'), path.join(dir, 'model.safetensors'));
    const r = iattn(['info', '--model', dir]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/unsupported model_type "llama"; supported: .*mamba.*rwkv/);
  });
});

describe('iattn generate', () => {
  it('continues a prompt greedily and deterministically, stepping the recurrent state', () => {
    const args = ['generate', '--model', trained('mamba2'), '--prompt', 'Emma Woodhouse, handsome, clever, and rich,', '--max-tokens', '12', '--temperature', '0', '--json'];
    const first = JSON.parse(iattn(args).stdout);
    const second = JSON.parse(iattn(args).stdout);
    expect(first.ids).toHaveLength(12);
    expect(first.completion).toBe(second.completion);
    expect(first.completion.length).toBeGreaterThan(0);
  });
  it('samples reproducibly with a seed', () => {
    const args = ['generate', '--model', trained('rwkv'), '--prompt', 'It is a truth', '--max-tokens', '8', '--seed', '7', '--json'];
    expect(JSON.parse(iattn(args).stdout).ids).toEqual(JSON.parse(iattn(args).stdout).ids);
  });
});

describe('iattn attention', () => {
  const text = 'Emma Woodhouse, handsome, clever, and rich, with a comfortable home';
  it('exports fixture-named safetensors whose rows equal the full matrices', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iattn-attn-'));
    const full = path.join(tmp, 'full.safetensors');
    const rows = path.join(tmp, 'rows.safetensors');
    expect(iattn(['attention', '--model', trained('mamba2'), '--text', text, '--layer', '2', '--variant', 'exact', '--out', full]).status).toBe(0);
    expect(iattn(['attention', '--model', trained('mamba2'), '--text', text, '--layer', '2', '--variant', 'exact', '--row', 'last', '--out', rows]).status).toBe(0);
    const a = SafetensorsReader.open(full);
    const b = SafetensorsReader.open(rows);
    expect(a.keys()).toEqual(['attn.2.exact', 'attn.2.exact_bias', 'input_ids']);
    const [, C, L] = a.info('attn.2.exact').shape;
    expect(b.info('attn.2.exact.last_row').shape).toEqual([1, C, L]);
    const H = a.readFloat('attn.2.exact', 'float64');
    const R = b.readFloat('attn.2.exact.last_row', 'float64');
    for (let c = 0; c < C; c += 37) for (let s = 0; s < L; s++) expect(R[c * L + s]).toBeCloseTo(H[(c * L + L - 1) * L + s], 6);
  });
  it('writes SVG and PNG heatmaps with escaped token labels', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iattn-img-'));
    const svg = path.join(tmp, 'a.svg');
    const png = path.join(tmp, 'a.png');
    const hostile = 'Emma <script>alert(1)</script> "><img onerror=alert(1)>';
    expect(iattn(['attention', '--model', trained('rwkv'), '--text', hostile, '--out', svg]).status).toBe(0);
    const content = fs.readFileSync(svg, 'utf8');
    expect(content).not.toContain('<script>');
    expect(content).not.toContain('<img');
    expect(iattn(['attention', '--model', trained('rwkv'), '--text', text, '--layer', '0', '--out', png]).status).toBe(0);
    expect([...fs.readFileSync(png).subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
  });
  it('refuses a result over the memory budget with the estimate and the alternatives', () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'iattn-mem-')), 'never.safetensors');
    const r = iattn(['attention', '--model', trained('mamba2'), '--text', text, '--reduce', 'none', '--max-memory', '0.1', '--out', out]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/needs about .* \(budget 102\.4 KiB\); use row mode/);
    expect(fs.existsSync(out)).toBe(false);
  });
});
