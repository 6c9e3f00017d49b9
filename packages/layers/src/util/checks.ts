/**
 * Argument checks shared by the layers: argument objects, size bounds, dropout rates, the weights of a
 * functional core. Each throws a `PhalanxConfigError` (or, for a weight's shape, a `PhalanxShapeError`)
 * that names the component and the argument.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayerArgs } from '@tensorflow/tfjs-layers/dist/engine/topology';
import {
  checkInteger,
  checkOptions,
  checkOptionsObject,
  describe,
  describeCompact,
  PhalanxConfigError,
  PhalanxShapeError,
} from '@phalanx/errors';

/**
 * The largest value a size argument may take (units, heads, joints, groups, depth bins, an output height or
 * width): 2²⁴ = 16 777 216, the largest range in which every integer is exact in float32. Larger sizes are
 * refused at construction instead of failing in an allocation.
 */
export const MAX_SIZE = 2 ** 24;

/**
 * The most elements one weight, or one map whose size the configuration fixes, may have: 2²⁸ = 268 435 456
 * (1 GiB of float32, the capacity of a 16384 × 16384 WebGL texture). Larger ones are refused at construction
 * (or at `build`, where the size depends on the input) instead of failing in an allocation.
 */
export const MAX_ELEMENTS = 2 ** 28;

/**
 * Returns `args` if it is an object (a layer's or a function's argument object); throws a
 * `PhalanxConfigError` naming `component` for `null`, `undefined`, arrays and primitives, where reading a
 * field would otherwise throw a `TypeError`.
 *
 * @example
 * const options: { heads?: number } | null = null;
 * checkArgs('dynamicEdgeGATCore', 'options', options); // throws: options must be an object, but received null
 */
export function checkArgs<T>(component: string, argument: string, args: T): T & object {
  return checkOptionsObject(component, argument, args, 'an object');
}

/**
 * The keys of tfjs-layers' `LayerArgs` — `inputShape`, `batchInputShape`, `batchSize`, `dtype`, `name`,
 * `trainable`, `weights`, `inputDType` — which every layer takes besides its own arguments, and which
 * tfjs's `Layer.getConfig()` writes into every saved layer config (`name`, `trainable`, `batchInputShape`,
 * `dtype`). Typed as a complete record of `keyof LayerArgs`, so a tfjs upgrade that adds a key fails to
 * compile here.
 *
 * @example
 * Object.hasOwn(LAYER_ARGS_KEYS, 'trainable'); // true
 */
export const LAYER_ARGS_KEYS = Object.freeze({
  /** The input shape without the batch axis, for a model's first layer. */
  inputShape: true,
  /** The input shape with the batch axis, for a model's first layer; saved configs hold it. */
  batchInputShape: true,
  /** The batch size that completes `inputShape`. */
  batchSize: true,
  /** The layer's data type (default `'float32'`). */
  dtype: true,
  /** The layer's name, unique in its model. */
  name: true,
  /** Whether `fit` updates its weights (default true). */
  trainable: true,
  /** Initial values of its weights. */
  weights: true,
  /** Legacy form of `dtype` for input layers. */
  inputDType: true,
} satisfies Record<keyof LayerArgs, true>);

/**
 * The key tfjs's deserialiser adds to a saved config before it passes the config to a class's
 * `fromConfig` (and so, for a layer or an initializer, to its constructor): `customObjects`, the custom
 * classes in scope. `tf.loadLayersModel`, `tf.models.modelFromJSON`, a tfjs layer given a `{className, config}`
 * initializer and the optimizer of a model's training config all go through it (tfjs-layers'
 * `deserializeKerasObject`).
 *
 * @example
 * Object.keys(DESERIALIZATION_KEYS); // ['customObjects']
 */
export const DESERIALIZATION_KEYS = Object.freeze({
  /** The custom classes in scope when the config is deserialised. */
  customObjects: true,
} as const);

