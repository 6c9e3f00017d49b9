import * as tf from '@tensorflow/tfjs-core';
import { asFloat32, checkSameShape } from './validate';

/**
 * Heatmap loss: the mean of the squared differences over all elements,
 *
 *     L_H = mean_{b, y, x, j} (H_true − H_pred)²
 *
 * EHPE Eq. 3 up to a constant factor (the paper sums over the pixels and averages over the J joints;
 * this averages over the pixels too, which changes the loss by the factor h·w only).
 *
 * Usable as `model.compile({loss: heatmapMSE})`: tfjs-layers calls it as `(yTrue, yPred)`.
 *
 * **Shapes**: `target`, `prediction` — any equal shapes, typically `[B, H, W, J]`. Returns a scalar.
 * float32 or int32 tensors; int32 is computed as float32 (the value float32 tensors would give).
 *
 * @param target Ground-truth heatmaps.
 * @param prediction Predicted heatmaps, same shape as `target`.
 * @throws PhalanxShapeError when the shapes differ, a tensor is disposed or its dtype is not float32 or int32.
 *
 * @example
 * const t = tf.zeros([1, 2, 2, 1]);
 * const p = tf.tensor4d([1, 0, 0, 1], [1, 2, 2, 1]);
 * heatmapMSE(t, p).print(); // 0.5
 */
export function heatmapMSE(target: tf.Tensor, prediction: tf.Tensor): tf.Scalar {
  checkSameShape('heatmapMSE', target, prediction);
  return tf.tidy(() => tf.mean(tf.squaredDifference(asFloat32(prediction), asFloat32(target))) as tf.Scalar);
}
