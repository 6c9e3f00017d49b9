/** The model, data and loss shared by the data-parallel tests and their replica module. */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { Trainer, type TrainerConfig } from '../src/trainer';

/** Test settings handed to every replica. */
export interface ReplicaTestData {
  steps: number;
  batchSize: number;
  mode: 'train' | 'throw' | 'uneven';
}

export type Batch = { xs: tf.Tensor; ys: tf.Tensor };

/**
 * Two dense layers without batch norm: batch norm would normalise each replica's shard with its own
 * statistics, so N shards would not follow one batch of all the samples.
 */
export function mlp(): tfl.LayersModel {
  const x = tfl.input({ shape: [4], name: 'x' });
  const h = tfl.layers
    .dense({ units: 8, activation: 'tanh', name: 'a', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) })
    .apply(x) as tfl.SymbolicTensor;
  const y = tfl.layers
    .dense({ units: 3, name: 'b', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) })
    .apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: y });
}

/** The global batch of a step: depends only on the step. */
export function globalBatch(step: number, batchSize: number): Batch {
  return tf.tidy(() => ({
    xs: tf.randomNormal([batchSize, 4], 0, 1, 'float32', 10 + step),
    ys: tf.randomNormal([batchSize, 3], 0, 1, 'float32', 1000 + step),
  }));
}

export const mse = (outputs: tf.Tensor[], b: Batch) => tf.mean(tf.square(tf.sub(outputs[0], b.ys))) as tf.Scalar;

/**
 * The trainer of the SGD replica tests: {@link mse}, one group at lr 0.1, and the replicas' gradient exchange
 * when given (none for the single trainer they are compared with).
 */
export function sgdTrainerConfig(
  model: tfl.LayersModel,
  reduceGradients?: TrainerConfig<Batch>['reduceGradients'],
): TrainerConfig<Batch> {
  return {
    model,
    loss: mse,
    progress: false,
    ...(reduceGradients ? { reduceGradients } : {}),
    parameterGroups: [{ name: 'all', lr: 0.1, optimizerFactory: (lr) => tf.train.sgd(lr) }],
  };
}

/**
 * Trains `model` with {@link sgdTrainerConfig} in one trainer on the whole {@link globalBatch} of each step —
 * what data-parallel replicas of the same batches must follow — and returns its weights.
 */
export async function singleTrainerWeights(
  model: tfl.LayersModel,
  steps: number,
  batchSize: number,
): Promise<Float32Array[]> {
  const trainer = new Trainer<Batch>(sgdTrainerConfig(model));
  for (let step = 0; step < steps; step++) {
    const b = globalBatch(step, batchSize);
    await trainer.trainStep(b);
    tf.dispose(b);
  }
  // eslint-disable-next-line no-restricted-syntax -- test code: the final weights, read once
  return model.weights.map((w) => w.read().dataSync() as Float32Array);
}

/** Settings of the data-parallel `fit` replica (`data-parallel-fit-replica.ts`). */
export interface FitReplicaData {
  steps: number;
  batchSize: number;
  /** Replica 0's checkpoint root. */
  checkpointDir: string;
  checkpointEvery: number;
  /** The checkpoint folder every replica resumes from, or `null`. */
  resume: string | null;
  /** Replica 1 shifts its first weight by this much before training (a replica out of step). */
  perturbReplica1?: number;
}

/** What each replica of the `fit` tests returns. */
export interface FitReplicaResult {
  step: number;
  interrupted: boolean;
  checkpoint: string | null;
  /** Every weight of the model (`model.weights` order), moving statistics included. */
  weights: Float32Array[];
  /** Its own moving statistics when the loop ended, before `ReplicaSync` averaged them. */
  statsBeforeAverage: Float32Array[];
}

/** The MLP with a batch norm between its layers (momentum 0.5, so that shards leave visible traces). */
export function bnMlp(): tfl.LayersModel {
  const x = tfl.input({ shape: [4], name: 'x' });
  const h = tfl.layers
    .dense({ units: 8, name: 'a', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) })
    .apply(x) as tfl.SymbolicTensor;
  const n = tfl.layers.batchNormalization({ momentum: 0.5, name: 'bn' }).apply(h) as tfl.SymbolicTensor;
  const t = tfl.layers.activation({ activation: 'tanh' }).apply(n) as tfl.SymbolicTensor;
  const y = tfl.layers
    .dense({ units: 3, name: 'b', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) })
    .apply(t) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: y });
}
