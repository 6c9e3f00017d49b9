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

/** tfjs-layers' own class, as registered for serialisation (the bench does not import tfjs-layers itself). */
function stockBatchNormalization(config: Record<string, unknown>): tfl.layers.Layer {
  const [Stock] = tf.serialization.SerializationMap.getMap().classNameMap.BatchNormalization;
  return new (Stock as unknown as new (c: Record<string, unknown>) => tfl.layers.Layer)(config);
}

function withStatistics(layer: tfl.layers.Layer): tfl.layers.Layer {
  tf.dispose(layer.apply(tf.zeros([1, ...shape.slice(1)])) as tf.Tensor);
  const c = shape[3];
  layer.setWeights([
    tf.randomNormal([c], 1, 0.2, 'float32', 2),
    tf.randomNormal([c], 0, 0.2, 'float32', 3),
    tf.randomNormal([c], 0, 1, 'float32', 4),
    tf.randomUniform([c], 0.5, 2, 'float32', 5),
  ]);
  return layer;
}

export const cases: LayerBenchCase[] = [
  {
    name: 'LeanBatchNormalization (inference)',
    size,
    create: () => ({
      layer: withStatistics(leanBatchNormalization({ axis: -1, epsilon: 1e-5 })),
      inputs: [tf.randomNormal(shape, 0, 1, 'float32', 1)],
      kwargs: { training: false },
    }),
  },
  {
    name: 'tfjs BatchNormalization (inference)',
    size,
    create: () => ({
      layer: withStatistics(stockBatchNormalization({ axis: -1, epsilon: 1e-5 })),
      inputs: [tf.randomNormal(shape, 0, 1, 'float32', 1)],
      kwargs: { training: false },
    }),
  },
];
