import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CheckpointError,
  openCheckpoint,
  parseConfigJson,
  stringifyConfigJson,
  writeCheckpoint,
  type CheckpointErrorCode,
} from '../../src/io/checkpoint.js';
import { SafetensorsError, SafetensorsReader, writeSafetensors, type TensorsToWrite } from '../../src/io/safetensors.js';
import { fixturePath, HF_ARCHS, TRAINED_ARCHS } from '../helpers/fixtures.js';

const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'checkpoint-test-'));
afterAll(() => fs.rmSync(temp, { recursive: true, force: true }));

let folders = 0;
/** A fresh folder holding `files` (name → content). */
function folder(files: Record<string, string | Uint8Array> = {}): string {
  const dir = path.join(temp, `c${folders++}`);
  fs.mkdirSync(dir);
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
  return dir;
}

function expectCheckpointError(fn: () => unknown, code: CheckpointErrorCode, message: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(CheckpointError);
  const error = caught as CheckpointError;
  expect(error.code, error.message).toBe(code);
  expect(error.message).toMatch(message);
  expect(error.message).not.toContain('\n');
}

const CONFIG = '{"model_type": "mamba"}';
const WEIGHTS = fs.readFileSync(fixturePath('hf', 'mamba', 'model.safetensors'));

describe('openCheckpoint on the fixtures', () => {
  const dirs = [...HF_ARCHS.map((arch) => ['hf', arch]), ...TRAINED_ARCHS.map((arch) => ['trained', arch])];

  it.each(dirs.map((parts) => [parts.join('/'), parts]))('%s opens', (_, parts) => {
    const dir = fixturePath(...parts);
    const checkpoint = openCheckpoint(dir);
    expect(checkpoint.dir).toBe(dir);
    expect(checkpoint.modelType).toBe(parts[1]);
    expect(checkpoint.config.model_type).toBe(parts[1]);
    const names = checkpoint.tensorNames();
    expect(names.length).toBeGreaterThan(0);
    expect([...names].sort()).toEqual(names);
    const first = names[0]!;
    expect(checkpoint.has(first)).toBe(true);
    expect(checkpoint.readFloat(first, 'float32').length).toBe(checkpoint.info(first).shape.reduce((a, b) => a * b, 1));
    expect(checkpoint.tokenizerPath).toBe(parts[0] === 'trained' ? path.join(dir, 'tokenizer.json') : null);
    checkpoint.close();
  });

  it('counts tensors per dtype', () => {
    const expected = { 'hf/mamba': 'F32', 'trained/rwkv': 'F16', 'trained/mamba2': 'BF16' };
    for (const [parts, dtype] of Object.entries(expected)) {
      const checkpoint = openCheckpoint(fixturePath(...parts.split('/')));
      expect(checkpoint.dtypes()).toEqual({ [dtype]: checkpoint.tensorNames().length });
      checkpoint.close();
    }
  });

  it('decodes the Mamba2 time_step_limit infinity of transformers 5', () => {
    const checkpoint = openCheckpoint(fixturePath('hf', 'mamba2'));
    expect(checkpoint.config.time_step_limit).toEqual([0, Infinity]);
    checkpoint.close();
  });

  it('names a missing tensor', () => {
    const checkpoint = openCheckpoint(fixturePath('hf', 'mamba'));
    expectCheckpointError(() => checkpoint.info('nope'), 'TENSOR_NOT_FOUND', /has no tensor "nope"/);
    checkpoint.close();
  });
});

