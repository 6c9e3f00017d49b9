import * as tf from '@tensorflow/tfjs-core';
import { PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';

/**
 * Something that holds a weight tensor: a `tf.Tensor` / `tf.Variable`, or a tfjs-layers
 * `LayerVariable` (anything with `read(): tf.Tensor`), so `layer.trainableWeights` can be passed as is.
 */
export type WeightLike =
  | tf.Tensor
  | {
      /** Returns the current value of the weight. */
      read(): tf.Tensor;
    };

/**
 * L1 weight penalty (EHPE Eq. 5): the sum of the absolute values of all entries of all given weights,
 *
 *     L_R = Σ_k ‖W_k‖₁.
 *
 * Add it, scaled by a small factor, to a training loss. An empty list gives 0.
 *
 * **Shapes**: `weights` — one tensor or a list of tensors of any shapes. Returns a scalar.
 *
 * @param weights The weights to penalise: tensors, variables, or tfjs-layers `LayerVariable`s
 *   (e.g. `model.trainableWeights`).
 * @throws PhalanxConfigError when an entry is neither a tensor nor has `read()`, or is not float32 or int32.
 * @throws PhalanxShapeError when an entry is a disposed tensor.
 *
 * @example
 * l1Penalty([tf.tensor1d([1, -2]), tf.tensor2d([[-3]])]).print(); // 6
 */
export function l1Penalty(weights: WeightLike | readonly WeightLike[]): tf.Scalar {
  const list: readonly WeightLike[] = Array.isArray(weights) ? weights : [weights as WeightLike];
  return tf.tidy(() => {
    const terms = list.map((w, i) => {
      const tensor =
        w instanceof tf.Tensor
          ? w
          : typeof (w as { read?: unknown })?.read === 'function'
            ? (w as { read(): tf.Tensor }).read()
            : null;
      if (tensor === null) {
        throw new PhalanxConfigError('l1Penalty', `weights[${i}]`, 'a tf.Tensor or an object with read()', typeof w);
      }
      if (tensor.isDisposed) {
        throw new PhalanxShapeError('l1Penalty', `weights[${i}]`, 'a tensor that is not disposed', 'a disposed tensor');
      }
      if (tensor.dtype !== 'float32' && tensor.dtype !== 'int32') {
        throw new PhalanxConfigError('l1Penalty', `weights[${i}]`, 'a float32 or int32 tensor', tensor.dtype);
      }
      // float32 throughout, so int32 weights (e.g. counters a layer keeps) add up with the others.
      return tf.sum(tf.abs(tf.cast(tensor, 'float32')));
    });
    return (terms.length === 0 ? tf.scalar(0) : tf.addN(terms)) as tf.Scalar;
  });
}
