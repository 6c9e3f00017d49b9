/**
 * `log Σ exp` with its gradient taken directly as the softmax, not through the stabilising maximum.
 */
import * as tf from '@tensorflow/tfjs-core';
import { checkIntegerIn, PhalanxConfigError } from '@phalanx/errors';
import { checkTensor } from './checks';

/** The axes `axis` names in a tensor of rank `rank`, as sorted non-negative indices; a named error otherwise. */
function reducedAxes(axis: number | number[] | null, rank: number): number[] {
  const given = axis ?? Array.from({ length: rank }, (_, i) => i);
  if (!Array.isArray(given) && typeof given !== 'number') {
    throw new PhalanxConfigError('leanLogSumExp', 'axis', 'an integer, an array of integers or null', given);
  }
  const list = (Array.isArray(given) ? given : [given]).map((a) =>
    checkIntegerIn('leanLogSumExp', 'axis', a, -rank, rank - 1),
  );
  return [...new Set(list.map((a) => (a < 0 ? a + rank : a)))].sort((a, b) => a - b);
}

/**
 * `y = log Σ_axis exp(x)`, the same values as `tf.logSumExp` (it runs it: `m + log Σ exp(x − m)` with
 * `m = max_axis x`), with the gradient computed in one pass as
 *
 *     ∂L/∂x = ∂L/∂y · exp(x − y)          (= ∂L/∂y · softmax_axis(x))
 *
 * tfjs differentiates its composite instead, the maximum included: a `Max` gradient that compares every
 * element of `x` with the maximum (`equal`, `cast`, `mul` over the whole input) only to add
 * `∂L/∂y · (1 − Σ softmax) = 0` (the result does not depend on `m`). On a volume of logits — EHPE's
 * scoremap and depth cross-entropies over `[B, S², n, D]` — that comparison was 17 % of a training step
 * on wasm. The two gradients agree within float32 rounding.
 *
 * **Shapes**: `x [d₀, …, d_{r−1}]` → `x`'s shape without the reduced axes (kept as 1 with `keepDims`).
 *
 * @param x The logits.
 * A reduction over no elements (an axis of size 0) is `−∞`, the log of an empty sum.
 *
 * @param axis The axis or axes to reduce (negative counts from the end). Default: all.
 * @param keepDims Keep the reduced axes with size 1. Default false.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { leanLogSumExp } from '@phalanx/layers';
 *
 * const logits = tf.tensor2d([[0, Math.log(3)], [1, 1]]);
 * const y = leanLogSumExp(logits, 1); // [ln 4, 1 + ln 2]
 * const grad = tf.grad((x: tf.Tensor) => tf.sum(leanLogSumExp(x, 1)))(logits); // softmax rows: [[0.25, 0.75], [0.5, 0.5]]
 * ```
 */
export function leanLogSumExp(x: tf.Tensor, axis: number | number[] | null = null, keepDims = false): tf.Tensor {
  checkTensor('leanLogSumExp', 'x', x);
  const axes = reducedAxes(axis, x.rank);
  const keptShape = x.shape.map((size, i) => (axes.includes(i) ? 1 : size));
  const empty = axes.some((i) => x.shape[i] === 0);
  const outShape = keepDims ? keptShape : x.shape.filter((_, i) => !axes.includes(i));
  const run = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const value = empty ? tf.fill(outShape, -Infinity) : tf.logSumExp(input, axes, keepDims);
    save([input, value]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [logits, y] = saved;
        return tf.mul(tf.reshape(dy, keptShape), tf.exp(tf.sub(logits, tf.reshape(y, keptShape))));
      },
    };
  });
  return run(x);
}
