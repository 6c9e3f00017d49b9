/**
 * The two convolution gradients of `@phalanx/wasm-training` on a wasm backend of N threads:
 * `Conv2DBackpropFilter` and `Conv2DBackpropInput` of a 3×3, 'same', stride-1 convolution, 64→64 channels,
 * x and dy `[8, 64, 64, 64]` (the Winograd route); median of 9 runs each, after one warm-up.
 *
 * Run: `npx tsx bench/src/conv-grads-threads.ts --threads 2` from the repo root (default: every core).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import { setThreadedWasmBackend } from '../../packages/wasm-training/src/index';

const flag = process.argv.indexOf('--threads');
const threads = await setThreadedWasmBackend(flag >= 0 ? Number(process.argv[flag + 1]) : undefined);
const shape: [number, number, number, number] = [8, 64, 64, 64];
const x = tf.randomNormal(shape, 0, 1, 'float32', 1);
const dy = tf.randomNormal(shape, 0, 1, 'float32', 2);
const filter = tf.randomNormal([3, 3, 64, 64], 0, 1, 'float32', 3);
const attrs = { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dilations: [1, 1] };
const kernels: [string, () => tf.Tensor][] = [
  [
    'Conv2DBackpropFilter',
    () =>
      tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: [3, 3, 64, 64] }) as tf.Tensor,
  ],
  [
    'Conv2DBackpropInput',
    () => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, { ...attrs, inputShape: shape }) as tf.Tensor,
  ],
];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
for (const [name, run] of kernels) {
  run().dispose();
  const times: number[] = [];
  for (let r = 0; r < 9; r++) {
    const start = performance.now();
    const y = run();
    y.dataSync();
    times.push(performance.now() - start);
    y.dispose();
  }
  console.log(`${name} 3×3 64→64 B=8 64², wasm ${threads} thread(s): ${median(times).toFixed(1)} ms`);
}
