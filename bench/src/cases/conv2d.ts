import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayerBenchCase } from '../types';

/**
 * A stock tfjs 3×3 conv 64→64, 'same', no bias, B=8 at 64×64 — the wasm-training bench's step, here so
 * that it sits beside the custom layers and its PyTorch anchor (forward+backward = ∂x and ∂W).
 */
export const cases: LayerBenchCase[] = [
  {
    name: 'Conv2D training step',
    size: 'B=8 64×64 64→64 3×3',
    create: () => ({
      layer: tfl.layers.conv2d({ filters: 64, kernelSize: 3, padding: 'same', useBias: false }),
      inputs: [tf.randomNormal([8, 64, 64, 64], 0, 1, 'float32', 1)],
    }),
  },
];
