/** Matrix products: batched matmul with broadcast batch dims, and linear layers. */
import { allocate, shapeString, ShapeError, sizeOf } from '../dtype.js';
import { gemmNN, gemmNT, gemmTN } from '../kernels/gemm.js';
import { gemmOperand } from '../stored-weight.js';
import { commonDType, record, Tensor } from '../tensor.js';
import { broadcastShapes } from './binary.js';

/** Flat offset (in matrices) of each broadcast batch entry into an operand's batch dims. */
function batchOffsets(batch: readonly number[], own: readonly number[]): number[] {
  const padded = [...new Array(batch.length - own.length).fill(1), ...own];
  const offsets: number[] = [];
  const n = sizeOf(batch);
  for (let flat = 0; flat < n; flat++) {
    let rest = flat;
    let offset = 0;
    let stride = 1;
    for (let d = batch.length - 1; d >= 0; d--) {
      const idx = rest % batch[d];
      rest = Math.floor(rest / batch[d]);
      if (padded[d] !== 1) offset += idx * stride;
      stride *= padded[d];
    }
    offsets.push(offset);
  }
  return offsets;
}

/** a [..., M, K] · b [..., K, N] → [..., M, N]; batch dims broadcast. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  const dtype = commonDType('matmul', a, b);
  if (a.rank < 2 || b.rank < 2) throw new ShapeError(`matmul: operands need rank ≥ 2, got ${shapeString(a.shape)} and ${shapeString(b.shape)}`);
  const [M, K] = a.shape.slice(-2);
  const [K2, N] = b.shape.slice(-2);
  if (K !== K2) throw new ShapeError(`matmul: inner dimensions differ: ${shapeString(a.shape)} · ${shapeString(b.shape)}`);
  const batch = broadcastShapes('matmul', a.shape.slice(0, -2), b.shape.slice(0, -2));
  const offA = batchOffsets(batch, a.shape.slice(0, -2));
  const offB = batchOffsets(batch, b.shape.slice(0, -2));
  const out = allocate(dtype, sizeOf(batch) * M * N);
  for (let i = 0; i < offA.length; i++) gemmNN(M, N, K, a.data, offA[i] * M * K, b.data, offB[i] * K * N, out, i * M * N);
  return record('matmul', [a, b], out, [...batch, M, N], (g, gradIn) => {
    const ga = gradIn(0);
    const gb = gradIn(1);
    for (let i = 0; i < offA.length; i++) {
      // dA = dC · Bᵀ, dB = Aᵀ · dC
      if (ga !== null) gemmNT(M, K, N, g, i * M * N, b.data, offB[i] * K * N, ga, offA[i] * M * K);
      if (gb !== null) gemmTN(K, N, M, a.data, offA[i] * M * K, g, i * M * N, gb, offB[i] * K * N);
    }
  });
}

/** x [..., In] · W[Out, In]ᵀ (+ bias [Out]) → [..., Out], PyTorch's nn.Linear layout. */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  const dtype = bias === null ? commonDType('linear', x, weight) : commonDType('linear', x, weight, bias);
  if (weight.rank !== 2) throw new ShapeError(`linear: weight should be [out, in], got ${shapeString(weight.shape)}`);
  const [O, I] = weight.shape;
  if (x.shape[x.rank - 1] !== I) {
    throw new ShapeError(`linear: input ${shapeString(x.shape)} does not end in the weight's input size ${I} (weight ${shapeString(weight.shape)})`);
  }
  if (bias !== null && (bias.rank !== 1 || bias.shape[0] !== O)) {
    throw new ShapeError(`linear: bias should be [${O}], got ${shapeString(bias.shape)}`);
  }
  const M = x.size / I;
  const out = allocate(dtype, M * O);
  if (bias !== null) for (let i = 0; i < M; i++) out.set(bias.data, i * O);
  const w = gemmOperand(weight); // a weight kept in bf16/f16 is widened inside the GEMM
  gemmNT(M, O, I, x.data, 0, w, 0, out, 0);
  const parents = bias === null ? [x, weight] : [x, weight, bias];
  return record('linear', parents, out, [...x.shape.slice(0, -1), O], (g, gradIn) => {
    const gx = gradIn(0);
    const gw = gradIn(1);
    if (gx !== null) gemmNN(M, I, O, g, 0, w, 0, gx, 0);
    if (gw !== null) gemmTN(O, I, M, g, 0, x.data, 0, gw, 0);
    const gb = bias === null ? null : gradIn(2);
    if (gb !== null) for (let i = 0; i < M; i++) for (let o = 0; o < O; o++) gb[o] += g[i * O + o];
  });
}
