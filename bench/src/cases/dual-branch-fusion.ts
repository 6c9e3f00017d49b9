import * as tf from '@tensorflow/tfjs-core';
import { dualBranchFusion } from '@phalanx/layers';
import type { LayerBenchCase } from '../types';

/** DualBranchFusion at EHPE's PG-stage size: B=32, J=21, C=512. */
export const cases: LayerBenchCase[] = [
  {
    name: 'DualBranchFusion (vector)',
    size: 'B=32 J=21 C=512',
    create: () => ({
      layer: dualBranchFusion({ numJoints: 21 }),
      inputs: [tf.randomNormal([32, 21, 512], 0, 1, 'float32', 1), tf.randomNormal([32, 21, 512], 0, 1, 'float32', 2)],
    }),
  },
];
