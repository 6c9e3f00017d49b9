/**
 * Internal helpers: validate nested number arrays and turn tensors into float64 arrays, with named
 * errors that say which argument had which shape.
 */
import * as tf from '@tensorflow/tfjs-core';
import { PhalanxConfigError, PhalanxShapeError, checkFinite } from '@phalanx/errors';

/** The shape of a nested array, read along its first elements. */
export function nestedShape(x: unknown): number[] {
  const shape: number[] = [];
  let v: unknown = x;
  while (Array.isArray(v) || ArrayBuffer.isView(v)) {
    const arr = v as ArrayLike<unknown>;
    shape.push(arr.length);
    v = arr[0];
  }
  return shape;
}

/** Shape of a tensor or nested array (for error messages). */
export function shapeOfInput(x: unknown): number[] | string {
  if (x instanceof tf.Tensor) return x.shape;
  if (Array.isArray(x) || ArrayBuffer.isView(x)) return nestedShape(x);
  return x === null ? 'null' : typeof x;
}

/**
 * Checks that `x` is a rectangular nested array of numbers (or booleans) whose rank is one of `ranks`
 * and whose last axis (when `lastDims` is given) has one of those sizes; returns its shape. Values are
 * not checked here: NaN and ±Infinity pass (see {@link checkFiniteEntries}).
 */
export function checkArray(
  component: string,
  argument: string,
  x: unknown,
  ranks: readonly number[],
  expected: string,
  lastDims?: readonly number[],
): number[] {
  const shape = nestedShape(x);
  const fail = (): never => {
    throw new PhalanxShapeError(component, argument, expected, shapeOfInput(x));
  };
  if (!ranks.includes(shape.length)) fail();
  if (lastDims && !lastDims.includes(shape[shape.length - 1])) fail();
  const walk = (v: unknown, depth: number): void => {
    if (depth === shape.length) {
      if (typeof v !== 'number' && typeof v !== 'boolean') {
        throw new PhalanxShapeError(component, argument, `${expected} of numbers`, typeof v);
      }
      return;
    }
    if (!(Array.isArray(v) || ArrayBuffer.isView(v)) || (v as ArrayLike<unknown>).length !== shape[depth]) {
      throw new PhalanxShapeError(component, argument, `${expected} (a rectangular array)`, 'a ragged array');
    }
    const arr = v as ArrayLike<unknown>;
    for (let i = 0; i < arr.length; i++) walk(arr[i], depth + 1);
  };
  walk(x, 0);
  return shape;
}

/** A tensor's values as nested float64 arrays (synchronous read; meant for metrics, not for a forward pass). */
export function tensorToArray(x: tf.Tensor): unknown {
  return x.arraySync();
}

/** Nested array or tensor → nested array, checked as in {@link checkArray}. */
export function readPoints(
  component: string,
  argument: string,
  x: unknown,
  ranks: readonly number[],
  expected: string,
  lastDims?: readonly number[],
): { value: unknown; shape: number[] } {
  if (x instanceof tf.Tensor) {
    if (!ranks.includes(x.rank) || (lastDims && !lastDims.includes(x.shape[x.rank - 1]))) {
      throw new PhalanxShapeError(component, argument, expected, x.shape);
    }
    return { value: tensorToArray(x), shape: x.shape };
  }
  const shape = checkArray(component, argument, x, ranks, expected, lastDims);
  return { value: x, shape };
}

/** `argument[i][j]…` for an index `[i, j, …]`, as errors name an entry. */
export function indexed(argument: string, index: readonly number[]): string {
  return `${argument}${index.map((i) => `[${i}]`).join('')}`;
}

/**
 * Throws `checkFinite`'s `PhalanxConfigError` naming the first entry of the nested array `x` that is not a
 * finite number, by its index (`prefix` first): `mpjpe: pred[0][3][1] must be a finite number, but
 * received NaN.` One `Number.isFinite` per entry; the name is built only on failure.
 */
export function checkFiniteEntries(
  component: string,
  argument: string,
  x: unknown,
  prefix: readonly number[] = [],
): void {
  const index = [...prefix];
  const walk = (v: unknown): void => {
    if (Array.isArray(v) || ArrayBuffer.isView(v)) {
      const arr = v as ArrayLike<unknown>;
      for (let i = 0; i < arr.length; i++) {
        index.push(i);
        walk(arr[i]);
        index.pop();
      }
    } else if (!Number.isFinite(v)) {
      checkFinite(component, indexed(argument, index), v);
    }
  };
  walk(x);
}

