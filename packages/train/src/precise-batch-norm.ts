/**
 * Precise batch norm: re-estimating the moving statistics of a trained model's batch normalisations from
 * training batches, with the weights fixed.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { PhalanxConfigError, PhalanxNonFiniteError } from '@phalanx/errors';
import { checkLayer, isBatchNormalization } from '@phalanx/layers';
import { allLayers } from './freeze';

/** The fields of a tfjs-layers batch normalisation that {@link recalibrateBatchNorm} reads and sets. */
interface BatchNormStatistics {
  momentum: number;
  movingMean: tfl.LayerVariable;
  movingVariance: tfl.LayerVariable;
}

/** One batch of the model's inputs: a tensor, or one tensor per input of a multi-input model. */
export type ModelInputs = tf.Tensor | tf.Tensor[];

/**
 * Re-estimates the moving mean and variance of every batch normalisation of `model` (nested models
 * included) as the plain average of their batch statistics over `batches` (precise BN, Wu & Johnson,
 * *Rethinking "Batch" in BatchNorm*, 2021). A moving average of momentum 0.9 (PyTorch's 0.1) remembers
 * about the last ten batches of training; this averages as many batches as you pass, with the weights
 * fixed. For batch k = 0, 1, … each layer's momentum is set to k/(k+1) and the model runs in training
 * mode, so after K batches
 *
 * `μ_moving = (1/K)·Σ_k μ_k`,  `σ²_moving = (1/K)·Σ_k σ²_k`
 *
 * with `μ_k`, `σ²_k` a layer's batch statistics (as the layer computes them in training, over every axis
 * but the channel axis). The momenta are then restored, also when a batch throws. Training mode also turns
 * on dropout, as in training. Returns the number of batches used. Use training data, never the evaluation
 * set. The caller owns the batches (an async generator can dispose each one when asked for the next).
 *
 * **Shapes**: each batch is what `model.apply` takes, e.g. `[B, H, W, 3]` for an image model.
 *
 * Throws `PhalanxConfigError` for a `model` that is not a layer or model, one without batch
 * normalisations, `batches` that are not an array or (async) iterable, a batch that is not a tensor or an
 * array of tensors (the statistics are then left as they were), or no batches; `PhalanxNonFiniteError` (and leaves the old statistics in place) when
 * the new statistics are not finite, e.g. from a batch holding NaN.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import * as tfl from '@tensorflow/tfjs-layers';
 * import { recalibrateBatchNorm } from '@phalanx/train';
 *
 * const model = tfl.sequential({ layers: [tfl.layers.batchNormalization({ inputShape: [3] })] });
 * const batches = [tf.randomNormal([16, 3], 2, 1, 'float32', 1), tf.randomNormal([16, 3], 2, 1, 'float32', 2)];
 * await recalibrateBatchNorm(model, batches); // 2: moving mean ≈ 2, moving variance ≈ 1
 * tf.dispose(batches);
 * ```
 */
export async function recalibrateBatchNorm(
  model: tfl.layers.Layer,
  batches: Iterable<ModelInputs> | AsyncIterable<ModelInputs>,
): Promise<number> {
  checkLayer('recalibrateBatchNorm', model);
  checkIterable(batches);
  const layers = allLayers(model).filter(isBatchNormalization) as unknown as BatchNormStatistics[];
  if (layers.length === 0) {
    throw new PhalanxConfigError(
      'recalibrateBatchNorm',
      'model',
      'a model with batch normalisation layers',
      model.name,
    );
  }
  const momenta = layers.map((l) => l.momentum);
  const before = layers.map((l) => [tf.clone(l.movingMean.read()), tf.clone(l.movingVariance.read())]);
  let count = 0;
  try {
    for await (const inputs of batches) {
      checkBatch(inputs, count);
      for (const layer of layers) layer.momentum = count / (count + 1);
      tf.tidy(() => {
        model.apply(inputs, { training: true });
      });
      count++;
    }
    if (count === 0) throw new PhalanxConfigError('recalibrateBatchNorm', 'batches', 'at least one batch', 0);
    await checkStatisticsFinite(layers, count);
  } catch (error) {
    layers.forEach((l, i) => {
      l.movingMean.write(before[i][0]);
      l.movingVariance.write(before[i][1]);
    });
    throw error;
  } finally {
    layers.forEach((l, i) => (l.momentum = momenta[i]));
    tf.dispose(before.flat());
  }
  return count;
}

/** Throws `PhalanxConfigError` unless `batches` is an array, an iterable or an async iterable. */
function checkIterable(batches: unknown): void {
  const b = batches as { [Symbol.iterator]?: unknown; [Symbol.asyncIterator]?: unknown } | null;
  const iterable = typeof b?.[Symbol.iterator] === 'function' || typeof b?.[Symbol.asyncIterator] === 'function';
  if (b === null || typeof b !== 'object' || !iterable || b instanceof tf.Tensor) {
    throw new PhalanxConfigError('recalibrateBatchNorm', 'batches', 'an array or an (async) iterable of batches', b);
  }
}

/** Throws `PhalanxConfigError` unless batch `index` is a tensor or a non-empty array of tensors. */
function checkBatch(inputs: unknown, index: number): void {
  const ok = Array.isArray(inputs)
    ? inputs.length > 0 && inputs.every((t) => t instanceof tf.Tensor)
    : inputs instanceof tf.Tensor;
  if (!ok) {
    throw new PhalanxConfigError(
      'recalibrateBatchNorm',
      `batches[${index}]`,
      'a tensor or an array of tensors',
      inputs,
    );
  }
}

/** Throws `PhalanxNonFiniteError` when a moving mean or variance holds a value that is not finite. */
async function checkStatisticsFinite(layers: readonly BatchNormStatistics[], batches: number): Promise<void> {
  const total = tf.tidy(() =>
    tf.addN(layers.flatMap((l) => [tf.sum(l.movingMean.read()), tf.sum(l.movingVariance.read())])),
  );
  const value = (await total.data())[0];
  total.dispose();
  if (!Number.isFinite(value)) {
    throw new PhalanxNonFiniteError('recalibrateBatchNorm', batches, { 'sum of the moving statistics': value });
  }
}
