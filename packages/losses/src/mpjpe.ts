import * as tf from '@tensorflow/tfjs-core';
import { safeNorm } from './safe-norm';
import { asFloat32, checkPoints3 } from './validate';

/**
 * Mean per-joint position error as a loss: the mean over `[B, J]` of the Euclidean distance between
 * predicted and true joints,
 *
 *     L = 1/(B·J) Σ_{b, j} ‖ĉ_bj − c_bj‖₂
 *
 * (the Euclidean loss of EHPE's released code; EHPE Eq. 4 is its squared form, see
 * {@link squaredDistanceLoss}). The gradient is exact and finite everywhere: where a prediction equals
 * its target the gradient of that joint's term is 0 (not the NaN of `d√x/dx` at 0).
 *
 * Usable as `model.compile({loss: mpjpeLoss})`.
 *
 * **Shapes**: `target`, `prediction` — `[..., 3]` (typically `[B, J, 3]`), equal. Returns a scalar in
 * the units of the coordinates. float32 or int32 tensors; int32 is computed as float32 (the value
 * float32 tensors would give).
 *
 * @param target Ground-truth joints.
 * @param prediction Predicted joints, same shape as `target`.
 * @throws PhalanxShapeError when the shapes differ, the last axis is not 3, a tensor is disposed or its
 *   dtype is not float32 or int32.
 *
 * @example
 * const t = tf.tensor3d([[[0, 0, 0], [1, 1, 1]]]);
 * const p = tf.tensor3d([[[3, 4, 0], [1, 1, 1]]]);
 * mpjpeLoss(t, p).print(); // 2.5  (distances 5 and 0)
 */
export function mpjpeLoss(target: tf.Tensor, prediction: tf.Tensor): tf.Scalar {
  checkPoints3('mpjpeLoss', target, prediction);
  return tf.tidy(() => tf.mean(safeNorm(tf.sub(asFloat32(prediction), asFloat32(target)))) as tf.Scalar);
}
