import * as tf from '@tensorflow/tfjs-core';
import { expectClose } from './close';

export interface NumericGradientOptions {
  /** Finite-difference step (central differences). Float32 arithmetic: keep it around 1e-2…1e-3. */
  epsilon?: number;
  /** How many coordinates of each input to probe (chosen evenly spread). */
  samples?: number;
  rtol?: number;
  atol?: number;
}

/**
 * Compares the analytic gradient of a scalar function `f(xs)` (from `tf.grads`) with central finite
 * differences `(f(x + εe_i) − f(x − εe_i)) / 2ε` at sampled coordinates of every input.
 */
export function expectNumericGradient(
  f: (...xs: tf.Tensor[]) => tf.Scalar,
  xs: tf.Tensor[],
  options: NumericGradientOptions = {},
): void {
  const { epsilon = 1e-2, samples = 12, rtol = 2e-2, atol = 2e-3 } = options;
  const analytic = tf.grads(f)(xs);
  xs.forEach((x, inputIndex) => {
    const values = x.dataSync().slice();
    const grad = analytic[inputIndex].dataSync();
    const count = Math.min(samples, values.length);
    const numeric: number[] = [];
    const picked: number[] = [];
    for (let s = 0; s < count; s++) {
      const i = Math.floor(((s + 0.5) * values.length) / count);
      picked.push(grad[i]);
      const evalAt = (delta: number): number =>
        tf.tidy(() => {
          const shifted = values.slice();
          shifted[i] += delta;
          const args = xs.map((other, k) => (k === inputIndex ? tf.tensor(shifted, x.shape) : other));
          return f(...args).dataSync()[0];
        });
      numeric.push((evalAt(epsilon) - evalAt(-epsilon)) / (2 * epsilon));
    }
    expectClose(picked, numeric, { rtol, atol }, `numeric gradient of input ${inputIndex}`);
  });
  tf.dispose(analytic);
}
