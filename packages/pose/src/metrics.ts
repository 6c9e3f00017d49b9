/**
 * Keypoint error metrics in float64, numerically identical to the official evaluation code: the
 * `EvalUtil` / `calc_auc` of the Learnable Groups release (itself from Zimmermann & Brox's hand3d) and
 * FreiHAND's `align_w_scale` for PA-MPJPE. Inputs are nested arrays or tensors (read once with
 * `arraySync`); results are plain numbers. A coordinate the metric reads that is not finite (NaN,
 * ±Infinity) is a `PhalanxConfigError` naming the metric and the entry, never a NaN result.
 */
import type * as tf from '@tensorflow/tfjs-core';
import {
  areaAxis,
  checkFiniteEntries,
  distance,
  readKeypointPair,
  readVisibility,
  refuseDistance,
  shapeOfInput,
  trapezoidSum,
} from './arrays';
import { PhalanxConfigError, PhalanxShapeError, checkFinite, checkInteger } from '@phalanx/errors';
import { svd3, type Matrix3 } from './linalg';

/** Keypoints `[N][J][D]` or `[J][D]` (D = 2 or 3) as nested arrays or a tensor. */
export type Keypoints = tf.Tensor | number[][] | number[][][];
/** Visibility `[N][J]` or `[J]`: 1 / `true` visible, anything else not (the official `vis == 1`). */
export type Visibility = tf.Tensor | number[] | number[][] | boolean[] | boolean[][];

/**
 * `numpy.linspace(start, stop, num)`, computed the way numpy does (`i·step + start`, the last point
 * set to `stop`) so that thresholds agree bit for bit. A range wider than the largest double
 * (`linspace(-1.7e308, 1.7e308, 3)`, where numpy's step overflows and gives NaN) is computed halved and
 * doubled: `[-1.7e308, 0, 1.7e308]`.
 *
 * @example
 * linspace(0, 0.05, 3); // [0, 0.025, 0.05]
 */
export function linspace(start: number, stop: number, num: number): number[] {
  checkFinite('linspace', 'start', start);
  checkFinite('linspace', 'stop', stop);
  checkInteger('linspace', 'num', num, 1);
  if (num > 1e7) throw new PhalanxConfigError('linspace', 'num', 'an integer in [1, 10000000]', num);
  if (num === 1) return [start];
  const step = (stop - start) / (num - 1);
  // stop − start beyond the largest double (−1.7e308 … 1.7e308): the same points, computed halved and
  // doubled (exact: a power of two), instead of an infinite step and NaN.
  const out = Number.isFinite(step)
    ? Array.from({ length: num }, (_, i) => i * step + start)
    : linspaceHalved(start, stop, num);
  out[num - 1] = stop;
  return out;
}

/** {@link linspace} for a range that overflows: `2·(i·step + start/2)`, step `(stop/2 − start/2) / (num − 1)`. */
function linspaceHalved(start: number, stop: number, num: number): number[] {
  const step = (stop / 2 - start / 2) / (num - 1);
  return Array.from({ length: num }, (_, i) => 2 * (i * step + start / 2));
}

/**
 * `numpy.trapz(y, x)`: Σ (x[i+1] − x[i]) · (y[i] + y[i+1]) / 2.
 *
 * **Shapes**: `y [T]`, `x [T]` → a number (0 for T < 2). Throws `PhalanxShapeError` unless both are
 * arrays of one length, and `PhalanxConfigError` naming the entry (`y[2]`) for a value that is not finite.
 * @example
 * trapezoid([0, 1, 1], [0, 1, 3]); // 0.5 + 2 = 2.5
 */
export function trapezoid(y: readonly number[], x: readonly number[]): number {
  if (!Array.isArray(x)) throw new PhalanxShapeError('trapezoid', 'x', 'an array of numbers', x);
  if (!Array.isArray(y) || y.length !== x.length) {
    throw new PhalanxShapeError('trapezoid', 'y', `as long as x (${x.length})`, Array.isArray(y) ? y.length : y);
  }
  checkFiniteEntries('trapezoid', 'y', y);
  checkFiniteEntries('trapezoid', 'x', x);
  return trapezoidSum(y, x);
}

/**
 * Normalised area under a PCK curve (the official `calc_auc`): `trapz(curve, thresholds) /
 * trapz(1, thresholds)`, i.e. the trapezoid area divided by the threshold range. For the 20–50 mm AUC
 * of the RHD/STB protocol, pass the curve's points at thresholds ≥ 20 mm. Thresholds whose range
 * overflows that area (`[-1.7e308, 1.7e308]`) are scaled by 1/4 first (exact, and the ratio is the same), not
 * a NaN result.
 *
 * **Shapes**: `thresholds [T]`, `curve [T]`, T ≥ 2, increasing thresholds → a number in [0, 1].
 * @example
 * auc([0, 1, 2], [0, 0.5, 1]); // 0.5
 */