describe('sharded checkpoints', () => {
  /** Splits hf/mamba's tensors over two shards (alternating), with an index. */
  function shardedCopy(): { dir: string; weightMap: Record<string, string> } {
    const source = SafetensorsReader.open(fixturePath('hf', 'mamba', 'model.safetensors'));
    const shards: [TensorsToWrite, TensorsToWrite] = [{}, {}];
    const weightMap: Record<string, string> = {};
    source.keys().forEach((name, i) => {
      const { dtype, shape, data } = source.readRaw(name);
      shards[i % 2]![name] = { dtype, shape, data: data as Float32Array };
      weightMap[name] = `model-0000${(i % 2) + 1}-of-00002.safetensors`;
    });
    source.close();
    const dir = folder({ 'config.json': CONFIG });
    shards.forEach((tensors, i) => writeSafetensors(path.join(dir, `model-0000${i + 1}-of-00002.safetensors`), tensors));
    const index = { metadata: { total_size: WEIGHTS.length }, weight_map: weightMap };
    fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify(index));
    return { dir, weightMap };
  }

  it('reads identically to the single-file checkpoint', () => {
    const single = openCheckpoint(fixturePath('hf', 'mamba'));
    const sharded = openCheckpoint(shardedCopy().dir);
    expect(sharded.tensorNames()).toEqual(single.tensorNames());
    expect(sharded.dtypes()).toEqual(single.dtypes());
    for (const name of single.tensorNames()) {
      expect(sharded.info(name).shape).toEqual(single.info(name).shape);
      expect(sharded.readFloat(name, 'float64')).toEqual(single.readFloat(name, 'float64'));
    }
    single.close();
    sharded.close();
  });

  it('reports a shard file that is missing', () => {
    const { dir } = shardedCopy();
    fs.rmSync(path.join(dir, 'model-00002-of-00002.safetensors'));
    expectCheckpointError(() => openCheckpoint(dir), 'MISSING_SHARD', /lists shard model-00002-of-00002\.safetensors, which is missing/);
  });

  it('reports a shard lacking a tensor the index places there', () => {
    const { dir, weightMap } = shardedCopy();
    const [name, shard] = Object.entries(weightMap)[0]!;
    const other = shard.includes('00001-') ? 'model-00002-of-00002.safetensors' : 'model-00001-of-00002.safetensors';
    fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { ...weightMap, [name]: other } }));
    expectCheckpointError(() => openCheckpoint(dir), 'SHARD_MISSING_TENSOR', new RegExp(`lacks tensor "${name.replace(/\./g, '\\.')}"`));
  });

  it.each([
    ['not JSON', '{', /not valid JSON/],
    ['no weight_map', '{"metadata": {}}', /no "weight_map" object/],
    ['a weight_map array', '{"weight_map": []}', /no "weight_map" object/],
    ['a non-string shard', '{"weight_map": {"a": 1}}', /weight_map\["a"\] is not a file name/],
    ['a shard outside the folder', '{"weight_map": {"a": "../model.safetensors"}}', /not a file name inside the checkpoint folder/],
    ['a shard in a subfolder', '{"weight_map": {"a": "sub/x.safetensors"}}', /not a file name inside/],
  ])('rejects an index with %s', (_, index, message) => {
    const dir = folder({ 'config.json': CONFIG, 'model.safetensors.index.json': index });
    expectCheckpointError(() => openCheckpoint(dir), 'BAD_INDEX', message);
  });
});

describe('openCheckpoint errors: one code and a one-line message per problem', () => {
  it('a folder that does not exist', () => {
    expectCheckpointError(() => openCheckpoint(path.join(temp, 'missing')), 'NOT_FOUND', /missing does not exist/);
  });

  it('a file instead of a folder', () => {
    expectCheckpointError(() => openCheckpoint(fixturePath('hf', 'mamba', 'config.json')), 'NOT_A_DIRECTORY', /config\.json is not a folder/);
  });

  it('no config.json', () => {
    expectCheckpointError(() => openCheckpoint(folder({ 'model.safetensors': WEIGHTS })), 'NO_CONFIG', /has no config\.json/);
  });

  it('config.json that is not JSON', () => {
    const dir = folder({ 'config.json': '{"model_type": "mamba",}', 'model.safetensors': WEIGHTS });
    expectCheckpointError(() => openCheckpoint(dir), 'BAD_CONFIG_JSON', /config\.json: config\.json is not valid JSON/);
  });

  it('config.json that is not an object', () => {
    const dir = folder({ 'config.json': '["mamba"]', 'model.safetensors': WEIGHTS });
    expectCheckpointError(() => openCheckpoint(dir), 'BAD_CONFIG_JSON', /is not a JSON object/);
  });

  it('config.json without model_type', () => {
    const dir = folder({ 'config.json': '{"hidden_size": 32}', 'model.safetensors': WEIGHTS });
    expectCheckpointError(() => openCheckpoint(dir), 'NO_MODEL_TYPE', /has no "model_type"/);
    const numeric = folder({ 'config.json': '{"model_type": 3}', 'model.safetensors': WEIGHTS });
    expectCheckpointError(() => openCheckpoint(numeric), 'NO_MODEL_TYPE', /model_type/);
  });

  it('no weights file', () => {
    expectCheckpointError(() => openCheckpoint(folder({ 'config.json': CONFIG })), 'NO_WEIGHTS', /has no model\.safetensors or model\.safetensors\.index\.json$/);
  });

  it('only PyTorch weights', () => {
    const dir = folder({ 'config.json': CONFIG, 'pytorch_model.bin': 'x' });
    expectCheckpointError(() => openCheckpoint(dir), 'NO_WEIGHTS', /only safetensors weights are supported/);
  });

  it('an invalid weights file, with the safetensors error as the cause', () => {
    const dir = folder({ 'config.json': CONFIG, 'model.safetensors': WEIGHTS.subarray(0, WEIGHTS.length - 4) });
    let caught: unknown;
    try {
      openCheckpoint(dir);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CheckpointError);
    expect((caught as CheckpointError).code).toBe('BAD_WEIGHTS');
    expect((caught as CheckpointError).message).toMatch(/model\.safetensors: incomplete buffer/);
    expect((caught as CheckpointError).cause).toBeInstanceOf(SafetensorsError);
  });
});

