/**
 * PyTorch checkpoint files (src/io/pickle.ts, src/io/torch-checkpoint.ts, `iattn vision
 * convert`): a .pth written here byte by byte the way torch.save lays one out (a zip with
 * archive/data.pkl — pickle protocol 2 — and raw storages archive/data/N), holding a
 * hustvl/Vim release state dict under "model"; shared storages, strided views, float16; and
 * pickles that would run code or build objects in Python, refused with one line.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { PickleError, PyDict, unpickle } from '../../src/io/pickle.js';
import { openTorchCheckpoint, readTorchStateDict, stateDict } from '../../src/io/torch-checkpoint.js';
import { loadVisionModel } from '../../src/io/vision-checkpoint.js';
import { numberToF16 } from '../../src/io/half.js';
import { iattn } from '../helpers/cli.js';
import { fixturePath } from '../helpers/fixtures.js';
import { hustvlStateDict } from '../vision/hustvl.js';

/** The opcodes torch.save's pickler (protocol 2) emits for a dict of tensors. */
class Pickler {
  readonly out: number[] = [0x80, 2];
  private memo = 0;
  private byte(...b: number[]) {
    this.out.push(...b);
    return this;
  }
  private u32(n: number) {
    return this.byte(n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255);
  }
  put() {
    return this.memo < 256 ? this.byte(0x71, this.memo++) : this.byte(0x72).u32(this.memo++);
  }
  global(module: string, name: string) {
    return this.byte(0x63, ...new TextEncoder().encode(`${module}\n${name}\n`)).put();
  }
  str(s: string) {
    const b = new TextEncoder().encode(s);
    return this.byte(0x58).u32(b.length).byte(...b).put();
  }
  int(n: number) {
    if (n < 256) return this.byte(0x4b, n);
    if (n < 65536) return this.byte(0x4d, n & 255, n >>> 8);
    return this.byte(0x4a).u32(n);
  }
  mark() {
    return this.byte(0x28);
  }
  tuple() {
    return this.byte(0x74).put();
  }
  emptyTuple() {
    return this.byte(0x29);
  }
  emptyDict() {
    return this.byte(0x7d).put();
  }
  orderedDict() {
    return this.global('collections', 'OrderedDict').emptyTuple().byte(0x52).put();
  }
  op(code: number) {
    return this.byte(code);
  }
}

interface StoredTensor {
  name: string;
  key: string;
  storageType: 'FloatStorage' | 'HalfStorage' | 'LongStorage';
  numel: number;
  offset: number;
  shape: number[];
  stride: number[];
}

/** data.pkl of {"model": OrderedDict(name → tensor), "epoch": 299} (or the bare OrderedDict). */
function statePickle(tensors: StoredTensor[], wrapped: boolean): Uint8Array {
  const p = new Pickler();
  if (wrapped) p.emptyDict().mark().str('model');
  p.orderedDict().mark();
  for (const t of tensors) {
    p.str(t.name).global('torch._utils', '_rebuild_tensor_v2').mark();
    p.mark().str('storage').global('torch', t.storageType).str(t.key).str('cpu').int(t.numel).tuple().op(0x51).put(); // BINPERSID
    p.int(t.offset).mark();
    for (const d of t.shape) p.int(d);
    p.tuple().mark();
    for (const s of t.stride) p.int(s);
    p.tuple().op(0x89).orderedDict().tuple().op(0x52).put(); // requires_grad False, hooks OrderedDict(); REDUCE
  }
  p.op(0x75); // SETITEMS
  // The state dict's _metadata attribute, set by BUILD as torch does.
  p.emptyDict().str('_metadata').orderedDict().mark().str('').emptyDict().str('version').int(1).op(0x73).op(0x75).op(0x73).op(0x62);
  if (wrapped) p.str('epoch').int(299).op(0x75);
  p.op(0x2e);
  return Uint8Array.from(p.out);
}

function zipOf(pickle: Uint8Array, storages: Record<string, Uint8Array>, prefix = 'vim_t_midclstok'): Uint8Array {
  const files: Record<string, [Uint8Array, { level: 0 }]> = {
    [`${prefix}/data.pkl`]: [pickle, { level: 0 }],
    [`${prefix}/byteorder`]: [new TextEncoder().encode('little'), { level: 0 }],
    [`${prefix}/version`]: [new TextEncoder().encode('3\n'), { level: 0 }],
  };
  for (const [key, bytes] of Object.entries(storages)) files[`${prefix}/data/${key}`] = [bytes, { level: 0 }];
  return zipSync(files);
}

const f32Bytes = (values: ArrayLike<number>) => new Uint8Array(Float32Array.from(values).buffer);

/**
 * A hustvl/Vim release state dict as torch.save writes it: one storage per tensor, except that
 * `dt_proj.weight` and `dt_proj_b.weight` of layer 0 share one storage (the second at an
 * offset), `x_proj_b.weight` of layer 1 is stored transposed (a strided view), and the head
 * is float16.
 */
