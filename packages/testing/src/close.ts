import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import type { TensorJson } from './golden';

/** Default tolerances of the layer golden tests: relative 2e-4, absolute 2e-5. */
export const GOLDEN_TOLERANCE = { rtol: 2e-4, atol: 2e-5 } as const;

export interface Tolerance {
  rtol: number;
  atol: number;
}

type Comparable = tf.Tensor | TensorJson | ArrayLike<number> | number;

function flatten(value: Comparable): { shape: number[] | null; data: Float64Array } {
  if (value instanceof tf.Tensor) {
    return { shape: value.shape, data: Float64Array.from(value.dataSync()) };
  }
  if (typeof value === 'number') return { shape: [], data: Float64Array.of(value) };
  if ('shape' in value && 'data' in value && Array.isArray((value as TensorJson).data)) {
    const json = value as TensorJson;
    return { shape: json.shape, data: Float64Array.from(json.data) };
  }
  return { shape: null, data: Float64Array.from(value as ArrayLike<number>) };
}

/**
 * Asserts `|actual − expected| ≤ atol + rtol·|expected|` element-wise (numpy's `allclose`), with
 * equal shapes where both sides carry one, and no NaN on either side. The message names the first
 * offending index, both values and the worst error, so a failure says where to look.
 */
export function expectClose(
  actual: Comparable,
  expected: Comparable,
  tolerance: Tolerance = GOLDEN_TOLERANCE,
  label = 'value',
): void {
  const a = flatten(actual);
  const e = flatten(expected);
  if (a.shape !== null && e.shape !== null) {
    expect(a.shape, `${label}: shape`).toEqual(e.shape);
  }
  expect(a.data.length, `${label}: element count`).toBe(e.data.length);
  let worst = 0;
  let worstIndex = -1;
  let firstBad = -1;
  for (let i = 0; i < a.data.length; i++) {
    const diff = Math.abs(a.data[i] - e.data[i]);
    const allowed = tolerance.atol + tolerance.rtol * Math.abs(e.data[i]);
    if (!(diff <= allowed)) {
      if (firstBad < 0) firstBad = i;
      if (!(diff <= worst)) {
        worst = diff;
        worstIndex = i;
      }
    }
  }
  if (firstBad >= 0) {
    throw new Error(
      `${label}: mismatch at flat index ${firstBad}: got ${a.data[firstBad]}, expected ${e.data[firstBad]} ` +
        `(worst |Δ| ${worst} at ${worstIndex}; rtol ${tolerance.rtol}, atol ${tolerance.atol})`,
    );
  }
}
