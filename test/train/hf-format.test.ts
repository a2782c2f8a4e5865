/**
 * `iattn train` writes checkpoints transformers can load: for every family with a checkpoint
 * saved by transformers 5.17 in the fixtures (test/fixtures/hf/<family>, and the two
 * PyTorch-trained Austen models in test/fixtures/trained), a model of the SAME config is
 * built by the training code (random initialisation), saved by the code path `iattn train`
 * uses (startRun + save), and compared with the transformers-saved folder:
 *   - the same tensor names (tied embeddings: no lm_head.weight, as transformers saves them),
 *     the same shapes, every tensor F32 and config.json "dtype": "float32";
 *   - config.json has every key transformers wrote (but transformers_version), with the same
 *     Python type (int vs float, list, dict, bool, null) and the same value, the same
 *     model_type and architectures; our extra keys are the documented harmless ones;
 *   - round trips: our folder reloads to bit-identical logits, and the transformers
 *     checkpoint written back by our writer holds bit-identical tensors and logits.
 * GLA, HGRN and RetNet (no transformers classes): config.json carries every __init__
 * argument of flash-linear-attention's config classes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { noGrad } from '../../src/core/index.js';
import { openCheckpoint, parseConfigJson, writeCheckpoint } from '../../src/io/checkpoint.js';
import { loadTrainedModel, weightsToWrite } from '../../src/io/training-checkpoint.js';
import { initModel } from '../../src/models/index.js';
import type { DecoderLM } from '../../src/models/index.js';
import { architectureConfig, getArchitecture } from '../../src/train/architectures.js';
import { REFERENCE_LOGITS_FILE } from '../../src/io/reference-logits.js';
import { SafetensorsReader } from '../../src/io/safetensors.js';
import { CLASSIFIER_BIAS, CLASSIFIER_WEIGHT, classifierLogits } from '../../src/train/classifier.js';
import { classificationSource, languageModelSource } from '../../src/train/data.js';
import type { DataSource } from '../../src/train/data.js';
import { save, startRun, trainSettings } from '../../src/train/trainer.js';
import { fixturePath, HF_ARCHS, TRAINED_ARCHS } from '../helpers/fixtures.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iattn-hf-format-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/**
 * A JSON value with Python's types: json.loads makes 1 an int and 1.0 / 1e-05 a float, and
 * transformers writes non-finite floats as {"__float__": "Infinity"}.
 */
type PyValue = { int: number } | { float: number } | string | boolean | null | PyValue[] | { [key: string]: PyValue };

function pythonJson(text: string): Record<string, PyValue> {
  const tagged = text.replace(/"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g, (token) => {
    if (token.startsWith('"')) return token;
    return /[.eE]/.test(token) ? `{"float": ${token}}` : `{"int": ${token}}`;
  });
  const decode = (v: unknown): PyValue => {
    if (Array.isArray(v)) return v.map(decode);
    if (v !== null && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (Object.keys(o).length === 1 && typeof o.__float__ === 'string') return { float: Number(o.__float__) };
      return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, decode(x)]));
    }
    return v as PyValue;
  };
  return decode(JSON.parse(tagged)) as Record<string, PyValue>;
}

/** The Python type of a value, deeply: 'int', 'float', 'str', 'bool', 'None', lists and dicts of types. */
function pyType(v: PyValue): unknown {
  if (v === null) return 'None';
  if (typeof v === 'string') return 'str';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return v.map(pyType);
  if ('int' in v && Object.keys(v).length === 1 && typeof v.int === 'number') return 'int';
  if ('float' in v && Object.keys(v).length === 1 && typeof v.float === 'number') return 'float';
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, pyType(x)]));
}

/** Keys transformers writes that we do not: the writing library's version. */
const NOT_WRITTEN = ['transformers_version'];

/**
 * Keys we write that transformers 5.17 does not (kept as unused attributes by from_pretrained):
 * mamba2 `rms_norm` (true: the gated RMSNorm transformers always applies; a key of earlier
 * Mamba2Config versions).
 */
const EXTRA_KEYS: Record<string, string[]> = { mamba2: ['rms_norm'] };

const ids = Int32Array.from([5, 17, 3, 60, 2, 91, 44, 8, 13, 0, 77, 31], (x) => x % 96);

function logits(model: DecoderLM, tokens: Int32Array): number[] {
  return [...noGrad(() => model.forwardIds(tokens, 1, tokens.length)).data];
}

