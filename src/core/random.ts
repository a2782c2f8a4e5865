/** A small seeded random generator (mulberry32) so tests, training and sampling are reproducible. */
import { allocate } from './dtype.js';
import type { DType } from './dtype.js';
import { Tensor } from './tensor.js';

export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** A tensor of N(0, std²) (or uniform in [lo, hi) with `uniform`). */
  tensor(shape: readonly number[], dtype: DType = 'float32', std = 1): Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = allocate(dtype, n);
    for (let i = 0; i < n; i++) data[i] = std * this.normal();
    return new Tensor(data, shape);
  }

  uniform(shape: readonly number[], lo: number, hi: number, dtype: DType = 'float32'): Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = allocate(dtype, n);
    for (let i = 0; i < n; i++) data[i] = lo + (hi - lo) * this.next();
    return new Tensor(data, shape);
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }
}
