/**
 * Tensor argument checks shared by the stage targets and losses (internal: not exported from the package):
 * everything is checked before anything is computed, so an error leaves no tensor behind.
 */
import * as tf from '@tensorflow/tfjs-core';
import { PhalanxShapeError } from '@phalanx/errors';
import { checkTensor } from '@phalanx/layers';

/** What an error names as received for a value that should be a tensor: its shape, or the value itself. */
export function shapeOf(value: unknown): unknown {
  return value instanceof tf.Tensor ? value.shape : value;
}

/**
 * Returns `value` if it is a tensor whose shape `ok` accepts and that is not disposed; throws a
 * `PhalanxShapeError` naming `component` and `argument` otherwise (`expected` for a missing or misshapen one).
 */
export function checkTensorShape(
  component: string,
  argument: string,
  value: unknown,
  expected: string,
  ok: (shape: number[]) => boolean,
): tf.Tensor {
  if (!(value instanceof tf.Tensor) || !ok(value.shape)) {
    throw new PhalanxShapeError(component, argument, expected, shapeOf(value));
  }
  return checkTensor(component, argument, value); // not disposed
}