describe('parseConfigJson', () => {
  it('decodes {"__float__": ...} anywhere in the tree', () => {
    const text = '{"a": {"__float__": "Infinity"}, "b": [{"__float__": "-Infinity"}, {"c": {"__float__": "NaN"}}], "d": 1}';
    const config = parseConfigJson(text);
    expect(config).toEqual({ a: Infinity, b: [-Infinity, { c: NaN }], d: 1 });
  });

  it("reads Python json.dumps' bare Infinity, -Infinity and NaN, but not inside strings", () => {
    const config = parseConfigJson('{"limit": [0.0, Infinity], "low": -Infinity, "x": NaN, "s": "NaN and \\"Infinity\\""}');
    expect(config).toEqual({ limit: [0, Infinity], low: -Infinity, x: NaN, s: 'NaN and "Infinity"' });
  });

  it('leaves objects with other keys beside __float__ alone', () => {
    expect(parseConfigJson('{"a": {"__float__": "NaN", "b": 1}}')).toEqual({ a: { __float__: 'NaN', b: 1 } });
  });

  it('rejects an unknown __float__ value', () => {
    expectCheckpointError(() => parseConfigJson('{"a": {"__float__": "1e400"}}'), 'BAD_CONFIG_JSON', /unsupported \{"__float__":"1e400"\}/);
  });

  it('round trips through stringifyConfigJson (sorted keys, __float__ for non-finite numbers)', () => {
    const config = { z: 1, a: { y: [0, Infinity], b: -Infinity }, n: NaN, s: 'x' };
    const text = stringifyConfigJson(config);
    expect(text).toBe(`{
  "a": {
    "b": {
      "__float__": "-Infinity"
    },
    "y": [
      0,
      {
        "__float__": "Infinity"
      }
    ]
  },
  "n": {
    "__float__": "NaN"
  },
  "s": "x",
  "z": 1
}
`);
    expect(parseConfigJson(text)).toEqual(config);
  });
});

describe('writeCheckpoint', () => {
  const config = { model_type: 'mamba', hidden_size: 2, time_step_limit: [0, Infinity] };
  const tensors: TensorsToWrite = {
    'backbone.embeddings.weight': { dtype: 'F32', shape: [3, 2], data: [1, 2, 3, 4, 5, 6] },
    'backbone.norm_f.weight': { dtype: 'BF16', shape: [2], data: [1, 0.5] },
  };

  it('writes a checkpoint that opens again, with the tokenizer copied', () => {
    const dir = path.join(temp, 'written', 'nested');
    writeCheckpoint(dir, config, tensors, fixturePath('trained', 'tokenizer.json'));
    expect(fs.readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors', 'tokenizer.json']);
    const checkpoint = openCheckpoint(dir);
    expect(checkpoint.config).toEqual(config);
    expect(checkpoint.tokenizerPath).toBe(path.join(dir, 'tokenizer.json'));
    expect(checkpoint.dtypes()).toEqual({ F32: 1, BF16: 1 });
    expect(Array.from(checkpoint.readFloat('backbone.norm_f.weight', 'float32'))).toEqual([1, 0.5]);
    checkpoint.close();
    const reader = SafetensorsReader.open(path.join(dir, 'model.safetensors'));
    expect(reader.metadata).toEqual({ format: 'pt' });
    reader.close();
  });

  it('replaces an existing checkpoint, removing a stale shard index and keeping other files', () => {
    const dir = folder({ 'config.json': CONFIG, 'model.safetensors.index.json': '{}', 'notes.txt': 'mine' });
    writeCheckpoint(dir, config, tensors);
    expect(fs.readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors', 'notes.txt']);
    const checkpoint = openCheckpoint(dir);
    expect(checkpoint.tensorNames()).toEqual(Object.keys(tensors).sort());
    checkpoint.close();
  });

  it('refuses a config without model_type and bad tensors before touching the folder', () => {
    const dir = folder({ 'config.json': CONFIG });
    expectCheckpointError(() => writeCheckpoint(dir, { hidden_size: 2 }, tensors), 'NO_MODEL_TYPE', /no "model_type"/);
    const bad: TensorsToWrite = { w: { dtype: 'F32', shape: [2], data: [1] } };
    expect(() => writeCheckpoint(dir, config, bad)).toThrow(SafetensorsError);
    expect(fs.readdirSync(dir)).toEqual(['config.json']);
  });

  it('reports a write failure as WRITE_FAILED', () => {
    const file = path.join(folder(), 'a-file');
    fs.writeFileSync(file, 'x');
    expectCheckpointError(() => writeCheckpoint(path.join(file, 'sub'), config, tensors), 'WRITE_FAILED', /cannot write checkpoint/);
  });
});
