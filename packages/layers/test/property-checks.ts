/**
 * Shared steps of the layers' property tests: a gradient check of a tfjs loss against central differences
 * of its float64 reference. Test-only (outside src: neither bundled nor documented).
 */
import * as tf from '@tensorflow/tfjs-core';
import { expectClose, type Tolerance } from '@phalanx/testing';
import { centralDifference } from './reference';

/** One input of a checked function: its float32-exact values and shape. */
export interface CheckedInput {
  values: number[];
  shape: number[];
}

/**
 * Compares `tf.grads(loss)` at `picks` random coordinates of every input with central differences of
 * `reference` (the same loss in float64, taking every input's values). Disposes what it creates.
 */
export function expectGradientsMatchReference(
  loss: (...xs: tf.Tensor[]) => tf.Scalar,
  inputs: readonly CheckedInput[],
  reference: (values: number[][]) => number,
  next: () => number,
  tolerance: Tolerance,
  picks = 3,
): void {
  const tensors = inputs.map((input) => tf.tensor(input.values, input.shape));
  const grads = tf.grads(loss)(tensors);
  const all = inputs.map((input) => input.values);
  inputs.forEach((input, k) => {
    // eslint-disable-next-line no-restricted-syntax -- test code: the analytic gradient is read to compare it
    const analytic = grads[k].dataSync();
    const at = Array.from({ length: picks }, () => Math.floor(next() * input.values.length));
    const numeric = at.map((i) =>
      centralDifference((v) => reference(all.map((other, m) => (m === k ? v : other))), input.values, i),
    );
    expectClose(
      at.map((i) => analytic[i]),
      numeric,
      tolerance,
      `gradient of input ${k}`,
    );
  });
  tf.dispose([...tensors, ...grads]);
}
