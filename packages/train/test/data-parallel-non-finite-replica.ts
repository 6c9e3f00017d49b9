/**
 * The replica module of the data-parallel non-finite tests: the BN-free MLP trained with Adam on the fixed
 * global batches, each replica on its shard. At step `badStep` the global batch's row 1 (replica 1's shard
 * with 2 replicas) gets a target of -100, and the loss takes the log of `ys[:, 0] + 10`: non-finite for that
 * row only. `where` says what turns non-finite: a loss part (`'part'`), the loss with a finite gradient
 * (`'loss'`, the log does not depend on the weights) or the gradient (`'gradient'`: a NaN input row).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { ReplicaContext } from '../src/data-parallel/index';
import type { LossFn } from '../src/step';
import { Trainer } from '../src/trainer';
import type { NonFiniteAction } from '../src/trainer';
import { globalBatch, mlp, mse, type Batch } from './data-parallel-shared';

/** Settings handed to every replica. */
export interface NonFiniteReplicaData {
  steps: number;
  batchSize: number;
  badStep: number;
  where: 'part' | 'loss' | 'gradient';
  onNonFinite: NonFiniteAction;
}

/** What each replica returns. */
export interface NonFiniteReplicaResult {
  weights: Float32Array[];
  step: number;
  skippedSteps: number;
  skipped: boolean[];
  /** The error `trainStep` threw (`name: message`), or `null`. */
  error: string | null;
}

/** The log term: finite for targets above -10. */
const logTerm = (b: Batch) => tf.mean(tf.log(tf.add(tf.slice(b.ys, [0, 0], [-1, 1]), 10))) as tf.Scalar;

/** The loss of a setting: MSE, with the log term as a reported part, or added to the minimised loss. */
export function nonFiniteLoss(where: NonFiniteReplicaData['where']): LossFn<Batch> {
  if (where === 'part') return (outputs, b) => ({ total: mse(outputs, b), parts: { log: logTerm(b) } });
  if (where === 'loss') return (outputs, b) => tf.add(mse(outputs, b), tf.mul(logTerm(b), 1e-3)) as tf.Scalar;
  return mse;
}

/** The global batch of a step, with its row 1 made non-finite at `badStep` (see the module comment). */
export function nonFiniteBatch(step: number, data: NonFiniteReplicaData): Batch {
  const b = globalBatch(step, data.batchSize);
  if (step !== data.badStep) return b;
  const column = data.where === 'gradient' ? 'xs' : 'ys';
  const value = data.where === 'gradient' ? Number.NaN : -100;
  const values = b[column].arraySync() as number[][];
  values[1][0] = value;
  const bad = { ...b, [column]: tf.tensor2d(values) };
  b[column].dispose();
  return bad;
}

/** The trainer of a setting (a fresh seeded MLP, Adam). */
export function nonFiniteTrainer(data: NonFiniteReplicaData, context?: ReplicaContext<unknown>): Trainer<Batch> {
  return new Trainer<Batch>({
    model: mlp(),
    loss: nonFiniteLoss(data.where),
    progress: false,
    onNonFinite: data.onNonFinite,
    reduceGradients: context?.reduceGradients,
    parameterGroups: [{ name: 'all', lr: 0.05, optimizerFactory: (lr) => tf.train.adam(lr) }],
  });
}

export default async function train(context: ReplicaContext<NonFiniteReplicaData>): Promise<NonFiniteReplicaResult> {
  await tf.setBackend('cpu'); // (not @phalanx/testing: it needs vitest's state, absent in a worker)
  const data = context.data;
  const trainer = nonFiniteTrainer(data, context);
  const skipped: boolean[] = [];
  let error: string | null = null;
  for (let step = 0; step < data.steps && error === null; step++) {
    const whole = nonFiniteBatch(step, data);
    const rows = tf.tensor1d(context.shard([...Array(data.batchSize).keys()]), 'int32');
    const mine = { xs: tf.gather(whole.xs, rows), ys: tf.gather(whole.ys, rows) };
    try {
      skipped.push((await trainer.trainStep(mine)).skipped);
    } catch (e) {
      error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    }
    tf.dispose([whole, mine, rows]);
  }
  // eslint-disable-next-line no-restricted-syntax -- test code: the final weights, read once
  const weights = trainer.model.weights.map((w) => w.read().dataSync() as Float32Array);
  return { weights, step: trainer.step, skippedSteps: trainer.skippedSteps, skipped, error };
}
