/**
 * tfjs-layers' `BatchNormalization` and `LayerNormalization` classes, which the package does not export
 * by name: read from tfjs's class registry (no instance is built, nothing is registered).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayerArgs } from '@tensorflow/tfjs-layers/dist/engine/topology';
import { checkPositiveFloat32, PhalanxConfigError } from '@phalanx/errors';
import { checkLayerArgs, type OwnArgsKeys } from '../util/checks';

/** Constructor arguments of tfjs-layers' `BatchNormalization` (`tf.layers.batchNormalization`). */
export type BatchNormalizationArgs = NonNullable<Parameters<typeof tfl.layers.batchNormalization>[0]>;

/** Constructor arguments of tfjs-layers' `LayerNormalization` (`tf.layers.layerNormalization`). */
export type LayerNormalizationArgs = NonNullable<Parameters<typeof tfl.layers.layerNormalization>[0]> & LayerArgs;

type LayerClass<A> = new (args: A) => tfl.layers.Layer;

function registered<A>(className: string): LayerClass<A> {
  // tfjs-layers registers its classes when it is imported (above); this only reads the entry.
  void tfl.layers;
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[className];
  return entry[0] as unknown as LayerClass<A>;
}

/** tfjs-layers' `BatchNormalization`. */
export const StockBatchNormalization = registered<BatchNormalizationArgs>('BatchNormalization');

/** tfjs-layers' `LayerNormalization`. */
export const StockLayerNormalization = registered<LayerNormalizationArgs>('LayerNormalization');

/**
 * Whether `layer` is a batch normalisation: tfjs-layers' `BatchNormalization` or a subclass of it such
 * as {@link LeanBatchNormalization} (for code that treats batch norms specially, e.g. freezing their
 * statistics).
 *
 * @example
 * const layers = [tfl.layers.batchNormalization(), leanBatchNormalization(), tfl.layers.dense({ units: 2 })];
 * layers.filter(isBatchNormalization).length; // 2: stock and lean
 */
export function isBatchNormalization(layer: tfl.layers.Layer): boolean {
  return layer instanceof StockBatchNormalization;
}

/**
 * Whether `layer` is a layer normalisation: tfjs-layers' `LayerNormalization` or a subclass of it such
 * as {@link LastAxisLayerNormalization}.
 *
 * @example
 * const layers = [tfl.layers.layerNormalization(), lastAxisLayerNormalization(), tfl.layers.dense({ units: 2 })];
 * layers.filter(isLayerNormalization).length; // 2
 */
export function isLayerNormalization(layer: tfl.layers.Layer): boolean {
  return layer instanceof StockLayerNormalization;
}

/**
 * The keys of {@link BatchNormalizationArgs} beyond `LayerArgs`, as tfjs-layers' `BatchNormalization`
 * takes them and its `getConfig()` writes them.
 */
export const BATCH_NORMALIZATION_ARGS_KEYS = Object.freeze({
  axis: true,
  momentum: true,
  epsilon: true,
  center: true,
  scale: true,
  betaInitializer: true,
  gammaInitializer: true,
  movingMeanInitializer: true,
  movingVarianceInitializer: true,
  betaConstraint: true,
  gammaConstraint: true,
  betaRegularizer: true,
  gammaRegularizer: true,
} satisfies OwnArgsKeys<BatchNormalizationArgs>);

/**
 * The keys of {@link LayerNormalizationArgs} beyond `LayerArgs`, as tfjs-layers' `LayerNormalization`
 * takes them and its `getConfig()` writes them.
 */
export const LAYER_NORMALIZATION_ARGS_KEYS = Object.freeze({
  axis: true,
  epsilon: true,
  center: true,
  scale: true,
  betaInitializer: true,
  gammaInitializer: true,
  betaRegularizer: true,
  gammaRegularizer: true,
} satisfies OwnArgsKeys<LayerNormalizationArgs>);

/**
 * The arguments of a normalisation layer of this package, checked before tfjs-layers reads them (which takes
 * any value): `undefined` or `null` are the defaults (as in tfjs); otherwise `args` must be an object whose
 * keys are `ownKeys` or tfjs's `LayerArgs` (see {@link checkLayerArgs}), an `epsilon` a positive normal
 * float32 (0, a negative, NaN or one that underflows in float32 gives NaN outputs for a constant channel),
 * and — for a batch norm — a `momentum` a number in [0, 1] (NaN made the moving statistics NaN). Throws
 * `PhalanxConfigError` naming `component`.
 */
export function checkNormalizationArgs<A extends { epsilon?: number; momentum?: number }>(
  component: string,
  args: A | null | undefined,
  ownKeys: Readonly<Record<string, true>>,
  hasMomentum: boolean,
): A {
  if (args == null) return {} as A;
  checkLayerArgs(component, args, ownKeys);
  if (args.epsilon != null) checkPositiveFloat32(component, 'epsilon', args.epsilon);
  const momentum: unknown = args.momentum;
  if (hasMomentum && momentum != null && (typeof momentum !== 'number' || !(momentum >= 0 && momentum <= 1))) {
    throw new PhalanxConfigError(component, 'momentum', 'a number in [0, 1]', momentum);
  }
  return args;
}
