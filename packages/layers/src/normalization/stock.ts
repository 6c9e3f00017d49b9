/**
 * tfjs-layers' `BatchNormalization` and `LayerNormalization` classes, which the package does not export
 * by name: read from tfjs's class registry (no instance is built, nothing is registered).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayerArgs } from '@tensorflow/tfjs-layers/dist/engine/topology';

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
