/**
 * The example's use of every core: the wasm backend's thread pool (`--threads`) and synthetic data
 * rendered in worker threads ahead of the trainer (`--data-workers`).
 */
import { prefetchBatches, type PrefetchShard } from '@phalanx/data/prefetch';
import { defaultWasmThreadsCount } from '@phalanx/wasm-training';
import { intFlag } from './flags';
import { trainingData, type JobConfig } from './pipeline';

/** `--threads N`: threads of the wasm backend's pool, integer ≥ 1 (default every core). */
export function threadsFlag(value: string | undefined): number {
  return value === undefined ? defaultWasmThreadsCount() : intFlag('threads', value, 1);
}

/** `--data-workers N`: worker threads rendering training batches, integer ≥ 0 (0: on the training thread; default 1). */
export function dataWorkersFlag(value: string | undefined): number {
  return intFlag('data-workers', value, 1, 0);
}

/**
 * The training batches of {@link trainingData} — the same samples, starting at `batchesSeen` after a
 * resume — rendered by `workers` worker threads ahead of the trainer (`prefetchBatches`); with 0 workers,
 * `trainingData` itself (rendered on the training thread). With `shard` (and workers), only that shard's
 * rows of every batch are rendered (a data-parallel replica's).
 */
export function trainingSource(config: JobConfig, workers: number, shard?: PrefetchShard) {
  if (workers === 0) return trainingData(config);
  const size = config.model.inputSize ?? 256;
  return ({ batchesSeen }: { batchesSeen: number }) =>
    prefetchBatches({
      ...config.synthetic,
      seed: config.dataSeed,
      size,
      start: batchesSeen * config.batchSize,
      batchSize: config.batchSize,
      workers,
      ...(shard ? { shard } : {}),
    });
}
