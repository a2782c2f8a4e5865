/**
 * Small dense helpers the recipes share: min–max scaling, rollout with residual identity
 * (Abnar & Zuidema 2020, as in the official code's `compute_rollout_attention`), and the
 * Chefer et al. (2021) accumulation R ← R + Ā·R. Matrices are L×L row-major Float64Arrays.
 *
 * Every recipe only needs the target row of its final R, so the products are applied to a
 * row vector from the last layer down: e_tᵀ·A_last⋯A_start costs O(L²) per layer instead of
 * the O(L³) of forming R.
 */

/**
 * (x − min) / (max − min) over x[0..n) in place; entries from n on are set to 0. A constant
 * range (e.g. a single causal position) gives 1 where the value is positive and 0 otherwise.
 */
export function minMaxInPlace(x: Float64Array, n = x.length): Float64Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    if (x[i] < lo) lo = x[i];
    if (x[i] > hi) hi = x[i];
  }
  const range = hi - lo;
  for (let i = 0; i < x.length; i++) {
    if (i >= n) x[i] = 0;
    else if (range > 0) x[i] = (x[i] - lo) / range;
    else x[i] = hi > 0 ? 1 : 0;
  }
  return x;
}

/**
 * rownorm(a + I): row i is (a[i,:] + e_i) / Σ_j |a[i,j] + δ_ij|. For non-negative a (the
 * default positive aggregation) this is the plain row normalisation, so each row sums to 1;
 * the absolute values keep it defined for signed maps.
 */
export function rownormWithIdentity(a: Float64Array, L: number): Float64Array {
  const out = new Float64Array(L * L);
  for (let i = 0; i < L; i++) {
    let sum = 0;
    for (let j = 0; j < L; j++) {
      const v = a[i * L + j] + (i === j ? 1 : 0);
      out[i * L + j] = v;
      sum += Math.abs(v);
    }
    if (sum > 0) for (let j = 0; j < L; j++) out[i * L + j] /= sum;
  }
  return out;
}

/** r ← r·A for a row vector r [L] and A [L×L]. */
export function rowTimesMatrix(r: Float64Array, A: Float64Array, L: number): Float64Array {
  const out = new Float64Array(L);
  for (let i = 0; i < L; i++) {
    const ri = r[i];
    if (ri === 0) continue;
    const row = i * L;
    for (let j = 0; j < L; j++) out[j] += ri * A[row + j];
  }
  return out;
}

/** C = A·B for L×L matrices. */
export function matrixProduct(A: Float64Array, B: Float64Array, L: number): Float64Array {
  const out = new Float64Array(L * L);
  for (let i = 0; i < L; i++) out.set(rowTimesMatrix(A.subarray(i * L, i * L + L), B, L), i * L);
  return out;
}

/** e_t [L]. */
export function unitRow(t: number, L: number): Float64Array {
  const e = new Float64Array(L);
  e[t] = 1;
  return e;
}

/**
 * Rollout R = rownorm(a_last + I) ⋯ rownorm(a_first + I) of maps listed first layer first
 * (the official `joint = A_i · joint` loop), as a full matrix: for tests and small inputs.
 */
export function rolloutMatrix(maps: readonly Float64Array[], L: number): Float64Array {
  let R: Float64Array | null = null;
  for (const a of maps) {
    const A = rownormWithIdentity(a, L);
    R = R === null ? A : matrixProduct(A, R, L);
  }
  return R ?? identity(L);
}

/** Chefer's R = (I + Ā_last) ⋯ (I + Ā_first), i.e. R ← R + Ā_ℓ·R from R = I over layers in order, as a full matrix. */
export function cheferMatrix(maps: readonly Float64Array[], L: number): Float64Array {
  let R = identity(L);
  for (const a of maps) {
    const AR = matrixProduct(a, R, L);
    for (let i = 0; i < R.length; i++) R[i] += AR[i];
  }
  return R;
}

export function identity(L: number): Float64Array {
  const I = new Float64Array(L * L);
  for (let i = 0; i < L; i++) I[i * L + i] = 1;
  return I;
}

/** Row t of an L×L matrix, copied. */
export function rowOf(M: Float64Array, t: number, L: number): Float64Array {
  return M.slice(t * L, t * L + L);
}

/**
 * s_ℓ of the recipes: s[j] = max_k ReLU(∂target/∂h_ℓ[j, k]) from the gradient [L, H] of the
 * block input, min–max scaled over the causal positions j ≤ t (zero after t).
 */
export function sensitivity(grad: ArrayLike<number>, L: number, H: number, t: number): Float64Array {
  const s = new Float64Array(L);
  for (let j = 0; j <= t; j++) {
    let m = 0;
    for (let k = 0; k < H; k++) m = Math.max(m, grad[j * H + k]);
    s[j] = m;
  }
  return minMaxInPlace(s, t + 1);
}