function hustvlPth(wrapped = true) {
  const state = hustvlStateDict({ E: 16, C: 3, P: 4, S: 16, depth: 2, N: 4, K: 4, classes: 5 });
  const tensors: StoredTensor[] = [];
  const storages: Record<string, Uint8Array> = {};
  const expected = new Map<string, number[]>();
  let key = 0;
  const shared = ['layers.0.mixer.dt_proj.weight', 'layers.0.mixer.dt_proj_b.weight'];
  for (const [name, t] of state) {
    const size = t.data.length;
    const contiguous = t.shape.map((_, k) => t.shape.slice(k + 1).reduce((a, b) => a * b, 1));
    if (name === shared[1]) continue;
    if (name === shared[0]) {
      const other = state.get(shared[1])!;
      storages[String(key)] = f32Bytes([...t.data, ...other.data]);
      tensors.push({ name, key: String(key), storageType: 'FloatStorage', numel: 2 * size, offset: 0, shape: t.shape, stride: contiguous });
      tensors.push({ name: shared[1], key: String(key), storageType: 'FloatStorage', numel: 2 * size, offset: size, shape: other.shape, stride: contiguous });
      expected.set(name, Array.from(t.data));
      expected.set(shared[1], Array.from(other.data));
    } else if (name === 'layers.1.mixer.x_proj_b.weight') {
      const [rows, cols] = t.shape;
      const transposed = new Float32Array(size);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) transposed[c * rows + r] = t.data[r * cols + c];
      storages[String(key)] = f32Bytes(transposed);
      tensors.push({ name, key: String(key), storageType: 'FloatStorage', numel: size, offset: 0, shape: t.shape, stride: [1, rows] });
      expected.set(name, Array.from(t.data));
    } else if (name === 'head.weight') {
      const half = new Uint16Array(Array.from(t.data, numberToF16));
      storages[String(key)] = new Uint8Array(half.buffer);
      tensors.push({ name, key: String(key), storageType: 'HalfStorage', numel: size, offset: 0, shape: t.shape, stride: contiguous });
      expected.set(name, Array.from(Float32Array.from(t.data, (v) => f16(v))));
    } else {
      storages[String(key)] = f32Bytes(t.data);
      tensors.push({ name, key: String(key), storageType: 'FloatStorage', numel: size, offset: 0, shape: t.shape, stride: contiguous });
      expected.set(name, Array.from(t.data));
    }
    key++;
  }
  return { bytes: zipOf(statePickle(tensors, wrapped), storages), state, expected };
}

