import * as tf from '@tensorflow/tfjs-core';
import { jointFeatureSampler } from '@phalanx/layers';
import type { LayerBenchCase } from '../types';

/** JointFeatureSampler at EHPE's size: B=32, 64×64×256 features, J=21 points. */
export const cases: LayerBenchCase[] = [
  {
    name: 'JointFeatureSampler',
    size: 'B=32 64×64×256 J=21',
    create: () => ({
      layer: jointFeatureSampler(),
      inputs: [
        tf.randomNormal([32, 64, 64, 256], 0, 1, 'float32', 1),
        tf.randomUniform([32, 21, 2], 0, 63, 'float32', 2),
      ],
    }),
  },
];
