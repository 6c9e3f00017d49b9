import * as tf from '@tensorflow/tfjs-core';
import { checkFloat32, PhalanxConfigError } from '@phalanx/errors';
import { asFloat32, checkOptions, checkPoints3 } from './validate';

/** The defaults of {@link XyzL1LossOptions}: λ = 1, plain L1 summed over the coordinates. */
export const XYZ_L1_LOSS_DEFAULTS = Object.freeze({
  /** {@link XyzL1LossOptions.zWeight} */
  zWeight: 1,
} as const);

/** Options of {@link xyzL1Loss}; defaults in {@link XYZ_L1_LOSS_DEFAULTS}. */
export interface XyzL1LossOptions {
  /**
   * Weight λ of the depth term `|Δz|`, balancing the gradient magnitudes of the XY and Z errors. A
   * finite number ≥ 0 that stays finite in float32 (it multiplies a float32 tensor).
   */
  zWeight?: number;
}

/** The checked λ of `options`: a named error for a non-object, a negative, non-finite or float32-overflowing λ. */
function zWeightOf(component: string, options: XyzL1LossOptions): number {
  const zWeight = checkOptions(component, options, { zWeight: true }).zWeight ?? XYZ_L1_LOSS_DEFAULTS.zWeight;
  if (typeof zWeight !== 'number' || !Number.isFinite(zWeight) || zWeight < 0) {
    throw new PhalanxConfigError(component, 'zWeight', 'a finite number ≥ 0', zWeight);
  }
  return checkFloat32(component, 'zWeight', zWeight);
}

function xyzL1(component: string, target: tf.Tensor, prediction: tf.Tensor, zWeight: number): tf.Scalar {
  checkPoints3(component, target, prediction);
  return tf.tidy(() => {
    const weights = tf.tensor1d([1, 1, zWeight], 'float32');
    const perJoint = tf.sum(tf.mul(tf.abs(tf.sub(asFloat32(prediction), asFloat32(target))), weights), -1);
    return tf.mean(perJoint) as tf.Scalar;
  });
}

/**
 * Weighted L1 loss on 3D joints (Learnable Groups Eq. 10): the mean over `[B, J]` of
 *
 *     |x̂ − x| + |ŷ − y| + λ·|ẑ − z|,   λ = zWeight.
 *
 * With the default λ ({@link XYZ_L1_LOSS_DEFAULTS}) it can be passed to `model.compile({loss: xyzL1Loss})` directly; for
 * another λ use {@link xyzL1LossFn}, which returns a `(yTrue, yPred)` loss.
 *
 * **Shapes**: `target`, `prediction` — `[..., 3]` (typically `[B, J, 3]`, coordinates x, y, z),
 * equal. Returns a scalar. float32 or int32 tensors; int32 is computed as float32 (the value float32
 * tensors would give).
 *
 * @param target Ground-truth joints.
 * @param prediction Predicted joints, same shape as `target`.
 * @param options `zWeight` (λ; defaults in {@link XYZ_L1_LOSS_DEFAULTS}).
 * @throws PhalanxShapeError when the shapes differ, the last axis is not 3, a tensor is disposed or its
 *   dtype is not float32 or int32.
 * @throws PhalanxConfigError when `options` is not an object or `zWeight` is negative, not finite or
 *   beyond float32.
 *
 * @example
 * const t = tf.zeros([1, 1, 3]);
 * const p = tf.tensor3d([[[1, -2, 4]]]);
 * xyzL1Loss(t, p, { zWeight: 0.5 }).print(); // 5  (1 + 2 + 0.5·4)
 */
export function xyzL1Loss(target: tf.Tensor, prediction: tf.Tensor, options: XyzL1LossOptions = {}): tf.Scalar {
  return xyzL1('xyzL1Loss', target, prediction, zWeightOf('xyzL1Loss', options));
}

/**
 * Returns {@link xyzL1Loss} with its options bound, as a `(yTrue, yPred) => Scalar` function for
 * `model.compile({loss})` or a custom training loop. The options are checked here, once.
 *
 * **Shapes**: as {@link xyzL1Loss}.
 *
 * @throws PhalanxConfigError when `options` is not an object or `zWeight` is negative, not finite or
 *   beyond float32.
 *
 * @example
 * const model = tfl.sequential({
 *   layers: [tfl.layers.flatten({ inputShape: [21, 3] }), tfl.layers.dense({ units: 63 }), tfl.layers.reshape({ targetShape: [21, 3] })],
 * });
 * model.compile({ optimizer: 'adam', loss: xyzL1LossFn({ zWeight: 0.5 }) });
 */
export function xyzL1LossFn(options: XyzL1LossOptions = {}): (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Scalar {
  const zWeight = zWeightOf('xyzL1LossFn', options);
  return (yTrue: tf.Tensor, yPred: tf.Tensor) => xyzL1('xyzL1Loss', yTrue, yPred, zWeight);
}
