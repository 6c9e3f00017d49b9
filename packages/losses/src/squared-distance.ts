import * as tf from '@tensorflow/tfjs-core';
import { asFloat32, checkPoints3 } from './validate';

/**
 * Squared-distance loss: the mean over `[B, J]` of the squared Euclidean distance,
 *
 *     L = 1/(B·J) Σ_{b, j} ‖ĉ_bj − c_bj‖₂²
 *
 * EHPE Eq. 4 (Euclidean distance loss L_ED) and Eq. 12 (position loss L_P), averaged over the batch.
 * Note that this is 3× `tf.losses.meanSquaredError`, which also averages over the 3 coordinates.
 *
 * Usable as `model.compile({loss: squaredDistanceLoss})`.
 *
 * **Shapes**: `target`, `prediction` — `[..., 3]` (typically `[B, J, 3]`), equal. Returns a scalar.
 * float32 or int32 tensors; int32 is computed as float32 (the value float32 tensors would give).
 *
 * @param target Ground-truth joints.
 * @param prediction Predicted joints, same shape as `target`.
 * @throws PhalanxShapeError when the shapes differ, the last axis is not 3, a tensor is disposed or its
 *   dtype is not float32 or int32.
 *
 * @example
 * const t = tf.tensor3d([[[0, 0, 0], [1, 1, 1]]]);
 * const p = tf.tensor3d([[[3, 4, 0], [1, 1, 1]]]);
 * squaredDistanceLoss(t, p).print(); // 12.5  (25 and 0)
 */
export function squaredDistanceLoss(target: tf.Tensor, prediction: tf.Tensor): tf.Scalar {
  checkPoints3('squaredDistanceLoss', target, prediction);
  return tf.tidy(
    () => tf.mean(tf.sum(tf.squaredDifference(asFloat32(prediction), asFloat32(target)), -1)) as tf.Scalar,
  );
}
