/**
 * Two-lane float64 helpers of the recurrence kernels (assembly/rnn.ts, assembly/rnn-gla.ts):
 * exp, expm1 and log on f64x2 vectors, and loads/stores that widen float32 data to float64
 * lanes and round back. The recurrences carry their state in float64 whatever the tensors'
 * dtype (as the JS kernels in src/scans do), so both dtypes compute in f64x2 lanes.
 *
 * exp(x) (Tang's table method, ACM TOMS 15(2), 1989): x = (64e + j)·ln2/64 + r with
 * k = 64e + j = round(64x/ln2), 0 ≤ j < 64, |r| ≤ ln2/128; e^x = 2^e · 2^{j/64} · e^r with
 * 2^{j/64} from a 64-entry table and e^r − 1 by its Taylor polynomial of degree 5 (truncation
 * ≤ r⁶/720 ≈ 3e-17). k comes out of the "add 1.5·2^52" rounding trick (its low mantissa bits),
 * 2^e is built in the exponent field. Outside [−708.39, 709.777] the result is 0 resp. +∞
 * (no subnormal results; exp(x) for x in (709.777, 709.78] is +∞ instead of ≈ 1.79e308); NaN
 * stays NaN.
 * Versions tried (style §15; a throwaway microbenchmark over 2^18 values, f64x2, on the busy
 * 2-core development machine, so indicative only):
 *   v1 no table, Taylor degree 13, f64x2.min/max clamp, nearest + trunc_sat   8–22 ns per value
 *   v2 as v1 with pmin/pmax and the 1.5·2^52 rounding trick                     4.8 ns
 *   v3 the 64-entry table, degree 5, i64 arithmetic shift for e                 2.6 ns
 *   v4 (this one) v3 with e from a logical shift of the rounded bits            2.2 ns
 * against ≈ 3 ns for AssemblyScript's scalar Math.exp and 8–23 ns for V8's Math.exp called
 * from JS in the same runs.
 * expm1(x) = 2^e·2^{j/64} − 1 + 2^e·2^{j/64}·(e^r − 1): full relative precision for
 * |x| < ln2/128 (k = 0), ≲ 1e-14 relative above (the table's rounding over |expm1| ≥ 0.005).
 * log(x) for x > 0 normal: x = 2^e·m, m ∈ [√½, √2), log m = 2 atanh(s), s = (m − 1)/(m + 1),
 * |s| ≤ 0.172, by the odd series to s²³.
 * All three are checked against Math.exp/expm1/log in test/scans/rnn-wasm.test.ts.
 */

/** 2^(j/64), j = 0..63, correctly rounded (computed with 50-digit decimals). */
const EXP_TABLE = memory.data<f64>([
  1.0, 1.0108892860517005, 1.0218971486541166, 1.0330248790212284,
  1.0442737824274138, 1.0556451783605572, 1.0671404006768237, 1.0787607977571199,
  1.0905077326652577, 1.102382583307841, 1.1143867425958924, 1.1265216186082418,
  1.1387886347566916, 1.1511892299529827, 1.1637248587775775, 1.1763969916502812,
  1.189207115002721, 1.202156731452703, 1.215247359980469, 1.22848053610687,
  1.241857812073484, 1.255380757024691, 1.2690509571917332, 1.2828700160787783,
  1.2968395546510096, 1.3109612115247644, 1.3252366431597413, 1.339667524053303,
  1.3542555469368927, 1.3690024229745905, 1.383909881963832, 1.3989796725383112,
  1.4142135623730951, 1.42961333839197, 1.4451808069770467, 1.460917794180647,
  1.4768261459394993, 1.4929077282912648, 1.5091644275934228, 1.5255981507445384,
  1.5422108254079407, 1.559004400237837, 1.5759808451078865, 1.593142151342267,
  1.6104903319492543, 1.6280274218573478, 1.645755478153965, 1.6636765803267364,
  1.681792830507429, 1.7001063537185235, 1.718619298122478, 1.7373338352737062,
  1.7562521603732995, 1.7753764925265212, 1.7947090750031072, 1.8142521755003989,
  1.8340080864093424, 1.8539791250833855, 1.8741676341103, 1.8945759815869656,
  1.9152065613971474, 1.9360617934922943, 1.9571441241754002, 1.978456026387951
]);
/** 64/ln2, and ln2/64 = LN2_64_HI + LN2_64_LO with LN2_64_HI's 22 low mantissa bits zero (k·HI exact). */
const INV_LN2_64: f64 = 92.33248261689366;
const LN2_64_HI: f64 = 0.01083042468962958;
const LN2_64_LO: f64 = 6.619564634077006e-12;
/** 1.5·2^52: adding it rounds to an integer held in the low mantissa bits. */
const ROUNDER: f64 = 6755399441055744.0;
const ROUNDER_BITS: i64 = 0x4338000000000000;
/** Inputs below give 0, above +∞. */
const EXP_MIN: f64 = -708.39;
const EXP_MAX: f64 = 709.777;
const LN2_HI: f64 = 6.93147180369123816490e-1;
const LN2_LO: f64 = 1.90821492927058770002e-10;
const SQRT2: f64 = 1.4142135623730951;

