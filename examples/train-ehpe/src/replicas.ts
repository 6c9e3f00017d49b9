/**
 * `--replicas N`: the run's stages trained by N data-parallel replicas (`runDataParallel`), each a worker
 * thread with a 1-thread wasm backend and its own copy of the model, each on the rows j ≡ r (mod N) of
 * every batch; the gradients are averaged each step. Every replica builds the same seeded model (or imports
 * the same `--init` weights) and restores the same checkpoints; `ReplicaSync` checks that they start in step,
 * stops them all after the same step on Ctrl-C and averages their batch-norm moving statistics before each
 * evaluation and checkpoint. Replica 0 evaluates, logs and checkpoints as a single process does; the main
 * thread then restores the finished stages from those checkpoints for the final evaluation.
 */
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import { disposeBatch } from '@phalanx/data';
import { trainableWeightsDigest, type ReplicaContext } from '@phalanx/train/data-parallel';
import { enableLeanBackprop, setThreadedWasmBackend } from '@phalanx/wasm-training';
import { runStages, type RunOptions, type StageName, type StageOutcome } from './run';

/** What the main thread hands to every replica: the run's options that can cross a thread. */
export type ReplicaJob = Omit<RunOptions, 'progress' | 'callbacks' | 'log' | 'onStart' | 'replica'>;

/** What a replica returns. */
export interface ReplicaOutcome {
  /** The stage that was stopped, or null when every stage finished. */
  interruptedIn: StageName | null;
  /** Each stage's outcome in this replica. */
  stages: Partial<Record<StageName, StageOutcome>>;
  /**
   * Digests of the trainable weights of the full model and of the PG-only one (if trained): equal in every
   * replica when they stayed in step.
   */
  digests: string[];
}

/** A replica: runs the stages on its shards; replica 0 also evaluates, logs and checkpoints. */
export default async function trainReplica(context: ReplicaContext<ReplicaJob>): Promise<ReplicaOutcome> {
  await setThreadedWasmBackend(1);
  enableLeanBackprop();
  const primary = context.replica === 0;
  const r = await runStages({
    ...context.data,
    replica: context,
    progress: primary ? {} : false,
    log: primary ? (text) => console.log(text) : () => {},
  });
  const digests = await Promise.all([r.model, ...(r.pgOnly ? [r.pgOnly] : [])].map(trainableWeightsDigest));
  r.model.dispose();
  r.pgOnly?.dispose();
  r.layout.dispose();
  r.test.forEach(disposeBatch);
  return { interruptedIn: r.interruptedIn, stages: r.stages, digests };
}
