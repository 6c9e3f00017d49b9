/**
 * The dataset API: an iterator of synthetic samples, batching of any `HandSample` stream into tensors for
 * custom training loops, and a `tf.data.Dataset` for `model.fit` / `model.fitDataset`.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfd from '@tensorflow/tfjs-data';
import { NUM_JOINTS } from '@phalanx/skeleton';
import { packSamples, type PackedBatch } from './batch-pack';
import { checkInteger, checkOptions, describeCompact, PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { checkSampleRange, sampleSeed } from './sample-seed';
import { checkShard } from './shard';
import { SYNTHETIC_HANDS_OPTION_KEYS } from './synthetic/option-keys';
import { renderSyntheticHand, type SyntheticHandOptions, type SyntheticHandSample } from './synthetic/render';
import type { HandSample } from './types';

/** Options of `syntheticHands`. */
export interface SyntheticHandsOptions extends SyntheticHandOptions {
  /** Dataset seed (any number). Sample `i` depends only on `seed` and `i`, not on what was drawn before. */
  seed: number;
  /** Number of samples; unbounded when omitted. */
  count?: number;
  /** Index of the first sample (to split one seed into disjoint ranges, or to resume). Default 0. */
  start?: number;
}

export { sampleSeed } from './sample-seed';

/**
 * Iterates synthetic hand samples (`renderSyntheticHand`) of the dataset `seed`: `count` of them, or without end.
 * Sample indices stop at `Number.MAX_SAFE_INTEGER`: a `start + count` past it is a `PhalanxConfigError` at the
 * first `next()`, and so is reaching it without a `count`.
 *
 * @example
 * for (const s of syntheticHands({ seed: 1, size: 128, count: 4 })) console.log(s.meta.poseKind, s.scale);
 */
export function* syntheticHands(options: SyntheticHandsOptions): Generator<SyntheticHandSample, void, undefined> {
  checkOptions('syntheticHands', 'options', options, SYNTHETIC_HANDS_OPTION_KEYS, 'an options object {seed, …}');
  const { seed, count, start = 0, ...render } = options;
  if (typeof seed !== 'number' || !Number.isFinite(seed)) {
    throw new PhalanxConfigError('syntheticHands', 'seed', 'a finite number', seed, describeCompact);
  }
  const end = checkSampleRange('syntheticHands', start, count);
  for (let i = start; i < end; i++) {
    if (i > Number.MAX_SAFE_INTEGER) {
      // Unbounded from near 2⁵³: past it i + 1 === i, and the stream would repeat one sample forever.
      const expected = 'at most Number.MAX_SAFE_INTEGER (9007199254740991)';
      throw new PhalanxConfigError('syntheticHands', 'sample index', expected, i);
    }
    yield renderSyntheticHand(sampleSeed(seed, i), render);
  }
}

/**
 * A batch of samples as tensors (all float32):
 * `images [B, H, W, 3]` in 0–1, `uv [B, 21, 2]` pixels, `xyz [B, 21, 3]`, `K [B, 3, 3]`, `scale [B]`,
 * `visible [B, 21]` (1 or 0). The caller owns the tensors (dispose them, or call `disposeBatch`).
 */
export interface HandBatch {
  /** `[B, H, W, 3]` RGB in [0, 1]. */
  images: tf.Tensor4D;
  /** `[B, 21, 2]` joint pixel coordinates (x, y). */
  uv: tf.Tensor3D;
  /** `[B, 21, 3]` camera-frame joint positions (unit of the source, mm for synthetic hands). */
  xyz: tf.Tensor3D;
  /** `[B, 3, 3]` camera matrices. */
  K: tf.Tensor3D;
  /** `[B]` hand scale: the middle-finger MCP–PIP bone length, unit of `xyz`. */
  scale: tf.Tensor1D;
  /** `[B, 21]` 1 where the joint is visible, else 0. */
  visible: tf.Tensor2D;
}

/**
 * Disposes every tensor of a batch.
 *
 * Throws `PhalanxConfigError` for a `batch` that is not an object (`null`, a number).
 */
