/**
 * The main thread's side of `--replicas N`: checks the flag, picks the checkpoint every replica resumes
 * from, starts the replicas (`replicas.ts`) with `runDataParallel`, and puts replica 0's final weights
 * into the main thread's model, so evaluation, figures and the model save after training run unchanged.
 */
import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { chooseResumeCheckpoint } from '@phalanx/train';
import { checkReplicasInStep, runDataParallel } from '@phalanx/train/data-parallel';
import { UsageError } from './flags';
import type { JobConfig } from './pipeline';
import type { ReplicaJob, ReplicaOutcome } from './replicas';

/**
 * `--replicas N`: integer ≥ 1 that divides the batch size. Absent: `preferred` (the preset's) capped by the
 * cores available, or 1 when that does not divide the batch size.
 */
export function replicasFlag(value: string | undefined, batchSize: number, preferred = 1): number {
  if (value === undefined) {
    const n = Math.max(1, Math.min(preferred, availableParallelism()));
    return batchSize % n === 0 ? n : 1;
  }
  const n = value.trim() === '' ? NaN : Number(value);
  if (!Number.isInteger(n) || n < 1 || batchSize % n !== 0) {
    throw new UsageError(
      `--replicas must be an integer ≥ 1 that divides the batch size ${batchSize}, but received '${value}'.`,
    );
  }
  return n;
}

/** How a replica run starts and stops. */
export interface ReplicaRunOptions {
  /** Continue from the newest intact checkpoint in `checkpointDir` (`--resume`). */
  resume?: boolean;
  /** Stops every replica after the same step; replica 0 writes its interrupt checkpoint (Ctrl-C). */
  signal?: AbortSignal;
}

/**
 * Trains `replicas` data-parallel replicas; replica 0's final weights end up in `model`. With `resume`
 * the newest intact checkpoint is chosen here, once, and every replica restores that one.
 */
export async function trainWithReplicas(
  model: tfl.LayersModel,
  config: JobConfig,
  replicas: number,
  train: Omit<ReplicaJob, 'config' | 'initialWeights' | 'resumeFrom'>,
  options: ReplicaRunOptions = {},
): Promise<{ step: number; interrupted: boolean; checkpoint: string | null }> {
  const choice = await chooseResumeCheckpoint(options.resume === true, train.checkpointDir);
  for (const warning of choice.warnings) console.warn(warning);
  if (options.resume === true && choice.dir === null) console.log('nothing to resume: starting afresh');
  console.log(
    `training on ${replicas} data-parallel replicas (worker threads, 1 wasm thread each), ` +
      `${config.batchSize / replicas} samples of each batch of ${config.batchSize} per replica`,
  );
  const initialWeights = model.weights.map((w) => w.read().dataSync() as Float32Array);
  const outcomes = await runDataParallel<ReplicaJob, ReplicaOutcome>({
    module: new URL('./replicas.ts', import.meta.url),
    replicas,
    data: { config, ...train, initialWeights, resumeFrom: choice.dir },
    signal: options.signal,
  });
  const digests = outcomes.map((o) => o.trainableDigest);
  checkReplicasInStep(digests);
  const { step, interrupted, checkpoint, weights } = outcomes[0];
  tf.tidy(() =>
    model.setWeights(weights.map((values, i) => tf.tensor(values, model.weights[i].read().shape, 'float32'))),
  );
  return { step, interrupted, checkpoint };
}
