import * as tf from '@tensorflow/tfjs-core';
import { concreteJointSelector } from '@phalanx/layers';
import type { LayerBenchCase } from '../types';

/** ConcreteJointSelector at Learnable Groups' size: B=32, J=21, G=3 groups, C=2 (uv) per joint. */
const input = (): tf.Tensor => tf.randomNormal([32, 3, 21, 2], 0, 1, 'float32', 1);

export const cases: LayerBenchCase[] = [
  {
    name: 'ConcreteJointSelector (training)',
    size: 'B=32 J=21 G=3 C=2',
    create: () => ({
      layer: concreteJointSelector({ numJoints: 21, numGroups: 3, seed: 1 }),
      inputs: [input()],
      kwargs: { training: true },
    }),
  },
  {
    name: 'ConcreteJointSelector (training, straight-through)',
    size: 'B=32 J=21 G=3 C=2',
    create: () => ({
      layer: concreteJointSelector({ numJoints: 21, numGroups: 3, straightThrough: true, seed: 1 }),
      inputs: [input()],
      kwargs: { training: true },
    }),
  },
  {
    name: 'ConcreteJointSelector (inference, hard)',
    size: 'B=32 J=21 G=3 C=2',
    create: () => ({
      layer: concreteJointSelector({ numJoints: 21, numGroups: 3 }),
      inputs: [input()],
      kwargs: { training: false },
    }),
  },
];