export function disposeBatch(batch: HandBatch): void {
  if (batch === null || typeof batch !== 'object') {
    throw new PhalanxConfigError('disposeBatch', 'batch', 'a HandBatch {images, uv, xyz, K, scale, visible}', batch);
  }
  tf.dispose([batch.images, batch.uv, batch.xyz, batch.K, batch.scale, batch.visible]);
}

const BATCH_FIELDS = ['images', 'uv', 'xyz', 'K', 'scale', 'visible'] as const;

/** The rows B of a `HandBatch` whose six fields are live tensors with B rows each; else a named error. */
function batchRows(name: string, batch: HandBatch): number {
  const fields = batch !== null && typeof batch === 'object' ? BATCH_FIELDS.map((k) => batch[k]) : [];
  if (fields.length === 0 || !fields.every((t) => t instanceof tf.Tensor && !t.isDisposed && t.rank >= 1)) {
    throw new PhalanxConfigError(
      name,
      'batch',
      'a HandBatch {images, uv, xyz, K, scale, visible} of live tensors',
      batch,
    );
  }
  const rows = fields.map((t) => t.shape[0]);
  if (rows.some((b) => b !== rows[0])) {
    throw new PhalanxShapeError(name, 'batch', `fields with equal rows (${BATCH_FIELDS.join(', ')})`, rows);
  }
  return rows[0];
}

/**
 * The rows of a batch that data-parallel replica `index` of `count` trains on: rows j ≡ `index` (mod `count`),
 * in order, as new tensors (the same rows `prefetchBatches` renders for a `shard`). The input batch is left
 * as it is: dispose it yourself.
 *
 * **Shapes**: every field keeps its shape but the first dimension, `B` → `⌈(B − index) / count⌉` (≥ 1).
 *
 * Throws `PhalanxConfigError` for an `index` or `count` that is not an integer with 0 ≤ index < count, or a
 * `batch` that is not a `HandBatch` of live tensors; `PhalanxShapeError` for fields with unequal rows, or a batch
 * of `B ≤ index` rows (its shard would be empty).
 *
 * @example
 * const whole = toBatch([...syntheticHands({ seed: 1, size: 32, count: 4 })]);
 * const mine = shardBatch(whole, { index: 1, count: 2 }); // rows 1 and 3
 * disposeBatch(whole);
 * disposeBatch(mine);
 */
export function shardBatch(batch: HandBatch, shard: { index: number; count: number }): HandBatch {
  const size = batchRows('shardBatch', batch);
  const { index, count } = checkShard('shardBatch', shard);
  if (index >= size) {
    // An empty shard would train on nothing: its mean loss is 0/0.
    throw new PhalanxShapeError('shardBatch', 'batch', `at least ${index + 1} rows for shard ${index}`, size);
  }
  return cutRows(batch, size, index, count);
}

/** Rows j ≡ `index` (mod `count`) of a checked batch of `size` rows, as new tensors. */
function cutRows(batch: HandBatch, size: number, index: number, count: number): HandBatch {
  const rows: number[] = [];
  for (let j = index; j < size; j += count) rows.push(j);
  return tf.tidy(() => {
    const at = tf.tensor1d(rows, 'int32');
    const pick = <T extends tf.Tensor>(t: T): T => tf.gather(t, at) as T;
    return {
      images: pick(batch.images),
      uv: pick(batch.uv),
      xyz: pick(batch.xyz),
      K: pick(batch.K),
      scale: pick(batch.scale),
      visible: pick(batch.visible),
    };
  });
}

/**
 * `shard`'s rows of every batch of `source` (`shardBatch`), in order; each whole batch is disposed once cut, so the
 * stream holds no more tensors than `source` does. For a data-parallel replica that renders whole batches and trains
 * on its rows.
 *
 * **Shapes**: as `shardBatch`, batch by batch.
 *
 * A short last batch with no rows for this shard (`B ≤ index`) ends the stream, as in `prefetchBatches` with a
 * `shard`. Throws (at the first batch) what `shardBatch` throws for a bad `shard` or batch.
 *
 * @example
 * const mine = shardBatches(batches({ seed: 1, size: 32, count: 8, batchSize: 4 }), { index: 0, count: 2 });
 * for await (const b of mine) disposeBatch(b); // rows 0 and 2 of each batch
 */
