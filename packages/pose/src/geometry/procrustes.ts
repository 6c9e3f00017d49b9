/** Procrustes similarity alignment (Umeyama 1991), in float64. */
import type * as tf from '@tensorflow/tfjs-core';
import { checkArray, checkFiniteEntries, readPoints } from '../arrays';
import { PhalanxShapeError, checkBoolean, checkFinite, checkOptions, checkOptionsObject } from '@phalanx/errors';
import { det3, svd3, type Matrix3 } from '../linalg';

/** A similarity transform `p ↦ scale · rotation · p + translation`. */
export interface SimilarityTransform {
  /** `[3][3]` orthogonal matrix (a proper rotation unless reflections were allowed). */
  rotation: number[][];
  /** Isotropic scale (1 with `scale: false`). */
  scale: number;
  /** `[3]` translation. */
  translation: number[];
}

/** Options of {@link similarityTransform} and {@link procrustesAlign}. */
export interface ProcrustesOptions {
  /** Estimate an isotropic scale. Default `true` (similarity); `false` gives a rigid alignment. */
  scale?: boolean;
  /**
   * Allow an improper orthogonal matrix (det −1, a mirror image). Default `false` (Umeyama's
   * correction keeps a proper rotation). FreiHAND's PA-MPJPE allows reflections (see `paMpjpe`).
   */
  allowReflection?: boolean;
}

const PROCRUSTES_KEYS = { scale: true, allowReflection: true } satisfies Record<keyof ProcrustesOptions, true>;
const PROCRUSTES_EXPECTED = 'an options object {scale?, allowReflection?}';

/** The options with their defaults, each checked as a boolean (`'false'` is an error, not a truthy value). */
function procrustesOptions(component: string, options: ProcrustesOptions): Required<ProcrustesOptions> {
  checkOptions(component, 'options', options, PROCRUSTES_KEYS, PROCRUSTES_EXPECTED);
  return {
    scale: checkBoolean(component, 'scale', options.scale ?? true),
    allowReflection: checkBoolean(component, 'allowReflection', options.allowReflection ?? false),
  };
}

function checkPair(component: string, pred: unknown, gt: unknown): { p: number[][]; g: number[][] } {
  const expected = 'points [J, 3] (J ≥ 1)';
  const { value: p, shape: ps } = readPoints(component, 'pred', pred, [2], expected, [3]);
  const { value: g, shape: gs } = readPoints(component, 'gt', gt, [2], expected, [3]);
  // J = 0 has no centroid to align: said as such, not as a shape mismatch of equal shapes.
  if (ps[0] < 1) throw new PhalanxShapeError(component, 'pred', 'points [J, 3] with at least 1 joint', ps);
  if (gs[0] < 1) throw new PhalanxShapeError(component, 'gt', 'points [J, 3] with at least 1 joint', gs);
  if (ps[0] !== gs[0]) throw new PhalanxShapeError(component, 'pred', `of the shape of gt [${gs.join(', ')}]`, ps);
  checkFiniteEntries(component, 'pred', p);
  checkFiniteEntries(component, 'gt', g);
  return { p: p as number[][], g: g as number[][] };
}

/**
 * The largest `‖P‖²` that rounding alone gives a centred set of points that all coincide: the centroid
 * `Σp/n` is off by up to about `n·ε·max|p|` per coordinate (so `[0.1, 0.1, 0.1]` three times centres to
 * ±1e-17, not 0), and `3n` such coordinates add up to `3n·(n·ε·max|p|)²`. A `‖P‖²` at or below it is a
 * point set with no extent (scale 0), not one to divide by. Given the power of two `extent` the centred points
 * were divided by, it is the bound for them: `3n·(n·ε·max|p| / extent)²` (∞ when the points' extent is far
 * below their rounding, which is then scale 0 too).
 */
function roundingNoise(p: number[][], extent: number): number {
  const n = p.length;
  let max = 0;
  for (const q of p) max = Math.max(max, Math.abs(q[0]), Math.abs(q[1]), Math.abs(q[2]));
  return 3 * n * ((n * Number.EPSILON * max) / extent) ** 2;
}

/** The power of two 2^k ≥ `x` closest to it (1 for 0), k within the normal float64 exponents. */
function powerOfTwoAbove(x: number): number {
  if (x === 0) return 1;
  return 2 ** Math.min(1023, Math.max(-1022, Math.ceil(Math.log2(x))));
}

/** The largest |coordinate| of any of `sets`. */
function largestCoordinate(...sets: number[][][]): number {
  let max = 0;
  for (const set of sets) for (const q of set) max = Math.max(max, Math.abs(q[0]), Math.abs(q[1]), Math.abs(q[2]));
  return max;
}

/** `points` divided by the power of two `divisor`: exact. */
function divided(points: number[][], divisor: number): number[][] {
  return points.map((q) => [q[0] / divisor, q[1] / divisor, q[2] / divisor]);
}

