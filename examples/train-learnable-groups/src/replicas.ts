/**
 * `--replicas N`: data-parallel training in N worker threads (`runDataParallel`), each with a 1-thread
 * wasm backend and its own copy of the model, each training on the samples i ≡ r (mod N) of every global
 * batch; the gradients are averaged each step. Every replica starts from the main thread's weights (with
 * `--init`, the imported ones) or resumes from the same checkpoint; `ReplicaSync` stops them all after
 * the same step on Ctrl-C and averages their batch-norm moving statistics before each evaluation and
 * checkpoint. Replica 0 evaluates, logs and checkpoints through the usual `fit` options and hands its
 * final weights back to the main thread.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import { disposeBatch, shardBatches, type HandBatch } from '@phalanx/data';
import { ReplicaSync, trainableWeightsDigest, type ReplicaContext } from '@phalanx/train/data-parallel';
import { enableLeanBackprop, enableWinogradConvolution, setThreadedWasmBackend } from '@phalanx/wasm-training';
import { buildModel, buildTrainer, heldOutMetrics, heldOutSet, type JobConfig } from './pipeline';
import { trainingSource } from './threads';

/** What the main thread hands to every replica. */
export interface ReplicaJob {
  config: JobConfig;
  steps: number;
  dataWorkers: number;
  checkpointDir: string;
  checkpointEvery: number;
  evalEvery: number;
  logFile: string;
  test: { size: number; count: number; batchSize: number; seed: number };
  /**
   * The starting values of `model.weights`, in order, that every replica sets after building its model:
   * the initialisers are not seeded, so replicas built alone would start from different weights and the
   * averaged gradients would then fit none of them.
   */
  initialWeights: Float32Array[];
  /** The checkpoint folder every replica resumes from (`--resume`), or `null`. */
  resumeFrom: string | null;
}

/** What a replica returns. */
export interface ReplicaOutcome {
  step: number;
  interrupted: boolean;
  /** The last checkpoint written, if any (replica 0). */
  checkpoint: string | null;
  /** Replica 0: the final values of `model.weights`, in order; the others: empty. */
  weights: Float32Array[];
  /** A digest of the final trainable weights' bits: equal on every replica when they stayed in step. */
  trainableDigest: string;
}

/** A replica: builds the model with the main thread's weights, trains its shards; replica 0 evaluates and checkpoints. */
export default async function trainReplica(context: ReplicaContext<ReplicaJob>): Promise<ReplicaOutcome> {
  await setThreadedWasmBackend(1);
  enableLeanBackprop();
  enableWinogradConvolution();
  const job = context.data;
  const primary = context.replica === 0;
  const model = buildModel(job.config);
  tf.tidy(() =>
    model.setWeights(
      job.initialWeights.map((values, i) => tf.tensor(values, model.weights[i].read().shape, 'float32')),
    ),
  );
  const trainer = buildTrainer(model, job.config, {
    progress: primary ? {} : false,
    reduceGradients: context.reduceGradients,
    // A shard counts as its global batch: samples seen and samples/s as in a single-process run.
    batchSize: (b) => b.images.shape[0] * context.replicas,
    callbacks: [new ReplicaSync(context, { averageEvery: [job.checkpointEvery, job.evalEvery] })],
  });
  const test = primary
    ? await heldOutSet(job.test.size, job.test.count, job.test.batchSize, job.test.seed, job.config.synthetic)
    : [];
  // With data workers, each replica renders only its rows of every batch; without, it takes them from the whole.
  const shard = { index: context.replica, count: context.replicas };
  const source = trainingSource(job.config, job.dataWorkers, job.dataWorkers > 0 ? shard : undefined);
  const result = await trainer.fit({
    data: (position) =>
      job.dataWorkers > 0 ? source(position) : shardBatches(source(position) as AsyncIterable<HandBatch>, shard),
    steps: job.steps,
    resume: job.resumeFrom ?? false,
    handleSigint: false, // the main thread's SIGINT reaches the replicas through runDataParallel's signal
    ...(primary
      ? {
          checkpointDir: job.checkpointDir,
          checkpointEvery: job.checkpointEvery,
          keepCheckpoints: 2,
          logFile: job.logFile,
          evaluateEvery: job.evalEvery,
          evaluate: () => heldOutMetrics(model, test),
        }
      : { logFile: null }),
  });
  test.forEach(disposeBatch);
  return {
    step: result.step,
    interrupted: result.interrupted,
    checkpoint: result.checkpoint,
    weights: primary ? model.weights.map((w) => w.read().dataSync() as Float32Array) : [],
    trainableDigest: await trainableWeightsDigest(model),
  };
}