export async function* shardBatches(
  source: AsyncIterable<HandBatch> | Iterable<HandBatch>,
  shard: { index: number; count: number },
): AsyncGenerator<HandBatch, void, undefined> {
  for await (const batch of source) {
    let mine: HandBatch | undefined;
    try {
      // A short last batch without rows of this shard ends its stream, as in `prefetchBatches`.
      const size = batchRows('shardBatches', batch);
      const { index, count } = checkShard('shardBatches', shard);
      mine = size <= index ? undefined : cutRows(batch, size, index, count);
    } finally {
      disposeBatch(batch);
    }
    if (mine === undefined) return;
    yield mine;
  }
}

/**
 * Stacks samples of equal image size into a `HandBatch` (uint8 images are divided by 255).
 *
 * **Shapes**: see `HandBatch`.
 *
 * Throws (as `packSamples`, before any tensor is made) `PhalanxConfigError` for an empty list or not a list, unequal
 * image sizes, and `PhalanxShapeError` naming the sample and field for a sample whose `image`, `uv`, `xyz`,
 * `K` or `visible` does not hold `W × H × 3`, 42, 63, 9 or 21 values.
 */
export function toBatch(samples: readonly HandSample[]): HandBatch {
  return unpackBatch(packSamples(samples));
}

/**
 * The tensors of a packed batch (the caller owns them; the arrays are not copied on the host).
 *
 * **Shapes**: `images [B, H, W, 3]`, `uv [B, 21, 2]`, `xyz [B, 21, 3]`, `K [B, 3, 3]`, `scale [B]`,
 * `visible [B, 21]`.
 *
 * @example
 * const batch = unpackBatch(packSamples([renderSyntheticHand(1, { size: 64 })]));
 * console.log(batch.images.shape); // [1, 64, 64, 3]
 */
export function unpackBatch(packed: PackedBatch): HandBatch {
  const { batchSize: B, height: H, width: W } = packed;
  return {
    images: tf.tensor4d(packed.images, [B, H, W, 3], 'float32'),
    uv: tf.tensor3d(packed.uv, [B, NUM_JOINTS, 2], 'float32'),
    xyz: tf.tensor3d(packed.xyz, [B, NUM_JOINTS, 3], 'float32'),
    K: tf.tensor3d(packed.K, [B, 3, 3], 'float32'),
    scale: tf.tensor1d(packed.scale, 'float32'),
    visible: tf.tensor2d(packed.visible, [B, NUM_JOINTS], 'float32'),
  };
}

/** Options of `batches`. */
export interface BatchOptions extends Partial<SyntheticHandsOptions> {
  /** Samples per batch, integer ≥ 1. */
  batchSize: number;
  /** Where samples come from; by default `syntheticHands(options)` (then `seed` is required). */
  source?: Iterable<HandSample> | AsyncIterable<HandSample>;
  /** Applied to each sample before batching (e.g. `(s, i) => augment(s, { seed: i, outputSize: 128 })`). */
  transform?: (sample: HandSample, index: number) => HandSample;
  /** Drop a last batch smaller than `batchSize`. Default `false`. */
  dropRemainder?: boolean;
}

/** The keys of `BatchOptions`: the batching's own and `syntheticHands`'s. */
const BATCH_OPTION_KEYS = {
  batchSize: true,
  source: true,
  transform: true,
  dropRemainder: true,
  ...SYNTHETIC_HANDS_OPTION_KEYS,
} satisfies Record<keyof BatchOptions, true>;

/** The most values one batch's images may hold: one float32 array, the largest length every engine allocates. */
const MAX_BATCH_VALUES = 2 ** 31 - 1;

