/**
 * Messages between the main thread and the replica workers of `runDataParallel`, and the means of the
 * replicas' vectors (plain typed-array arithmetic, in replica order, so every run rounds the same).
 */

/** A replica's flattened gradients of one step, sent to the main thread. */
export interface GradientsMessage {
  kind: 'gradients';
  /** Steps completed before this one. */
  step: number;
  /** Variable names, in the order of `values`. */
  names: string[];
  /** Names of the loss parts, in the order of the entries after the loss. */
  parts: string[];
  /**
   * Every gradient flattened and concatenated, in `names` order, then the replica's loss, then its loss
   * parts (in `parts` order).
   */
  values: Float32Array;
  /** The samples behind them (this replica's shard of the step): its weight in the mean. */
  samples: number;
}

/** A replica's vector for the `round`-th call of `averageAcrossReplicas` (e.g. its batch-norm statistics). */
export interface AverageMessage {
  kind: 'average';
  /** Calls of `averageAcrossReplicas` before this one, in this replica. */
  round: number;
  values: Float32Array;
}

/** A replica's training function resolved: its value (structured-cloned). */
export interface DoneMessage {
  kind: 'done';
  result: unknown;
}

/** A replica's training function threw: the error's name, message and stack. */
export interface FailedMessage {
  kind: 'failed';
  name: string;
  message: string;
  stack?: string;
}

/** What a replica worker posts. */
export type ReplicaMessage = GradientsMessage | AverageMessage | DoneMessage | FailedMessage;

/**
 * The mean gradients of a step, sent back to every replica (followed by the mean loss and loss parts), and
 * whether the run stops after this step (the same answer for every replica: the stop is decided here,
 * at the exchange, so all replicas stop after the same step and none waits for an exchange).
 */
export interface ReducedMessage {
  kind: 'reduced';
  step: number;
  values: Float32Array;
  stop: boolean;
}

/** The mean of the replicas' vectors of an `averageAcrossReplicas` round, sent back to every replica. */
export interface AveragedMessage {
  kind: 'averaged';
  round: number;
  values: Float32Array;
}

/** What the main thread posts to a replica. */
export type GroupMessage = ReducedMessage | AveragedMessage;

/** What a replica worker is started with (`workerData`). */
export interface ReplicaWorkerData {
  /** URL of the user's module. */
  module: string;
  replica: number;
  replicas: number;
  data: unknown;
}

/**
 * The element-wise mean of the replicas' vectors, each counted by its samples `n_r`: for equal
 * `samples` (or none given) `(1/N) Σ_r v_r`, summed in replica order in float32 (each partial sum
 * rounded to float32, as a single float32 accumulator would be), then divided by N; for unequal ones
 * `Σ_r n_r·v_r / Σ_r n_r`, summed in replica order in float64 and rounded to float32 once. With a
 * mean loss, that is the gradient of all the replicas' samples together also when the shards differ in
 * size (e.g. a batch of 8 on 3 replicas: 3, 3 and 2 rows), where the plain mean weighted the rows of the
 * small shard more.
 */
export function meanInReplicaOrder(vectors: readonly Float32Array[], samples?: readonly number[]): Float32Array {
  if (samples !== undefined && samples.some((n) => n !== samples[0])) {
    const total = samples.reduce((a, b) => a + b, 0);
    const weighted = new Float64Array(vectors[0].length);
    vectors.forEach((v, r) => {
      for (let i = 0; i < weighted.length; i++) weighted[i] += v[i] * samples[r];
    });
    return Float32Array.from(weighted, (x) => x / total);
  }
  const sum = new Float32Array(vectors[0].length);
  for (const v of vectors) for (let i = 0; i < sum.length; i++) sum[i] += v[i];
  for (let i = 0; i < sum.length; i++) sum[i] /= vectors.length;
  return sum;
}

/**
 * The element-wise mean `(1/N) Σ_r v_r`, summed in replica order in float64 and rounded to float32
 * once: equal inputs give that value back exactly (for any N < 2²⁹), so values every replica shares
 * (e.g. a frozen layer's statistics) are left unchanged.
 */
export function meanInFloat64(vectors: readonly Float32Array[]): Float32Array {
  const sum = new Float64Array(vectors[0].length);
  for (const v of vectors) for (let i = 0; i < sum.length; i++) sum[i] += v[i];
  const mean = new Float32Array(sum.length);
  for (let i = 0; i < sum.length; i++) mean[i] = sum[i] / vectors.length;
  return mean;
}
