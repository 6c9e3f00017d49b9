/**
 * What keeps data-parallel replicas in step besides the gradient exchange: the stop decided at an
 * exchange, and the batch-norm moving statistics averaged over the replicas.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { checkInteger, checkOptions, PhalanxConfigError } from '@phalanx/errors';
import { checkLayer, isBatchNormalization } from '@phalanx/layers';
import type { StepResult, TrainerCallbacks, TrainerHandle } from '../callbacks/callback';
import { allLayers } from '../freeze';
import type { ReplicaContext } from './index';

/** An all-reduce mean over the replicas (`ReplicaContext.averageAcrossReplicas`). */
export type ReplicaAverage = (values: Float32Array) => Promise<Float32Array>;

/** The moving mean and variance of every trainable batch-norm layer of `model` (nested models too). */
function movingStatistics(model: tfl.LayersModel): tfl.LayerVariable[] {
  return allLayers(model)
    .filter((layer) => isBatchNormalization(layer) && layer.trainable)
    .flatMap((layer) => layer.weights.filter((w) => /(^|\/)moving_(mean|variance)(_\d+)?$/.test(w.originalName)));
}

/**
 * Replaces the moving statistics of every trainable batch-norm layer of `model` by their mean over the
 * replicas, `μ̄ = (1/N) Σ_r μ_r` and `σ̄² = (1/N) Σ_r σ²_r` (float64 sums in replica order, rounded to
 * float32 once), and resolves to the number of variables averaged. A collective call: every replica
 * must make it at the same point (it calls `average` once, also when there is nothing to average).
 * Frozen batch-norm layers keep theirs (they do not change during training, so they are the same in
 * every replica).
 *
 * The variance is the mean of the replicas' moving variances, not the variance of all their samples
 * (which adds the spread of the shards' means, `(1/N) Σ_r (μ_r − μ̄)²`): in training every replica
 * normalised its shard with the shard's own statistics, so the mean of the shard variances is what the
 * network was trained with, as each replica's moving statistics estimate it; averaging them only
 * lowers their noise. The update `m ← α·m + (1 − α)·batch` is linear, so averaging at any step gives the
 * same later mean (up to float rounding): a resumed run, whose replicas restart from the averaged
 * statistics, ends where an uninterrupted one does.
 *
 * @example
 * const model = tfl.sequential({
 *   layers: [tfl.layers.dense({ units: 4, inputShape: [3] }), tfl.layers.batchNormalization()],
 * });
 * // In a replica: `await averageMovingStatistics(model, context.averageAcrossReplicas)`. Alone:
 * const averaged = await averageMovingStatistics(model, async (values) => values); // 2
 */
export async function averageMovingStatistics(model: tfl.LayersModel, average: ReplicaAverage): Promise<number> {
  checkLayer('averageMovingStatistics', model);
  if (typeof average !== 'function') {
    throw new PhalanxConfigError('averageMovingStatistics', 'average', 'a function values → Promise<mean>', average);
  }
  const variables = movingStatistics(model);
  let values = new Float32Array(0);
  if (variables.length > 0) {
    const flat = tf.tidy(() => tf.concat(variables.map((v) => tf.reshape(v.read(), [-1]))));
    try {
      values = new Float32Array((await flat.data()) as Float32Array);
    } finally {
      flat.dispose();
    }
  }
  const mean = await average(values);
  if (mean.length !== values.length) {
    throw new PhalanxConfigError('averageMovingStatistics', 'average result', `${values.length} values`, mean.length);
  }
  tf.tidy(() => {
    let offset = 0;
    for (const v of variables) {
      const shape = v.read().shape;
      const size = tf.util.sizeFromShape(shape);
      v.write(tf.tensor(mean.subarray(offset, offset + size), shape, 'float32'));
      offset += size;
    }
  });
  return variables.length;
}

/**
 * A digest of the bits of every trainable weight of `model`, in order: FNV-1a over their float32 words, as 8
 * hex digits. Replicas that stayed in step end with equal digests; compare the ones they return from
 * `runDataParallel` to fail loudly when they did not. It reads the weights back to the host: call it once at
 * the end, not every step.
 *
 * Rejects with `PhalanxConfigError` for a `model` without a `trainableWeights` array.
 *
 * @example
 * const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 2, inputShape: [3] })] });
 * const digest = await trainableWeightsDigest(model); // e.g. '9e3779b1'; the same weights give the same digest
 */
