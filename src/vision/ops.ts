/**
 * Fused ops the vision models need beyond src/core, each with its hand-written backward
 * (accumulating with `+=`, as every op of the engine):
 *   patchify          images → non-overlapping P×P patches (the gather behind a stride-P Conv2d);
 *   reverseTokens     J·x, the sequence reversal of Vim's backward branch;
 *   depthwiseConv2d   3×3 (any odd k) depthwise Conv2d over the token grid (MLLA's dwc, LePE, CPE);
 *   eluPlusOne        elu(x) + 1, MLLA's positive feature map for q and k;
 *   rope2d            MLLA's 2-D rotary embedding (a fixed rotation per token and channel pair).
 * The plain references they are tested against are written out in test/vision/ops.test.ts.
 *
 * Shapes (vocabulary of src/core/dtype.ts, plus the image ones): B batch, C image channels,
 * S image side (square images), P patch side, G = S/P grid side, M = G² patches, L tokens,
 * E embedding width; token n of a grid is the patch at row ⌊n/G⌋, column n mod G.
 */
import { allocate, expectRank, record, shapeString, ShapeError } from '../core/index.js';
import type { Tensor } from '../core/index.js';

/**
 * images [B, C, S, S] → patches [B, M, C·P·P], feature order (c, di, dj): patch m = (gi, gj)
 * holds pixel (gi·P + di, gj·P + dj) of channel c at c·P² + di·P + dj. Then
 * linear(patches, W.reshape(E, C·P·P), b) is PyTorch's Conv2d(C, E, P, stride P) + flatten.
 */
export function patchify(images: Tensor, patch: number): Tensor {
  expectRank('patchify', 'images', images, 4);
  const [B, C, S, S2] = images.shape;
  if (S !== S2 || S % patch !== 0) throw new ShapeError(`patchify: images should be square with a side divisible by ${patch}, got ${shapeString(images.shape)}`);
  const G = S / patch;
  const M = G * G;
  const F = C * patch * patch;
  const index = new Int32Array(B * M * F); // output element → input element
  for (let b = 0; b < B; b++) {
    for (let m = 0; m < M; m++) {
      const gi = Math.floor(m / G);
      const gj = m % G;
      for (let c = 0; c < C; c++) {
        for (let di = 0; di < patch; di++) {
          for (let dj = 0; dj < patch; dj++) {
            const out = (b * M + m) * F + (c * patch + di) * patch + dj;
            index[out] = ((b * C + c) * S + gi * patch + di) * S + gj * patch + dj;
          }
        }
      }
    }
  }
  const x = images.data;
  const y = allocate(images.dtype, index.length);
  for (let i = 0; i < y.length; i++) y[i] = x[index[i]];
  return record('patchify', [images], y, [B, M, F], (g, gradIn) => {
    const gx = gradIn(0);
    if (gx !== null) for (let i = 0; i < g.length; i++) gx[index[i]] += g[i];
  });
}

/** x [B, L, ...] reversed along axis 1: y[b, t] = x[b, L − 1 − t]. Its backward is the same reversal. */
export function reverseTokens(x: Tensor): Tensor {
  if (x.rank < 2) throw new ShapeError(`reverseTokens: x should be [B, L, ...], got ${shapeString(x.shape)}`);
  const [B, L] = x.shape;
  const inner = x.size / (B * L);
  const flip = (src: ArrayLike<number>, dst: Float32Array | Float64Array, accumulate: boolean): void => {
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < L; t++) {
        const from = (b * L + L - 1 - t) * inner;
        const to = (b * L + t) * inner;
        if (accumulate) for (let i = 0; i < inner; i++) dst[to + i] += src[from + i];
        else for (let i = 0; i < inner; i++) dst[to + i] = src[from + i];
      }
    }
  };
  const y = allocate(x.dtype, x.size);
  flip(x.data, y, false);
  return record('reverseTokens', [x], y, x.shape, (g, gradIn) => {
    const gx = gradIn(0);
    if (gx !== null) flip(g, gx, true);
  });
}