function toyData(vocabSize: number): DataSource {
  const stream = Int32Array.from({ length: 400 }, (_, i) => (i * 7 + 3) % vocabSize);
  return languageModelSource({ name: 'toy', train: stream, validation: stream.slice(0, 100), vocabSize, length: 8, seed: 0 });
}

/** What `iattn train` does after building the model: startRun (config extras: token ids, dtype) and save. */
function saveLikeTrain(model: DecoderLM, dir: string, data: DataSource = toyData(model.config.vocabSize)): void {
  const run = startRun({ model, data, settings: trainSettings({ steps: 1, batchSize: 2, evalBatches: 1 }), outDir: dir, configExtras: { dtype: 'float32' } });
  save(run);
}

interface Reference {
  name: string;
  dir: string;
}

const REFERENCES: Reference[] = [
  ...HF_ARCHS.map((arch) => ({ name: `hf/${arch}`, dir: fixturePath('hf', arch) })),
  ...TRAINED_ARCHS.map((arch) => ({ name: `trained/${arch}`, dir: fixturePath('trained', arch) })),
];

describe.each(REFERENCES)('a checkpoint written by iattn train matches the transformers-saved $name', ({ name, dir }) => {
  const refText = fs.readFileSync(path.join(dir, 'config.json'), 'utf8');
  const refConfig = parseConfigJson(refText);
  const modelType = String(refConfig.model_type);
  const ours = path.join(tmp, name.replace('/', '-'));
  const model = initModel(refConfig, 7, 'float32');
  saveLikeTrain(model, ours);

  it('has the same tensor names and shapes, stored as F32', () => {
    const ref = openCheckpoint(dir);
    const out = openCheckpoint(ours);
    try {
      expect(out.tensorNames()).toEqual(ref.tensorNames());
      for (const tensor of ref.tensorNames()) expect(out.info(tensor).shape, tensor).toEqual(ref.info(tensor).shape);
      expect(Object.keys(out.dtypes())).toEqual(['F32']);
      if (refConfig.tie_word_embeddings === true) expect(ref.tensorNames().some((t) => t === 'lm_head.weight' || t === 'head.weight')).toBe(false);
    } finally {
      ref.close();
      out.close();
    }
  });

  it('writes every config.json key transformers wrote, with the same Python type and value', () => {
    const refPy = pythonJson(refText);
    const oursText = fs.readFileSync(path.join(ours, 'config.json'), 'utf8');
    const oursPy = pythonJson(oursText);
    const oursConfig = parseConfigJson(oursText);
    for (const key of Object.keys(refPy)) {
      if (NOT_WRITTEN.includes(key)) continue;
      expect(Object.hasOwn(oursPy, key), `${modelType}: '${key}' missing`).toBe(true);
      expect(pyType(oursPy[key]), `${modelType}: type of '${key}'`).toEqual(pyType(refPy[key]));
      // Values: the same config, except the dtype the weights are stored in.
      if (key !== 'dtype') expect(oursConfig[key], `${modelType}: value of '${key}'`).toEqual(refConfig[key]);
    }
    expect(oursConfig.dtype).toBe('float32');
    expect(oursConfig.model_type).toBe(refConfig.model_type);
    expect(oursConfig.architectures).toEqual(refConfig.architectures);
    const extra = Object.keys(oursPy).filter((k) => !Object.hasOwn(refPy, k)).sort();
    expect(extra).toEqual(EXTRA_KEYS[modelType] ?? []);
  });

  it('reloads to identical logits', () => {
    expect(logits(loadTrainedModel(ours).model, ids)).toEqual(logits(model, ids));
  });

  it('writes reference_logits.safetensors: ids and our logits for scripts/check-from-pretrained.py', () => {
    const reader = SafetensorsReader.open(path.join(ours, REFERENCE_LOGITS_FILE));
    try {
      expect(reader.keys().sort()).toEqual(['input_ids', 'logits']);
      expect(reader.info('input_ids')).toMatchObject({ dtype: 'I64', shape: [2, 16] });
      const V = model.config.vocabSize;
      expect(reader.info('logits')).toMatchObject({ dtype: 'F32', shape: [2, 16, V] });
      const refIds = reader.readInt('input_ids');
      expect([...reader.readFloat('logits', 'float32')]).toEqual(logits(model, refIds).slice(0, 16 * V).concat(logits(model, refIds.slice(16)).slice(0, 16 * V)));
      expect(reader.metadata).toMatchObject({ format: 'iattn-reference-logits', model_type: modelType, compute_dtype: 'float32' });
    } finally {
      reader.close();
    }
  });

  it('writes the transformers checkpoint back with identical tensors and logits', () => {
    const ref = loadTrainedModel(dir);
    const back = path.join(ours, 'written-back');
    // The Hugging Face half of save(): the same config and weights writers (no optimizer state).
    const run = startRun({ model: ref.model, data: toyData(ref.model.config.vocabSize), settings: trainSettings({ steps: 1 }), configExtras: { dtype: 'float32' } });
    writeCheckpoint(back, run.config, weightsToWrite(run.model, run.head));
    const a = openCheckpoint(dir);
    const b = openCheckpoint(back);
    try {
      for (const tensor of a.tensorNames()) {
        // bfloat16 fixtures widen exactly to float32; compared as bytes (a deep equal of millions of floats is slow).
        const [x, y] = [a.readFloat(tensor, 'float32'), b.readFloat(tensor, 'float32')];
        expect(Buffer.from(y.buffer, y.byteOffset, y.byteLength).equals(Buffer.from(x.buffer, x.byteOffset, x.byteLength)), tensor).toBe(true);
      }
    } finally {
      a.close();
      b.close();
    }
    expect(logits(loadTrainedModel(back).model, ids)).toEqual(logits(ref.model, ids));
  });
});

