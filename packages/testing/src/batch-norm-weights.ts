/**
 * Batch-norm weights for tests that compare two batch-norm implementations on the same layer state.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * Seeded weights of a batch-norm layer over `channels` channels, in tfjs-layers' order: γ ∈ [0.5, 1.5),
 * β ∈ [−1, 1), moving mean ∈ [−1, 1), moving variance ∈ [0.5, 2) — away from the initial 1, 0, 0, 1 so
 * that a layer reading the wrong one shows. The caller disposes them.
 *
 * @example
 * const weights = batchNormTestWeights(8);
 * layer.setWeights(weights);
 * tf.dispose(weights);
 */
export function batchNormTestWeights(channels: number): tf.Tensor1D[] {
  return [
    tf.randomUniform([channels], 0.5, 1.5, 'float32', 1),
    tf.randomUniform([channels], -1, 1, 'float32', 2),
    tf.randomUniform([channels], -1, 1, 'float32', 3),
    tf.randomUniform([channels], 0.5, 2, 'float32', 4),
  ] as tf.Tensor1D[];
}
