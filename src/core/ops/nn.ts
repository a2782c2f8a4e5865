/**
 * Neural-network ops with fused forward/backward: softmax, log-softmax, layer norm, RMS norm,
 * embedding gather, depthwise causal conv1d and cross-entropy.
 */
import { allocate, aroundAxis, normalizeAxis, shapeString, ShapeError } from '../dtype.js';
import { copyElements } from '../stored-weight.js';
import { commonDType, expectShape, record, Tensor } from '../tensor.js';

/** Softmax along `axis` (max-subtracted). */
export function softmax(x: Tensor, axis = -1): Tensor {
  const a = normalizeAxis(axis, x.rank, 'softmax');
  const [outer, n, inner] = aroundAxis(x.shape, a);
  const xd = x.data;
  const y = allocate(x.dtype, x.size);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i;
      let m = -Infinity;
      for (let k = 0; k < n; k++) m = Math.max(m, xd[base + k * inner]);
      let z = 0;
      for (let k = 0; k < n; k++) {
        const e = Math.exp(xd[base + k * inner] - m);
        y[base + k * inner] = e;
        z += e;
      }
      for (let k = 0; k < n; k++) y[base + k * inner] /= z;
    }
  }
  return record('softmax', [x], y, x.shape, (g, gradIn) => {
    const gx = gradIn(0);
    if (gx === null) return;
    // dx = y ⊙ (g − Σ g⊙y)
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const base = o * n * inner + i;
        let dot = 0;
        for (let k = 0; k < n; k++) dot += g[base + k * inner] * y[base + k * inner];
        for (let k = 0; k < n; k++) gx[base + k * inner] += y[base + k * inner] * (g[base + k * inner] - dot);
      }
    }
  });
}

/** log softmax along `axis` (log-sum-exp with max subtraction). */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  const a = normalizeAxis(axis, x.rank, 'logSoftmax');
  const [outer, n, inner] = aroundAxis(x.shape, a);
  const xd = x.data;
  const y = allocate(x.dtype, x.size);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i;
      let m = -Infinity;
      for (let k = 0; k < n; k++) m = Math.max(m, xd[base + k * inner]);
      let z = 0;
      for (let k = 0; k < n; k++) z += Math.exp(xd[base + k * inner] - m);
      const lse = m + Math.log(z);
      for (let k = 0; k < n; k++) y[base + k * inner] = xd[base + k * inner] - lse;
    }
  }
  return record('logSoftmax', [x], y, x.shape, (g, gradIn) => {
    const gx = gradIn(0);
    if (gx === null) return;
    // dx = g − softmax ⊙ Σ g
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const base = o * n * inner + i;
        let total = 0;
        for (let k = 0; k < n; k++) total += g[base + k * inner];
        for (let k = 0; k < n; k++) gx[base + k * inner] += g[base + k * inner] - Math.exp(y[base + k * inner]) * total;
      }
    }
  });
}

function expectVector(op: string, name: string, t: Tensor | null, n: number): void {
  if (t !== null) expectShape(op, name, t, [n]);
}

/**
 * Layer norm over the last axis: (x − μ) / sqrt(σ² + eps) ⊙ w + b (biased variance, as PyTorch).
 * x [..., C], weight and bias [C] or null.
 */
export function layerNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps: number): Tensor {
  return normalize('layerNorm', x, weight, bias, eps, true, 0);
}

/**
 * RMS norm over the last axis: x / sqrt(mean(x²) + eps) ⊙ (offset + w). offset = 0 is the
 * usual (Mamba, Llama) form, offset = 1 is Gemma's (1 + w). Weight null means no scale.
 */
export function rmsNorm(x: Tensor, weight: Tensor | null, eps: number, offset = 0): Tensor {
  return normalize('rmsNorm', x, weight, null, eps, false, offset);
}

