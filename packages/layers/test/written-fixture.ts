/** The tensors of `fixtures/pth/written-by-phalanx.pth` (see scripts/write-pth-fixture.ts). */
import * as tf from '@tensorflow/tfjs-core';

/** Every dtype writeTorchStateDict writes, odd shapes (scalar, empty, rank 4), awkward names and values. */
export function writtenFixtureTensors(): Record<string, tf.Tensor> {
  const ramp = (n: number, scale: number) => Array.from({ length: n }, (_, i) => (i - n / 2) * scale);
  return {
    'conv.weight': tf.tensor4d(ramp(3 * 2 * 3 * 3, 0.125), [3, 2, 3, 3]),
    'conv.bias': tf.tensor1d([0.5, -1.25, 3.4e38]),
    'bn.num_batches_tracked': tf.scalar(12345, 'int32'),
    ints: tf.tensor2d([-2147483648, 2147483647, 0, -7], [2, 2], 'int32'),
    mask: tf.tensor1d([1, 0, 1], 'bool'),
    empty: tf.zeros([0, 4]),
    special: tf.tensor1d([Infinity, -Infinity, -0, 1e-45]),
    'named.ünïcode.wéight': tf.tensor1d([1]),
    ['__proto__']: tf.tensor1d([2]), // a computed key: an own property, not the prototype
  };
}