/**
 * Depthwise Conv2d with zero padding k/2 over a G×G token grid, PyTorch's
 * Conv2d(E, E, k, padding=k//2, groups=E) on x.reshape(B, G, G, E).permute(0, 3, 1, 2):
 *   y[b, (i,j), e] = bias[e] + Σ_{u,v<k} w[e, 0, u, v] · x[b, (i+u−k/2, j+v−k/2), e]   (zero outside the grid).
 * x [B, G·G, E], weight [E, 1, k, k], bias [E] or null → [B, G·G, E].
 */
export function depthwiseConv2d(x: Tensor, weight: Tensor, bias: Tensor | null, grid: number): Tensor {
  const op = 'depthwiseConv2d';
  expectRank(op, 'x', x, 3);
  const [B, L, E] = x.shape;
  if (L !== grid * grid) throw new ShapeError(`${op}: ${L} tokens do not form a ${grid}×${grid} grid`);
  if (weight.rank !== 4 || weight.shape[0] !== E || weight.shape[1] !== 1 || weight.shape[2] !== weight.shape[3] || weight.shape[2] % 2 !== 1) {
    throw new ShapeError(`${op}: weight should be [${E}, 1, k, k] with odd k, got ${shapeString(weight.shape)}`);
  }
  if (bias !== null && (bias.rank !== 1 || bias.shape[0] !== E)) throw new ShapeError(`${op}: bias should be [${E}], got ${shapeString(bias.shape)}`);
  if (x.dtype !== weight.dtype || (bias !== null && bias.dtype !== x.dtype)) throw new ShapeError(`${op}: mixed dtypes; cast first`);
  const k = weight.shape[2];
  const taps = conv2dTaps(grid, k);
  const xd = x.data;
  const wd = weight.data;
  const y = allocate(x.dtype, x.size);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < L; t++) {
      const o = (b * L + t) * E;
      for (let e = 0; e < E; e++) y[o + e] = bias === null ? 0 : bias.data[e];
      for (const [tap, s] of taps[t]) {
        const src = (b * L + s) * E;
        for (let e = 0; e < E; e++) y[o + e] += wd[e * k * k + tap] * xd[src + e];
      }
    }
  }
  const parents = bias === null ? [x, weight] : [x, weight, bias];
  return record(op, parents, y, x.shape, (g, gradIn) => {
    const gx = gradIn(0);
    const gw = gradIn(1);
    const gb = bias === null ? null : gradIn(2);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < L; t++) {
        const o = (b * L + t) * E;
        if (gb !== null) for (let e = 0; e < E; e++) gb[e] += g[o + e];
        for (const [tap, s] of taps[t]) {
          const src = (b * L + s) * E;
          if (gx !== null) for (let e = 0; e < E; e++) gx[src + e] += wd[e * k * k + tap] * g[o + e];
          if (gw !== null) for (let e = 0; e < E; e++) gw[e * k * k + tap] += xd[src + e] * g[o + e];
        }
      }
    }
  });
}

/**
 * For each output token t of a G×G grid, the (tap, source token) pairs of a k×k kernel with
 * zero padding k/2: tap = u·k + v reads token s = (i+u−k/2, j+v−k/2) when inside the grid.
 * Shared by the op and by the implicit-attention matrices of MLLA (the conv as an L×L matrix).
 */
export function conv2dTaps(grid: number, k: number): Array<Array<[number, number]>> {
  const half = (k - 1) / 2;
  const out: Array<Array<[number, number]>> = [];
  for (let i = 0; i < grid; i++) {
    for (let j = 0; j < grid; j++) {
      const list: Array<[number, number]> = [];
      for (let u = 0; u < k; u++) {
        for (let v = 0; v < k; v++) {
          const si = i + u - half;
          const sj = j + v - half;
          if (si >= 0 && si < grid && sj >= 0 && sj < grid) list.push([u * k + v, si * grid + sj]);
        }
      }
      out.push(list);
    }
  }
  return out;
}

