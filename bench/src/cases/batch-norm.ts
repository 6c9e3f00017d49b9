import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { leanBatchNormalization } from '@phalanx/layers';
import type { LayerBenchCase } from '../types';

/**
 * Batch normalisation at inference (moving statistics) at the EHPE example's backbone size, B=8, 24×24×96:
 * `LeanBatchNormalization` (a scale and a shift on wasm, `batchNormInference`) next to tfjs-layers' layer
 * (`tf.batchNorm`'s FusedBatchNorm kernel), same weights.
 */
const shape = [8, 24, 24, 96];
const size = 'B=8 24×24 C=96';

/** The configuration both cases build their layer with. */
interface BatchNormConfig {
  axis: number;
  epsilon: number;
}

/** tfjs-layers' own class, as registered for serialisation (the bench does not import tfjs-layers itself). */
function stockBatchNormalization(config: BatchNormConfig): tfl.layers.Layer {
  const [Stock] = tf.serialization.SerializationMap.getMap().classNameMap.BatchNormalization;
  return new (Stock as unknown as new (c: BatchNormConfig) => tfl.layers.Layer)(config);
}

/** Builds the layer on the input shape and gives it the same weights and moving statistics as the other case. */
function withStatistics(layer: tfl.layers.Layer): tfl.layers.Layer {
  tf.tidy(() => {
    layer.apply(tf.zeros([1, ...shape.slice(1)]));
  });
  const c = shape[3];
  const weights = [
    tf.randomNormal([c], 1, 0.2, 'float32', 2),
    tf.randomNormal([c], 0, 0.2, 'float32', 3),
    tf.randomNormal([c], 0, 1, 'float32', 4),
    tf.randomUniform([c], 0.5, 2, 'float32', 5),
  ];
  layer.setWeights(weights);
  tf.dispose(weights);
  return layer;
}

/** A case running `make`'s layer in inference mode on the shared input. */
function inferenceCase(name: string, make: (config: BatchNormConfig) => tfl.layers.Layer): LayerBenchCase {
  return {
    name,
    size,
    create: () => ({
      layer: withStatistics(make({ axis: -1, epsilon: 1e-5 })),
      inputs: [tf.randomNormal(shape, 0, 1, 'float32', 1)],
      kwargs: { training: false },
    }),
  };
}

export const cases: LayerBenchCase[] = [
  inferenceCase('LeanBatchNormalization (inference)', leanBatchNormalization),
  inferenceCase('tfjs BatchNormalization (inference)', stockBatchNormalization),
];
