/**
 * A replica module of the data-parallel tests: the BN-free MLP trained by the default Adam (FlatAdam) in
 * two parameter groups (one warming up), with per-group and global clipping, accumulation over two
 * micro-batches and a moving average; each replica on its shard (rows i ≡ r mod N) of every micro-batch.
 * Returns the weights and the averaged weights.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { ReplicaContext } from '../src/data-parallel/index';
import { Trainer, type TrainerConfig } from '../src/trainer';
import { warmupLr } from '../src/schedules';
import { globalBatch, mlp, mse, type Batch } from './data-parallel-shared';

/** Settings of {@link train}. */
export interface AdamReplicaData {
  steps: number;
  /** Rows of each global micro-batch. */
  batchSize: number;
}

/** The trainer configuration shared by the replicas and the single-process reference. */
export function adamConfig(model: ReturnType<typeof mlp>): TrainerConfig<Batch> {
  return {
    model,
    loss: mse,
    progress: false,
    accumulateBatches: 2,
    clipNorm: 0.2,
    ema: { decay: 0.5 },
    parameterGroups: [
      { name: 'a', match: /^a\//, lr: warmupLr({ steps: 2, after: 0.05 }), clipNorm: 0.1 },
      { name: 'rest', lr: 0.02 },
    ],
  };
}

/** Micro-batch k of step s (global: all its rows). */
export const microBatch = (step: number, k: number, batchSize: number): Batch => globalBatch(2 * step + k, batchSize);

export default async function train(context: ReplicaContext<AdamReplicaData>): Promise<Float32Array[][]> {
  await tf.setBackend('cpu'); // (not @phalanx/testing: it needs vitest's state, absent in a worker)
  const { steps, batchSize } = context.data;
  const model = mlp();
  const trainer = new Trainer<Batch>({ ...adamConfig(model), reduceGradients: context.reduceGradients });
  const rows = tf.tensor1d(context.shard([...Array(batchSize).keys()]), 'int32');
  for (let step = 0; step < steps; step++) {
    const micro = [0, 1].map((k) => {
      const whole = microBatch(step, k, batchSize);
      const mine = { xs: tf.gather(whole.xs, rows), ys: tf.gather(whole.ys, rows) };
      tf.dispose(whole);
      return mine;
    });
    await trainer.trainStep(...micro);
    tf.dispose(micro);
  }
  rows.dispose();
  const values = (ts: tf.Tensor[]) => ts.map((t) => t.dataSync() as Float32Array); // eslint-disable-line no-restricted-syntax -- test code: read once at the end
  return [values(model.weights.map((w) => w.read())), values(Object.values(trainer.ema!.averagedWeights()))];
}
