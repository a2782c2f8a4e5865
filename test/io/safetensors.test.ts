import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  memorySource,
  SafetensorsError,
  SafetensorsReader,
  serializeSafetensors,
  writeSafetensors,
  type SafetensorsErrorCode,
  type StDType,
  type TensorsToWrite,
} from '../../src/io/safetensors.js';
import { fixturePath, HF_ARCHS, TRAINED_ARCHS } from '../helpers/fixtures.js';
import { buildFile, buildTensors } from './build-file.js';

const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'safetensors-test-'));
afterAll(() => fs.rmSync(temp, { recursive: true, force: true }));

/** Runs `fn`, expecting a SafetensorsError with `code` (and a message matching `message`). */
function expectError(fn: () => unknown, code: SafetensorsErrorCode, message?: RegExp): SafetensorsError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(SafetensorsError);
  const error = caught as SafetensorsError;
  expect(error.code, error.message).toBe(code);
  if (message) expect(error.message).toMatch(message);
  return error;
}

const open = (bytes: Uint8Array): SafetensorsReader => SafetensorsReader.fromBytes(bytes);
const roundTrip = (tensors: TensorsToWrite, metadata?: Record<string, string>): SafetensorsReader =>
  open(serializeSafetensors(tensors, metadata));

describe('round trips', () => {
  const cases: [StDType, number[]][] = [
    ['F64', [0, -0, 1.5, -2.25, Math.PI, 5e-324, 1.7976931348623157e308, Infinity, -Infinity]],
    ['F32', [0, -0, 1.5, -2.25, 3.4028234663852886e38, 1.401298464324817e-45, Infinity, -Infinity]],
    ['F16', [0, -0, 1, -2, 65504, 2 ** -24, 2 ** -14, 0.333251953125, Infinity, -Infinity]],
    ['BF16', [0, -0, 1, -2, 3.3895313892515355e38, 2 ** -133, 0.333984375, Infinity, -Infinity]],
    ['I64', [0, -1, 2 ** 53 - 1, -(2 ** 53) + 1, 42]],
    ['U64', [0, 1, 2 ** 53 - 1]],
    ['I32', [0, -1, 2 ** 31 - 1, -(2 ** 31), 7]],
    ['U32', [0, 1, 2 ** 32 - 1]],
    ['I16', [0, -1, 32767, -32768]],
    ['U16', [0, 1, 65535]],
    ['I8', [0, -1, 127, -128]],
    ['U8', [0, 1, 255, 128]],
    ['BOOL', [0, 1, 1, 0]],
  ];

  it.each(cases)('%s values survive write and read', (dtype, values) => {
    const reader = roundTrip({ t: { dtype, shape: [values.length], data: values } });
    expect(reader.info('t')).toMatchObject({ dtype, shape: [values.length] });
    expect(Array.from(reader.readFloat('t', 'float64'))).toEqual(values);
    expect(Array.from(reader.readFloat('t', 'float32'))).toEqual(values.map(Math.fround));
    const raw = reader.readRaw('t');
    expect(raw.dtype).toBe(dtype);
    expect(raw.data.length).toBe(values.length);
  });

  it('F64 keeps NaN; F32, F16 and BF16 keep NaN', () => {
    for (const dtype of ['F64', 'F32', 'F16', 'BF16'] as const) {
      const reader = roundTrip({ t: { dtype, shape: [2], data: [NaN, 1] } });
      expect(Array.from(reader.readFloat('t', 'float64'))).toEqual([NaN, 1]);
    }
  });

  it('raw reads return the natural typed array of each dtype', () => {
    const reader = roundTrip({
      f16: { dtype: 'F16', shape: [2], data: [1, -2] },
      bf16: { dtype: 'BF16', shape: [1], data: [1] },
      i64: { dtype: 'I64', shape: [2], data: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]) },
      u64: { dtype: 'U64', shape: [1], data: [2n ** 64n - 1n] },
      b: { dtype: 'BOOL', shape: [2], data: [0, 5] },
    });
    expect(reader.readRaw('f16').data).toEqual(new Uint16Array([0x3c00, 0xc000]));
    expect(reader.readRaw('bf16').data).toEqual(new Uint16Array([0x3f80]));
    expect(reader.readRaw('i64').data).toEqual(new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]));
    expect(reader.readRaw('u64').data).toEqual(new BigUint64Array([2n ** 64n - 1n]));
    expect(reader.readRaw('b').data).toEqual(new Uint8Array([0, 1]));
  });

  it('F32 rounds float64 input like Math.fround; F16 and BF16 round to nearest even', () => {
    const x = [0.1, 1 / 3, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -8, 1 + 3 * 2 ** -8];
    const reader = roundTrip({
      f32: { dtype: 'F32', shape: [6], data: x },
      f16: { dtype: 'F16', shape: [4], data: x.slice(2, 6) },
      bf16: { dtype: 'BF16', shape: [2], data: x.slice(4) },
    });
    expect(Array.from(reader.readFloat('f32', 'float64'))).toEqual(x.map(Math.fround));
    expect(Array.from(reader.readFloat('f16', 'float64'))).toEqual([1, 1 + 2 ** -9, 1 + 2 ** -8, 1 + 3 * 2 ** -8]);
    expect(Array.from(reader.readFloat('bf16', 'float64'))).toEqual([1, 1 + 2 ** -6]);
  });

  it('readInt reads integer and BOOL dtypes as int32', () => {
    const reader = roundTrip({
      ids: { dtype: 'I64', shape: [3], data: [0, 4095, -(2 ** 31)] },
      u8: { dtype: 'U8', shape: [2], data: [0, 255] },
      mask: { dtype: 'BOOL', shape: [2], data: [1, 0] },
    });
    expect(reader.readInt('ids')).toEqual(new Int32Array([0, 4095, -(2 ** 31)]));
    expect(reader.readInt('u8')).toEqual(new Int32Array([0, 255]));
    expect(reader.readInt('mask')).toEqual(new Int32Array([1, 0]));
  });

  it('readInt rejects values outside int32 and non-integer dtypes', () => {
    const reader = roundTrip({
      big: { dtype: 'I64', shape: [2], data: [1, 2 ** 31] },
      u32: { dtype: 'U32', shape: [1], data: [2 ** 32 - 1] },
      f: { dtype: 'F32', shape: [1], data: [1] },
    });
    expectError(() => reader.readInt('big'), 'INT_OUT_OF_RANGE', /"big": element 1 \(2147483648\)/);
    expectError(() => reader.readInt('u32'), 'INT_OUT_OF_RANGE');
    expectError(() => reader.readInt('f'), 'WRONG_DTYPE', /"f" has dtype F32/);
  });

  it('scalars and empty tensors', () => {
    const reader = roundTrip({
      scalar: { dtype: 'F32', shape: [], data: [2.5] },
      empty: { dtype: 'F32', shape: [0], data: [] },
      empty2d: { dtype: 'I64', shape: [3, 0], data: [] },
    });
    expect(reader.info('scalar')).toMatchObject({ shape: [], byteLength: 4 });
    expect(Array.from(reader.readFloat('scalar', 'float32'))).toEqual([2.5]);
    expect(reader.readFloat('empty', 'float64').length).toBe(0);
    expect(reader.readInt('empty2d').length).toBe(0);
    expect(reader.info('empty2d')).toMatchObject({ shape: [3, 0], byteLength: 0 });
  });

  it('"{}" with no data is a valid file, padded or not', () => {
    expect(open(buildFile('{}')).keys()).toEqual([]);
    const written = serializeSafetensors({});
    expect(written.length).toBe(16);
    expect(open(written).keys()).toEqual([]);
    expect(open(written).metadata).toBeNull();
  });

  it('metadata round trips, a "__proto__" key included', () => {
    const metadata = JSON.parse('{"format":"pt","__proto__":"x"}') as Record<string, string>;
    const reader = roundTrip({ w: { dtype: 'F32', shape: [1], data: [1] } }, metadata);
    expect(reader.metadata).toEqual(metadata);
    expect(Object.hasOwn(reader.metadata!, '__proto__')).toBe(true);
  });

  it('a tensor named "__proto__" is an ordinary tensor', () => {
    const tensors = JSON.parse('{"__proto__":{"dtype":"F32","shape":[1],"data":[3]}}') as TensorsToWrite;
    const reader = roundTrip(tensors);
    expect(reader.keys()).toEqual(['__proto__']);
    expect(Array.from(reader.readFloat('__proto__', 'float32'))).toEqual([3]);
  });

  it('reads tensors at unaligned memory offsets', () => {
    const file = serializeSafetensors({
      a: { dtype: 'F64', shape: [2], data: [1.25, -3] },
      b: { dtype: 'F32', shape: [3], data: [1, 2, 3] },
      c: { dtype: 'I64', shape: [1], data: [-5] },
    });
    const shifted = new Uint8Array(file.length + 3);
    shifted.set(file, 3);
    const reader = open(shifted.subarray(3));
    expect(Array.from(reader.readFloat('a', 'float64'))).toEqual([1.25, -3]);
    expect(Array.from(reader.readFloat('b', 'float32'))).toEqual([1, 2, 3]);
    expect(reader.readInt('c')).toEqual(new Int32Array([-5]));
    expect(reader.readRaw('a').data).toEqual(new Float64Array([1.25, -3]));
  });

  it('keys are sorted; info returns a copy; unknown names name the tensor', () => {
    const reader = roundTrip({
      zeta: { dtype: 'U8', shape: [1], data: [1] },
      alpha: { dtype: 'F64', shape: [1], data: [1] },
    });
    expect(reader.keys()).toEqual(['alpha', 'zeta']);
    expect(reader.has('alpha')).toBe(true);
    expect(reader.has('beta')).toBe(false);
    reader.info('alpha').shape.push(9);
    expect(reader.info('alpha').shape).toEqual([1]);
    expectError(() => reader.info('beta'), 'TENSOR_NOT_FOUND', /"beta"/);
    expectError(() => reader.readFloat('beta', 'float32'), 'TENSOR_NOT_FOUND', /"beta"/);
  });

  it('valid dtypes without a decoder parse, and fail only when read', () => {
    const file = buildTensors([['f8', 'F8_E4M3', [4], [0, 4]], ['c', 'C64', [1], [4, 12]], ['x', 'F32', [1], [12, 16]]], 16);
    const reader = open(file);
    expect(reader.info('f8').dtype).toBe('F8_E4M3');
    expectError(() => reader.readFloat('f8', 'float32'), 'UNSUPPORTED_DTYPE', /unsupported dtype F8_E4M3 for tensor "f8"/);
    expectError(() => reader.readRaw('c'), 'UNSUPPORTED_DTYPE', /C64/);
    expect(Array.from(reader.readFloat('x', 'float32'))).toEqual([0]);
  });

  it('a closed reader refuses to read', () => {
    const reader = roundTrip({ t: { dtype: 'F32', shape: [1], data: [1] } });
    reader.close();
    reader.close();
    expectError(() => reader.readFloat('t', 'float32'), 'CLOSED');
  });
});

