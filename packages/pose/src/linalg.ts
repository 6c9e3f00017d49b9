/**
 * Small dense linear algebra in float64 for 3×3 problems (Procrustes alignment): a one-sided Jacobi
 * SVD that is accurate to a few ulps, plus the helpers it needs. Plain numbers, no tensors.
 */

/** A 3×3 matrix as rows. */
export type Matrix3 = number[][];

/** Result of {@link svd3}: `A = U · diag(S) · Vᵀ`, `S` descending and ≥ 0, `U` and `V` orthogonal. */
export interface Svd3 {
  /** Left singular vectors as the columns of an orthogonal 3×3 matrix. */
  U: Matrix3;
  /** Singular values, descending and ≥ 0. */
  S: [number, number, number];
  /** Right singular vectors as the columns of an orthogonal 3×3 matrix. */
  V: Matrix3;
}

/** Determinant of a 3×3 matrix. */
export function det3(m: Matrix3): number {
  return (
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
    m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
    m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
  );
}

/** `a · bᵀ` for 3×3 matrices given as rows. */
export function mulABt(a: Matrix3, b: Matrix3): Matrix3 {
  return [0, 1, 2].map((i) => [0, 1, 2].map((j) => a[i][0] * b[j][0] + a[i][1] * b[j][1] + a[i][2] * b[j][2]));
}

function cross(a: number[], b: number[]): number[] {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

function norm(a: number[]): number {
  return Math.hypot(a[0], a[1], a[2]);
}

/**
 * Singular value decomposition of a 3×3 matrix by one-sided (Hestenes) Jacobi rotations: the
 * columns of `A·V` are orthogonalised by plane rotations accumulated in `V`; their norms are the
 * singular values and the normalised columns are `U`. Each singular value is found to high relative
 * accuracy (no `AᵀA` is formed). When `A` is rank-deficient, the missing columns of `U` are completed
 * to a right-handed orthonormal basis (their sign is arbitrary, as it is for any SVD).
 *
 * **Shapes**: `A [3][3]` → `U [3][3]`, `S [3]`, `V [3][3]`.
 * @example
 * const { U, S, V } = svd3([[2, 0, 0], [0, -3, 0], [0, 0, 1]]); // S = [3, 2, 1]
 */
export function svd3(a: Matrix3): Svd3 {
  // Work on columns: cols[k] is column k of A·V.
  const cols = [0, 1, 2].map((k) => [a[0][k], a[1][k], a[2][k]]);
  const vCols = [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ];
  for (let sweep = 0; sweep < 60; sweep++) {
    let rotated = false;
    for (let p = 0; p < 2; p++) {
      for (let q = p + 1; q < 3; q++) {
        const cp = cols[p];
        const cq = cols[q];
        const alpha = cp[0] * cp[0] + cp[1] * cp[1] + cp[2] * cp[2];
        const beta = cq[0] * cq[0] + cq[1] * cq[1] + cq[2] * cq[2];
        const gamma = cp[0] * cq[0] + cp[1] * cq[1] + cp[2] * cq[2];
        if (gamma === 0 || Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (const m of [cols, vCols]) {
          const mp = m[p];
          const mq = m[q];
          for (let i = 0; i < 3; i++) {
            const x = mp[i];
            const y = mq[i];
            mp[i] = c * x - s * y;
            mq[i] = s * x + c * y;
          }
        }
      }
    }
    if (!rotated) break;
  }
  const order = [0, 1, 2].sort((i, j) => norm(cols[j]) - norm(cols[i]));
  const sigma = order.map((k) => norm(cols[k])) as [number, number, number];
  const v = order.map((k) => vCols[k]);
  const u: number[][] = [];
  const tiny = 1e-13 * sigma[0];
  for (let k = 0; k < 3; k++) {
    if (sigma[k] > tiny && sigma[k] > 0) {
      u.push(cols[order[k]].map((x) => x / sigma[k]));
    } else if (k === 2) {
      u.push(cross(u[0], u[1]));
    } else if (k === 1) {
      // Any unit vector orthogonal to u0.
      const u0 = u[0];
      const axis = Math.abs(u0[0]) < 0.6 ? [1, 0, 0] : [0, 1, 0];
      const w = cross(u0, axis);
      const n = norm(w);
      u.push(w.map((x) => x / n));
    } else {
      // k === 0: A is zero; U = I (the branch k === 1 then picks e2-like vectors from it).
      u.push([1, 0, 0]);
    }
  }
  // Rows of U / V from their columns.
  const transpose = (c: number[][]): Matrix3 => [0, 1, 2].map((i) => [c[0][i], c[1][i], c[2][i]]);
  return { U: transpose(u), S: sigma, V: transpose(v) };
}