/**
 * Centres `p` and `g` on their centroids and divides the centred points by the power of two nearest above their
 * largest |coordinate|, so that `GᵀP` and the squares the SVD forms of it (the coordinates to the fourth power)
 * neither overflow nor underflow. Dividing by a power of two is exact: the alignment computed from them is the
 * unscaled one. `p`, `g` `[J][3]` → centroids `[3]`, centred points `[J][3]`, and the `extent` divided by.
 */
function centred(
  p: number[][],
  g: number[][],
): { pm: number[]; gm: number[]; pc: number[][]; gc: number[][]; extent: number } {
  const n = p.length;
  const pm = [0, 1, 2].map((c) => p.reduce((acc, q) => acc + q[c], 0) / n);
  const gm = [0, 1, 2].map((c) => g.reduce((acc, q) => acc + q[c], 0) / n);
  const pc = p.map((q) => [q[0] - pm[0], q[1] - pm[1], q[2] - pm[2]]);
  const gc = g.map((q) => [q[0] - gm[0], q[1] - gm[1], q[2] - gm[2]]);
  const extent = powerOfTwoAbove(largestCoordinate(pc, gc));
  return { pm, gm, pc: divided(pc, extent), gc: divided(gc, extent), extent };
}

/**
 * The similarity transform that best maps `pred` onto `gt` in the least-squares sense (Umeyama 1991):
 * with centred point sets P, G and `GᵀP = U·S·Vᵀ`, `R = U·diag(1, 1, d)·Vᵀ` (d = sign det(U·Vᵀ), or 1 with
 * `allowReflection`), `s = tr(S·diag(1, 1, d)) / ‖P‖²`, `t = ḡ − s·R·p̄`. Float64, exact up to rounding.
 *
 * **Any finite coordinates**: the points are divided by powers of two before the SVD — the coordinates by the
 * one nearest above their largest, the centred points by the one nearest above theirs — which is exact, so the
 * transform is the formula's; without it the SVD's products of squares of `GᵀP` (the coordinates to the eighth
 * power) overflowed for hands beyond ~1e38 and underflowed for tiny ones. Ordinary hands give the same bits
 * as the unscaled formula.
 *
 * **Degenerate sets** have a finite answer, the least-squares one: a `pred` whose points all coincide
 * (`‖P‖ = 0`, up to the rounding of the centroid) gets scale 0, and a `gt` whose points all coincide
 * (`GᵀP = 0`, so `S = 0`) scale 0 up to rounding — everything maps to gt's centroid — with some orthogonal
 * `rotation` (any is optimal). With `scale: false` the rotation is arbitrary alike and the scale 1.
 *
 * **Shapes**: `pred [J, 3]`, `gt [J, 3]` (arrays or tensors), J ≥ 1 (J = 0 is a `PhalanxShapeError`). A
 * coordinate that is not finite is a `PhalanxConfigError` naming it (`similarityTransform: pred[3][1] must be
 * a finite number`), and so are `options` that are not an object `{scale?, allowReflection?}` (or have
 * another key) and a `scale` or `allowReflection` that is not a boolean (`'false'` would otherwise count as
 * true).
 * @example
 * const gt = Array.from({ length: 21 }, (_, j) => [Math.cos(j), Math.sin(j), 0.1 * j]);
 * const pred = gt.map(([x, y, z]) => [2 * y + 1, -2 * x, 2 * z]); // rotated, scaled, shifted
 * const { rotation, scale, translation } = similarityTransform(pred, gt); // scale ≈ 0.5
 */
export function similarityTransform(
  pred: tf.Tensor | number[][],
  gt: tf.Tensor | number[][],
  options: ProcrustesOptions = {},
): SimilarityTransform {
  const { scale: useScale, allowReflection } = procrustesOptions('similarityTransform', options);
  const checked = checkPair('similarityTransform', pred, gt);
  // Coordinates divided by a power of two (exact), so that centroids of coordinates near the largest double
  // do not overflow; the translation is multiplied back.
  const unit = powerOfTwoAbove(largestCoordinate(checked.p, checked.g));
  const p = divided(checked.p, unit);
  const { pm, gm, pc, gc, extent } = centred(p, divided(checked.g, unit));
  const m: Matrix3 = [
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
  ];
  let pNorm2 = 0;
  for (let k = 0; k < p.length; k++) {
    pNorm2 += pc[k][0] * pc[k][0] + pc[k][1] * pc[k][1] + pc[k][2] * pc[k][2];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) m[i][j] += gc[k][i] * pc[k][j];
  }
  const { U, S, V } = svd3(m);
  const d = allowReflection || det3(U) * det3(V) >= 0 ? 1 : -1;
  const rotation = [0, 1, 2].map((i) =>
    [0, 1, 2].map((j) => U[i][0] * V[j][0] + U[i][1] * V[j][1] + d * U[i][2] * V[j][2]),
  );
  const scale = !useScale ? 1 : pNorm2 > roundingNoise(p, extent) ? (S[0] + S[1] + d * S[2]) / pNorm2 : 0;
  const translation = [0, 1, 2].map(
    (i) => (gm[i] - scale * (rotation[i][0] * pm[0] + rotation[i][1] * pm[1] + rotation[i][2] * pm[2])) * unit,
  );
  return { rotation, scale, translation };
}

