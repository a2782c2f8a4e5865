// Display scaling: from raw matrix values / relevance scores to colour-map coordinates. Pure.

/**
 * How a matrix is mapped to colours (spec §3, "display scaling"):
 * - 'minmax-abs': per matrix, (|H| − min|H|) / (max|H| − min|H|) on a sequential map — what the
 *   paper's figures show (default);
 * - 'signed': H / max|H| on a diverging map, symmetric around 0;
 * - 'raw': values mapped linearly from a fixed range (default: the min and max over all panels)
 *   on a sequential map, so panels are directly comparable.
 */
export type DisplayScaling = 'minmax-abs' | 'signed' | 'raw';
export const DISPLAY_SCALINGS: readonly DisplayScaling[] = ['minmax-abs', 'signed', 'raw'];

export interface MatrixStats {
  min: number;
  max: number;
  minAbs: number;
  maxAbs: number;
  /** Number of NaN/±Infinity entries among the cells considered. */
  nonFinite: number;
  /** Number of finite cells considered. */
  count: number;
}

/**
 * Statistics over the cells that are drawn: for a causal matrix the lower triangle including
 * the diagonal (column ≤ row), otherwise all cells.
 */
export function matrixStats(values: ArrayLike<number>, rows: number, cols: number, causal: boolean): MatrixStats {
  let min = Infinity, max = -Infinity, minAbs = Infinity, maxAbs = 0, nonFinite = 0, count = 0;
  for (let i = 0; i < rows; i++) {
    const end = causal ? Math.min(cols, i + 1) : cols;
    const base = i * cols;
    for (let j = 0; j < end; j++) {
      const v = values[base + j]!;
      if (!Number.isFinite(v)) { nonFinite++; continue; }
      count++;
      if (v < min) min = v;
      if (v > max) max = v;
      const a = Math.abs(v);
      if (a < minAbs) minAbs = a;
      if (a > maxAbs) maxAbs = a;
    }
  }
  if (count === 0) { min = 0; max = 0; minAbs = 0; maxAbs = 0; }
  return { min, max, minAbs, maxAbs, nonFinite, count };
}

/** Combine statistics of several matrices (for a shared colour scale). */
export function mergeStats(stats: readonly MatrixStats[]): MatrixStats {
  const live = stats.filter((s) => s.count > 0);
  const nonFinite = stats.reduce((a, s) => a + s.nonFinite, 0);
  if (live.length === 0) return { min: 0, max: 0, minAbs: 0, maxAbs: 0, nonFinite, count: 0 };
  return {
    min: Math.min(...live.map((s) => s.min)),
    max: Math.max(...live.map((s) => s.max)),
    minAbs: Math.min(...live.map((s) => s.minAbs)),
    maxAbs: Math.max(...live.map((s) => s.maxAbs)),
    nonFinite,
    count: live.reduce((a, s) => a + s.count, 0),
  };
}

/** A resolved mapping from values to colour-map coordinates ([0,1] or [-1,1]). */
export interface ValueScale {
  kind: 'sequential' | 'diverging';
  /** The value shown at the low end of the colour bar. */
  lo: number;
  /** The value shown at the high end of the colour bar. */
  hi: number;
  /** What the colour bar measures, e.g. '|H|', 'H'. */
  quantity: string;
  /** Colour-map coordinate of a value (NaN for non-finite input). */
  map(v: number): number;
}

