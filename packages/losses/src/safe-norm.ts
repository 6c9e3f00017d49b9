import * as tf from '@tensorflow/tfjs-core';

/**
 * Euclidean norm along the last axis, `‖x‖ = √(Σ_c x_c²)`, whose gradient `x / ‖x‖` is defined as 0
 * where `‖x‖ = 0` (the subgradient of smallest norm) instead of the NaN that `tf.sqrt` gives there.
 * Exact everywhere: no epsilon is added to the value.
 *
 * **Shapes**: `x` `[..., C]` → `[...]`.
 */
export const safeNorm: (x: tf.Tensor) => tf.Tensor = /* @__PURE__ */ tf.customGrad(
  (x: tf.Tensor | tf.GradSaveFunc, save: tf.Tensor | tf.GradSaveFunc) => {
    const input = x as tf.Tensor;
    const norm = tf.sqrt(tf.sum(tf.square(input), -1));
    (save as tf.GradSaveFunc)([input, norm]);
    return {
      value: norm,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, n] = saved;
        // Where ‖x‖ = 0, x itself is 0, so dividing by 1 there yields the 0 gradient.
        const safe = tf.where(tf.greater(n, 0), n, tf.onesLike(n));
        return [tf.mul(tf.expandDims(tf.div(dy, safe), -1), xs)];
      },
    };
  },
) as (x: tf.Tensor) => tf.Tensor;