/**
 * A named error (naming `batchSize`) when `count` samples of the size of `sample` make images of more than
 * 2³¹ − 1 float32 values: such a batch cannot be allocated, and without this check `batches` would render
 * and hold samples until memory ran out before finding that out.
 */
function checkBatchFits(sample: HandSample, count: number, batchSize: number): void {
  const { width, height } = (sample ?? {}) as Partial<HandSample>;
  const perSample = (width ?? 0) * (height ?? 0) * 3;
  if (!(perSample > 0) || count * perSample <= MAX_BATCH_VALUES) return; // a malformed sample: packSamples names it
  const most = Math.max(1, Math.floor(MAX_BATCH_VALUES / perSample));
  const expected = `at most ${most} for ${width}×${height} images (a batch's images are one float32 array of at most 2³¹ − 1 values)`;
  throw new PhalanxConfigError('batches', 'batchSize', expected, batchSize);
}

/**
 * Yields `HandBatch`es for custom training loops. Each batch belongs to the caller, who disposes it.
 *
 * Throws (at the first `next()`) `PhalanxConfigError` for options that are not an object or have an unknown key,
 * a `batchSize` that is not an integer ≥ 1, a `source` that is not iterable, a `transform` that is not a
 * function, and a batch whose images would exceed 2³¹ − 1 float32 values — for synthetic samples as soon as the
 * first is rendered (`min(batchSize, count)` of its size), for a `source` once the samples received reach it.
 *
 * @example
 * for await (const b of batches({ seed: 0, size: 128, count: 64, batchSize: 16 })) {
 *   // ... train on b.images, b.uv ...
 *   disposeBatch(b);
 * }
 */
export async function* batches(options: BatchOptions): AsyncGenerator<HandBatch, void, undefined> {
  checkOptions('batches', 'options', options, BATCH_OPTION_KEYS, 'an options object {batchSize, …}');
  const { batchSize, source, transform, dropRemainder = false, ...synth } = options;
  checkInteger('batches', 'batchSize', batchSize, 1);
  checkSourceAndTransform('batches', source, transform, 'iterable');
  let it: Iterable<HandSample> | AsyncIterable<HandSample>;
  if (source) it = source;
  else {
    if (synth.seed === undefined) {
      throw new PhalanxConfigError('batches', 'seed', 'a number when no source is given', synth.seed, describeCompact);
    }
    it = syntheticHands(synth as SyntheticHandsOptions);
  }
  // The samples one batch will hold: known up front for synthetic samples, counted as they come otherwise.
  const planned = source ? undefined : Math.min(batchSize, synth.count ?? Infinity);
  let buf: HandSample[] = [];
  let index = 0;
  for await (const s of it) {
    const sample = transform ? transform(s, index) : s;
    checkBatchFits(sample, planned ?? buf.length + 1, batchSize);
    buf.push(sample);
    index++;
    if (buf.length === batchSize) {
      yield toBatch(buf);
      buf = [];
    }
  }
  if (buf.length > 0 && !dropRemainder) yield toBatch(buf);
}

/**
 * Named errors for a `source` that is not what `component` iterates (`'iterable'`: an iterable or async
 * iterable of samples; `'function'`: a function returning one) and a `transform` that is not a function.
 */