describe('writer', () => {
  it('pads the header with spaces to a multiple of 8 and lays tensors out contiguously', () => {
    const file = serializeSafetensors({
      b: { dtype: 'U8', shape: [3], data: [1, 2, 3] },
      a: { dtype: 'U8', shape: [1], data: [4] },
      w: { dtype: 'F32', shape: [2], data: [1, 2] },
      d: { dtype: 'F64', shape: [1], data: [1] },
      h: { dtype: 'BF16', shape: [1], data: [1] },
    });
    const n = Number(new DataView(file.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const header = new TextDecoder().decode(file.subarray(8, 8 + n));
    expect(header.trimEnd()).toBe(header.trimEnd().trim());
    expect(/^ *$/.test(header.slice(header.trimEnd().length))).toBe(true);
    // Larger dtypes first, then by name: F64, F32, BF16, then the U8s by name.
    const entries = Object.entries(JSON.parse(header) as Record<string, { data_offsets: number[] }>);
    expect(entries.map(([name]) => name)).toEqual(['d', 'w', 'h', 'a', 'b']);
    expect(entries.map(([, e]) => e.data_offsets)).toEqual([[0, 8], [8, 16], [16, 18], [18, 19], [19, 22]]);
    expect(file.length).toBe(8 + n + 22);
  });

  it('is deterministic', () => {
    const tensors: TensorsToWrite = { x: { dtype: 'F16', shape: [2, 2], data: [1, 2, 3, 4] }, y: { dtype: 'I32', shape: [1], data: [1] } };
    expect(serializeSafetensors(tensors)).toEqual(serializeSafetensors(tensors));
  });

  it('rejects bad tensors with a message naming them', () => {
    const write = (tensors: TensorsToWrite) => () => serializeSafetensors(tensors);
    expectError(write({ t: { dtype: 'F32', shape: [2, 2], data: [1, 2, 3] } }), 'INVALID_TENSOR', /"t": shape \[2,2\] needs 4 values, data has 3/);
    expectError(write({ t: { dtype: 'F32', shape: [-1], data: [] } }), 'INVALID_TENSOR', /shape/);
    expectError(write({ t: { dtype: 'F32', shape: [1.5], data: [1] } }), 'INVALID_TENSOR', /shape/);
    expectError(write({ t: { dtype: 'I32', shape: [1], data: [1.5] } }), 'INVALID_TENSOR', /element 0 \(1.5\) is not representable as I32/);
    expectError(write({ t: { dtype: 'U8', shape: [2], data: [1, 256] } }), 'INVALID_TENSOR', /element 1/);
    expectError(write({ t: { dtype: 'I8', shape: [1], data: [-129] } }), 'INVALID_TENSOR');
    expectError(write({ t: { dtype: 'I64', shape: [1], data: [2n ** 63n] } }), 'INVALID_TENSOR');
    expectError(write({ t: { dtype: 'I64', shape: [1], data: [0.5] } }), 'INVALID_TENSOR');
    expectError(write({ t: { dtype: 'U64', shape: [1], data: [-1] } }), 'INVALID_TENSOR');
    expectError(write({ __metadata__: { dtype: 'F32', shape: [1], data: [1] } }), 'INVALID_TENSOR', /reserved/);
    expectError(write({ t: { dtype: 'F8_E5M2', shape: [1], data: [1] } }), 'UNSUPPORTED_DTYPE', /F8_E5M2 for tensor "t"/);
    const badMetadata = { n: 1 } as unknown as Record<string, string>;
    expectError(() => serializeSafetensors({}, badMetadata), 'INVALID_TENSOR', /metadata "n"/);
  });

  it('writes files atomically and leaves no temporary file behind', () => {
    const file = path.join(temp, 'w.safetensors');
    writeSafetensors(file, { t: { dtype: 'F32', shape: [2], data: [1, 2] } }, { format: 'pt' });
    writeSafetensors(file, { t: { dtype: 'F32', shape: [3], data: [1, 2, 3] } });
    expect(fs.readdirSync(temp)).toEqual(['w.safetensors']);
    const reader = SafetensorsReader.open(file);
    expect(Array.from(reader.readFloat('t', 'float32'))).toEqual([1, 2, 3]);
    reader.close();
  });

  it('a rejected file releases its source; a folder is an IO_ERROR', () => {
    let closed = 0;
    const source = { ...memorySource(new Uint8Array(4)), close: () => void closed++ };
    expectError(() => SafetensorsReader.fromSource(source), 'HEADER_TOO_SMALL');
    expect(closed).toBe(1);
    const folder = fs.mkdtempSync(path.join(temp, 'folder-'));
    expectError(() => SafetensorsReader.open(folder), 'IO_ERROR', /EISDIR/);
    fs.rmSync(folder, { recursive: true });
  });

  it('reports write and open failures as IO_ERROR', () => {
    const missing = path.join(temp, 'no-such-dir', 'x.safetensors');
    expectError(() => writeSafetensors(missing, {}), 'IO_ERROR', /no-such-dir/);
    expectError(() => SafetensorsReader.open(missing), 'IO_ERROR', /cannot open/);
  });
});

describe('header validation, one error per rule in the reference order', () => {
  const f32 = (start: number, end: number, shape = [(end - start) / 4]) => ({ dtype: 'F32', shape, data_offsets: [start, end] });
  const header = (entries: object) => JSON.stringify(entries);

  it('rule 1: fewer than 8 bytes', () => {
    for (let n = 0; n < 8; n++) expectError(() => open(new Uint8Array(n)), 'HEADER_TOO_SMALL', /header too small/);
  });

  it('rule 2: header length over 100,000,000 (read as a 64-bit integer)', () => {
    expectError(() => open(buildFile('{}', 0, 100_000_001)), 'HEADER_TOO_LARGE', /100000001/);
    expectError(() => open(buildFile('{}', 0, 2n ** 64n - 1n)), 'HEADER_TOO_LARGE', /18446744073709551615/);
    expectError(() => open(buildFile('{}', 0, 100_000_000)), 'INVALID_HEADER_LENGTH');
  });

  it('rule 3: header length beyond the file', () => {
    expectError(() => open(buildFile('{}', 0, 3)), 'INVALID_HEADER_LENGTH', /3 bytes of header/);
    expectError(() => open(new Uint8Array(8).fill(0).map((_, i) => (i === 0 ? 1 : 0))), 'INVALID_HEADER_LENGTH');
  });

  it('rule 4: header not UTF-8', () => {
    expectError(() => open(buildFile(new Uint8Array([0x7b, 0xff, 0x7d]))), 'INVALID_HEADER_UTF8');
    expectError(() => open(buildFile(new Uint8Array([0x7b, 0xc3]))), 'INVALID_HEADER_UTF8');
  });

  describe('rule 5: JSON of the schema', () => {
    const bad: [string, string, RegExp][] = [
      ['top level an array', '[]', /top level is not a JSON object/],
      ['top level a string', '"x"', /top level/],
      ['top level null', 'null', /top level/],
      ['not JSON', '{', /expected a string key/],
      ['unterminated', '{"t":', /end of JSON/],
      ['trailing garbage', '{} x', /trailing characters/],
      ['two values', '{}{}', /trailing characters/],
      ['a byte-order mark', '\ufeff{}', /unexpected character/],
      ['NaN in JSON', '{"t":{"dtype":"F32","shape":[NaN],"data_offsets":[0,0]}}', /unexpected character/],
      ['lowercase dtype', header({ t: { dtype: 'f32', shape: [], data_offsets: [0, 4] } }), /unknown dtype "f32"/],
      ['unknown dtype', header({ t: { dtype: 'F128', shape: [], data_offsets: [0, 16] } }), /unknown dtype "F128"/],
      ['dtype not a string', header({ t: { dtype: 4, shape: [], data_offsets: [0, 4] } }), /dtype must be a string/],
      ['negative dimension', header({ t: f32(0, 4, [-1]) }), /shape must be/],
      ['fractional dimension', '{"t":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}', /shape must be/],
      ['exponent dimension', '{"t":{"dtype":"F32","shape":[1e0],"data_offsets":[0,4]}}', /shape must be/],
      ['dimension beyond 2^53', '{"t":{"dtype":"F32","shape":[9007199254740993],"data_offsets":[0,4]}}', /shape must be/],
      ['shape not an array', header({ t: { dtype: 'F32', shape: 1, data_offsets: [0, 4] } }), /shape must be/],
      ['string dimension', header({ t: { dtype: 'F32', shape: ['1'], data_offsets: [0, 4] } }), /shape must be/],
      ['three offsets', header({ t: { dtype: 'F32', shape: [1], data_offsets: [0, 4, 8] } }), /data_offsets must be \[start, end\]/],
      ['one offset', header({ t: { dtype: 'F32', shape: [1], data_offsets: [4] } }), /data_offsets must be/],
      ['negative offset', header({ t: { dtype: 'F32', shape: [1], data_offsets: [-4, 0] } }), /data_offsets must be/],
      ['missing dtype', header({ t: { shape: [1], data_offsets: [0, 4] } }), /tensor "t": missing "dtype"/],
      ['missing shape', header({ t: { dtype: 'F32', data_offsets: [0, 4] } }), /missing "shape"/],
      ['missing data_offsets', header({ t: { dtype: 'F32', shape: [1] } }), /missing "data_offsets"/],
      ['entry not an object', header({ t: [1] }), /tensor "t": entry is not an object/],
      ['metadata value not a string', header({ __metadata__: { a: 1 } }), /"__metadata__" must be null or an object of string values/],
      ['metadata an array', header({ __metadata__: ['a'] }), /"__metadata__" must be/],
      ['__metadata__ used as a tensor name', header({ __metadata__: f32(0, 4) }), /"__metadata__" is reserved/],
      ['duplicate tensor', '{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', /duplicate key "t"/],
      ['duplicate field', '{"t":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}', /duplicate key "dtype"/],
      ['duplicate metadata', '{"__metadata__":{},"__metadata__":{}}', /duplicate key "__metadata__"/],
      ['deep nesting', `{"t":${'['.repeat(100_000)}`, /nesting deeper/],
    ];
    it.each(bad)('%s', (_, text, message) => {
      expectError(() => open(buildFile(text, 4)), 'INVALID_HEADER_JSON', message);
    });

    it('accepts whitespace around the JSON, unknown fields and null metadata', () => {
      const text = ` \n\t{"__metadata__":null,"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":{"a":[1,2]}}}\r\n   `;
      const reader = open(buildFile(text, 4));
      expect(reader.metadata).toBeNull();
      expect(reader.keys()).toEqual(['t']);
    });
  });

  describe('rule 6: layout', () => {
    it('a gap before the first tensor is an invalid offset naming it', () => {
      expectError(() => open(buildFile(header({ t: f32(4, 8) }), 8)), 'INVALID_OFFSET', /"t": data_offsets \[4, 8\], expected to start at 0/);
    });
    it('a gap between tensors', () => {
      expectError(() => open(buildFile(header({ a: f32(0, 4), b: f32(8, 12) }), 12)), 'INVALID_OFFSET', /"b"/);
    });
    it('overlapping tensors', () => {
      expectError(() => open(buildFile(header({ a: f32(0, 8), b: f32(4, 8) }), 8)), 'INVALID_OFFSET', /"b"/);
    });
    it('end before start', () => {
      expectError(() => open(buildFile(header({ a: { dtype: 'F32', shape: [0], data_offsets: [4, 0] } }), 4)), 'INVALID_OFFSET');
    });
    it('tensors listed out of order are sorted by offsets first', () => {
      const reader = open(buildFile(header({ b: f32(4, 8), a: f32(0, 4), e: f32(8, 8, [0]) }), 8));
      expect(reader.keys()).toEqual(['a', 'b', 'e']);
    });
    it('element count × bits overflowing 64 bits', () => {
      const shape = [2 ** 32, 2 ** 32, 2];
      expectError(() => open(buildFile(header({ t: f32(0, 4, shape) }), 4)), 'VALIDATION_OVERFLOW', /"t"/);
      // As in the reference, the product overflows before a later 0 could rescue it.
      expectError(() => open(buildFile(header({ t: f32(0, 0, [2 ** 40, 2 ** 40, 0]) }), 0)), 'VALIDATION_OVERFLOW');
    });
    it('a size that is not a whole number of bytes', () => {
      expectError(() => open(buildFile(header({ t: { dtype: 'F4', shape: [3], data_offsets: [0, 2] } }), 2)), 'MISALIGNED_SLICE', /12 bits/);
    });
    it('offsets that disagree with shape × dtype size', () => {
      expectError(() => open(buildFile(header({ t: f32(0, 4, [2]) }), 4)), 'TENSOR_INVALID_INFO', /"t": data_offsets span 4 bytes, but F32 \[2\] needs 8/);
    });
  });

  it('rule 7: data must end exactly at the end of the file', () => {
    const text = header({ t: f32(0, 8) });
    expectError(() => open(buildFile(text, 7)), 'INCOMPLETE_BUFFER', /need 70 bytes, file has 69/);
    expectError(() => open(buildFile(text, 9)), 'INCOMPLETE_BUFFER');
    expectError(() => open(buildFile('{}', 1)), 'INCOMPLETE_BUFFER');
    expect(open(buildFile(text, 8)).keys()).toEqual(['t']);
  });

  it('applies the rules in order: the first broken rule is the one reported', () => {
    const badJsonAndTruncated = buildFile('{"t":', 0, 50);
    expectError(() => open(badJsonAndTruncated), 'INVALID_HEADER_LENGTH');
    expectError(() => open(buildFile('{"t":1}', 5)), 'INVALID_HEADER_JSON');
    expectError(() => open(buildFile(header({ a: f32(4, 8, [2]) }), 100)), 'INVALID_OFFSET');
    expectError(() => open(buildFile(header({ a: f32(0, 4, [2]) }), 100)), 'TENSOR_INVALID_INFO');
  });
});

describe('fixtures', () => {
  const files = [
    ...HF_ARCHS.flatMap((arch) => [['hf', arch, 'model.safetensors'], ['hf', arch, 'reference.safetensors']]),
    ...TRAINED_ARCHS.flatMap((arch) => [['trained', arch, 'model.safetensors'], ['trained', arch, 'reference.safetensors']]),
    ['trained', 'val_ids.safetensors'],
  ];

  it.each(files.map((parts) => [parts.join('/'), parts]))('%s loads and every tensor decodes', (_, parts) => {
    const reader = SafetensorsReader.open(fixturePath(...parts));
    expect(reader.keys().length).toBeGreaterThan(0);
    for (const name of reader.keys()) {
      const info = reader.info(name);
      const values = reader.readFloat(name, 'float64');
      expect(values.length).toBe(info.shape.reduce((a, b) => a * b, 1));
      expect(values.every(Number.isFinite), name).toBe(true);
      expect(reader.readRaw(name).data.length).toBe(values.length);
    }
    reader.close();
  });

  it('covers the dtypes of real checkpoints: F64, F32, F16, BF16, I64', () => {
    const seen = new Set<string>();
    for (const parts of files) {
      const reader = SafetensorsReader.open(fixturePath(...parts));
      for (const name of reader.keys()) seen.add(reader.info(name).dtype);
      reader.close();
    }
    expect([...seen].sort()).toEqual(['BF16', 'F16', 'F32', 'F64', 'I64']);
  });

  it('decodes F16 and BF16 weights like an independent bit-level decoder', () => {
    const f16 = (h: number) => {
      const e = (h >> 10) & 31;
      const m = h & 1023;
      const v = e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15);
      return h & 0x8000 ? -v : v; // (the trained weights hold no inf or NaN)
    };
    const word = new Uint32Array(1);
    const float = new Float32Array(word.buffer);
    const bf16 = (h: number) => {
      word[0] = h << 16; // bfloat16 is the top half of a float32
      return float[0]!;
    };
    for (const [arch, decode] of [['rwkv', f16], ['mamba2', bf16]] as const) {
      const reader = SafetensorsReader.open(fixturePath('trained', arch, 'model.safetensors'));
      for (const name of reader.keys()) {
        const bits = reader.readRaw(name).data as Uint16Array;
        const values = reader.readFloat(name, 'float64');
        // Each distinct bit pattern once (decoding is per element), which keeps this fast.
        const seen = new Uint8Array(65536);
        let mismatches = 0;
        for (let i = 0; i < bits.length; i++) {
          const h = bits[i]!;
          if (seen[h]) continue;
          seen[h] = 1;
          if (!Object.is(values[i], decode(h))) mismatches++;
        }
        expect(mismatches, name).toBe(0);
      }
      reader.close();
    }
  });

  it('reads the validation token ids as int32', () => {
    const reader = SafetensorsReader.open(fixturePath('trained', 'val_ids.safetensors'));
    const ids = reader.readInt('val_ids');
    expect(ids.length).toBe(16384);
    expect(ids.every((id) => id >= 0 && id < 4096)).toBe(true);
    reader.close();
  });
});
