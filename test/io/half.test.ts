import { describe, expect, it } from 'vitest';
import { bf16ToNumber, f16ToNumber, numberToBf16, numberToF16 } from '../../src/io/half.js';
import { Random } from './random.js';

const formats = [
  { name: 'F16', decode: f16ToNumber, encode: numberToF16, mantissaBits: 10, max: 65504, minSub: 2 ** -24, minNormal: 2 ** -14, nan: 0x7e00, inf: 0x7c00 },
  { name: 'BF16', decode: bf16ToNumber, encode: numberToBf16, mantissaBits: 7, max: 3.3895313892515355e38, minSub: 2 ** -133, minNormal: 2 ** -126, nan: 0x7fc0, inf: 0x7f80 },
];

describe('float16 decoding', () => {
  it.each([
    [0x0000, 0], [0x8000, -0], [0x3c00, 1], [0xc000, -2], [0x7bff, 65504], [0xfbff, -65504],
    [0x0400, 2 ** -14], [0x0001, 2 ** -24], [0x03ff, 1023 * 2 ** -24], [0x8001, -(2 ** -24)],
    [0x3555, 0.333251953125], [0x7c00, Infinity], [0xfc00, -Infinity],
  ])('0x%s', (bits, value) => {
    expect(Object.is(f16ToNumber(bits), value)).toBe(true);
  });

  it('exponent 31 with a mantissa is NaN', () => {
    for (const bits of [0x7e00, 0x7c01, 0xfe00, 0x7fff]) expect(f16ToNumber(bits)).toBeNaN();
  });
});

describe('bfloat16 decoding', () => {
  it('equals the top half of a float32 for all 65536 bit patterns', () => {
    const word = new Uint32Array(1);
    const float = new Float32Array(word.buffer);
    for (let bits = 0; bits < 65536; bits++) {
      word[0] = bits << 16;
      const expected = float[0]!;
      if (!Object.is(bf16ToNumber(bits), expected)) expect(bf16ToNumber(bits), `0x${bits.toString(16)}`).toBe(expected);
    }
  });
});

describe.each(formats)('$name encoding', (f) => {
  it('round trips every non-NaN bit pattern exactly', () => {
    let failures = 0;
    for (let bits = 0; bits < 65536; bits++) {
      const value = f.decode(bits);
      if (!Number.isNaN(value) && f.encode(value) !== bits) failures++;
    }
    expect(failures).toBe(0);
  });

  it('maps NaN to the canonical quiet NaN and keeps signed zeros and infinities', () => {
    expect(f.encode(NaN)).toBe(f.nan);
    expect(f.encode(0)).toBe(0);
    expect(f.encode(-0)).toBe(0x8000);
    expect(f.encode(Infinity)).toBe(f.inf);
    expect(f.encode(-Infinity)).toBe(0x8000 | f.inf);
  });

  it('rounds to nearest, ties to even, at 1, at the largest value and in the subnormals', () => {
    const ulp1 = 2 ** -f.mantissaBits; // spacing just above 1
    const maxUlp = f.max - f.decode(f.encode(f.max) - 1);
    const cases: [number, number][] = [
      [1 + ulp1 / 2, 1], // tie, 1 is even
      [1 + (3 * ulp1) / 2, 1 + 2 * ulp1], // tie, rounds up to even
      [1 + ulp1 / 2 + ulp1 / 1024, 1 + ulp1], // just above the tie
      [1 - ulp1 / 4, 1], // tie below 1 (spacing halves), 1 is even
      [f.max + maxUlp / 2 - maxUlp / 1024, f.max], // just below the overflow tie
      [f.max + maxUlp / 2, Infinity], // tie: the odd max rounds to even, i.e. overflow
      [-(f.max * 2), -Infinity],
      [f.minSub / 2, 0], // tie, 0 is even
      [-f.minSub / 2, -0],
      [f.minSub / 2 + f.minSub / 1024, f.minSub],
      [(3 * f.minSub) / 2, 2 * f.minSub], // tie, rounds to even
      [f.minNormal - f.minSub / 2, f.minNormal], // subnormal rounds up into the normals
      [f.minSub / 4, 0],
      [1e-300, 0],
    ];
    for (const [x, expected] of cases) {
      expect(Object.is(f.decode(f.encode(x)), expected), `${x} → ${f.decode(f.encode(x))}, expected ${expected}`).toBe(true);
    }
  });

  it('picks the nearest representable value for random doubles (ties to even)', () => {
    const random = new Random(7);
    for (let i = 0; i < 20_000; i++) {
      // Random magnitudes across the whole range, subnormals to overflow.
      const x = (random.float() - 0.5) * 2 ** (random.int(300) - 150);
      const bits = f.encode(x);
      const r = f.decode(bits);
      if (!Number.isFinite(r)) {
        expect(Math.abs(x)).toBeGreaterThanOrEqual(f.max);
        continue;
      }
      // The neighbours of r on either side (same sign): r must be at least as close to x.
      for (const neighbour of [bits - 1, bits + 1]) {
        if ((neighbour & 0x7fff) === 0x7fff || neighbour < 0 || (neighbour ^ bits) & 0x8000) continue;
        const other = f.decode(neighbour);
        if (!Number.isFinite(other)) continue;
        const d = Math.abs(x - r);
        const dOther = Math.abs(x - other);
        if (d > dOther || (d === dOther && (bits & 1) === 1)) {
          expect.fail(`${f.name}(${x}) = ${r}, but ${other} is nearer or the even tie`);
        }
      }
    }
  });
});

describe('bfloat16 encoding matches rounding from float32', () => {
  it('for random float32 bit patterns (exact in float64, so no double rounding)', () => {
    const random = new Random(11);
    const word = new Uint32Array(1);
    const float = new Float32Array(word.buffer);
    let failures = 0;
    for (let i = 0; i < 100_000; i++) {
      word[0] = random.uint32();
      const x = float[0]!;
      if (Number.isNaN(x)) continue;
      const u = word[0];
      // Classic float32 → bfloat16 round-to-nearest-even on the bits.
      const expected = ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
      if (numberToBf16(x) !== expected) failures++;
    }
    expect(failures).toBe(0);
  });
});
