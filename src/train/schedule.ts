/**
 * Learning-rate schedule: linear warm-up, then cosine decay to a floor (nanoGPT's `get_lr`,
 * with the decay ending exactly on the last step). Steps are 0-based, s = 0 … total − 1:
 *   s < W:          lr = peak · (s + 1) / W                     (reaches peak at s = W − 1)
 *   W ≤ s < total:  r = (s − W) / (total − 1 − W)  ∈ [0, 1]
 *                   lr = floor + ½ (1 + cos πr) (peak − floor)  (peak at s = W, floor at s = total − 1)
 * Steps past the end stay at the floor.
 */
import { ShapeError } from '../core/index.js';

export interface Schedule {
  /** Peak learning rate, reached at the end of warm-up. */
  peak: number;
  /** Floor the cosine decays to (nanoGPT: peak / 10). */
  floor: number;
  /** W, warm-up steps (0: start at the peak). */
  warmup: number;
  /** Total number of optimisation steps. */
  total: number;
}

export function checkSchedule(s: Schedule): void {
  if (!(s.peak > 0 && Number.isFinite(s.peak))) throw new ShapeError(`schedule: peak learning rate should be a positive number, got ${s.peak}`);
  if (!(s.floor >= 0 && s.floor <= s.peak)) throw new ShapeError(`schedule: floor ${s.floor} should be in [0, peak ${s.peak}]`);
  if (!Number.isInteger(s.warmup) || s.warmup < 0) throw new ShapeError(`schedule: warm-up should be a non-negative integer, got ${s.warmup}`);
  if (!Number.isInteger(s.total) || s.total <= 0) throw new ShapeError(`schedule: total steps should be a positive integer, got ${s.total}`);
}

/** The learning rate of 0-based step `step`. */
export function learningRate(s: Schedule, step: number): number {
  if (step < s.warmup) return (s.peak * (step + 1)) / s.warmup;
  const span = s.total - 1 - s.warmup;
  if (span <= 0) return step <= s.warmup ? s.peak : s.floor;
  const r = Math.min(1, (step - s.warmup) / span);
  return s.floor + 0.5 * (1 + Math.cos(Math.PI * r)) * (s.peak - s.floor);
}

/** Default warm-up: 10 % of the steps, at most 200 (short runs still warm up). */
export function defaultWarmup(total: number): number {
  return Math.min(200, Math.floor(total / 10));
}
