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
 * point set with no extent (scale 0), not one to divide by.
 */
function roundingNoise(p: number[][]): number {
  const n = p.length;
  let max = 0;
  for (const q of p) max = Math.max(max, Math.abs(q[0]), Math.abs(q[1]), Math.abs(q[2]));
  return 3 * n * (n * Number.EPSILON * max) ** 2;
}

/**
 * The similarity transform that best maps `pred` onto `gt` in the least-squares sense (Umeyama 1991):
 * with centred point sets P, G and `GᵀP = U·S·Vᵀ`, `R = U·diag(1, 1, d)·Vᵀ` (d = sign det(U·Vᵀ), or 1 with
 * `allowReflection`), `s = tr(S·diag(1, 1, d)) / ‖P‖²`, `t = ḡ − s·R·p̄`. Float64, exact up to rounding.
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
  const { p, g } = checkPair('similarityTransform', pred, gt);
  const n = p.length;
  const pm = [0, 1, 2].map((c) => p.reduce((acc, q) => acc + q[c], 0) / n);
  const gm = [0, 1, 2].map((c) => g.reduce((acc, q) => acc + q[c], 0) / n);
  const m: Matrix3 = [
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
  ];
  let pNorm2 = 0;
  for (let k = 0; k < n; k++) {
    const pc = [p[k][0] - pm[0], p[k][1] - pm[1], p[k][2] - pm[2]];
    const gc = [g[k][0] - gm[0], g[k][1] - gm[1], g[k][2] - gm[2]];
    pNorm2 += pc[0] * pc[0] + pc[1] * pc[1] + pc[2] * pc[2];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) m[i][j] += gc[i] * pc[j];
  }
  const { U, S, V } = svd3(m);
  const d = allowReflection || det3(U) * det3(V) >= 0 ? 1 : -1;
  const rotation = [0, 1, 2].map((i) =>
    [0, 1, 2].map((j) => U[i][0] * V[j][0] + U[i][1] * V[j][1] + d * U[i][2] * V[j][2]),
  );
  const scale = !useScale ? 1 : pNorm2 > roundingNoise(p) ? (S[0] + S[1] + d * S[2]) / pNorm2 : 0;
  const translation = [0, 1, 2].map(
    (i) => gm[i] - scale * (rotation[i][0] * pm[0] + rotation[i][1] * pm[1] + rotation[i][2] * pm[2]),
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
