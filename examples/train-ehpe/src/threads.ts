/**
 * The example's use of every core: the wasm backend's thread pool (`--threads`) and synthetic data
 * rendered (and hand-cropped) in worker threads ahead of the trainer (`--data-workers`).
 */
import { shardBatches } from '@phalanx/data';
import { prefetchBatches, type PrefetchShard } from '@phalanx/data/prefetch';
import { defaultWasmThreadsCount } from '@phalanx/wasm-training';
import { intFlag } from './int-flag';
import { CROP_MARGIN, trainingData, type JobConfig } from './pipeline';

/**
 * `--threads N`: threads of the wasm backend's pool, integer ≥ 1. The default leaves a core to each of the
 * `dataWorkers` rendering threads: max(1, cores − dataWorkers), so the job as a whole uses every core without
 * oversubscribing them (1 on a 2-core machine with the default data worker).
 *
 * @example
 * ```ts
 * import { threadsFlag } from './threads';
 * threadsFlag(undefined, 1); // os.availableParallelism() − 1, at least 1
 * threadsFlag('2', 1); // 2
 * ```
 */
export function threadsFlag(value: string | undefined, dataWorkers = 0): number {
  return intFlag('threads', value, Math.max(1, defaultWasmThreadsCount() - dataWorkers));
}

/** `--data-workers N`: worker threads rendering training batches, integer ≥ 0 (0: on the training thread; default 1). */
export function dataWorkersFlag(value: string | undefined): number {
  return intFlag('data-workers', value, 1, 0);
}

/**
 * The training batches of {@link trainingData} — the same samples and hand crops, starting at
 * `batchesSeen` after a resume — rendered by `workers` worker threads ahead of the trainer
 * (`prefetchBatches`; a crop's seed is `seed · 1 000 003 + sample index`, as in `handBatches`); with 0
 * workers, `trainingData` itself. With `shard` (a data-parallel replica's), only its rows j ≡ index
 * (mod count) of every batch: the workers render only those; without workers they are cut from the whole
 * batch (`shardBatches`), the same rows bit for bit.
 */
export function trainingSource(config: JobConfig, workers: number, shard?: PrefetchShard) {
  if (workers === 0) {
    const whole = trainingData(config);
    return shard === undefined
      ? whole
      : ({ batchesSeen }: { batchesSeen: number }) => shardBatches(whole({ batchesSeen }), shard);
  }
  const size = config.model.imageSize ?? 256;
  const seed = config.dataSeed;
  return ({ batchesSeen }: { batchesSeen: number }) =>
    prefetchBatches({
      seed,
      size,
      start: batchesSeen * config.batchSize,
      batchSize: config.batchSize,
      workers,
      ...(shard ? { shard } : {}),
      ...((config.handCrop ?? true)
        ? { augment: { seed: seed * 1_000_003, outputSize: size, margin: CROP_MARGIN } }
        : {}),
    });
}
