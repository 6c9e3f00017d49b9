/**
 * Gradient clipping by global norm (TensorFlow's `clip_by_global_norm`, PyTorch's
 * `clip_grad_norm_`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { checkPositive } from '@phalanx/errors';

/**
 * The global L2 norm of a set of gradients: `‖g‖ = √(Σ_k Σ g_k²)`.
 *
 * **Shapes**: any tensors → a scalar.
 *
 * @example
 * globalNorm([tf.tensor1d([3]), tf.tensor1d([4])]).print(); // 5
 */
export function globalNorm(gradients: readonly tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => {
    if (gradients.length === 0) return tf.scalar(0);
    return tf.sqrt(tf.addN(gradients.map((g) => tf.sum(tf.square(g))))) as tf.Scalar;
  });
}

/** What {@link clipByGlobalNorm} returns. */
export interface ClippedGradients {
  /** The clipped gradients (new tensors), in the order given. */
  clipped: tf.Tensor[];
  /** The global norm before clipping. */
  norm: tf.Scalar;
}

/**
 * Scales a set of gradients so that their global norm is at most `maxNorm`:
 * `g_k ← g_k · maxNorm / max(‖g‖, maxNorm)` (unchanged when `‖g‖ ≤ maxNorm`). Returns the clipped
 * gradients (new tensors; the inputs are not disposed) and the norm before clipping.
 *
 * **Shapes**: tensors of any shape → the same shapes, and a scalar norm.
 *
 * @example
 * const { clipped, norm } = clipByGlobalNorm([tf.tensor1d([3, 4])], 1); // [0.6, 0.8], norm 5
 */
export function clipByGlobalNorm(gradients: readonly tf.Tensor[], maxNorm: number): ClippedGradients {
  checkPositive('clipByGlobalNorm', 'maxNorm', maxNorm);
  return tf.tidy(() => {
    const norm = globalNorm(gradients);
    const factor = tf.div(maxNorm, tf.maximum(norm, maxNorm));
    return { clipped: gradients.map((g) => tf.mul(g, factor)), norm };
  });
}