function checkSourceAndTransform(
  component: string,
  source: unknown,
  transform: unknown,
  kind: 'iterable' | 'function',
): void {
  if (source != null) {
    const iterable =
      typeof (source as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function' ||
      typeof (source as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function';
    if (kind === 'iterable' ? !iterable : typeof source !== 'function') {
      const expected =
        kind === 'iterable' ? 'an iterable or async iterable of samples' : 'a function () → Iterable<HandSample>';
      throw new PhalanxConfigError(component, 'source', expected, source, describeCompact);
    }
  }
  if (transform != null && typeof transform !== 'function') {
    throw new PhalanxConfigError(
      component,
      'transform',
      'a function (sample, index) → sample',
      transform,
      describeCompact,
    );
  }
}

/** One sample as tensors, the element type of `toTfDataset`: `image [H, W, 3]` 0–1, `uv [21, 2]`, … */
export interface HandTensors extends tf.TensorContainerObject {
  /** `[H, W, 3]` RGB in [0, 1]. */
  image: tf.Tensor3D;
  /** `[21, 2]` joint pixel coordinates (x, y). */
  uv: tf.Tensor2D;
  /** `[21, 3]` camera-frame joint positions (unit of the source, mm for synthetic hands). */
  xyz: tf.Tensor2D;
  /** `[3, 3]` camera matrix. */
  K: tf.Tensor2D;
  /** Hand scale (scalar): the middle-finger MCP–PIP bone length, unit of `xyz`. */
  scale: tf.Scalar;
  /** `[21]` 1 where the joint is visible, else 0. */
  visible: tf.Tensor1D;
}

/** Options of `toTfDataset`. */
export interface TfDatasetOptions extends Partial<SyntheticHandsOptions> {
  /** Where samples come from; by default `syntheticHands(options)`. A function is called anew on each pass (epoch). */
  source?: () => Iterable<HandSample>;
  /** Applied to each sample (e.g. an augmentation). */
  transform?: (sample: HandSample, index: number) => HandSample;
}

/** The keys of `TfDatasetOptions`: the dataset's own and `syntheticHands`'s. */
const TF_DATASET_OPTION_KEYS = {
  source: true,
  transform: true,
  ...SYNTHETIC_HANDS_OPTION_KEYS,
} satisfies Record<keyof TfDatasetOptions, true>;

/**
 * A `tf.data.Dataset` of single samples as tensors (`HandTensors`); chain `.map` and `.batch` for `model.fit`
 * (`@tensorflow/tfjs-data` is a peer dependency). Each pass over the dataset re-creates the same samples.
 *
 * Throws `PhalanxConfigError` at once for `options` that are not an object or have an unknown key, a `source`
 * that is not a function, a `transform` that is not a function, and a missing `seed` without a `source`.
 *
 * @example
 * const ds = toTfDataset({ seed: 0, size: 128, count: 256 })
 *   .map((s) => ({ xs: (s as HandTensors).image, ys: (s as HandTensors).uv }))
 *   .batch(32);
 * const model = tfl.sequential({
 *   layers: [
 *     tfl.layers.conv2d({ filters: 8, kernelSize: 3, strides: 4, activation: 'relu', inputShape: [128, 128, 3] }),
 *     tfl.layers.flatten(),
 *     tfl.layers.dense({ units: 42 }),
 *     tfl.layers.reshape({ targetShape: [21, 2] }),
 *   ],
 * });
 * model.compile({ optimizer: 'adam', loss: 'meanSquaredError' });
 * await model.fitDataset(ds, { epochs: 1 });
 */
export function toTfDataset(options: TfDatasetOptions): tfd.Dataset<HandTensors> {
  checkOptions('toTfDataset', 'options', options, TF_DATASET_OPTION_KEYS, 'an options object {seed, …} or {source, …}');
  const { source, transform, ...synth } = options;
  checkSourceAndTransform('toTfDataset', source, transform, 'function');
  if (!source && synth.seed === undefined) {
    throw new PhalanxConfigError(
      'toTfDataset',
      'seed',
      'a number when no source is given',
      synth.seed,
      describeCompact,
    );
  }
  const make = source ?? (() => syntheticHands(synth as SyntheticHandsOptions));
  return tfd.generator(function* () {
    let index = 0;
    for (const raw of make()) {
      const s = transform ? transform(raw, index) : raw;
      index++;
      const b = toBatch([s]);
      const t: HandTensors = {
        image: tf.squeeze(b.images, [0]) as tf.Tensor3D,
        uv: tf.squeeze(b.uv, [0]) as tf.Tensor2D,
        xyz: tf.squeeze(b.xyz, [0]) as tf.Tensor2D,
        K: tf.squeeze(b.K, [0]) as tf.Tensor2D,
        scale: tf.squeeze(b.scale) as tf.Scalar,
        visible: tf.squeeze(b.visible, [0]) as tf.Tensor1D,
      };
      disposeBatch(b);
      yield t;
    }
  });
}
