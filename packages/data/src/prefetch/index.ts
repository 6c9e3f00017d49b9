/**
 * `@phalanx/data/prefetch` (Node only) — synthetic batches rendered and augmented in worker threads ahead
 * of the training loop, in order, the same samples as `batches()`.
 *
 * @packageDocumentation
 */
import type { Tinypool as TinypoolType } from 'tinypool';
import { type HandBatch, type SyntheticHandsOptions, unpackBatch } from '../dataset';
import { checkInteger, checkOptions, describeCompact, PhalanxConfigError } from '@phalanx/errors';
import { RENDER_OPTION_KEYS } from '../synthetic/option-keys';
import { checkSampleRange } from '../sample-seed';
import { checkShard } from '../shard';
import type { BatchTask, PrefetchAugment, PrefetchShard, RenderedBatch } from './batch-task';

export type { BatchTask, PrefetchAugment, PrefetchShard, RenderedBatch } from './batch-task';
export { renderBatch, taskSamples } from './batch-task';

/** Options of {@link prefetchBatches}. */
export interface PrefetchOptions extends SyntheticHandsOptions {
  /** Samples per batch, integer ≥ 1. */
  batchSize: number;
  /** Augmentation applied in the workers to each sample (its seed is `augment.seed + sample index`). */
  augment?: PrefetchAugment;
  /** Drop a last batch smaller than `batchSize` (only with `count`). Default `false`. */
  dropRemainder?: boolean;
  /**
   * Render only the rows j ≡ `index` (mod `count`) of every batch — a data-parallel replica's shard, the
   * same rows bit for bit as the whole batch holds — so N replicas render each sample once, not N times.
   * Default: whole batches.
   */
  shard?: PrefetchShard;
  /** Worker threads rendering batches, integer ≥ 1. Default 1. */
  workers?: number;
  /**
   * Bound of the queue: batches rendered ahead of the consumer (being rendered or waiting), integer ≥ 1.
   * Default `workers + 2`.
   */
  queueSize?: number;
}

/** Counters of a prefetched stream, for benchmarks and progress displays. */
export interface PrefetchStats {
  /** Batches handed to the workers so far (at most `queueSize` more than {@link PrefetchStats.batches}). */
  requested: number;
  /** Batches handed to the consumer. */
  batches: number;
  /** Samples handed to the consumer. */
  samples: number;
  /** Worker wall time spent rendering, augmenting and packing those batches, ms. */
  renderMs: number;
  /** Time the consumer spent waiting in `next()` for a batch that was not ready yet, ms. */
  waitMs: number;
}

/** A prefetched stream: an async iterator of `HandBatch`es and its {@link PrefetchStats}. */
export type PrefetchedBatches = AsyncGenerator<HandBatch, void, undefined> & {
  /** The stream's counters, updated in place as batches are requested, rendered and consumed. */
  readonly stats: PrefetchStats;
};

/**
 * The worker entry beside this module: `prefetch-worker.js` in the built package; in the workspace sources
 * (this file is `.ts`) the bootstrap that loads the TypeScript worker through tsx.
 */
function workerEntry(): string {
  const here = import.meta.url;
  return new URL(here.endsWith('.ts') ? './prefetch-worker.dev.mjs' : './prefetch-worker.js', here).href;
}

/** The keys of {@link PrefetchOptions}: any other key is a named error, before a worker starts. */
const OPTION_KEYS = {
  seed: true,
  count: true,
  start: true,
  batchSize: true,
  augment: true,
  dropRemainder: true,
  shard: true,
  workers: true,
  queueSize: true,
  ...RENDER_OPTION_KEYS,
} satisfies Record<keyof PrefetchOptions, true>;

