/**
 * The replica module of the data-parallel `fit` tests: a small MLP with batch norm (seeded, so every
 * replica starts equal) trained by `Trainer.fit` with Adam on fixed global batches, each replica on its
 * shard, with `ReplicaSync` (stop and batch-norm averaging); replica 0 checkpoints. It returns its step,
 * whether it was interrupted, all its weights (moving statistics included) and its own moving
 * statistics as they were before the final average.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { TrainerCallbacks } from '../src/callbacks/callback';
import { ReplicaSync, type ReplicaContext } from '../src/data-parallel/index';
import { Trainer } from '../src/trainer';
import {
  bnMlp,
  globalBatch,
  mse,
  type Batch,
  type FitReplicaData,
  type FitReplicaResult,
} from './data-parallel-shared';

function* shards(context: ReplicaContext<FitReplicaData>, from: number): Generator<Batch> {
  const { batchSize } = context.data;
  for (let step = from; ; step++) {
    const whole = globalBatch(step, batchSize);
    const rows = tf.tensor1d(context.shard([...Array(batchSize).keys()]), 'int32');
    yield { xs: tf.gather(whole.xs, rows), ys: tf.gather(whole.ys, rows) };
    tf.dispose([whole, rows]);
  }
}

/** The values of the weights whose original name matches `pattern`, read without a sync. */
async function read(model: ReturnType<typeof bnMlp>, pattern: RegExp): Promise<Float32Array[]> {
  const picked = model.weights.filter((w) => pattern.test(w.originalName));
  return Promise.all(picked.map(async (w) => (await w.read().data()) as Float32Array));
}

export default async function train(context: ReplicaContext<FitReplicaData>): Promise<FitReplicaResult> {
  await tf.setBackend('cpu'); // (not @phalanx/testing: it needs vitest's state, absent in a worker)
  const { steps, checkpointDir, checkpointEvery, resume } = context.data;
  const model = bnMlp();
  if (context.replica === 1 && context.data.perturbReplica1 !== undefined) {
    const first = model.trainableWeights[0];
    first.write(tf.tidy(() => tf.add(first.read(), context.data.perturbReplica1!)));
  }
  let statsBeforeAverage: Float32Array[] = [];
  const recordStats: TrainerCallbacks = {
    onLoopEnd: async () => void (statsBeforeAverage = await read(model, /moving_/)),
  };
  const trainer = new Trainer<Batch>({
    model,
    loss: mse,
    progress: false,
    reduceGradients: context.reduceGradients,
    parameterGroups: [{ name: 'all', lr: 0.05 }],
    callbacks: [recordStats, new ReplicaSync(context, { averageEvery: [checkpointEvery] })],
  });
  const primary = context.replica === 0;
  const result = await trainer.fit({
    data: ({ batchesSeen }) => shards(context, batchesSeen),
    steps,
    resume: resume ?? false,
    handleSigint: false,
    logFile: null,
    ...(primary ? { checkpointDir, checkpointEvery } : {}),
  });
  return {
    step: result.step,
    interrupted: result.interrupted,
    checkpoint: result.checkpoint,
    weights: await read(model, /./),
    statsBeforeAverage,
  };
}