function normalize(op: string, x: Tensor, weight: Tensor | null, bias: Tensor | null, eps: number, center: boolean, offset: number): Tensor {
  const inputs = [x, weight, bias].filter((t): t is Tensor => t !== null);
  const dtype = commonDType(op, ...inputs);
  const C = x.shape[x.rank - 1];
  expectVector(op, 'weight', weight, C);
  expectVector(op, 'bias', bias, C);
  const rows = x.size / C;
  const xd = x.data;
  const wd = weight?.data;
  const bd = bias?.data;
  const xhat = allocate(dtype, x.size);
  const invStd = new Float64Array(rows);
  const y = allocate(dtype, x.size);
  for (let r = 0; r < rows; r++) {
    const o = r * C;
    let mu = 0;
    if (center) {
      for (let c = 0; c < C; c++) mu += xd[o + c];
      mu /= C;
    }
    let ss = 0;
    for (let c = 0; c < C; c++) ss += (xd[o + c] - mu) ** 2;
    const inv = 1 / Math.sqrt(ss / C + eps);
    invStd[r] = inv;
    for (let c = 0; c < C; c++) {
      const h = (xd[o + c] - mu) * inv;
      xhat[o + c] = h;
      y[o + c] = h * (wd === undefined ? 1 : offset + wd[c]) + (bd === undefined ? 0 : bd[c]);
    }
  }
  return record(op, inputs, y, x.shape, (g, gradIn) => {
    const gx = gradIn(0);
    const gw = weight === null ? null : gradIn(1);
    const gb = bias === null ? null : gradIn(weight === null ? 1 : 2);
    for (let r = 0; r < rows; r++) {
      const o = r * C;
      if (gw !== null) for (let c = 0; c < C; c++) gw[c] += g[o + c] * xhat[o + c];
      if (gb !== null) for (let c = 0; c < C; c++) gb[c] += g[o + c];
      if (gx === null) continue;
      // With ĝ = g ⊙ scale: dx = inv · (ĝ − mean(ĝ)·[center] − x̂ · mean(ĝ ⊙ x̂))
      let meanG = 0;
      let meanGX = 0;
      for (let c = 0; c < C; c++) {
        const gh = g[o + c] * (wd === undefined ? 1 : offset + wd[c]);
        meanG += gh;
        meanGX += gh * xhat[o + c];
      }
      meanG = center ? meanG / C : 0;
      meanGX /= C;
      const inv = invStd[r];
      for (let c = 0; c < C; c++) {
        const gh = g[o + c] * (wd === undefined ? 1 : offset + wd[c]);
        gx[o + c] += inv * (gh - meanG - xhat[o + c] * meanGX);
      }
    }
  });
}

/** Gathers rows of weight [V, H] for integer ids → [...idsShape, H]. */
export function embedding(weight: Tensor, ids: Int32Array, idsShape: readonly number[]): Tensor {
  if (weight.rank !== 2) throw new ShapeError(`embedding: weight should be [vocab, hidden], got ${shapeString(weight.shape)}`);
  const [V, H] = weight.shape;
  const out = allocate(weight.dtype, ids.length * H);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!(id >= 0 && id < V)) throw new ShapeError(`embedding: token id ${id} at position ${i} is outside the vocabulary [0, ${V})`);
    copyElements(weight, id * H, H, out, i * H); // decodes only this row of a bf16/f16 weight
  }
  return record('embedding', [weight], out, [...idsShape, H], (g, gradIn) => {
    const gw = gradIn(0);
    if (gw === null) return;
    for (let i = 0; i < ids.length; i++) {
      const dst = ids[i] * H;
      for (let h = 0; h < H; h++) gw[dst + h] += g[i * H + h];
    }
  });
}

/**
 * Depthwise causal conv1d, PyTorch's Conv1d(groups=D, padding=K−1) truncated to L steps:
 * y[b,t,d] = bias[d] + Σ_{j<K} w[d,j] · x[b, t−(K−1)+j, d] (x before position 0 is zero).
 * Index K−1 multiplies the current token. x [B, L, D], weight [D, K], bias [D] or null.
 */
