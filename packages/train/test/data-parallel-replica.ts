/**
 * The replica module of the data-parallel tests: a BN-free MLP (seeded, so every replica starts equal)
 * trained with SGD on fixed global batches, each replica on its shard (rows i ≡ r mod N). `mode`
 * 'throw' makes replica 1 throw at step 2; 'uneven' makes replica 1 stop a step early.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { ReplicaContext } from '../src/data-parallel/index';
import { Trainer } from '../src/trainer';
import { globalBatch, mlp, sgdTrainerConfig, type Batch, type ReplicaTestData } from './data-parallel-shared';

export default async function train(context: ReplicaContext<ReplicaTestData>): Promise<Float32Array[]> {
  await tf.setBackend('cpu'); // (not @phalanx/testing: it needs vitest's state, absent in a worker)
  const { steps, batchSize, mode } = context.data;
  const model = mlp();
  const trainer = new Trainer<Batch>(sgdTrainerConfig(model, context.reduceGradients));
  const stepsHere = mode === 'uneven' && context.replica === 1 ? steps - 1 : steps;
  for (let step = 0; step < stepsHere; step++) {
    if (mode === 'throw' && context.replica === 1 && step === 2) {
      throw new RangeError('replica test failure at step 2');
    }
    const whole = globalBatch(step, batchSize);
    const rows = tf.tensor1d(context.shard([...Array(batchSize).keys()]), 'int32');
    const mine = { xs: tf.gather(whole.xs, rows), ys: tf.gather(whole.ys, rows) };
    await trainer.trainStep(mine);
    tf.dispose([whole, mine, rows]);
  }
  // eslint-disable-next-line no-restricted-syntax -- test code: the final weights, read once
  return model.weights.map((w) => w.read().dataSync() as Float32Array);
}
