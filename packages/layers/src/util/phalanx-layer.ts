/**
 * What every Phalanx layer shares: the base class {@link PhalanxLayer} (argument object checked before
 * tfjs reads it, every error naming the layer class) and the normalisation of a layer's inputs to lists.
 */
import type * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayerArgs } from '@tensorflow/tfjs-layers/dist/engine/topology';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types';
import { PhalanxArgumentError, PhalanxShapeError } from '@phalanx/errors';
import { checkArgs, checkLayerArgs, type OwnArgsKeys } from './checks';

/** What `Layer.apply` takes and returns. */
type ApplyValue = tf.Tensor | tf.Tensor[] | tfl.SymbolicTensor | tfl.SymbolicTensor[];

type ArgumentErrorClass = new (
  component: string,
  argument: string,
  expected: string,
  received: unknown,
) => PhalanxArgumentError;

/**
 * `error` as an error whose message starts with `component:`. A Phalanx argument error raised elsewhere
 * (a functional core, an initializer) becomes one of the same class whose `component` is `component`,
 * whose message is `component: <the original message>` and whose `cause` is the original; any other
 * error gets the prefix on its message. Errors that already name `component` pass through.
 */
export function nameComponent(component: string, error: unknown): unknown {
  if (!(error instanceof Error) || error.message.startsWith(`${component}:`)) return error;
  if (error instanceof PhalanxArgumentError) {
    const ErrorClass = error.constructor as ArgumentErrorClass;
    const named = new ErrorClass(component, error.argument, error.expected, error.received);
    named.message = `${component}: ${error.message}`;
    (named as Error & { cause?: unknown }).cause = error;
    return named;
  }
  error.message = `${component}: ${error.message}`;
  return error;
}

/**
 * Runs `body` and rethrows whatever it throws through {@link nameComponent}, so the message names
 * `component`.
 *
 * @example
 * const noise = tf.zeros([3, 4]); // should be [4, 3]
 * withComponent('ConcreteJointSelector', () => concreteSelection(tf.zeros([4, 3]), 1, noise));
 * // throws: ConcreteJointSelector: concreteSelection: gumbelNoise must be of shape [4, 3], but received [3, 4].
 */
export function withComponent<T>(component: string, body: () => T): T {
  try {
    return body();
  } catch (error) {
    throw nameComponent(component, error);
  }
}

/**
 * The input shapes `build` and `computeOutputShape` receive, as a list: a single shape `[B, …]` becomes
 * `[[B, …]]`, a list of shapes stays as it is.
 *
 * @example
 * shapeList([null, 21, 3]); // [[null, 21, 3]]
 */
export function shapeList(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape[] {
  return inputShape.length > 0 && Array.isArray(inputShape[0])
    ? (inputShape as tfl.Shape[])
    : [inputShape as tfl.Shape];
}

/**
 * The shapes of the tensors `call` receives, as a list (the form of {@link shapeList}), so that `call`
 * runs the same checks as `build`.
 *
 * @example
 * tensorShapes(tf.zeros([2, 21, 3])); // [[2, 21, 3]]
 */
export function tensorShapes(inputs: tf.Tensor | tf.Tensor[]): tfl.Shape[] {
  return tensorList(inputs).map((x) => x.shape);
}

/** The tensors `call` receives, as a list: a single tensor becomes `[x]`. */
export function tensorList(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
  return Array.isArray(inputs) ? inputs : [inputs];
}

/**
 * Throws a `PhalanxShapeError` naming `component` and `'inputs'` unless `shapes` holds an allowed number
 * of inputs. `received` is what the message shows; default `'<n> tensors'`.
 *
 * @example
 * checkInputCount('DualBranchFusion', [[null, 21, 8]], [2], 'a list [structural, visual] of two tensors');
 * // throws: DualBranchFusion: inputs must be a list [structural, visual] of two tensors, but received '1 tensors'.
 */
export function checkInputCount(
  component: string,
  shapes: readonly tfl.Shape[],
  allowed: readonly number[],
  expected: string,
  received: unknown = `${shapes.length} tensors`,
): void {
  if (!allowed.includes(shapes.length)) throw new PhalanxShapeError(component, 'inputs', expected, received);
}

/**
 * The base class of every Phalanx layer: a `tf.layers.Layer` whose arguments are `A` and that
 *
 * - rejects a missing or non-object argument (`new DynamicEdgeGAT(null)`) with a `PhalanxConfigError`
 *   naming the class before tfjs-layers reads it (which would throw a `TypeError`),
 * - rejects an argument key that is neither one of its own (`ownKeys`) nor one of tfjs's `LayerArgs`
 *   (`new ConcreteJointSelector({numJoints: 21, numGroup: 3})`) the same way, see {@link checkLayerArgs},
 *   instead of ignoring it, and
 * - makes every error thrown while it is applied — by its own checks, by the functional core it calls,
 *   by an initializer or by tfjs itself — name the layer class first (see {@link nameComponent}).
 *
 * Subclasses declare `static className`, pass the table of their own argument keys to `super`, validate
 * their arguments in the constructor and their input shapes in one method that `build`,
 * `computeOutputShape` and `call` all use.
 *
 * @typeParam A - the constructor arguments: tfjs's `LayerArgs` and the layer's own.
 */
export abstract class PhalanxLayer<A extends LayerArgs = LayerArgs> extends tfl.layers.Layer {
  /**
   * @param args - the layer's arguments, checked before tfjs-layers reads them.
   * @param ownKeys - the keys of `A` beyond `LayerArgs`, all of them (the type requires each):
   *   `{numJoints: true, numGroups: true, …}`. A subclass written before this parameter existed (plain
   *   JavaScript, or compiled against an older release) passes none: its arguments are then only checked
   *   to be an object, as before, instead of having all its own keys refused.
   */
  constructor(args: A, ownKeys: OwnArgsKeys<A>) {
    const className = (new.target as unknown as { className: string }).className;
    super(ownKeys === undefined ? checkArgs(className, 'args', args) : checkLayerArgs(className, args, ownKeys));
  }

  /** As `Layer.apply`; an error names the layer class (see {@link nameComponent}). */
  override apply(inputs: ApplyValue, kwargs?: Kwargs): ApplyValue {
    return withComponent(this.getClassName(), () => super.apply(inputs, kwargs));
  }
}
