/**
 * `--replicas N`: data-parallel training in N worker threads (`runDataParallel`), each with a 1-thread
 * wasm backend and its own copy of the model, each training on the samples i ≡ r (mod N) of every global
 * batch; the gradients are averaged each step. Replica 0 evaluates, logs and checkpoints through the
 * usual `fit` options and hands its final weights back to the main thread (batch-norm moving statistics
 * are replica 0's, gathered on its shards).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import { disposeBatch, type HandBatch } from '@phalanx/data';
import type { ReplicaContext } from '@phalanx/train/data-parallel';
import { setThreadedWasmBackend } from '@phalanx/wasm-training';
import { buildModel, buildTrainer, evaluate, heldOutSet, type JobConfig } from './pipeline';
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
}

/** What replica 0 returns (the others return null). */
export interface ReplicaOutcome {
  step: number;
  interrupted: boolean;
  /** The final values of `model.weights`, in order. */
  weights: Float32Array[];
}

/** This replica's rows (i ≡ r mod N) of a global batch; frees the batch. */
function shardOf(batch: HandBatch, context: ReplicaContext<ReplicaJob>): HandBatch {
  const n = batch.images.shape[0];
  const sharded = tf.tidy(() => {
    const rows = tf.tensor1d(context.shard([...Array(n).keys()]), 'int32');
    const pick = <T extends tf.Tensor>(t: T) => tf.gather(t, rows) as T;
    return {
      ...batch,
      images: pick(batch.images),
      uv: pick(batch.uv),
      xyz: pick(batch.xyz),
      K: pick(batch.K),
      scale: pick(batch.scale),
      visible: pick(batch.visible),
    };
  });
  disposeBatch(batch);
  return sharded;
}

async function* sharded(source: AsyncIterable<HandBatch> | Iterable<HandBatch>, context: ReplicaContext<ReplicaJob>) {
  for await (const batch of source) yield shardOf(batch, context);
}

/** A replica: builds the same model (same seeds), trains its shards, replica 0 evaluates and checkpoints. */
export default async function trainReplica(context: ReplicaContext<ReplicaJob>): Promise<ReplicaOutcome | null> {
  await setThreadedWasmBackend(1);
  const job = context.data;
  const primary = context.replica === 0;
  const model = buildModel(job.config);
  const trainer = buildTrainer(model, job.config, {
    progress: primary ? {} : false,
    reduceGradients: context.reduceGradients,
  });
  const test = primary
    ? await heldOutSet(job.test.size, job.test.count, job.test.batchSize, job.test.seed, job.config.synthetic)
    : [];
  const source = trainingSource(job.config, job.dataWorkers);
  const result = await trainer.fit({
    data: (position) => sharded(source(position) as AsyncIterable<HandBatch>, context),
    steps: job.steps,
    ...(primary
      ? {
          checkpointDir: job.checkpointDir,
          checkpointEvery: job.checkpointEvery,
          keepCheckpoints: 2,
          logFile: job.logFile,
          evaluateEvery: job.evalEvery,
          evaluate: async () => {
            const e = await evaluate(model, test);
            return {
              epe2dPx: e.measures2d.epeMean,
              epe3dMm: e.measures3d.epeMean,
              auc20to50: e.measures3d.auc20to50 ?? NaN,
            };
          },
        }
      : { logFile: null }),
  });
  test.forEach(disposeBatch);
  if (!primary) return null;
  return {
    step: result.step,
    interrupted: result.interrupted,
    weights: model.weights.map((w) => w.read().dataSync() as Float32Array),
  };
}