/** A float16 round trip of v. */
function f16(v: number): number {
  const bits = numberToF16(v);
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  return exp === 0 ? sign * 2 ** -14 * (frac / 1024) : sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

describe('reading PyTorch checkpoints', () => {
  it('reads the hustvl state dict under "model": every tensor, shared storages, strided views, float16', () => {
    const { bytes, state, expected } = hustvlPth();
    const checkpoint = openTorchCheckpoint(bytes);
    expect(checkpoint.root).toBeInstanceOf(PyDict);
    expect((checkpoint.root as PyDict).entries.get('epoch')).toBe(299);
    const { key, tensors } = stateDict(checkpoint);
    expect(key).toBe('model');
    expect([...tensors.keys()].sort()).toEqual([...state.keys()].sort());
    for (const [name, t] of tensors) {
      expect(t.shape, name).toEqual(state.get(name)!.shape);
      expect(Array.from(t.data), name).toEqual(expected.get(name));
    }
    expect(tensors.get('head.weight')!.dtype).toBe('F16');
    expect(tensors.get('cls_token')!.dtype).toBe('F32');
    // The bare OrderedDict (torch.save(model.state_dict())) reads the same.
    const bare = stateDict(openTorchCheckpoint(hustvlPth(false).bytes));
    expect(bare.key).toBeNull();
    expect(bare.tensors.size).toBe(state.size);
  });

  it('iattn vision convert writes a checkpoint folder that loads as Vision Mamba with the release values', () => {
    const { bytes, expected } = hustvlPth();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iattn-pth-'));
    try {
      const pth = path.join(dir, 'vim_t_midclstok.pth');
      fs.writeFileSync(pth, bytes);
      const out = path.join(dir, 'converted');
      const r = iattn(['vision', 'convert', '--pth', pth, '--out', out, '--json']);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const summary = JSON.parse(r.stdout);
      expect(summary).toMatchObject({ key: 'model', tensors: expected.size, modelType: 'vim', layers: 2, imageSize: 16, patchSize: 4, classes: 5, unused: [] });
      expect(summary.dtypes.sort()).toEqual(['F16', 'F32']);
      const model = loadVisionModel(out);
      for (const [name, values] of expected) expect(Array.from(model.parameters.get(name)!.data), name).toEqual(values);
      expect(JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'))).toMatchObject({ model_type: 'vim', image_mean: [0.485, 0.456, 0.406] });
      expect(readTorchStateDict(pth).tensors.size).toBe(expected.size);
      // One line for a file that is not a checkpoint, and for a missing key.
      fs.writeFileSync(path.join(dir, 'notes.pth'), 'not a checkpoint');
      const bad = iattn(['vision', 'convert', '--pth', path.join(dir, 'notes.pth'), '--out', path.join(dir, 'x')]);
      expect(bad.status).toBe(1);
      expect(bad.stderr).toMatch(/^iattn: .*notes\.pth is not a PyTorch checkpoint \(no zip archive\)\n$/);
      const wrongKey = iattn(['vision', 'convert', '--pth', pth, '--key', 'model_ema', '--out', path.join(dir, 'y')]);
      expect(wrongKey.status).toBe(1);
      expect(wrongKey.stderr).toMatch(/no state dict of tensors under 'model_ema' \(keys: model, epoch\)\n$/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads a state dict pickled by CPython itself (test/fixtures/torch/make_vim_state_dict.py: memo references, an optimizer state beside it)', () => {
    const { key, tensors } = readTorchStateDict(fixturePath('torch', 'vim-state-dict.pth'));
    expect(key).toBe('model');
    const names = [...tensors.keys()];
    expect(names).toHaveLength(41);
    expect(names.slice(0, 5)).toEqual(['patch_embed.proj.weight', 'patch_embed.proj.bias', 'cls_token', 'pos_embed', 'layers.0.mixer.A_log']);
    expect(names).toEqual([...hustvlStateDict({ E: 16, C: 3, P: 4, S: 16, depth: 2, N: 4, K: 4, classes: 5 }).keys()].filter((n) => names.includes(n)));
    names.forEach((name, k) => {
      const t = tensors.get(name)!;
      const shift = /(norm\.weight|norm_f\.weight|\.D|\.D_b)$/.test(name) ? 1 : /dt_proj(_b)?\.bias$/.test(name) ? -3 : 0;
      const want = Float32Array.from({ length: t.data.length }, (_, i) => 0.1 * Math.sin(0.37 * i + k) + shift);
      expect(Array.from(t.data), name).toEqual(Array.from(want));
    });
    expect(tensors.get('pos_embed')!.shape).toEqual([1, 17, 16]);
  });

  it('refuses pickles that would run code or build other objects, with one line, executing nothing', () => {
    const refuse = (pickle: number[], message: RegExp) => {
      const run = () => unpickle(Uint8Array.from(pickle), { globals: { 'collections.OrderedDict': () => new PyDict() } });
      expect(run).toThrow(PickleError);
      expect(run).toThrow(message);
    };
    const enc = (s: string) => [...new TextEncoder().encode(s)];
    // os.system("echo pwned"): GLOBAL 'os system', the argument, TUPLE1, REDUCE.
    refuse([0x80, 2, 0x63, ...enc('os\nsystem\n'), 0x58, 10, 0, 0, 0, ...enc('echo pwned'), 0x85, 0x52, 0x2e], /^refusing the pickle global os\.system: only plain state dicts of tensors are read/);
    refuse([0x80, 4, 0x8c, 8, ...enc('builtins'), 0x8c, 4, ...enc('eval'), 0x93, 0x2e], /refusing the pickle global builtins\.eval/);
    refuse([0x80, 2, 0x63, ...enc('argparse\nNamespace\n'), 0x29, 0x81, 0x2e], /refusing the pickle global argparse\.Namespace/);
    refuse([0x80, 2, 0x29, 0x29, 0x81, 0x2e], /refusing pickle opcode NEWOBJ at byte 4/);
    refuse([0x80, 2, 0x69, ...enc('os\nsystem\n'), 0x2e], /refusing pickle opcode INST/);
    refuse([0x80, 2, 0x51, 0x2e], /malformed pickle|refusing a pickle persistent id/);
    refuse([0x80, 2, 0x7d, 0x71], /truncated pickle/);
    // A torch checkpoint whose pickle names a class (a training script's args) is refused whole.
    const p = new Pickler();
    p.emptyDict().mark().str('args').global('argparse', 'Namespace').emptyTuple().op(0x81).op(0x75).op(0x2e);
    expect(() => openTorchCheckpoint(zipOf(Uint8Array.from(p.out), {}), 'ckpt.pth')).toThrow(/^refusing the pickle global argparse\.Namespace/);
    expect(() => openTorchCheckpoint(Uint8Array.from([0x80, 2, 0x7d, 0x2e]), 'old.pth')).toThrow(/old\.pth is a legacy \(pre-1\.6, non-zip\) PyTorch file/);
  });

  it('checks tensor views against their storages', () => {
    const p = statePickle([{ name: 'w', key: '0', storageType: 'FloatStorage', numel: 4, offset: 2, shape: [2, 2], stride: [2, 1] }], false);
    const checkpoint = openTorchCheckpoint(zipOf(p, { '0': f32Bytes([1, 2, 3, 4]) }), 'short.pth');
    expect(() => stateDict(checkpoint)).toThrow(/short\.pth: a tensor reads past the end of storage 0 \(element 5 of 4\)/);
    const missing = openTorchCheckpoint(zipOf(p, {}), 'missing.pth');
    expect(() => stateDict(missing)).toThrow(/missing\.pth: storage data\/0 is missing from the archive/);
  });
});
