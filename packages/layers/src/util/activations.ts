/**
 * tfjs-layers activation identifiers as plain functions, for layers whose `activation` config field is
 * a serialisable string like `tf.layers.dense`'s. The functions are tfjs-layers' own activation classes
 * (looked up in the serialisation registry), so the numbers are exactly those of `tf.layers.dense`.
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-layers registers its activation classes ('relu', 'linear', …) on import.
import '@tensorflow/tfjs-layers';
import { checkOneOf } from '@phalanx/errors';

/** The activation identifiers that tfjs-layers accepts (`ActivationIdentifier`). */
export const ACTIVATION_IDENTIFIERS = [
  'elu',
  'hardSigmoid',
  'linear',
  'relu',
  'relu6',
  'selu',
  'sigmoid',
  'softmax',
  'softplus',
  'softsign',
  'tanh',
  'swish',
  'mish',
  'gelu',
  'gelu_new',
] as const;

/** A tfjs-layers activation identifier, e.g. `'relu'`; `'linear'` is the identity. */
export type ActivationIdentifier = (typeof ACTIVATION_IDENTIFIERS)[number];

interface ActivationObject {
  apply(x: tf.Tensor): tf.Tensor;
}

/**
 * Validates an activation identifier for `component` and returns its canonical form. `'geluNew'` is
 * accepted as `'gelu_new'` (tfjs camel-cases string config values when loading a saved model). Only the
 * {@link ACTIVATION_IDENTIFIERS} are accepted: other registered tfjs class names (`'L1L2'`, `'Zeros'`),
 * prototype keys (`'toString'`, `'__proto__'`) and non-strings throw a `PhalanxConfigError` naming
 * `component` and `argument`.
 *
 * @example
 * checkActivation('DynamicEdgeGAT', 'relu'); // 'relu'
 * checkActivation('DynamicEdgeGAT', 'L1L2'); // throws: activation must be one of 'elu', …
 */
export function checkActivation(component: string, value: unknown, argument = 'activation'): ActivationIdentifier {
  const v = value === 'geluNew' ? 'gelu_new' : value;
  return checkOneOf(component, argument, v, ACTIVATION_IDENTIFIERS);
}

/**
 * Applies the tfjs-layers activation `identifier` to `x` (softmax along the last axis). `identifier` is
 * checked with {@link checkActivation} first: anything but an activation identifier throws a
 * `PhalanxConfigError` naming `applyActivation` and `identifier`.
 *
 * @example
 * applyActivation(tf.tensor1d([-1, 2]), 'relu'); // [0, 2]
 */
export function applyActivation(x: tf.Tensor, identifier: ActivationIdentifier): tf.Tensor {
  const id = checkActivation('applyActivation', identifier, 'identifier');
  if (id === 'linear') return x;
  const classes = tf.serialization.SerializationMap.getMap().classNameMap;
  // Own properties only: a prototype key never names a registered class.
  if (!Object.prototype.hasOwnProperty.call(classes, id)) {
    throw new Error(`activation '${id}' is not registered: import '@tensorflow/tfjs-layers' first`);
  }
  const Ctor = classes[id][0] as unknown as new () => ActivationObject;
  return new Ctor().apply(x);
}