export function auc(thresholds: readonly number[], curve: readonly number[]): number {
  if (!Array.isArray(thresholds) || thresholds.length < 2) {
    throw new PhalanxShapeError('auc', 'thresholds', 'an array of ≥ 2 numbers', thresholds?.length);
  }
  if (!Array.isArray(curve) || curve.length !== thresholds.length) {
    throw new PhalanxShapeError('auc', 'curve', `an array as long as thresholds (${thresholds.length})`, curve?.length);
  }
  const increasing = thresholds.every((t, i) => Number.isFinite(t) && (i === 0 || t > thresholds[i - 1]));
  if (!increasing) throw new PhalanxConfigError('auc', 'thresholds', 'finite and strictly increasing', thresholds);
  const bad = curve.find((v) => !Number.isFinite(v));
  if (bad !== undefined) throw new PhalanxConfigError('auc', 'curve', 'finite values', bad);
  const { x, norm } = areaAxis(thresholds);
  return trapezoid(curve, x) / norm;
}

/**
 * The distance of keypoint `k` of sample `i`; a coordinate that is not finite (or a distance that
 * overflows) is a `PhalanxConfigError` naming it, e.g. `mpjpe: pred[0][3][1] must be a finite number`.
 */
function checkedDistance(
  component: string,
  g: number[][][],
  p: number[][][],
  i: number,
  k: number,
  batched: boolean,
): number {
  const e = distance(g[i][k], p[i][k]);
  return Number.isFinite(e) ? e : refuseDistance(component, g[i][k], p[i][k], batched ? [i, k] : [k]);
}

/** Throws, naming the entry, unless every coordinate of every hand of `g` and `p` is finite. */
function checkAllFinite(component: string, g: number[][][], p: number[][][], batched: boolean): void {
  g.forEach((hand, i) => checkFiniteEntries(component, 'gt', hand, batched ? [i] : []));
  p.forEach((hand, i) => checkFiniteEntries(component, 'pred', hand, batched ? [i] : []));
}

/**
 * Euclidean end-point error of every keypoint: `‖gt − pred‖₂` over the last axis.
 *
 * **Shapes**: `gt`, `pred` `[N, J, D]` → `[N][J]`; `[J, D]` → `[J]`. A coordinate that is not finite
 * (NaN, ±Infinity) is a `PhalanxConfigError` naming it: `endPointErrors: pred[0][3][1] must be a finite
 * number, but received NaN.`
 * @example
 * endPointErrors([[0, 0, 0]], [[3, 4, 0]]); // [5]
 */
export function endPointErrors(gt: Keypoints, pred: Keypoints): number[][] | number[] {
  const name = 'endPointErrors';
  const { gt: g, pred: p, batched } = readKeypointPair(name, gt, pred);
  const out = g.map((hand, i) => hand.map((_, k) => checkedDistance(name, g, p, i, k, batched)));
  return batched ? out : out[0];
}

/**
 * Mean per-joint position error: the mean of `‖gt − pred‖₂` over all (visible) keypoints of all samples.
 *
 * **Shapes**: `gt`, `pred` `[N, J, D]` or `[J, D]`; `visible` `[N, J]` / `[J]` → a number.
 * A coordinate of a visible keypoint that is not finite (NaN, ±Infinity) is a `PhalanxConfigError`
 * naming it (`mpjpe: pred[0][3][1] must be a finite number, but received NaN.`); keypoints that
 * `visible` masks out are not read.
 * @example
 * mpjpe([[[0, 0, 0], [1, 1, 1]]], [[[0, 0, 1], [1, 1, 1]]]); // 0.5
 */
export function mpjpe(gt: Keypoints, pred: Keypoints, visible?: Visibility): number {
  const name = 'mpjpe';
  const { gt: g, pred: p, batched, joints } = readKeypointPair(name, gt, pred);
  const vis = visible === undefined ? undefined : readVisibility(name, visible, g.length, joints, batched);
  let total = 0;
  let count = 0;
  g.forEach((hand, i) =>
    hand.forEach((_, k) => {
      if (vis && !vis[i][k]) return;
      total += checkedDistance(name, g, p, i, k, batched);
      count++;
    }),
  );
  if (count === 0) throw new PhalanxShapeError(name, 'visible', 'at least one visible keypoint', 0);
  return total / count;
}

