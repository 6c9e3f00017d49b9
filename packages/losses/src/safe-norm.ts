import * as tf from '@tensorflow/tfjs-core';
import { FLOAT32_MAX, FLOAT32_MIN_NORMAL } from '@phalanx/errors';

/**
 * The rows whose `Σ x²` left float32's normal range although `x` is finite and not all zero: `Σ x²` overflowed
 * (some |x| beyond ~1.8e19) or underflowed (all |x| below ~1e-19). A row with a NaN or ±∞ is not one of
 * them: it keeps the plain formula's NaN or ∞. A `Σ x²` below 2⁻¹²⁶ (subnormal) has lost digits; one of at
 * least 2⁻¹²⁶ is within an ulp of exact. `[...]`, bool.
 */
function outOfRange(sumOfSquares: tf.Tensor, maxAbs: tf.Tensor): tf.Tensor {
  const finiteNonZero = tf.logicalAnd(tf.greater(maxAbs, 0), tf.lessEqual(maxAbs, FLOAT32_MAX));
  const lost = tf.logicalOr(tf.less(sumOfSquares, FLOAT32_MIN_NORMAL), tf.greater(sumOfSquares, FLOAT32_MAX));
  return tf.logicalAnd(finiteNonZero, lost);
}

/**
 * Euclidean norm along the last axis, `‖x‖ = √(Σ_c x_c²)`, whose gradient `x / ‖x‖` is defined as 0
 * where `‖x‖ = 0` (the subgradient of smallest norm) instead of the NaN that `tf.sqrt` gives there.
 * Exact everywhere: no epsilon is added to the value.
 *
 * Scale-safe: in a row where `Σ x²` overflows float32 (|x| beyond ~1.8e19) or underflows it (every |x| below
 * ~1e-19), the norm is `m · ‖x / m‖` with `m = max_c |x_c|` and the gradient `dy · (x/m) / ‖x/m‖`, both
 * finite (the norm is ∞ only where it exceeds the largest float32). Every other row is computed as before,
 * `√(Σ x²)` and `dy / ‖x‖ · x`, bit for bit; the rows are chosen with `tf.where`, without a host read.
 *
 * **Shapes**: `x` `[..., C]` → `[...]`.
 *
 * @example
 * safeNorm(tf.tensor2d([[3, 4, 0], [3e20, 4e20, 0]])).print(); // [5, 5e20]
 */
export const safeNorm: (x: tf.Tensor) => tf.Tensor = /* @__PURE__ */ tf.customGrad(
  (x: tf.Tensor | tf.GradSaveFunc, save: tf.Tensor | tf.GradSaveFunc) => {
    const input = x as tf.Tensor;
    const sumOfSquares = tf.sum(tf.square(input), -1);
    const maxAbs = tf.max(tf.abs(input), -1);
    const scaledRows = outOfRange(sumOfSquares, maxAbs);
    // Rows computed as before divide by 1 here (and their scaled values are not used).
    const divisor = tf.where(scaledRows, maxAbs, tf.onesLike(maxAbs));
    const scaled = tf.div(input, tf.expandDims(divisor, -1));
    const scaledNorm = tf.sqrt(tf.sum(tf.square(scaled), -1)); // in [1, √C] for the scaled rows
    const norm = tf.where(scaledRows, tf.mul(scaledNorm, divisor), tf.sqrt(sumOfSquares));
    (save as tf.GradSaveFunc)([input, norm, scaledRows, scaled, scaledNorm]);
    return {
      value: norm,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, n, rows, unscaled, unscaledNorm] = saved;
        // Where ‖x‖ = 0, x itself is 0, so dividing by 1 there yields the 0 gradient.
        const safe = tf.where(tf.greater(n, 0), n, tf.onesLike(n));
        const plain = tf.mul(tf.expandDims(tf.div(dy, safe), -1), xs);
        const unit = tf.div(unscaled, tf.expandDims(tf.where(rows, unscaledNorm, tf.onesLike(n)), -1));
        const scaledGrad = tf.mul(unit, tf.expandDims(dy, -1));
        return [tf.where(tf.broadcastTo(tf.expandDims(rows, -1), xs.shape), scaledGrad, plain)];
      },
    };
  },
) as (x: tf.Tensor) => tf.Tensor;
