import * as tf from '@tensorflow/tfjs-core';
import { groupFusion } from '@phalanx/layers';
import type { LayerBenchCase } from '../types';

/** GroupFusion (NDDR) at Learnable Groups' branch size: B=8, 3 groups × 32 channels at 64×64. */
export const cases: LayerBenchCase[] = [
  {
    name: 'GroupFusion',
    size: 'B=8 64×64 G=3 C=32',
    create: () => ({
      layer: groupFusion({ numGroups: 3 }),
      inputs: [0, 1, 2].map((k) => tf.randomNormal([8, 64, 64, 32], 0, 1, 'float32', 1 + k)),
    }),
  },
];
