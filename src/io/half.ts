// IEEE-754 style 16-bit floats: float16 (binary16) and bfloat16, both directions.
// Pure module. Encoding rounds the float64 input directly to nearest, ties to even (no
// double rounding through float32); NaN becomes the canonical quiet NaN.

/** Bit layout of a small binary float with an implicit leading 1 and IEEE inf/NaN. */
interface MiniFloat {
  exponentBits: number;
  mantissaBits: number;
}

const F16: MiniFloat = { exponentBits: 5, mantissaBits: 10 };
const BF16: MiniFloat = { exponentBits: 8, mantissaBits: 7 };

function bias(f: MiniFloat): number {
  return 2 ** (f.exponentBits - 1) - 1;
}

/** Value of the bit pattern `bits` (sign | exponent | mantissa). */
function decodeMiniFloat(bits: number, f: MiniFloat): number {
  const mantissaMask = 2 ** f.mantissaBits - 1;
  const exponentMax = 2 ** f.exponentBits - 1;
  const sign = bits >> (f.exponentBits + f.mantissaBits) ? -1 : 1;
  const exponent = (bits >> f.mantissaBits) & exponentMax;
  const mantissa = bits & mantissaMask;
  if (exponent === exponentMax) return mantissa ? NaN : sign * Infinity;
  // Subnormals (exponent 0) have no implicit leading 1 and the exponent of the smallest normal.
  const significand = exponent === 0 ? mantissa : mantissa + mantissaMask + 1;
  return sign * significand * 2 ** (Math.max(exponent, 1) - bias(f) - f.mantissaBits);
}

/** Rounds a non-negative number to an integer, ties to even. */
function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const fraction = x - floor; // exact: x has fewer than 53 significant bits above the point
  if (fraction !== 0.5) return fraction < 0.5 ? floor : floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** Largest e with 2^e <= a, for a > 0 (Math.log2 alone can be off by one near powers of 2). */
function floorLog2(a: number): number {
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e -= 1;
  if (2 ** (e + 1) <= a) e += 1;
  return e;
}

/** Bit pattern of the representable value nearest to `x` (ties to even). */
function encodeMiniFloat(x: number, f: MiniFloat): number {
  const signShift = f.exponentBits + f.mantissaBits;
  const exponentMax = 2 ** f.exponentBits - 1;
  const infinity = exponentMax << f.mantissaBits;
  if (Number.isNaN(x)) return infinity | (1 << (f.mantissaBits - 1)); // quiet NaN
  const sign = x < 0 || Object.is(x, -0) ? 1 << signShift : 0;
  const a = Math.abs(x);
  const minNormalExponent = 1 - bias(f);
  // Subnormal range: count units of the smallest subnormal. A result of 2^mantissaBits
  // units is exactly the bit pattern of the smallest normal, so no special case is needed.
  if (a < 2 ** minNormalExponent) {
    return sign | roundHalfEven(a * 2 ** (f.mantissaBits - minNormalExponent));
  }
  if (a >= 2 ** (bias(f) + 1)) return sign | infinity; // beyond the largest binade, or Infinity
  let exponent = floorLog2(a);
  let mantissa = roundHalfEven((a / 2 ** exponent - 1) * 2 ** f.mantissaBits);
  if (mantissa === 2 ** f.mantissaBits) {
    mantissa = 0; // rounding carried into the next binade
    exponent += 1;
  }
  const biased = exponent + bias(f);
  if (biased >= exponentMax) return sign | infinity; // rounded up past the largest finite value
  return sign | (biased << f.mantissaBits) | mantissa;
}

/** Lazily built 65536-entry lookup tables: decoding is then one array access per element. */
function decodeTable(f: MiniFloat): () => Float64Array {
  let table: Float64Array | null = null;
  return () => {
    if (table) return table;
    table = new Float64Array(65536);
    for (let bits = 0; bits < 65536; bits++) table[bits] = decodeMiniFloat(bits, f);
    return table;
  };
}

const f16Table = decodeTable(F16);
const bf16Table = decodeTable(BF16);

/** Value of a float16 bit pattern (0..65535). */
export function f16ToNumber(bits: number): number {
  return f16Table()[bits & 0xffff];
}

/** Value of a bfloat16 bit pattern (0..65535). */
export function bf16ToNumber(bits: number): number {
  return bf16Table()[bits & 0xffff];
}

/** float16 bit pattern nearest to `x` (round to nearest, ties to even; ±inf on overflow). */
export function numberToF16(x: number): number {
  return encodeMiniFloat(x, F16);
}

/** bfloat16 bit pattern nearest to `x` (round to nearest, ties to even; ±inf on overflow). */
export function numberToBf16(x: number): number {
  return encodeMiniFloat(x, BF16);
}
