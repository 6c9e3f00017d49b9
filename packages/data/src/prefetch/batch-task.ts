/**
 * One unit of work of the prefetching pool: render (and augment) the samples `start … start+count−1` of a
 * synthetic dataset and pack them — exactly the samples `batches()` yields for the same options.
 */
import type { AugmentOptions } from '../augment';
import { augment } from '../augment';
import { packSamples, type PackedBatch } from '../batch-pack';
import { sampleSeed } from '../sample-seed';
import { renderSyntheticHand, type SyntheticHandOptions } from '../synthetic/render';
import type { HandSample } from '../types';

/** The augmentation of a prefetched stream: `augment` with the seed of sample `i` equal to `seed + i`. */
export interface PrefetchAugment extends Omit<AugmentOptions, 'seed'> {
  /**
   * Seed of sample 0; sample `i` (its index in the dataset, counted from 0 whatever `start` is) is augmented
   * with seed `seed + i`, so its crop and jitter depend on (seed, i) only.
   */
  seed: number;
}

/** What a worker renders: samples `start … start+count−1` of the dataset `seed`. */
export interface BatchTask {
  /** Dataset seed (as `syntheticHands`). */
  seed: number;
  /** Index of the first sample of the batch. */
  start: number;
  /** Samples in the batch. */
  count: number;
  /** Rendering options (as `renderSyntheticHand`). */
  render: SyntheticHandOptions;
  /** Optional augmentation of each sample. */
  augment?: PrefetchAugment;
  /** Only the samples `start + j` with j ≡ `shard.index` (mod `shard.count`), j < `count`. Default: all. */
  shard?: PrefetchShard;
}

/** The rows of every batch a data-parallel replica trains on: rows j ≡ `index` (mod `count`). */
export interface PrefetchShard {
  /** This replica's index, integer in [0, count). */
  index: number;
  /** Number of replicas, integer ≥ 1. */
  count: number;
}

/**
 * The samples of a task, in order: sample `i` is `renderSyntheticHand(sampleSeed(seed, i))`, then
 * augmented; with a shard, only its rows of the batch.
 */
export function taskSamples(task: BatchTask): HandSample[] {
  const samples: HandSample[] = [];
  const step = task.shard?.count ?? 1;
  for (let i = task.start + (task.shard?.index ?? 0); i < task.start + task.count; i += step) {
    const sample: HandSample = renderSyntheticHand(sampleSeed(task.seed, i), task.render);
    if (task.augment) {
      const { seed, ...options } = task.augment;
      samples.push(augment(sample, { ...options, seed: seed + i }));
    } else samples.push(sample);
  }
  return samples;
}

/** A rendered batch and the worker time it took. */
export interface RenderedBatch {
  /** The packed samples of the task. */
  batch: PackedBatch;
  /** Wall time of rendering, augmenting and packing in the worker, ms. */
  renderMs: number;
}

/** Renders and packs the samples of a task. */
export function renderBatch(task: BatchTask): RenderedBatch {
  const t0 = performance.now();
  const batch = packSamples(taskSamples(task));
  return { batch, renderMs: performance.now() - t0 };
}