/**
 * Applies `p ↦ s·R·p + t` to points `[J][3]`. `PhalanxShapeError` for `points` that are not `[J][3]` and a
 * `transform` whose `rotation` is not `[3][3]` or `translation` not `[3]`; `PhalanxConfigError` for a
 * `transform` that is not an object and a value of it that is not finite.
 *
 * **Shapes**: `points [J][3]` → `[J][3]`.
 * @example
 * applySimilarity([[1, 0, 0]], { rotation: [[0, -1, 0], [1, 0, 0], [0, 0, 1]], scale: 2, translation: [0, 0, 1] }); // [[0, 2, 1]]
 */
export function applySimilarity(points: number[][], transform: SimilarityTransform): number[][] {
  const name = 'applySimilarity';
  checkArray(name, 'points', points, [2], 'points [J][3]', [3]);
  const {
    rotation: r,
    scale: s,
    translation: t,
  } = checkOptionsObject(name, 'transform', transform, 'an object {rotation, scale, translation}');
  checkArray(name, 'transform.rotation', r, [2], 'a 3×3 matrix [3][3]', [3]);
  if (r.length !== 3) throw new PhalanxShapeError(name, 'transform.rotation', 'a 3×3 matrix [3][3]', [r.length, 3]);
  checkArray(name, 'transform.translation', t, [1], 'a vector [3]', [3]);
  checkFiniteEntries(name, 'transform.rotation', r);
  checkFinite(name, 'transform.scale', s);
  checkFiniteEntries(name, 'transform.translation', t);
  return points.map((q) => [0, 1, 2].map((i) => s * (r[i][0] * q[0] + r[i][1] * q[1] + r[i][2] * q[2]) + t[i]));
}

/**
 * Procrustes similarity alignment: `pred` moved, rotated and scaled onto `gt` by
 * {@link similarityTransform}. Batched inputs are aligned sample by sample.
 *
 * **Shapes**: `pred`, `gt` `[J, 3]` or `[N, J, 3]` (arrays or tensors), J ≥ 1 (J = 0 is a `PhalanxShapeError`) →
 * aligned `pred` as arrays of the same shape.
 * A coordinate that is not finite is a `PhalanxConfigError` naming it, as are `options` that are not an
 * object `{scale?, allowReflection?}` and a `scale` or `allowReflection` that is not a boolean; a set whose points all coincide aligns onto gt's centroid (see
 * {@link similarityTransform}).
 * @example
 * const gt = Array.from({ length: 21 }, (_, j) => [Math.cos(j), Math.sin(j), 0.1 * j]);
 * const pred = gt.map(([x, y, z]) => [2 * y + 1, -2 * x, 2 * z]);
 * const aligned = procrustesAlign(pred, gt); // ≈ gt; then mpjpe(gt, aligned)
 */
export function procrustesAlign(
  pred: tf.Tensor | number[][],
  gt: tf.Tensor | number[][],
  options?: ProcrustesOptions,
): number[][];
export function procrustesAlign(
  pred: tf.Tensor | number[][][],
  gt: tf.Tensor | number[][][],
  options?: ProcrustesOptions,
): number[][][];
export function procrustesAlign(
  pred: tf.Tensor | number[][] | number[][][],
  gt: tf.Tensor | number[][] | number[][][],
  options: ProcrustesOptions = {},
): number[][] | number[][][] {
  const name = 'procrustesAlign';
  procrustesOptions(name, options);
  const expected = 'points [J, 3] or [N, J, 3]';
  const { value: p, shape: ps } = readPoints(name, 'pred', pred, [2, 3], expected, [3]);
  const { value: g, shape: gs } = readPoints(name, 'gt', gt, [2, 3], expected, [3]);
  for (const [argument, shape] of [['pred', ps] as const, ['gt', gs] as const]) {
    if (shape[shape.length - 2] < 1) {
      throw new PhalanxShapeError(name, argument, 'points [J, 3] or [N, J, 3] with at least 1 joint', shape);
    }
  }
  if (ps.length !== gs.length || ps.some((d, i) => d !== gs[i])) {
    throw new PhalanxShapeError(name, 'pred', `of the shape of gt [${gs.join(', ')}]`, ps);
  }
  checkFiniteEntries(name, 'pred', p);
  checkFiniteEntries(name, 'gt', g);
  if (ps.length === 2) {
    const pp = p as number[][];
    return applySimilarity(pp, similarityTransform(pp, g as number[][], options));
  }
  return (p as number[][][]).map((hand, i) =>
    applySimilarity(hand, similarityTransform(hand, (g as number[][][])[i], options)),
  );
}
