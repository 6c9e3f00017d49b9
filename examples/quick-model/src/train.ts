// The README example's model and targets as functions, for the fixed-batch test (src/main.ts is the README's program).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { setThreadedWasmBackend } from '@phalanx/wasm-training'; // conv gradients and threads for wasm
import * as tfl from '@tensorflow/tfjs-layers';
import { softArgmax25D } from '@phalanx/layers';
import { mpjpeLoss } from '@phalanx/losses';
import { batches, disposeBatch, type HandBatch } from '@phalanx/data';

export const SIZE = 64;
const BINS = 8;

/** Targets in [0, 1]: u/(W−1), v/(H−1), and depth relative to the middle MCP in units of 8 hand scales. */
export function targets(b: HandBatch): tf.Tensor {
  return tf.tidy(() => {
    const uv = tf.div(b.uv, SIZE - 1);
    const z = tf.slice(b.xyz, [0, 0, 2], [-1, -1, 1]);
    const root = tf.slice(z, [0, 9, 0], [-1, 1, 1]);
    const zRel = tf.add(0.5, tf.div(tf.sub(z, root), tf.mul(8, tf.reshape(b.scale, [-1, 1, 1]))));
    return tf.concat([uv, zRel], 2);
  });
}

/** A small conv net whose last 1×1 conv emits a depth volume per joint, read out by `SoftArgmax25D`. */
export function buildModel(): tfl.LayersModel {
  const image = tfl.input({ shape: [SIZE, SIZE, 3] });
  let x: tfl.SymbolicTensor = image;
  for (const [filters, strides] of [
    [32, 2],
    [64, 1],
    [64, 2],
    [128, 1],
    [128, 1],
  ]) {
    x = tfl.layers
      .conv2d({ filters, kernelSize: 3, strides, padding: 'same', useBias: false })
      .apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.batchNormalization().apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.reLU().apply(x) as tfl.SymbolicTensor;
  }
  const volume = tfl.layers.conv2d({ filters: 21 * BINS, kernelSize: 1 }).apply(x);
  const joints = softArgmax25D({ mode: 'volumetric', numJoints: 21, depthBins: BINS, coordinates: 'normalized' });
  const model = tfl.model({ inputs: image, outputs: joints.apply(volume) as tfl.SymbolicTensor });
  model.compile({ optimizer: tf.train.adam(1e-3), loss: mpjpeLoss });
  return model;
}

/** Trains on `steps` fresh batches of synthetic hands (wasm backend, every core) and returns every step's loss. */
export async function train(steps = 300, log = console.log): Promise<number[]> {
  await setThreadedWasmBackend();
  const model = buildModel();
  const losses: number[] = [];
  for await (const batch of batches({ seed: 7, size: SIZE, batchSize: 16, count: 16 * steps })) {
    const y = targets(batch);
    losses.push((await model.trainOnBatch(batch.images, y)) as number);
    tf.dispose(y);
    disposeBatch(batch);
    if (losses.length % 50 === 0)
      log(`step ${losses.length}: mean joint error ${(losses.at(-1)! * (SIZE - 1)).toFixed(1)} px`);
  }
  return losses;
}
