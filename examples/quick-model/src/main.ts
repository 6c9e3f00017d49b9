import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { setThreadedWasmBackend } from '@phalanx/wasm-training';
import * as tfl from '@tensorflow/tfjs-layers';
import { softArgmax25D } from '@phalanx/layers';
import { mpjpeLoss } from '@phalanx/losses';
import { batches, disposeBatch, type HandBatch } from '@phalanx/data';

// Targets in [0, 1]: u/(W−1), v/(H−1), depth relative to the middle MCP in units of 8 hand scales.
const targets = (b: HandBatch) =>
  tf.tidy(() => {
    const z = tf.slice(b.xyz, [0, 0, 2], [-1, -1, 1]);
    const zRel = tf.div(tf.sub(z, tf.slice(z, [0, 9, 0], [-1, 1, 1])), tf.reshape(tf.mul(b.scale, 8), [-1, 1, 1]));
    return tf.concat([tf.div(b.uv, 63), tf.add(zRel, 0.5)], 2);
  });

await setThreadedWasmBackend(); // wasm on every core
const image = tfl.input({ shape: [64, 64, 3] });
let x: tfl.SymbolicTensor = image;
for (const [filters, strides] of [
  [32, 2],
  [64, 1],
  [64, 2],
  [128, 1],
]) {
  x = tfl.layers.conv2d({ filters, kernelSize: 3, strides, padding: 'same' }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.reLU().apply(tfl.layers.batchNormalization().apply(x)) as tfl.SymbolicTensor;
}
const volume = tfl.layers.conv2d({ filters: 21 * 8, kernelSize: 1 }).apply(x);
const joints = softArgmax25D({ mode: 'volumetric', numJoints: 21, depthBins: 8, coordinates: 'normalized' });
const model = tfl.model({ inputs: image, outputs: joints.apply(volume) as tfl.SymbolicTensor });
model.compile({ optimizer: tf.train.adam(1e-3), loss: mpjpeLoss });

let step = 0;
for await (const batch of batches({ seed: 7, size: 64, batchSize: 16, count: 16 * 100 })) {
  const target = targets(batch);
  const loss = (await model.trainOnBatch(batch.images, target)) as number;
  if (++step % 25 === 0) console.log(`step ${step}: loss ${loss.toFixed(4)}`);
  tf.dispose(target);
  disposeBatch(batch);
}
