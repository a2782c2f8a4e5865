/** Test inputs of the SSD scan (src/scans/ssd.ts), shared by its op tests and the WASM-vs-JS tests. */
import * as F from '../../src/core/index.js';
import type { DType, Random, Tensor } from '../../src/core/index.js';
import type { SsdShape } from '../../src/core/kernels/wasm/ssm-wasm.js';

/** Names of ssd's six inputs, in the op's order. */
export const SSD_NAMES = ['x', 'dt', 'A', 'Bm', 'Cm', 'Dskip'] as const;

/** Random SSD inputs in Mamba-2's ranges: dt > 0 (softplus), A < 0 (−exp(A_log)); `dtScale` scales dt. */
export function ssdInputs(rng: Random, { B, L, Hd, P, G, N }: SsdShape, dtype: DType = 'float64', dtScale = 1): Tensor[] {
  return [
    rng.tensor([B, L, Hd, P], 'float64'),
    rng.uniform([B, L, Hd], 0.05 * dtScale, dtScale, 'float64'),
    rng.uniform([Hd], -1.5, -0.1, 'float64'),
    rng.tensor([B, L, G, N], 'float64', 0.7),
    rng.tensor([B, L, G, N], 'float64', 0.7),
    rng.tensor([Hd], 'float64'),
  ].map((t) => F.noGrad(() => F.cast(t, dtype)));
}
