import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { registerTrain } from '../../src/cli/commands/train.js';
import { loadModel } from '../../src/io/load-model.js';
import { SafetensorsReader } from '../../src/io/safetensors.js';

const root = path.resolve(import.meta.dirname, '../..');
const tokenizer = path.join(root, 'test/fixtures/trained/tokenizer.json');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iattn-cli-train-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Runs `iattn train ARGS` in-process; returns what it printed on stdout. */
async function iattnTrain(...args: string[]): Promise<string> {
  const program = new Command('iattn').exitOverride();
  registerTrain(program);
  for (const c of program.commands) c.exitOverride();
  let printed = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    printed += String(chunk);
    return true;
  });
  try {
    await program.parseAsync(['node', 'iattn', 'train', '--tokenizer', tokenizer, ...args]);
  } finally {
    spy.mockRestore();
  }
  return printed;
}

const tiny = ['--arch', 'mamba', '--hidden', '16', '--layers', '1', '--data', 'task:assoc-recall', '--batch', '2', '--seq', '9', '--eval-batches', '1'];

describe('iattn train', () => {
  it('writes a Hugging Face checkpoint (config.json, model.safetensors, tokenizer.json) and resumes', async () => {
    const out = path.join(tmp, 'run');
    const summary = JSON.parse(await iattnTrain(...tiny, '--steps', '4', '--out', out, '--json'));
    expect(summary).toMatchObject({ model_type: 'mamba', data: 'task:assoc-recall', steps: 4 });
    expect(summary.val_nll).toBeGreaterThan(0);
    for (const file of ['config.json', 'model.safetensors', 'tokenizer.json', 'optimizer.safetensors', 'trainer_state.json', 'train_log.jsonl']) {
      expect(fs.existsSync(path.join(out, file)), file).toBe(true);
    }
    const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ model_type: 'mamba', architectures: ['MambaForCausalLM'], vocab_size: 4096, hidden_size: 16, num_hidden_layers: 1, eos_token_id: 0 });
    const names = SafetensorsReader.open(path.join(out, 'model.safetensors')).keys();
    expect(names).toContain('backbone.embeddings.weight');
    expect(names).toContain('backbone.layers.0.mixer.A_log');
    expect(names).not.toContain('lm_head.weight'); // tied
    expect(fs.readFileSync(path.join(out, 'tokenizer.json'))).toEqual(fs.readFileSync(tokenizer));
    expect(loadModel(out).model.config.hiddenSize).toBe(16);

    const text = await iattnTrain('--resume', '--steps', '6', '--out', out);
    expect(text).toMatch(/to step 6 \(resumed at 4\).*val NLL/);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'trainer_state.json'), 'utf8')).global_step).toBe(6);
    await expect(iattnTrain('--resume', '--seq', '10', '--out', out)).rejects.toThrow(/--seq 10 differs from the run/);
    await expect(iattnTrain(...tiny, '--steps', '4', '--out', out)).rejects.toThrow(/already holds a training run/);
    await expect(iattnTrain('--resume', '--arch', 'rwkv', '--out', out)).rejects.toThrow(/--arch rwkv differs from the model/);
  });

  it('takes the architecture from a config.json file, with the tokenizer\'s vocabulary', async () => {
    const out = path.join(tmp, 'from-config');
    const fixture = path.join(root, 'test/fixtures/hf/rwkv/config.json');
    await iattnTrain('--arch', fixture, '--layers', '1', '--data', 'task:assoc-recall', '--steps', '1', '--batch', '1', '--seq', '5', '--eval-batches', '1', '--out', out, '--json');
    const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
    const original = JSON.parse(fs.readFileSync(fixture, 'utf8'));
    expect(config).toMatchObject({ model_type: 'rwkv', vocab_size: 4096, num_hidden_layers: 1, hidden_size: original.hidden_size, intermediate_size: original.intermediate_size });
    expect(loadModel(out).model.modelType).toBe('rwkv');
  });

  it('--init starts from the weights of a checkpoint (fine-tuning) and records it', async () => {
    const base = path.join(tmp, 'init-base');
    await iattnTrain(...tiny, '--steps', '1', '--out', base, '--json');
    const out = path.join(tmp, 'init-run');
    const tinyTask = ['--data', 'task:assoc-recall', '--batch', '2', '--seq', '9', '--eval-batches', '1'];
    await iattnTrain('--init', base, ...tinyTask, '--steps', '1', '--lr', '1e-12', '--out', out, '--json');
    const read = (dir: string) => SafetensorsReader.open(path.join(dir, 'model.safetensors')).readFloat('backbone.embeddings.weight', 'float32');
    const before = read(base);
    const after = read(out);
    expect(after.length).toBe(before.length);
    expect(Math.max(...after.map((x, i) => Math.abs(x - before[i])))).toBeLessThan(1e-9); // lr 1e-12: the initial weights
    expect(JSON.parse(fs.readFileSync(path.join(out, 'trainer_state.json'), 'utf8')).init_from).toBe(base);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'))).toMatchObject({ model_type: 'mamba', hidden_size: 16, num_hidden_layers: 1 });
    await expect(iattnTrain('--init', base, '--arch', 'mamba', ...tinyTask, '--out', path.join(tmp, 'init-x'))).rejects.toThrow(/--init .* fixes the model; drop --arch/);
  });

  it('rejects bad input with one line and exit code 1', async () => {
    await expect(iattnTrain('--arch', 'transformer', '--out', path.join(tmp, 'x'))).rejects.toThrow(/unknown architecture 'transformer'/);
    await expect(iattnTrain(...tiny, '--steps', '0', '--out', path.join(tmp, 'y'))).rejects.toThrow(/--steps must be an integer ≥ 1/);
    await expect(iattnTrain(...tiny)).rejects.toThrow(/--out DIR is required/);
    const r = spawnSync(process.execPath, [path.join(root, 'bin/iattn.js'), 'train', '--arch', 'mamba', '--data', 'novels', '--out', path.join(tmp, 'z')], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^iattn: unknown --data 'novels'/)]);
  });
});
