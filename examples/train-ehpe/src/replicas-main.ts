/**
 * The main thread's side of `--replicas N`: opens the run folder (the run record is checked or written once,
 * here), trains the stages on N data-parallel replicas (`replicas.ts`) and checks that they ended in step.
 */
import { checkReplicasInStep, runDataParallel } from '@phalanx/train/data-parallel';
import { openRun } from './run-config';
import { runRecord } from './run';
import type { ReplicaJob, ReplicaOutcome } from './replicas';

/** How a replica run stops early. */
export interface ReplicaRunOptions {
  /** Stops every replica after the same step; replica 0 writes its interrupt checkpoint (Ctrl-C). */
  signal?: AbortSignal;
}

/**
 * Trains (or continues, with `job.resume`) the run of `job` on `replicas` replicas and resolves to replica
 * 0's outcome. The caller restores the finished stages from the checkpoints for evaluation (`runStages`
 * with `resume`, which then trains nothing).
 *
 * @throws PhalanxConfigError or PhalanxFileError as `openRun` (a refused resume), before any replica starts;
 * an `Error` when the replicas end with different weights.
 */
export async function trainWithReplicas(
  job: ReplicaJob,
  replicas: number,
  options: ReplicaRunOptions = {},
): Promise<ReplicaOutcome> {
  openRun(job.out, runRecord(job), job.resume);
  const outcomes = await runDataParallel<ReplicaJob, ReplicaOutcome>({
    module: new URL('./replicas.ts', import.meta.url),
    replicas,
    data: job,
    signal: options.signal,
  });
  const digests = outcomes.map((o) => o.digests.join('/'));
  checkReplicasInStep(digests);
  return outcomes[0];
}