/**
 * FreiHAND's similarity alignment (`align_w_scale` of the FreiHAND evaluation): centre both sets,
 * divide each by its Frobenius norm (+1e-8), rotate `pred` by SciPy's `orthogonal_procrustes` (an
 * orthogonal matrix: reflections allowed), scale by the sum of singular values, then undo gt's
 * normalisation. Prefer `procrustesAlign` for a proper-rotation alignment.
 *
 * Any finite coordinates work: where the formula overflows (hands beyond ~1e150 in their units, whose squared
 * norm is not a double) the hand is aligned divided by a power of two that brings its largest coordinate to
 * about 1, with the +1e-8 divided alike — exact, so the result is the formula's — and multiplied back (an
 * aligned coordinate beyond the largest double, for hands near 1e308, is ±Infinity). Every other hand is
 * computed as written, bit for bit.
 *
 * **Shapes**: `pred [J, 3]`, `gt [J, 3]` (or `[1, J, 3]` tensors) → aligned `pred [J][3]`; a batch of
 * another size is a `PhalanxShapeError`, a coordinate that is not finite a `PhalanxConfigError` naming it.
 * A `gt` (or `pred`) whose points all coincide aligns `pred` onto gt's centroid (scale 0), finite.
 * @example
 * const gt = Array.from({ length: 21 }, (_, j) => [Math.cos(j), Math.sin(j), 0.1 * j]);
 * const pred = gt.map(([x, y, z]) => [y + 0.01, -x, z]);
 * paMpjpe(gt, pred) === mpjpe(gt, freihandAlign(pred, gt)); // per sample
 */
export function freihandAlign(pred: tf.Tensor | number[][], gt: tf.Tensor | number[][]): number[][] {
  const { gt: g, pred: p, batched } = readKeypointPair('freihandAlign', gt, pred, [3]);
  if (batched && g.length !== 1) {
    throw new PhalanxShapeError('freihandAlign', 'gt', 'keypoints [J, 3] (or [1, J, 3]) of one hand', shapeOfInput(gt));
  }
  checkAllFinite('freihandAlign', g, p, batched);
  const aligned = alignOne(p[0], g[0], FREIHAND_EPSILON);
  if (aligned.every((q) => q.every(Number.isFinite))) return aligned;
  const { scale, pred: ps, gt: gs } = scaledHand(p[0], g[0]);
  return alignOne(ps, gs, FREIHAND_EPSILON / scale).map((q) => q.map((v) => v * scale));
}

/** What `align_w_scale` adds to each Frobenius norm. */
const FREIHAND_EPSILON = 1e-8;

/** `align_w_scale` with `epsilon` added to the norms: FreiHAND's is {@link FREIHAND_EPSILON}. */
function alignOne(p: number[][], g: number[][], epsilon: number): number[][] {
  const n = g.length;
  const t1 = [0, 1, 2].map((c) => g.reduce((s, q) => s + q[c], 0) / n);
  const t2 = [0, 1, 2].map((c) => p.reduce((s, q) => s + q[c], 0) / n);
  const a = g.map((q) => q.map((x, c) => x - t1[c]));
  const b = p.map((q) => q.map((x, c) => x - t2[c]));
  const frob = (m: number[][]): number => Math.sqrt(m.reduce((s, q) => s + q[0] * q[0] + q[1] * q[1] + q[2] * q[2], 0));
  const s1 = frob(a) + epsilon;
  const s2 = frob(b) + epsilon;
  const an = a.map((q) => q.map((x) => x / s1));
  const bn = b.map((q) => q.map((x) => x / s2));
  // scipy: u, w, vt = svd(aᵀ·b); R = u·vt minimises ‖a·R − b‖; aligned = b·Rᵀ·Σw.
  const m: Matrix3 = [0, 1, 2].map((i) => [0, 1, 2].map((j) => an.reduce((s, q, k) => s + q[i] * bn[k][j], 0)));
  const { U, S, V } = svd3(m);
  const r = [0, 1, 2].map((i) => [0, 1, 2].map((j) => U[i][0] * V[j][0] + U[i][1] * V[j][1] + U[i][2] * V[j][2]));
  const scale = S[0] + S[1] + S[2];
  return bn.map((q) => [0, 1, 2].map((i) => (q[0] * r[i][0] + q[1] * r[i][1] + q[2] * r[i][2]) * scale * s1 + t1[i]));
}

/**
 * One hand divided by `scale`, the power of two 2^k ≥ its largest |coordinate| closest to it (k within the
 * normal exponents; 1 for an all-zero hand). Dividing by a power of two is exact, so every sum, product, square
 * root and quotient of the alignment is the unscaled one divided by a power of two — nothing overflows, and no
 * square of a coordinate of 1e-200 underflows.
 */
function scaledHand(p: number[][], g: number[][]): { scale: number; pred: number[][]; gt: number[][] } {
  let top = 0;
  for (const hand of [p, g]) for (const q of hand) top = Math.max(top, Math.abs(q[0]), Math.abs(q[1]), Math.abs(q[2]));
  const scale = top === 0 ? 1 : 2 ** Math.min(1023, Math.max(-1022, Math.ceil(Math.log2(top))));
  const divide = (hand: number[][]) => hand.map((q) => q.map((v) => v / scale));
  return { scale, pred: divide(p), gt: divide(g) };
}