/** Build the value → colour coordinate mapping for one scaling mode from (possibly shared) statistics. */
export function displayScale(mode: DisplayScaling, stats: MatrixStats, range?: readonly [number, number]): ValueScale {
  switch (mode) {
    case 'minmax-abs': {
      const lo = stats.minAbs, hi = stats.maxAbs, span = hi - lo;
      return {
        kind: 'sequential', lo, hi, quantity: '|H|',
        map: (v) => (!Number.isFinite(v) ? NaN : span > 0 ? (Math.abs(v) - lo) / span : hi > 0 ? 1 : 0),
      };
    }
    case 'signed': {
      const m = stats.maxAbs;
      return {
        kind: 'diverging', lo: -m, hi: m, quantity: 'H',
        map: (v) => (!Number.isFinite(v) ? NaN : m > 0 ? v / m : 0),
      };
    }
    case 'raw': {
      const lo = range ? range[0] : stats.min, hi = range ? range[1] : stats.max, span = hi - lo;
      if (range && !(Number.isFinite(lo) && Number.isFinite(hi) && hi >= lo)) {
        throw new Error(`display range must be two finite numbers lo ≤ hi, got [${range[0]}, ${range[1]}]`);
      }
      return {
        kind: 'sequential', lo, hi, quantity: 'H',
        map: (v) => (!Number.isFinite(v) ? NaN : span > 0 ? (v - lo) / span : 0.5),
      };
    }
    default:
      throw new Error(`unknown display scaling '${String(mode)}' (expected ${DISPLAY_SCALINGS.join(', ')})`);
  }
}

/**
 * How relevance scores are mapped to colours:
 * - 'auto': 'signed' if any score is negative, otherwise 'max' (default);
 * - 'max': s / max(s), negatives clamped to 0 — relevance relative to the top token;
 * - 'abs': |s| / max|s| — magnitude only;
 * - 'minmax': (s − min) / (max − min);
 * - 'signed': s / max|s| on a diverging map;
 * - 'none': scores already in [0, 1], clamped.
 */
export type ScoreScaling = 'auto' | 'max' | 'abs' | 'minmax' | 'signed' | 'none';
export const SCORE_SCALINGS: readonly ScoreScaling[] = ['auto', 'max', 'abs', 'minmax', 'signed', 'none'];

export interface NormalisedScores {
  /** Colour-map coordinates: in [0, 1] (sequential) or [-1, 1] (diverging); NaN for non-finite scores. */
  values: number[];
  kind: 'sequential' | 'diverging';
  /** The resolved mode ('auto' resolved). */
  mode: Exclude<ScoreScaling, 'auto'>;
  /** Score at the low / high end of the colour bar. */
  lo: number;
  hi: number;
}

export function normaliseScores(scores: ArrayLike<number>, mode: ScoreScaling = 'auto'): NormalisedScores {
  const s = Array.from(scores, Number);
  const finite = s.filter(Number.isFinite);
  const max = finite.length ? Math.max(...finite) : 0;
  const min = finite.length ? Math.min(...finite) : 0;
  const maxAbs = finite.length ? Math.max(...finite.map(Math.abs)) : 0;
  const resolved: Exclude<ScoreScaling, 'auto'> = mode === 'auto' ? (min < 0 ? 'signed' : 'max') : mode;
  const f = (fn: (v: number) => number) => s.map((v) => (Number.isFinite(v) ? fn(v) : NaN));
  switch (resolved) {
    case 'max':
      return { kind: 'sequential', mode: resolved, lo: 0, hi: max, values: f((v) => (max > 0 ? Math.max(0, v) / max : 0)) };
    case 'abs':
      return { kind: 'sequential', mode: resolved, lo: 0, hi: maxAbs, values: f((v) => (maxAbs > 0 ? Math.abs(v) / maxAbs : 0)) };
    case 'minmax':
      return { kind: 'sequential', mode: resolved, lo: min, hi: max, values: f((v) => (max > min ? (v - min) / (max - min) : 0)) };
    case 'signed':
      return { kind: 'diverging', mode: resolved, lo: -maxAbs, hi: maxAbs, values: f((v) => (maxAbs > 0 ? v / maxAbs : 0)) };
    case 'none':
      return { kind: 'sequential', mode: resolved, lo: 0, hi: 1, values: f((v) => Math.max(0, Math.min(1, v))) };
    default:
      throw new Error(`unknown score scaling '${String(mode)}' (expected ${SCORE_SCALINGS.join(', ')})`);
  }
}

/** Nice tick values covering [lo, hi] with about `count` intervals. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(Number.isFinite(lo) && Number.isFinite(hi))) return [];
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  const step = (m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10) * p;
  const start = Math.ceil(lo / step - 1e-9), end = Math.floor(hi / step + 1e-9);
  const out: number[] = [];
  for (let k = start; k <= end; k++) out.push(+(k * step).toPrecision(12));
  return out;
}