// @ts-ignore: decorator
@inline function splat(x: f64): v128 {
  return f64x2.splat(x);
}

/**
 * e^x (minusOne false) or e^x − 1 (minusOne true, a constant after inlining) for x already
 * clamped to [EXP_MIN, EXP_MAX].
 */
// @ts-ignore: decorator
@inline function expCore(x: v128, minusOne: bool): v128 {
  const shifted = f64x2.add(f64x2.mul(x, splat(INV_LN2_64)), splat(ROUNDER));
  const ts = expScale(shifted);
  return f64x2.add(minusOne ? f64x2.sub(ts, splat(1.0)) : ts, f64x2.mul(ts, expPoly(x, shifted)));
}

/** e^r − 1 for r = x − k·ln2/64, k = round(64x/ln2) held by `shifted` = 64x/ln2 + ROUNDER. */
// @ts-ignore: decorator
@inline function expPoly(x: v128, shifted: v128): v128 {
  const kf = f64x2.sub(shifted, splat(ROUNDER));
  const r = f64x2.sub(f64x2.sub(x, f64x2.mul(kf, splat(LN2_64_HI))), f64x2.mul(kf, splat(LN2_64_LO)));
  let p = splat(1.0 / 120.0);
  p = f64x2.add(f64x2.mul(p, r), splat(1.0 / 24.0));
  p = f64x2.add(f64x2.mul(p, r), splat(1.0 / 6.0));
  p = f64x2.add(f64x2.mul(p, r), splat(0.5));
  p = f64x2.add(f64x2.mul(p, r), splat(1.0));
  return f64x2.mul(p, r);
}

/** 2^e · 2^(j/64) (exact) for k = 64e + j held by `shifted`. */
// @ts-ignore: decorator
@inline function expScale(shifted: v128): v128 {
  // j = k mod 64 from the low bits; e = k >> 6 = (bits >>> 6) − (ROUNDER_BITS >>> 6), into the exponent field
  const j0 = <usize>(i32x4.extract_lane(shifted, 0) & 63);
  const j1 = <usize>(i32x4.extract_lane(shifted, 2) & 63);
  const t = v128.load64_lane(EXP_TABLE + (j1 << 3), v128.load64_zero(EXP_TABLE + (j0 << 3)), 1);
  const scale = i64x2.shl(i64x2.add(i64x2.shr_u(shifted, 6), i64x2.splat(1023 - (ROUNDER_BITS >>> 6))), 52);
  return f64x2.mul(t, scale);
}

// @ts-ignore: decorator
@inline function clampExp(x: v128): v128 {
  return f64x2.pmax(f64x2.pmin(x, splat(EXP_MAX)), splat(EXP_MIN));
}

/** e^x on both lanes. */
// @ts-ignore: decorator
@inline export function vexp(x: v128): v128 {
  const under = f64x2.lt(x, splat(EXP_MIN));
  const over = f64x2.gt(x, splat(EXP_MAX));
  return v128.bitselect(splat(Infinity), v128.andnot(expCore(clampExp(x), false), under), over);
}

/** e^x − 1 on both lanes, with its relative precision near 0. */
// @ts-ignore: decorator
@inline export function vexpm1(x: v128): v128 {
  const under = f64x2.lt(x, splat(EXP_MIN));
  const over = f64x2.gt(x, splat(EXP_MAX));
  return v128.bitselect(splat(Infinity), v128.bitselect(splat(-1.0), expCore(clampExp(x), true), under), over);
}

/** Where vexpBoth leaves e^x − 1 (16 bytes of static data). */
const EXPM1_SLOT = memory.data(16, 16);

/**
 * e^x on both lanes, leaving e^x − 1 from the same evaluation for `lastExpm1()` (RG-LRU needs
 * a = e^ℓ and 1 − a² = −expm1(ℓ)(1 + a)).
 */
// @ts-ignore: decorator
@inline export function vexpBoth(x: v128): v128 {
  const under = f64x2.lt(x, splat(EXP_MIN));
  const over = f64x2.gt(x, splat(EXP_MAX));
  const c = clampExp(x);
  const shifted = f64x2.add(f64x2.mul(c, splat(INV_LN2_64)), splat(ROUNDER));
  const ts = expScale(shifted);
  const p = expPoly(c, shifted);
  const tp = f64x2.mul(ts, p);
  v128.store(EXPM1_SLOT, v128.bitselect(splat(Infinity), v128.bitselect(splat(-1.0), f64x2.add(f64x2.sub(ts, splat(1.0)), tp), under), over));
  return v128.bitselect(splat(Infinity), v128.andnot(f64x2.add(ts, tp), under), over);
}

