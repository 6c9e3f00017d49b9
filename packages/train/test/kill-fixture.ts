/**
 * The model and trainer of the kill tests, shared by the child process that trains (and is killed) and
 * the test that restores what it left.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { Trainer, type TrainerCallbacks } from '../src/index';

/** A batch of the kill tests. */
export type Batch = { xs: tf.Tensor; ys: tf.Tensor };

/** The model of the kill tests (named layers: a fresh instance in the parent restores by name). */
export function killTestModel(): tfl.LayersModel {
  const x = tfl.input({ shape: [8], name: 'x' });
  let h = tfl.layers
    .dense({ units: 16, name: 'a', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) })
    .apply(x) as tfl.SymbolicTensor;
  h = tfl.layers.batchNormalization({ name: 'bn' }).apply(h) as tfl.SymbolicTensor;
  const y = tfl.layers
    .dense({ units: 4, name: 'b', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) })
    .apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: y });
}

/** The trainer of the kill tests (Adam, a moving average): the parent builds the same one to restore. */
export function killTestTrainer(model: tfl.LayersModel, callbacks: TrainerCallbacks[] = []): Trainer<Batch> {
  return new Trainer<Batch>({
    model,
    loss: (outputs, b) => tf.mean(tf.square(tf.sub(outputs[0], b.ys))) as tf.Scalar,
    progress: false,
    ema: { decay: 0.9 },
    callbacks,
  });
}

/** Deterministic batches: batch i depends only on i. */
export function* data({ batchesSeen }: { batchesSeen: number }): Generator<Batch> {
  for (let i = batchesSeen; ; i++) {
    yield tf.tidy(() => ({
      xs: tf.randomNormal([16, 8], 0, 1, 'float32', 1 + i),
      ys: tf.randomNormal([16, 4], 0, 1, 'float32', 100_000 + i),
    }));
  }
}