function checkPrefetchOptions(options: PrefetchOptions) {
  const name = 'prefetchBatches';
  checkOptions(name, 'options', options, OPTION_KEYS, 'an object');
  const { seed, count, start = 0, batchSize, workers = 1, augment, dropRemainder = false } = options;
  if (typeof seed !== 'number' || !Number.isFinite(seed)) {
    throw new PhalanxConfigError(name, 'seed', 'a finite number', seed, describeCompact);
  }
  checkInteger(name, 'batchSize', batchSize, 1);
  const end = checkSampleRange(name, start, count);
  checkInteger(name, 'workers', workers, 1);
  const queueSize = checkInteger(name, 'queueSize', options.queueSize ?? workers + 2, 1);
  if (augment !== undefined && (typeof augment?.seed !== 'number' || !Number.isFinite(augment.seed))) {
    throw new PhalanxConfigError(name, 'augment.seed', 'a finite number', augment?.seed, describeCompact);
  }
  const shard =
    options.shard === undefined
      ? undefined
      : checkShard('prefetchBatches', options.shard, { value: batchSize, label: 'batchSize' });
  return {
    seed,
    start,
    batchSize,
    workers,
    queueSize,
    augment,
    dropRemainder,
    shard,
    end,
  };
}

/** The rendering options of `syntheticHands` inside the prefetch options (what workers need). */
function renderOptions(options: PrefetchOptions): BatchTask['render'] {
  const { seed, count, start, batchSize, augment, dropRemainder, workers, queueSize, shard, ...render } = options;
  void [seed, count, start, batchSize, augment, dropRemainder, workers, queueSize, shard];
  return render;
}

/**
 * Batches of synthetic hands rendered — and augmented — in `workers` worker threads (a Tinypool) ahead of
 * the consumer, at most `queueSize` batches ahead. Batches arrive in order and hold exactly the samples
 * of `batches({ seed, start, count, batchSize, ...render })` (with `augment`, those of a `transform`
 * `(s, i) => augment(s, { ...augment, seed: augment.seed + start + i })`), so a stream resumed at
 * `start` continues the one it replaces. With `shard`, each batch holds only that shard's rows of it. The
 * workers stop when the stream ends, throws or is closed (`return()`, `break` in `for await`). Each batch
 * belongs to the consumer, who disposes it.
 *
 * @example
 * import { prefetchBatches } from '@phalanx/data/prefetch';
 * import { disposeBatch } from '@phalanx/data';
 * const stream = prefetchBatches({ seed: 1, size: 128, count: 64, batchSize: 16, workers: 2 });
 * for await (const b of stream) {
 *   // ... train on b.images, b.uv ...
 *   disposeBatch(b);
 * }
 * console.log(stream.stats.samples, stream.stats.waitMs); // 64, time spent waiting for data
 */
export function prefetchBatches(options: PrefetchOptions): PrefetchedBatches {
  const checked = checkPrefetchOptions(options);
  const render = renderOptions(options);
  const stats: PrefetchStats = { requested: 0, batches: 0, samples: 0, renderMs: 0, waitMs: 0 };
  const stream = run(checked, render, stats) as PrefetchedBatches;
  return Object.assign(stream, { stats });
}

async function* run(
  o: ReturnType<typeof checkPrefetchOptions>,
  render: BatchTask['render'],
  stats: PrefetchStats,
): AsyncGenerator<HandBatch, void, undefined> {
  const { Tinypool } = await import('tinypool');
  const pool: TinypoolType = new Tinypool({ filename: workerEntry(), minThreads: o.workers, maxThreads: o.workers });
  const pending: Promise<RenderedBatch>[] = [];
  let next = o.start;
  const fill = () => {
    while (pending.length < o.queueSize && next < o.end) {
      const count = Math.min(o.batchSize, o.end - next);
      if (count < o.batchSize && o.dropRemainder) break;
      if (o.shard && count <= o.shard.index) break; // a short last batch without rows of this shard
      const task: BatchTask = {
        seed: o.seed,
        start: next,
        count,
        render,
        ...(o.augment ? { augment: o.augment } : {}),
        ...(o.shard ? { shard: o.shard } : {}),
      };
      const result = pool.run(task) as Promise<RenderedBatch>;
      // Awaited in order below; a batch that fails while an earlier one is consumed must not count as unhandled.
      result.catch(() => undefined);
      pending.push(result);
      stats.requested += 1;
      next += count;
    }
  };
  try {
    fill();
    while (pending.length > 0) {
      const t0 = performance.now();
      const { batch, renderMs } = await (pending.shift() as Promise<RenderedBatch>);
      stats.waitMs += performance.now() - t0;
      fill();
      stats.batches += 1;
      stats.samples += batch.batchSize;
      stats.renderMs += renderMs;
      yield unpackBatch(batch);
    }
  } finally {
    await pool.destroy();
  }
}