export async function trainableWeightsDigest(model: { trainableWeights: { read(): tf.Tensor }[] }): Promise<string> {
  if (!Array.isArray((model as { trainableWeights?: unknown } | null)?.trainableWeights)) {
    throw new PhalanxConfigError('trainableWeightsDigest', 'model', 'a model with trainableWeights', model);
  }
  let hash = 0x811c9dc5;
  for (const w of model.trainableWeights) {
    const values = (await w.read().data()) as Float32Array;
    const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
    for (const word of bits) hash = Math.imul(hash ^ word, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

/**
 * Checks that data-parallel replicas ended in step: every replica's {@link trainableWeightsDigest} (one string
 * per replica, in replica order, as `runDataParallel` returns their outcomes) must be the same.
 *
 * Throws `PhalanxConfigError` for an empty or non-string list, and an `Error` naming every digest when they
 * differ: the replicas fell out of step (their gradients or updates were not the same), and the run's weights
 * cannot be trusted.
 *
 * @example
 * checkReplicasInStep(['9e3779b1', '9e3779b1']); // returns
 * // checkReplicasInStep(['9e3779b1', '0badf00d']) throws: the replicas ended with different weights …
 */
export function checkReplicasInStep(digests: readonly string[]): void {
  if (!Array.isArray(digests) || digests.length === 0 || digests.some((d) => typeof d !== 'string')) {
    throw new PhalanxConfigError('checkReplicasInStep', 'digests', 'a non-empty array of strings', digests);
  }
  if (new Set(digests).size !== 1) {
    throw new Error(`the replicas ended with different weights (digests ${digests.join(', ')}): they fell out of step`);
  }
}

/** Two checksums per trainable weight (Σ v and Σ v·(1 + i mod 7), summed in float64), as float32. */
async function trainableChecksums(model: { trainableWeights: { read(): tf.Tensor }[] }): Promise<Float32Array> {
  const sums = new Float32Array(2 * model.trainableWeights.length);
  const all = await Promise.all(model.trainableWeights.map((w) => w.read().data()));
  all.forEach((values, k) => {
    let plain = 0;
    let weighted = 0;
    for (let i = 0; i < values.length; i++) {
      plain += values[i];
      weighted += values[i] * (1 + (i % 7));
    }
    sums[2 * k] = plain;
    sums[2 * k + 1] = weighted;
  });
  return sums;
}

/** Options of {@link ReplicaSync}. */
export interface ReplicaSyncOptions {
  /**
   * Also average the batch-norm moving statistics after every step that is a multiple of one of these
   * periods (integers ≥ 1): pass the `checkpointEvery` and `evaluateEvery` of replica 0's `fit`, so it
   * evaluates and saves averaged statistics. Default: only when the loop ends.
   */
  averageEvery?: number[];
}

/**
 * The trainer callbacks of a data-parallel replica (put them in `TrainerConfig.callbacks` of every
 * replica; as user callbacks they run before `fit`'s evaluation and checkpoints):
 * - after the step at whose gradient exchange the run's `signal` was seen aborted, it stops `fit`
 *   (`Trainer.stop()`): every replica stops after that same step, and replica 0 writes its interrupt
 *   checkpoint;
 * - it averages the batch-norm moving statistics over the replicas ({@link averageMovingStatistics})
 *   after the steps of `averageEvery` and when the loop ends (also on a stop), before replica 0
 *   evaluates or checkpoints — only then, so it costs one small exchange per checkpoint.
 *
 * @example
 * const context = {
 *   stopRequested: false,
 *   averageAcrossReplicas: async (values: Float32Array) => values, // in a replica: its ReplicaContext
 * };
 * const sync = new ReplicaSync(context, { averageEvery: [250, 500] }); // checkpointEvery, evaluateEvery
 */
export class ReplicaSync implements TrainerCallbacks {
  private readonly every: number[];
  private averagedAt = -1;

  constructor(
    private readonly context: Pick<ReplicaContext<unknown>, 'stopRequested' | 'averageAcrossReplicas'>,
    options: ReplicaSyncOptions = {},
  ) {
    const name = 'ReplicaSync';
    if (typeof (context as { averageAcrossReplicas?: unknown } | null)?.averageAcrossReplicas !== 'function') {
      const expected = 'a replica context {stopRequested, averageAcrossReplicas}';
      throw new PhalanxConfigError(name, 'context', expected, context == null ? context : typeof context);
    }
    checkOptions(
      name,
      'options',
      options,
      { averageEvery: true } satisfies Record<keyof ReplicaSyncOptions, true>,
      'an object {averageEvery?}',
    );
    const every = options.averageEvery ?? [];
    if (!Array.isArray(every)) throw new PhalanxConfigError('ReplicaSync', 'averageEvery', 'an array', every);
    this.every = every.map((p, i) => checkInteger('ReplicaSync', `averageEvery[${i}]`, p, 1));
  }

  /**
   * Checks, before the first step, that every replica holds the same trainable weights (after a resume
   * too): one exchange of two float64 checksums per weight. Replicas built alone from unseeded
   * initialisers start apart, and averaged gradients then fit none of them.
   *
   * @throws PhalanxConfigError in every replica when their weights differ.
   */
  async onTrainBegin(_info: unknown, trainer: TrainerHandle): Promise<void> {
    const own = await trainableChecksums(trainer.model);
    const mean = await this.context.averageAcrossReplicas(own);
    if (own.some((v, i) => !Object.is(v, mean[i]))) {
      throw new PhalanxConfigError(
        'ReplicaSync',
        'model',
        'the same trainable weights in every replica (build the model once and send its weights to the replicas, or seed every initialiser)',
        'replicas whose weights differ at the start of training',
      );
    }
  }

  /** Stops after the step the run was stopped at; averages at the steps of `averageEvery`. */
  async onStepEnd(info: StepResult, trainer: TrainerHandle): Promise<void> {
    if (this.context.stopRequested && !trainer.stopRequested) trainer.stop();
    if (this.every.some((p) => info.step % p === 0)) await this.average(trainer);
  }

  /** Averages before the last evaluation and checkpoint (unless this step's statistics already are). */
  async onLoopEnd(_info: unknown, trainer: TrainerHandle): Promise<void> {
    if (this.averagedAt !== trainer.step) await this.average(trainer);
  }

  private async average(trainer: TrainerHandle): Promise<void> {
    await averageMovingStatistics(trainer.model, (values) => this.context.averageAcrossReplicas(values));
    this.averagedAt = trainer.step;
  }
}