/**
 * For a keypoint pair whose distance is not finite: throws naming the first coordinate of `gt` or `pred`
 * (keypoint `index`, e.g. `[i, k]`) that is not finite, or — both finite, their distance overflowing
 * float64 — naming `pred`.
 */
export function refuseDistance(
  component: string,
  gt: readonly number[],
  pred: readonly number[],
  index: readonly number[],
): never {
  checkFiniteEntries(component, 'gt', gt, index);
  checkFiniteEntries(component, 'pred', pred, index);
  const expected = `a keypoint at a finite distance from ${indexed('gt', index)} (it overflows float64)`;
  throw new PhalanxConfigError(component, indexed('pred', index), expected, pred);
}

/** `numpy.trapz(y, x)` unchecked: Σ (x[i+1] − x[i]) · (y[i] + y[i+1]) / 2, summed in order. */
export function trapezoidSum(y: readonly number[], x: readonly number[]): number {
  let total = 0;
  for (let i = 0; i + 1 < x.length; i++) total += ((x[i + 1] - x[i]) * (y[i] + y[i + 1])) / 2;
  return total;
}

/**
 * The x of a normalised trapezoid area `trapz(y, x) / trapz(1, x)` over `thresholds` (finite, increasing),
 * and that norm `trapz(1, x)`: the thresholds themselves — so ordinary ranges give what they gave — or, when
 * their range overflows the norm (wider than about 9e307, e.g. −1.7e308 … 1.7e308), a quarter of each
 * (exact: a power of two), which leaves the ratio as it is and keeps it finite for `y` in [0, 1].
 */
export function areaAxis(thresholds: readonly number[]): { x: readonly number[]; norm: number } {
  const ones = thresholds.map(() => 1);
  const norm = trapezoidSum(ones, thresholds);
  if (Number.isFinite(norm)) return { x: thresholds, norm };
  const x = thresholds.map((t) => t / 4);
  return { x, norm: trapezoidSum(ones, x) };
}

/** Median as numpy computes it (mean of the two middle values for an even count). `sorted` ascending. */
export function medianOfSorted(sorted: readonly number[]): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const mid = n >> 1;
  return n % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Number of entries ≤ t in an ascending array (upper bound by bisection). */
export function countAtMost(sorted: readonly number[], t: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Checked keypoint pair as batches `[N][J][D]`. */
export function readKeypointPair(
  component: string,
  gt: unknown,
  pred: unknown,
  dims: readonly number[] = [2, 3],
): { gt: number[][][]; pred: number[][][]; batched: boolean; joints: number; dims: number } {
  const expected = `keypoints [N, J, D] or [J, D] with D in {${dims.join(', ')}}`;
  const g = readPoints(component, 'gt', gt, [2, 3], expected, dims);
  const p = readPoints(component, 'pred', pred, [2, 3], expected, dims);
  if (g.shape.length !== p.shape.length || g.shape.some((d, i) => d !== p.shape[i])) {
    throw new PhalanxShapeError(component, 'pred', `of the shape of gt [${g.shape.join(', ')}]`, p.shape);
  }
  const batched = g.shape.length === 3;
  return {
    gt: (batched ? g.value : [g.value]) as number[][][],
    pred: (batched ? p.value : [p.value]) as number[][][],
    batched,
    // From the shape, not the values: a batch of 0 hands has none to read them from.
    joints: g.shape[g.shape.length - 2],
    dims: g.shape[g.shape.length - 1],
  };
}

/** Checked visibility as `[N][J]` booleans (true iff the entry is 1 or `true`). */
export function readVisibility(
  component: string,
  visible: unknown,
  n: number,
  j: number,
  batched: boolean,
): boolean[][] {
  const expected = batched ? `[${n}, ${j}] (one flag per sample and joint)` : `[${j}]`;
  const v = readPoints(component, 'visible', visible, [batched ? 2 : 1], expected);
  const rows = (batched ? v.value : [v.value]) as unknown[][];
  if (rows.length !== n || rows.some((r) => r.length !== j)) {
    throw new PhalanxShapeError(component, 'visible', expected, v.shape);
  }
  return rows.map((r) => r.map((x) => x === 1 || x === true));
}

/** `sqrt(Σ (a − b)²)` summed in axis order, as numpy does. */
export function distance(a: readonly number[], b: readonly number[]): number {
  let s = 0;
  for (let c = 0; c < a.length; c++) {
    const d = a[c] - b[c];
    s += d * d;
  }
  return Math.sqrt(s);
}