/** elu(x) + 1 = x + 1 for x > 0, e^x otherwise (MLLA's feature map; always positive). */
export function eluPlusOne(x: Tensor): Tensor {
  const xd = x.data;
  const y = allocate(x.dtype, x.size);
  for (let i = 0; i < y.length; i++) y[i] = xd[i] > 0 ? xd[i] + 1 : Math.exp(xd[i]);
  return record('eluPlusOne', [x], y, x.shape, (g, gradIn) => {
    const gx = gradIn(0);
    if (gx === null) return;
    for (let i = 0; i < gx.length; i++) gx[i] += g[i] * (xd[i] > 0 ? 1 : y[i]);
  });
}

/**
 * The angles of MLLA's 2-D RoPE (official `RoPE(shape=(G, G, E))`): E/2 channel pairs
 * (2p, 2p+1); with K = E/4 frequencies θ_κ = base^(−κ/K), pair p < K turns by i·θ_p and pair
 * p ≥ K by j·θ_{p−K} at token (i, j). Returns cos and sin [L, E/2].
 */
export function rope2dAngles(grid: number, width: number, base = 10000): { cos: Float64Array; sin: Float64Array } {
  if (width % 4 !== 0) throw new ShapeError(`rope2d: the width ${width} should be divisible by 4`);
  const K = width / 4;
  const pairs = width / 2;
  const L = grid * grid;
  const cos = new Float64Array(L * pairs);
  const sin = new Float64Array(L * pairs);
  for (let t = 0; t < L; t++) {
    const i = Math.floor(t / grid);
    const j = t % grid;
    for (let p = 0; p < pairs; p++) {
      const angle = (p < K ? i : j) * base ** (-(p % K) / K);
      cos[t * pairs + p] = Math.cos(angle);
      sin[t * pairs + p] = Math.sin(angle);
    }
  }
  return { cos, sin };
}

/**
 * 2-D RoPE on x [B, L, E] (complex multiplication of each channel pair by e^{iα}):
 *   y[2p] = x[2p]·cos α − x[2p+1]·sin α,  y[2p+1] = x[2p]·sin α + x[2p+1]·cos α.
 * Its backward is the inverse rotation (by −α).
 */
export function rope2d(x: Tensor, angles: { cos: Float64Array; sin: Float64Array }): Tensor {
  expectRank('rope2d', 'x', x, 3);
  const [B, L, E] = x.shape;
  const pairs = E / 2;
  if (angles.cos.length !== L * pairs) throw new ShapeError(`rope2d: angles for ${angles.cos.length / pairs} tokens, x has ${L}`);
  const rotate = (src: ArrayLike<number>, dst: Float32Array | Float64Array, sign: number, accumulate: boolean): void => {
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < L; t++) {
        const o = (b * L + t) * E;
        for (let p = 0; p < pairs; p++) {
          const c = angles.cos[t * pairs + p];
          const s = sign * angles.sin[t * pairs + p];
          const re = src[o + 2 * p];
          const im = src[o + 2 * p + 1];
          if (accumulate) {
            dst[o + 2 * p] += re * c - im * s;
            dst[o + 2 * p + 1] += re * s + im * c;
          } else {
            dst[o + 2 * p] = re * c - im * s;
            dst[o + 2 * p + 1] = re * s + im * c;
          }
        }
      }
    }
  };
  const y = allocate(x.dtype, x.size);
  rotate(x.data, y, 1, false);
  return record('rope2d', [x], y, x.shape, (g, gradIn) => {
    const gx = gradIn(0);
    if (gx !== null) rotate(g, gx, -1, true);
  });
}

/** Repeats a [1, n, E] parameter (class token) over the batch: [B, n, E], gradients summed back. */
export function expandBatch(x: Tensor, batch: number): Tensor {
  return batch === 1 ? x : record('expandBatch', [x], tile(x.data, batch, x.dtype), [batch, ...x.shape.slice(1)], (g, gradIn) => {
    const gx = gradIn(0);
    if (gx === null) return;
    const n = x.size;
    for (let b = 0; b < batch; b++) for (let i = 0; i < n; i++) gx[i] += g[b * n + i];
  });
}

function tile(data: Float32Array | Float64Array, times: number, dtype: 'float32' | 'float64'): Float32Array | Float64Array {
  const out = allocate(dtype, data.length * times);
  for (let b = 0; b < times; b++) out.set(data, b * data.length);
  return out;
}