describe.each([
  ['models/default', 'mamba2'],
  ['models/classifier', 'rwkv'],
])('the shipped %s', (folder, family) => {
  it(`has every config.json key of the transformers-saved ${family} fixture, with the same Python types, and reference logits`, () => {
    const dir = path.resolve(import.meta.dirname, '../..', folder);
    const ours = pythonJson(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    const ref = pythonJson(fs.readFileSync(fixturePath('hf', family, 'config.json'), 'utf8'));
    for (const key of Object.keys(ref)) {
      if (NOT_WRITTEN.includes(key)) continue;
      expect(Object.hasOwn(ours, key), key).toBe(true);
      expect(pyType(ours[key]), key).toEqual(pyType(ref[key]));
    }
    expect(fs.existsSync(path.join(dir, REFERENCE_LOGITS_FILE))).toBe(true);
  });
});

/**
 * The __init__ arguments of flash-linear-attention's config classes
 * (fla/models/{gla,retnet,hgrn}/configuration_*.py), and those typed float.
 */
const FLA_INIT_ARGS: Record<string, { args: string[]; floats: string[] }> = {
  gla: {
    args: 'hidden_size expand_k expand_v hidden_ratio intermediate_size num_hidden_layers num_heads num_kv_heads feature_map attn_mode use_short_conv conv_size use_output_gate clamp_min hidden_act max_position_embeddings elementwise_affine norm_eps use_gk use_gv attn use_cache pad_token_id bos_token_id eos_token_id tie_word_embeddings initializer_range fuse_norm fuse_swiglu fuse_cross_entropy use_l2warp vocab_size'.split(' '),
    floats: ['expand_k', 'norm_eps', 'initializer_range'],
  },
  retnet: {
    args: 'attn_mode hidden_size expand_k expand_v hidden_ratio intermediate_size num_hidden_layers num_heads num_kv_heads feature_map hidden_act use_short_conv conv_size use_output_gate max_position_embeddings elementwise_affine norm_eps attn use_cache pad_token_id bos_token_id eos_token_id tie_word_embeddings initializer_range fuse_norm fuse_swiglu fuse_cross_entropy fuse_linear_cross_entropy use_l2warp vocab_size'.split(' '),
    floats: ['expand_k', 'expand_v', 'norm_eps', 'initializer_range'],
  },
  hgrn: {
    args: 'attn_mode hidden_size num_hidden_layers expand_ratio use_short_conv conv_size use_lower_bound max_position_embeddings hidden_ratio intermediate_size hidden_act elementwise_affine norm_eps attn use_cache pad_token_id bos_token_id eos_token_id tie_word_embeddings initializer_range fuse_norm fuse_swiglu fuse_cross_entropy fuse_linear_cross_entropy use_l2warp vocab_size'.split(' '),
    floats: ['norm_eps', 'initializer_range'],
  },
};

describe.each(Object.keys(FLA_INIT_ARGS))('%s (flash-linear-attention format)', (arch) => {
  const model = initModel(architectureConfig(arch, { vocabSize: 96, layers: getArchitecture(arch).tinyLayers }), 3);
  const dir = path.join(tmp, `fla-${arch}`);
  saveLikeTrain(model, dir);
  const text = fs.readFileSync(path.join(dir, 'config.json'), 'utf8');
  const py = pythonJson(text);
  const config = parseConfigJson(text);

  it("writes every argument of fla's config class, floats as floats, and fla's class name", () => {
    const { args, floats } = FLA_INIT_ARGS[arch];
    expect(args.filter((k) => !Object.hasOwn(config, k))).toEqual([]);
    for (const key of floats) if (config[key] !== null) expect(pyType(py[key]), key).toBe('float');
    expect(config.model_type).toBe(arch);
    expect(config.architectures).toEqual([{ gla: 'GLAForCausalLM', retnet: 'RetNetForCausalLM', hgrn: 'HGRNForCausalLM' }[arch]]);
    expect(config.attn).toBeNull(); // no hybrid softmax-attention layers
    expect(config.use_short_conv).toBe(false);
  });

  it("uses fla's tensor names (untied head: lm_head.weight saved) and reloads to identical logits", () => {
    const checkpoint = openCheckpoint(dir);
    try {
      const names = checkpoint.tensorNames();
      expect(names).toContain('model.embeddings.weight');
      expect(names).toContain('model.norm.weight');
      expect(names).toContain('lm_head.weight');
      expect(names.filter((n) => !/^(model\.(embeddings\.weight|norm\.weight|lower_bounds|layers\.\d+\.(attn_norm|mlp_norm|attn|mlp)\..+)|lm_head\.weight)$/.test(n))).toEqual([]);
    } finally {
      checkpoint.close();
    }
    expect(logits(loadTrainedModel(dir).model, ids)).toEqual(logits(model, ids));
  });
});

describe('a classifier checkpoint', () => {
  it('is the causal-LM checkpoint plus classifier.weight [C, H] and classifier.bias [C], described in config.json', () => {
    const ref = fixturePath('hf', 'rwkv');
    const refConfig = parseConfigJson(fs.readFileSync(path.join(ref, 'config.json'), 'utf8'));
    const model = initModel(refConfig, 5);
    const stream = (c: number) => Int32Array.from({ length: 200 }, (_, i) => (i * (c + 3)) % 96);
    const data = classificationSource({ name: 'toy', classes: ['a', 'b', 'c'].map((label, c) => ({ label, train: stream(c), validation: stream(c) })), vocabSize: 96, length: 8, seed: 0 });
    const dir = path.join(tmp, 'classifier');
    saveLikeTrain(model, dir, data);
    const lm = openCheckpoint(ref);
    const cls = openCheckpoint(dir);
    try {
      expect(cls.tensorNames()).toEqual([...lm.tensorNames(), CLASSIFIER_BIAS, CLASSIFIER_WEIGHT].sort());
      expect(cls.info(CLASSIFIER_WEIGHT).shape).toEqual([3, 32]);
      expect(cls.info(CLASSIFIER_BIAS).shape).toEqual([3]);
      const config = cls.config;
      // transformers has no RWKV sequence-classification class: the architecture is the one from_pretrained builds.
      expect(config.architectures).toEqual(['RwkvForCausalLM']);
      expect(config.num_labels).toBe(3);
      expect(config.id2label).toEqual({ 0: 'a', 1: 'b', 2: 'c' });
      expect(config.label2id).toEqual({ a: 0, b: 1, c: 2 });
      expect(config.problem_type).toBe('single_label_classification');
      expect(config.classifier_head).toEqual({ weight: 'classifier.weight', bias: 'classifier.bias', input: 'final-norm hidden state', pooling: 'last token' });
      for (const key of Object.keys(lm.config)) if (key !== 'transformers_version') expect(Object.hasOwn(config, key), key).toBe(true);
    } finally {
      lm.close();
      cls.close();
    }
    const loaded = loadTrainedModel(dir);
    expect(loaded.labels).toEqual(['a', 'b', 'c']);
    expect(loaded.head?.numLabels).toBe(3);
    const reader = SafetensorsReader.open(path.join(dir, REFERENCE_LOGITS_FILE));
    try {
      expect(reader.info('class_logits')).toMatchObject({ dtype: 'F32', shape: [2, 3] });
      const refIds = reader.readInt('input_ids');
      const expected = noGrad(() => classifierLogits(loaded.model, loaded.head!, refIds, 2, refIds.length / 2)).data;
      expect([...reader.readFloat('class_logits', 'float32')]).toEqual([...expected]);
    } finally {
      reader.close();
    }
  });
});