/** e^x − 1 of the last vexpBoth. */
// @ts-ignore: decorator
@inline export function lastExpm1(): v128 {
  return v128.load(EXPM1_SLOT);
}

/** Natural log on both lanes, for positive normal x, +∞ and NaN (x ≥ 1 in the kernels). */
// @ts-ignore: decorator
@inline export function vlog(x: v128): v128 {
  // e = biased exponent − 1023 (as f64 through the rounding constant); m = mantissa in [1, 2)
  const biased = f64x2.sub(v128.or(i64x2.shr_u(x, 52), i64x2.splat(ROUNDER_BITS)), splat(ROUNDER));
  let e = f64x2.sub(biased, splat(1023.0));
  let m = v128.or(v128.and(x, i64x2.splat(0x000fffffffffffff)), i64x2.splat(0x3ff0000000000000));
  const big = f64x2.gt(m, splat(SQRT2));
  m = v128.bitselect(f64x2.mul(m, splat(0.5)), m, big);
  e = v128.bitselect(f64x2.add(e, splat(1.0)), e, big);
  const s = f64x2.div(f64x2.sub(m, splat(1.0)), f64x2.add(m, splat(1.0)));
  const z = f64x2.mul(s, s);
  // 2 atanh s = 2s (1 + z/3 + z²/5 + … + z¹¹/23)
  let p = splat(1.0 / 23.0);
  p = f64x2.add(f64x2.mul(p, z), splat(1.0 / 21.0));
  p = f64x2.add(f64x2.mul(p, z), splat(1.0 / 19.0));
  p = f64x2.add(f64x2.mul(p, z), splat(1.0 / 17.0));
  p = f64x2.add(f64x2.mul(p, z), splat(1.0 / 15.0));
  p = f64x2.add(f64x2.mul(p, z), splat(1.0 / 13.0));
  p = f64x2.add(f64x2.mul(p, z), splat(1.0 / 11.0));
  p = f64x2.add(f64x2.mul(p, z), splat(1.0 / 9.0));
  p = f64x2.add(f64x2.mul(p, z), splat(1.0 / 7.0));
  p = f64x2.add(f64x2.mul(p, z), splat(1.0 / 5.0));
  p = f64x2.add(f64x2.mul(p, z), splat(1.0 / 3.0));
  const twoS = f64x2.add(s, s);
  const logM = f64x2.add(twoS, f64x2.mul(f64x2.mul(twoS, z), p));
  const result = f64x2.add(f64x2.mul(e, splat(LN2_HI)), f64x2.add(f64x2.mul(e, splat(LN2_LO)), logM));
  // +∞ and NaN pass through (x − x is NaN for both; the bit tricks above would not)
  const special = f64x2.ne(f64x2.sub(x, x), splat(0.0));
  return v128.bitselect(x, result, special);
}

/**
 * Loads/stores of `lanes` (2 or 1) consecutive elements of a T array (f32 or f64) as f64
 * lanes; a one-element load leaves lane 1 zero, a one-element store writes lane 0 only.
 */
// @ts-ignore: decorator
@inline export function ld<T>(p: usize, lanes: i32): v128 {
  if (sizeof<T>() == 4) return f64x2.promote_low_f32x4(lanes == 2 ? v128.load64_zero(p) : v128.load32_zero(p));
  return lanes == 2 ? v128.load(p) : v128.load64_zero(p);
}

// @ts-ignore: decorator
@inline export function st<T>(p: usize, x: v128, lanes: i32): void {
  if (sizeof<T>() == 4) {
    const y = f32x4.demote_f64x2_zero(x);
    if (lanes == 2) v128.store64_lane(p, y, 0);
    else v128.store32_lane(p, y, 0);
  } else if (lanes == 2) v128.store(p, x);
  else v128.store64_lane(p, x, 0);
}

/** T[p] += x (rounded to T once, as the JS kernels' `+=` on a typed array). */
// @ts-ignore: decorator
@inline export function acc<T>(p: usize, x: v128, lanes: i32): void {
  st<T>(p, f64x2.add(ld<T>(p, lanes), x), lanes);
}

/** Test entry points: out[i] = f(in[i]) for n float64 values (f: 0 exp, 1 expm1, 2 log). */
export function math_f64(fn: i32, src: usize, dst: usize, n: i32): void {
  for (let i = 0; i < n; i += 2) {
    const lanes = min(2, n - i);
    const x = ld<f64>(src + <usize>(i * 8), lanes);
    const y = fn == 0 ? vexp(x) : fn == 1 ? vexpm1(x) : vlog(x);
    st<f64>(dst + <usize>(i * 8), y, lanes);
  }
}
