/**
 * The argument check of the functions that take a list of tensors (internal: not exported from the
 * package): `globalNorm(null)` read `null.length` and `[null]` read `null.rank`, raw `TypeError`s.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describeCompact, PhalanxShapeError } from '@phalanx/errors';

/**
 * Returns `list` if it is an array of at least `min` tensors; throws a `PhalanxShapeError` of `component`
 * naming `argument` (or the entry `argument[i]` that is not a tensor) otherwise:
 * `globalNorm: gradients must be an array of tensors, but received null.`
 *
 * @example
 * const gradients = checkTensorList('globalNorm', 'gradients', [tf.zeros([2])], 0);
 */
export function checkTensorList(component: string, argument: string, list: unknown, min: number): tf.Tensor[] {
  const expected = min > 0 ? `an array of at least ${min} tensor${min > 1 ? 's' : ''}` : 'an array of tensors';
  if (!Array.isArray(list) || list.length < min) {
    throw new PhalanxShapeError(component, argument, expected, list, describeCompact);
  }
  list.forEach((t: unknown, i) => {
    if (!(t instanceof tf.Tensor)) {
      throw new PhalanxShapeError(component, `${argument}[${i}]`, 'a tensor', t === null ? null : typeof t);
    }
  });
  return list as tf.Tensor[];
}
