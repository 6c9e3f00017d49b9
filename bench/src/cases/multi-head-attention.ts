import * as tf from '@tensorflow/tfjs-core';
import { multiHeadAttention } from '@phalanx/layers';
import type { LayerBenchCase } from '../types';

/** MultiHeadAttention as a joint → image-feature cross-attention: B=32, 21 queries, 256 keys, D=256, 8 heads. */
export const cases: LayerBenchCase[] = [
  {
    name: 'MultiHeadAttention (cross)',
    size: 'B=32 Tq=21 Tk=256 D=256 H=8',
    create: () => ({
      layer: multiHeadAttention({ numHeads: 8, units: 256 }),
      inputs: [tf.randomNormal([32, 21, 256], 0, 1, 'float32', 1), tf.randomNormal([32, 256, 256], 0, 1, 'float32', 2)],
    }),
  },
];
