/** Seeded uniform values and arrays for kernel tests (bit-for-bit comparisons need plain arrays, not tensors). */
import type { FloatArray } from '../../src/core/dtype.js';

/** Deterministic uniform [-1, 1) (mulberry32). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

/** n values of `next` in an array of `dtype`. */
export function randomArray(dtype: 'float32' | 'float64', n: number, next: () => number): FloatArray {
  const a = dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = next();
  return a;
}
