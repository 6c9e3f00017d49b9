import * as tf from '@tensorflow/tfjs-core';
import { dynamicEdgeGAT } from '@phalanx/layers';
import type { LayerBenchCase } from '../types';

/** DynamicEdgeGAT at EHPE's PG-stage size: B=32, J=21, F=512, 8 heads × 64 units (hand skeleton, 1 hop). */
export const cases: LayerBenchCase[] = (['additive', 'dotProduct'] as const).map((attention) => ({
  name: `DynamicEdgeGAT (${attention})`,
  size: 'B=32 J=21 F=512 K=8 U=64',
  create: () => ({
    layer: dynamicEdgeGAT({ units: 64, heads: 8, attention }),
    inputs: [tf.randomNormal([32, 21, 512], 0, 1, 'float32', 1)],
  }),
}));
