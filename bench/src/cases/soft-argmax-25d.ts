import * as tf from '@tensorflow/tfjs-core';
import { softArgmax25D } from '@phalanx/layers';
import type { LayerBenchCase } from '../types';

/** SoftArgmax25D at EHPE's heatmap size: B=32, 64×64, J=21, D=8 (volumetric) and the latent head. */
export const cases: LayerBenchCase[] = [
  {
    name: 'SoftArgmax25D (volumetric)',
    size: 'B=32 64×64 J=21 D=8',
    create: () => ({
      layer: softArgmax25D({ mode: 'volumetric', numJoints: 21, depthBins: 8 }),
      inputs: [tf.randomNormal([32, 64, 64, 21 * 8], 0, 1, 'float32', 1)],
    }),
  },
  {
    name: 'SoftArgmax25D (latent, trainable β)',
    size: 'B=32 64×64 J=21',
    create: () => ({
      layer: softArgmax25D({ mode: 'latent', numJoints: 21, trainableBeta: true }),
      inputs: [
        tf.randomNormal([32, 64, 64, 21], 0, 1, 'float32', 2),
        tf.randomNormal([32, 64, 64, 21], 0, 1, 'float32', 3),
      ],
    }),
  },
];