/**
 * The keys of an argument interface `A` beyond tfjs's `LayerArgs`: the table of a layer's own arguments
 * that {@link checkLayerArgs} (and {@link PhalanxLayer}) take. Write the table as
 * `{…} satisfies OwnArgsKeys<XArgs>`, so the compiler keeps it complete and free of stale keys.
 *
 * @example
 * const RESIZE_ARGS_KEYS = { height: true, width: true, alignCorners: true } satisfies OwnArgsKeys<ResizeBilinearArgs>;
 */
export type OwnArgsKeys<A> = Record<Exclude<keyof A, keyof LayerArgs>, true>;

/**
 * Returns `args` if it is an argument object whose every own key is one of `ownKeys`, one of `baseKeys`
 * (default {@link LAYER_ARGS_KEYS}: tfjs's `LayerArgs`) or `customObjects` ({@link DESERIALIZATION_KEYS}),
 * so that a config saved by `getConfig()` and loaded by `fromConfig` or `tf.loadLayersModel` passes. Throws a
 * `PhalanxConfigError` naming `component` for `null`, arrays and primitives (as {@link checkArgs}) and for a
 * misspelt key, which would otherwise be ignored and its argument silently take its default:
 * `ConcreteJointSelector: args.numGroup must be an option (one of numJoints, numGroups, …), but received 3.`
 * The one check of every layer's constructor (through {@link PhalanxLayer}) and of `NddrKernel`'s (with
 * `baseKeys` `{}`: an initializer takes no `LayerArgs`).
 *
 * @param ownKeys - the keys of the class's own arguments, written `{…} satisfies OwnArgsKeys<XArgs>`.
 * @param baseKeys - the keys every instance takes besides its own; default {@link LAYER_ARGS_KEYS}.
 * @example
 * const OWN = { height: true, width: true, alignCorners: true } satisfies OwnArgsKeys<ResizeBilinearArgs>;
 * checkLayerArgs('ResizeBilinear', { height: 64, width: 64, name: 'up' }, OWN); // passes
 * checkLayerArgs('ResizeBilinear', { height: 64, widht: 64 }, OWN);
 * // throws: ResizeBilinear: args.widht must be an option (one of height, width, alignCorners, inputShape, …), but received 64.
 */
export function checkLayerArgs<T>(
  component: string,
  args: T,
  ownKeys: Readonly<Record<string, true>>,
  baseKeys: Readonly<Record<string, true>> = LAYER_ARGS_KEYS,
): T & object {
  return checkOptions(component, 'args', args, { ...ownKeys, ...baseKeys, ...DESERIALIZATION_KEYS }, 'an object');
}

/**
 * Returns `value` if it is an integer in `[min, MAX_SIZE]`. Values below `min` (or not integers) get the
 * usual `an integer ≥ min` message; values above {@link MAX_SIZE} get `an integer in [min, 16777216]`.
 *
 * @example
 * checkSize('DynamicEdgeGAT', 'units', 64, 1); // 64
 * checkSize('DynamicEdgeGAT', 'units', 2 ** 25, 1); // throws: an integer in [1, 16777216]
 */
export function checkSize(component: string, argument: string, value: unknown, min: number): number {
  checkInteger(component, argument, value, min);
  if ((value as number) > MAX_SIZE) {
    throw new PhalanxConfigError(component, argument, `an integer in [${min}, ${MAX_SIZE}] (2^24)`, value);
  }
  return value as number;
}

/**
 * Throws unless a tensor of `shape` has at most {@link MAX_ELEMENTS} elements. `argument` names the
 * weight or map, e.g. `'kernel [F, K·U]'`.
 *
 * @example
 * checkElements('DualBranchFusion', 'structuralWeight [J, J]', [21, 21]); // fine
 * checkElements('DualBranchFusion', 'structuralWeight [J, J]', [20000, 20000]); // throws
 */
export function checkElements(component: string, argument: string, shape: readonly number[]): void {
  const count = shape.reduce((product, size) => product * size, 1);
  if (count > MAX_ELEMENTS) {
    throw new PhalanxConfigError(
      component,
      argument,
      `of at most ${MAX_ELEMENTS} (2^28) elements`,
      `${describe([...shape])}: ${count} elements`,
    );
  }
}