export function causalConv1d(x: Tensor, weight: Tensor, bias: Tensor | null): Tensor {
  const dtype = bias === null ? commonDType('causalConv1d', x, weight) : commonDType('causalConv1d', x, weight, bias);
  if (x.rank !== 3) throw new ShapeError(`causalConv1d: x should be [B, L, D], got ${shapeString(x.shape)}`);
  const [B, L, D] = x.shape;
  if (weight.rank !== 2 || weight.shape[0] !== D) throw new ShapeError(`causalConv1d: weight should be [${D}, K], got ${shapeString(weight.shape)}`);
  const K = weight.shape[1];
  expectVector('causalConv1d', 'bias', bias, D);
  const xd = x.data;
  const wd = weight.data;
  const y = allocate(dtype, x.size);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < L; t++) {
      const o = (b * L + t) * D;
      for (let d = 0; d < D; d++) y[o + d] = bias === null ? 0 : bias.data[d];
      for (let j = 0; j < K; j++) {
        const s = t - (K - 1) + j;
        if (s < 0) continue;
        const src = (b * L + s) * D;
        for (let d = 0; d < D; d++) y[o + d] += wd[d * K + j] * xd[src + d];
      }
    }
  }
  const parents = bias === null ? [x, weight] : [x, weight, bias];
  return record('causalConv1d', parents, y, x.shape, (g, gradIn) => {
    const gx = gradIn(0);
    const gw = gradIn(1);
    const gb = bias === null ? null : gradIn(2);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < L; t++) {
        const o = (b * L + t) * D;
        if (gb !== null) for (let d = 0; d < D; d++) gb[d] += g[o + d];
        for (let j = 0; j < K; j++) {
          const s = t - (K - 1) + j;
          if (s < 0) continue;
          const src = (b * L + s) * D;
          if (gx !== null) for (let d = 0; d < D; d++) gx[src + d] += wd[d * K + j] * g[o + d];
          if (gw !== null) for (let d = 0; d < D; d++) gw[d * K + j] += xd[src + d] * g[o + d];
        }
      }
    }
  });
}

/**
 * Mean cross-entropy of logits [N, V] against integer targets [N]; targets equal to
 * `ignoreIndex` do not count. Returns a scalar.
 */
export function crossEntropy(logits: Tensor, targets: Int32Array, ignoreIndex = -100): Tensor {
  if (logits.rank !== 2 || logits.shape[0] !== targets.length) {
    throw new ShapeError(`crossEntropy: logits should be [N, V] with N = ${targets.length} targets, got ${shapeString(logits.shape)}`);
  }
  const [N, V] = logits.shape;
  const xd = logits.data;
  const probs = allocate(logits.dtype, logits.size);
  let total = 0;
  let count = 0;
  for (let i = 0; i < N; i++) {
    const o = i * V;
    let m = -Infinity;
    for (let v = 0; v < V; v++) m = Math.max(m, xd[o + v]);
    let z = 0;
    for (let v = 0; v < V; v++) {
      const e = Math.exp(xd[o + v] - m);
      probs[o + v] = e;
      z += e;
    }
    for (let v = 0; v < V; v++) probs[o + v] /= z;
    const t = targets[i];
    if (t === ignoreIndex) continue;
    if (!(t >= 0 && t < V)) throw new ShapeError(`crossEntropy: target ${t} at row ${i} is outside [0, ${V})`);
    total += -(xd[o + t] - m - Math.log(z));
    count++;
  }
  const out = allocate(logits.dtype, 1);
  out[0] = count === 0 ? 0 : total / count;
  return record('crossEntropy', [logits], out, [], (g, gradIn) => {
    const gx = gradIn(0);
    if (gx === null || count === 0) return;
    const scaleBy = g[0] / count;
    for (let i = 0; i < N; i++) {
      const t = targets[i];
      if (t === ignoreIndex) continue;
      const o = i * V;
      for (let v = 0; v < V; v++) gx[o + v] += scaleBy * (probs[o + v] - (v === t ? 1 : 0));
    }
  });
}
