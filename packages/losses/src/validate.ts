import * as tf from '@tensorflow/tfjs-core';
import { checkOptions as checkSharedOptions, PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';

/** The dtypes a loss computes with: float32, and int32 computed as float32 (see {@link asFloat32}). */
export const LOSS_DTYPES: readonly tf.DataType[] = ['float32', 'int32'];

/**
 * Throws unless `x` is a tfjs tensor (a plain array or `undefined` gives a named error, not a crash) that
 * is not disposed and whose dtype is one of `dtypes` (default {@link LOSS_DTYPES}: a string, complex64 or
 * bool tensor is a `PhalanxShapeError` naming `component` and `argument`, not a raw tfjs error).
 */
export function checkTensor(
  component: string,
  argument: string,
  x: unknown,
  dtypes: readonly tf.DataType[] = LOSS_DTYPES,
): tf.Tensor {
  if (typeof x !== 'object' || x === null || !Array.isArray((x as tf.Tensor).shape) || !('dtype' in x)) {
    throw new PhalanxConfigError(component, argument, 'a tf.Tensor', x === null ? 'null' : typeof x);
  }
  const t = x as tf.Tensor;
  if (t.isDisposed) {
    throw new PhalanxShapeError(component, argument, 'a tensor that is not disposed', 'a disposed tensor');
  }
  if (!dtypes.includes(t.dtype)) {
    throw new PhalanxShapeError(component, argument, `a ${dtypes.join(' or ')} tensor`, t.dtype);
  }
  return t;
}

/**
 * `x` as float32, for use inside a loss's `tf.tidy`: `x` itself when it is float32 (no operation, so a
 * float32 loss is bitwise what it was), a cast otherwise — int32 inputs give the float32 value, not an
 * integer division or a raw error (`sqrt` takes float32 only).
 */
export function asFloat32(x: tf.Tensor): tf.Tensor {
  return x.dtype === 'float32' ? x : tf.cast(x, 'float32');
}

/** Throws unless `target` and `prediction` are tensors of the same shape. */
export function checkSameShape(component: string, target: unknown, prediction: unknown): void {
  const t = checkTensor(component, 'target', target);
  const p = checkTensor(component, 'prediction', prediction);
  if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
    throw new PhalanxShapeError(component, 'prediction', `the shape of target [${t.shape.join(', ')}]`, p.shape);
  }
}

/**
 * Throws unless `target` and `prediction` are point sets of the same shape `[..., 3]` with at least
 * one leading axis (typically `[B, J, 3]`).
 */
export function checkPoints3(component: string, target: unknown, prediction: unknown): void {
  checkSameShape(component, target, prediction);
  const shape = (target as tf.Tensor).shape;
  if (shape.length < 2 || shape[shape.length - 1] !== 3) {
    throw new PhalanxShapeError(component, 'target', 'of shape [..., 3] (e.g. [B, J, 3])', shape);
  }
}

/**
 * Returns `options` if it is an options object (`undefined` counts as `{}`); throws a `PhalanxConfigError`
 * naming `component` for `null`, arrays and primitives, where reading a field would throw a `TypeError`,
 * and for a key that is not among `known` (a misspelt option would otherwise fall back to its default).
 */
export function checkOptions<T extends object>(
  component: string,
  options: T | undefined,
  known: Readonly<Record<keyof T, true>>,
): Partial<T> {
  if (options === undefined) return {};
  return checkSharedOptions(component, 'options', options, known, 'an object');
}