/** `‖a − b‖₂` without overflow or underflow: `m · √(Σ ((a − b)/m)²)`, m the largest |a_c − b_c|. */
function scaledDistance(a: readonly number[], b: readonly number[]): number {
  const d = a.map((v, c) => v - b[c]);
  const m = Math.max(...d.map(Math.abs));
  return m === 0 ? 0 : m * Math.sqrt(d.reduce((s, v) => s + (v / m) * (v / m), 0));
}

/**
 * The aligned end-point errors of one hand as `value · scale` (to keep errors beyond the largest double apart
 * from their scale): the formula's, scale 1, wherever its alignment and every `√(Σ d²)` is finite and no
 * `Σ d²` underflowed (below 2⁻¹⁰²², a distance below ~1.5e-154 that is not 0) — ordinary hands, bit for bit;
 * else the whole hand computed divided by a power of two ({@link scaledHand}), with FreiHAND's +1e-8 divided
 * alike (the same alignment, exactly).
 */
function alignedErrors(p: number[][], g: number[][]): { values: number[]; scale: number } {
  const aligned = alignOne(p, g, FREIHAND_EPSILON);
  const values = g.map((q, k) => distance(q, aligned[k]));
  const exact = (e: number, k: number) =>
    Number.isFinite(e) && (e >= 2 ** -511 || g[k].every((v, c) => v === aligned[k][c]));
  if (values.every(exact)) return { values, scale: 1 };
  const { scale, pred: ps, gt: gs } = scaledHand(p, g);
  const scaled = alignOne(ps, gs, FREIHAND_EPSILON / scale);
  return { values: gs.map((q, k) => scaledDistance(q, scaled[k])), scale };
}

/**
 * PA-MPJPE with FreiHAND's protocol: each sample's prediction is aligned to its ground truth by
 * {@link freihandAlign} (translation, scale, orthogonal Procrustes — a mirrored prediction aligns
 * perfectly, as in FreiHAND), then the mean end-point error is taken over all keypoints.
 *
 * **Shapes**: `gt`, `pred` `[N, J, 3]` or `[J, 3]`; `visible` `[N, J]` / `[J]` (averaging only; the
 * alignment uses all joints, as FreiHAND does) → a number. As the alignment reads every joint, a
 * coordinate that is not finite — visible or not — is a `PhalanxConfigError` naming it
 * (`paMpjpe: pred[0][3][1] must be a finite number, but received NaN.`).
 *
 * Any finite coordinates work: a hand whose alignment or errors overflow (hands of ~1e150 and beyond) or whose
 * squared errors underflow (errors below ~1.5e-154) is computed divided by a power of two, exactly, as
 * {@link freihandAlign} does, its errors as `m · √(Σ (d/m)²)`; errors whose sum overflows are averaged divided
 * first. Ordinary hands give the formula's value bit for bit. Only a mean beyond the largest double (joints
 * ~1e308 apart after alignment) is a `PhalanxConfigError`.
 * @example
 * const gtXyz = tf.randomNormal([8, 21, 3], 0, 0.05);
 * const predXyz = tf.add(gtXyz, tf.randomNormal([8, 21, 3], 0, 0.005));
 * paMpjpe(gtXyz, predXyz); // metres if the inputs are metres
 */
export function paMpjpe(gt: Keypoints, pred: Keypoints, visible?: Visibility): number {
  const name = 'paMpjpe';
  const { gt: g, pred: p, batched, joints } = readKeypointPair(name, gt, pred, [3]);
  const vis = visible === undefined ? undefined : readVisibility(name, visible, g.length, joints, batched);
  checkAllFinite(name, g, p, batched);
  let total = 0;
  let count = 0;
  const terms: { value: number; scale: number }[] = [];
  g.forEach((hand, i) => {
    const { values, scale } = alignedErrors(p[i], hand);
    hand.forEach((_, k) => {
      if (vis && !vis[i][k]) return;
      total += values[k] * scale;
      terms.push({ value: values[k], scale });
      count++;
    });
  });
  if (count === 0) throw new PhalanxShapeError(name, 'visible', 'at least one visible keypoint', 0);
  if (Number.isFinite(total)) return total / count;
  // Errors near the largest double: a sum that overflows, a mean that may not.
  const mean = terms.reduce((s, t) => s + (t.value / count) * t.scale, 0);
  if (!Number.isFinite(mean)) {
    // Only joints aligned ~1e308 apart get here: the mean itself is beyond the largest double.
    const expected = 'keypoints whose PA-MPJPE is at most the largest double';
    throw new PhalanxConfigError(name, 'pred', expected, mean, () => 'keypoints whose PA-MPJPE overflows float64');
  }
  return mean;
}
