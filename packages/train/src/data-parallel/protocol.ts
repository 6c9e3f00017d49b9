/**
 * Messages between the main thread and the replica workers of `runDataParallel`, and the mean of the
 * replicas' gradients (plain Float32Array arithmetic, in replica order, so every run rounds the same).
 */

/** A replica's flattened gradients of one step, sent to the main thread. */
export interface GradientsMessage {
  kind: 'gradients';
  /** Steps completed before this one. */
  step: number;
  /** Variable names, in the order of `values`. */
  names: string[];
  /** Every gradient flattened and concatenated, in `names` order; the last entry is the replica's loss. */
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
export type ReplicaMessage = GradientsMessage | DoneMessage | FailedMessage;

/** The mean gradients of a step, sent back to every replica (the last entry is the mean loss). */
export interface ReducedMessage {
  kind: 'reduced';
  step: number;
  values: Float32Array;
}

/** What a replica worker is started with (`workerData`). */
export interface ReplicaWorkerData {
  /** URL of the user's module. */
  module: string;
  replica: number;
  replicas: number;
  data: unknown;
}

/**
 * The element-wise mean `(1/N) Σ_r v_r` of the replicas' vectors, summed in replica order in float32
 * (each partial sum rounded to float32, as a single float32 accumulator would be), then divided by N.
 */
export function meanInReplicaOrder(vectors: readonly Float32Array[]): Float32Array {
  const sum = new Float32Array(vectors[0].length);
  for (const v of vectors) for (let i = 0; i < sum.length; i++) sum[i] += v[i];
  for (let i = 0; i < sum.length; i++) sum[i] /= vectors.length;
  return sum;
}
