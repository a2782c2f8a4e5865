/**
 * Weights kept in their stored dtype (`weights: 'stored'`): a bf16 or f16 checkpoint (the
 * trained fixtures are bf16 (mamba2) and f16 (rwkv); the float32 default model converted to
 * bf16 by convertCheckpoint) loads its matrices as 16-bit StoredWeights, holds half the bytes,
 * and computes the same logits, input gradients and recurrent steps, bit for bit, as the same
 * checkpoint loaded with decoded weights; stored weights refuse gradients; float32 checkpoints
 * are unaffected.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as F from '../../src/core/index.js';
import { Random } from '../../src/core/index.js';
import { StoredWeight, halfTable } from '../../src/core/stored-weight.js';
import { simdSupported, widenHalfWasm } from '../../src/core/kernels/wasm/gemm-wasm.js';
import { convertCheckpoint } from '../../src/io/checkpoint-dtype.js';
import { bf16ToNumber, f16ToNumber } from '../../src/io/half.js';
import { loadModel } from '../../src/io/load-model.js';
import type { DecoderLM } from '../../src/models/model.js';
import { parseWeights } from '../../src/cli/options.js';
import { SafetensorsReader } from '../../src/io/safetensors.js';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/trained');
const DEFAULT_MODEL = path.resolve(import.meta.dirname, '../../models/default');
let tmp: string;
const dirs: Record<string, string> = {};

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iattn-stored-'));
  dirs['mamba2 (bf16)'] = path.join(FIXTURES, 'mamba2');
  dirs['rwkv (f16)'] = path.join(FIXTURES, 'rwkv');
  dirs['default model converted to bf16'] = path.join(tmp, 'default-bf16');
  convertCheckpoint(DEFAULT_MODEL, dirs['default model converted to bf16'], 'BF16');
});

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function weightBytes(model: DecoderLM): number {
  let bytes = 0;
  for (const t of model.parameters.values()) bytes += t instanceof StoredWeight ? t.residentBytes : t.data.byteLength;
  return bytes;
}

function randomIds(model: DecoderLM, L: number): Int32Array {
  const rng = new Random(L);
  return Int32Array.from({ length: L }, () => rng.int(model.config.vocabSize));
}

describe('16-bit decoding', () => {
  it('the tables equal the reference decoders of src/io/half.ts for all 65536 patterns', () => {
    for (const [format, decode] of [['bf16', bf16ToNumber], ['f16', f16ToNumber]] as const) {
      const table = halfTable(format);
      for (let b = 0; b < 65536; b++) {
        const want = Math.fround(decode(b));
        if (Number.isNaN(want)) expect(table[b]).toBeNaN();
        else expect(Object.is(table[b], want), `${format} 0x${b.toString(16)}`).toBe(true);
      }
    }
  });

  it.runIf(simdSupported())('the WASM SIMD widening (widen16) equals the tables for all 65536 patterns, into float32 and float64, at odd offsets', () => {
    const bits = new Uint16Array(65536 + 3);
    for (let b = 0; b < 65536; b++) bits[b + 3] = b;
    for (const format of ['bf16', 'f16'] as const) {
      const table = halfTable(format);
      for (const out of [new Float32Array(65536 + 5), new Float64Array(65536 + 5)]) {
        expect(widenHalfWasm({ format, bits }, 3, out, 5, 65536)).toBe(true);
        let wrong = 0;
        for (let b = 0; b < 65536; b++) {
          const got = out[b + 5];
          const want = table[b];
          if (Number.isNaN(want) ? !Number.isNaN(got) : !Object.is(got, want)) wrong++;
        }
        expect(wrong, `${format} → ${out.constructor.name}`).toBe(0);
        // bfloat16 → float32 is bit-exact, NaN payloads included.
        if (out instanceof Float32Array && format === 'bf16') expect(Array.from(new Uint32Array(out.buffer, 20, 65536))).toEqual(Array.from(new Uint32Array(table.buffer)));
      }
    }
  });
});

describe.each([
  ['mamba2 (bf16)', 'float32'],
  ['rwkv (f16)', 'float32'],
  ['default model converted to bf16', 'float32'],
  ['mamba2 (bf16)', 'float64'],
] as const)('%s with %s compute', (name, dtype) => {
  it('stored weights hold half the bytes of the matrices and give the same logits and input gradients', () => {
    const dir = dirs[name];
    const decoded = loadModel(dir, { dtype }).model;
    const stored = loadModel(dir, { dtype, weights: 'stored' }).model;
    const matrices = [...stored.parameters.values()].filter((t) => t instanceof StoredWeight);
    expect(matrices.length).toBeGreaterThan(4);
    expect(weightBytes(stored)).toBeLessThan(0.6 * weightBytes(decoded));
    const L = 37;
    const ids = randomIds(decoded, L);
    const grads = (model: DecoderLM) => {
      const embeds = model.embed(ids, 1, L).requireGrad();
      const logits = model.forward(embeds);
      F.backward(F.crossEntropy(F.reshape(logits, [L, model.config.vocabSize]), ids));
      return { logits: logits.data, grad: embeds.grad! };
    };
    const a = grads(decoded);
    const b = grads(stored);
    expect(b.logits).toEqual(a.logits);
    expect(b.grad).toEqual(a.grad);
    // Forward and backward read the bits directly: no matrix was decoded on the way.
    expect(matrices.every((t) => (t as StoredWeight).stored !== null)).toBe(true);
    // Recurrent generation (one token through each layer, the gemv path) agrees too.
    const sa = decoded.initialState(1);
    const sb = stored.initialState(1);
    for (const id of ids.subarray(0, 5)) expect(stored.step(Int32Array.of(id), sb).data).toEqual(decoded.step(Int32Array.of(id), sa).data);
  });
});

describe('readHalfBits', () => {
  it('reads F16/BF16 bit patterns at even and odd byte offsets, into a given array, and refuses other dtypes', () => {
    // U8 [1] at bytes 0–1, then F16 [2] at the odd offset 1, BF16 [2] at 5.
    const header = JSON.stringify({ a: { dtype: 'U8', shape: [1], data_offsets: [0, 1] }, h: { dtype: 'F16', shape: [2], data_offsets: [1, 5] }, b: { dtype: 'BF16', shape: [2], data_offsets: [5, 9] } }).padEnd(160, ' ');
    const file = new Uint8Array(8 + header.length + 9);
    new DataView(file.buffer).setBigUint64(0, BigInt(header.length), true);
    file.set(new TextEncoder().encode(header), 8);
    file.set([7, 0x00, 0x3c, 0x00, 0xc0, 0x80, 0x3f, 0x00, 0xc0], 8 + header.length);
    const reader = SafetensorsReader.fromBytes(file);
    expect(Array.from(reader.readHalfBits('h'))).toEqual([0x3c00, 0xc000]);
    const out = new Uint16Array(2);
    expect(reader.readHalfBits('b', out)).toBe(out);
    expect(Array.from(out)).toEqual([0x3f80, 0xc000]);
    expect(() => reader.readHalfBits('a')).toThrow(/expected F16 or BF16/);
    expect(() => reader.readHalfBits('h', new Uint16Array(3))).toThrow(/does not hold 2 values/);
  });
});

describe('stored weights', () => {
  it('refuse gradients, and decode once (then behave as plain tensors) when read directly', () => {
    const { model } = loadModel(dirs['mamba2 (bf16)'], { weights: 'stored' });
    const w = [...model.parameters.values()].find((t) => t instanceof StoredWeight) as StoredWeight;
    expect(() => w.requireGrad()).toThrow(/read-only: load the model with decoded weights/);
    const bytes = w.residentBytes;
    const data = w.data;
    expect(data).toBeInstanceOf(Float32Array);
    expect(w.stored).toBeNull();
    expect(w.residentBytes).toBe(2 * bytes);
    expect(w.data).toBe(data);
  });

  it('leave float32 checkpoints as they are', () => {
    const { model } = loadModel(DEFAULT_MODEL, { weights: 'stored' }); // stored as F32
    expect([...model.parameters.values()].some((t) => t instanceof StoredWeight)).toBe(false);
  });

  it('--weights accepts decoded or stored', () => {
    expect(parseWeights(undefined)).toBe('decoded');
    expect(parseWeights('stored')).toBe('stored');
    expect(() => parseWeights('bf16')).toThrow(/--weights must be decoded or stored, got 'bf16'/);
  });
});