/**
 * Returns `value` if it is a live `tf.Tensor` (one not yet disposed); throws a `PhalanxShapeError` naming
 * `component` and `argument` otherwise, where reading `.rank` or `.shape` of `null`, a number, an array or a
 * disposed tensor would fail with a `TypeError` or a backend message that names neither.
 *
 * @example
 * checkTensor('selectJoints', 'x', tf.zeros([2, 3, 21, 2])); // the tensor
 * checkTensor('selectJoints', 'x', null); // throws: selectJoints: x must be a tf.Tensor, but received null.
 */
export function checkTensor(component: string, argument: string, value: unknown): tf.Tensor {
  if (!(value instanceof tf.Tensor)) {
    throw new PhalanxShapeError(component, argument, 'a tf.Tensor', value == null ? value : typeof value);
  }
  if (value.isDisposed) {
    throw new PhalanxShapeError(component, argument, 'a tensor that is not disposed', 'a disposed tensor');
  }
  return value;
}

/**
 * Returns `value` if it is a dropout rate: a number in `[0, 1)`.
 *
 * @example
 * checkRate('MultiHeadAttention', 'attentionDropout', 0.1); // 0.1
 * checkRate('MultiHeadAttention', 'attentionDropout', 1); // throws: a number in [0, 1)
 */
export function checkRate(component: string, argument: string, value: unknown): number {
  if (typeof value !== 'number' || !(value >= 0 && value < 1)) {
    throw new PhalanxConfigError(component, argument, 'a number in [0, 1)', value);
  }
  return value;
}

/** Options of {@link checkWeightShape}. */
export interface CheckWeightShapeOptions {
  /** When true, `null` and `undefined` are refused; otherwise they give `null`. Default false. */
  required?: boolean;
  /** How messages write the expected shape, e.g. `'[K, U] = [4, 8]'`. Default: `shape` as `[4, 8]`. */
  label?: string;
}

/**
 * Returns the weight `value` a functional core was given, checked against its documented shape: a `tf.Tensor`
 * (else a `PhalanxConfigError`) of rank `shape.length` whose every size equals `shape[i]` (else a
 * `PhalanxShapeError`); a `null` entry of `shape` accepts any size on that axis. A missing weight (`null` or
 * `undefined`) gives `null`, or a `PhalanxConfigError` when `required`.
 *
 * @example
 * const kernel = tf.zeros([16, 32]);
 * checkWeightShape('dynamicEdgeGATCore', 'kernel', kernel, [16, 32], { required: true }); // kernel
 * checkWeightShape('dynamicEdgeGATCore', 'bias', undefined, [32]); // null
 * checkWeightShape('dynamicEdgeGATCore', 'bias', tf.zeros([8]), [32]); // throws PhalanxShapeError
 */
export function checkWeightShape(
  component: string,
  name: string,
  value: unknown,
  shape: readonly (number | null)[],
  options: CheckWeightShapeOptions = {},
): tf.Tensor | null {
  const label = options.label ?? `[${shape.map((size) => size ?? '?').join(', ')}]`;
  if (value == null && options.required !== true) return null;
  if (!(value instanceof tf.Tensor)) {
    throw new PhalanxConfigError(component, name, `a tensor of shape ${label}`, value, describeCompact);
  }
  if (
    value.rank !== shape.length ||
    (value.shape as number[]).some((size, i) => shape[i] !== null && size !== shape[i])
  ) {
    throw new PhalanxShapeError(component, name, `of shape ${label}`, value.shape);
  }
  return value;
}

/**
 * Throws a `PhalanxConfigError` naming `component` unless `model` is a layer or model (an object with a
 * string `name`), for the functions that walk a model's layers.
 *
 * @example
 * checkLayer('findNoiseStreamLayers', null); // throws: findNoiseStreamLayers: model must be a tf.LayersModel or layer, but received null.
 */
export function checkLayer(component: string, model: unknown): void {
  if (typeof (model as { name?: unknown } | null)?.name !== 'string') {
    throw new PhalanxConfigError(component, 'model', 'a tf.LayersModel or layer', model == null ? model : typeof model);
  }
}
