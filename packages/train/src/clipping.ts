/**
 * Gradient clipping by global norm (TensorFlow's `clip_by_global_norm`, PyTorch's
 * `clip_grad_norm_`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { checkPositive } from '@phalanx/errors';
import { concatFlat, splitFlat } from './flat-tensors';
import { checkTensorList } from './tensor-lists';

/** `√(Σ x²)` of a vector: three kernels. */
const vectorNorm = (flat: tf.Tensor1D) => tf.sqrt(tf.sum(tf.square(flat))) as tf.Scalar;

/**
 * The global L2 norm of a set of gradients: `‖g‖ = √(Σ_k Σ g_k²)`, computed on their concatenation
 * (one `Concat` and one reduction whatever the number of gradients).
 *
 * **Shapes**: any tensors → a scalar (0 for none). `gradients` that are not an array of tensors are a
 * `PhalanxShapeError`.
 *
 * @example
 * globalNorm([tf.tensor1d([3]), tf.tensor1d([4])]).print(); // 5
 */
export function globalNorm(gradients: readonly tf.Tensor[]): tf.Scalar {
  checkTensorList('globalNorm', 'gradients', gradients, 0);
  return tf.tidy(() => {
    if (gradients.length === 0) return tf.scalar(0);
    return vectorNorm(concatFlat(gradients));
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
 * gradients (new tensors; the inputs are not disposed) and the norm before clipping. The gradients are
 * concatenated once, scaled in one kernel and split back (a fixed number of kernels).
 *
 * **Shapes**: tensors of any shape → the same shapes, and a scalar norm. `gradients` that are not an array
 * of tensors are a `PhalanxShapeError`, a `maxNorm` that is not a finite number > 0 a `PhalanxConfigError`.
 *
 * @example
 * const { clipped, norm } = clipByGlobalNorm([tf.tensor1d([3, 4])], 1); // [0.6, 0.8], norm 5
 */
export function clipByGlobalNorm(gradients: readonly tf.Tensor[], maxNorm: number): ClippedGradients {
  checkTensorList('clipByGlobalNorm', 'gradients', gradients, 0);
  checkPositive('clipByGlobalNorm', 'maxNorm', maxNorm);
  return tf.tidy(() => {
    if (gradients.length === 0) return { clipped: [], norm: tf.scalar(0) };
    const flat = concatFlat(gradients);
    const norm = vectorNorm(flat);
    const factor = tf.div(maxNorm, tf.maximum(norm, maxNorm));
    const clipped = splitFlat(
      tf.mul(flat, factor) as tf.Tensor1D,
      gradients.map((g) => g.shape),
    );
    return { clipped, norm };
  });
}
