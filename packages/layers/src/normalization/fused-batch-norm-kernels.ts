/**
 * The optional fused batch-norm training kernels {@link batchNormTraining} runs when the active backend
 * provides them — a seam through tfjs's own kernel registry, so this package depends on no backend
 * package: a backend package (e.g. `@phalanx/wasm-training` for `wasm`) registers kernels under these
 * names with `tf.registerKernel`, and every other backend keeps the generic composition of tfjs ops.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * Name of the fused batch-norm training forward kernel. Contract: inputs `x` `[…, C]`, `gamma` `[C]`,
 * `beta` `[C]` (float32), attribute `epsilon`; outputs `[y, mean, variance]` with the statistics over
 * every axis but the last (N = x.size / C values per channel):
 * `μ = Σx / N`, `σ² = Σ(x − μ)² / N` (biased) — both `[C]` — and `y = (x − μ)·γ·(σ² + ε)^−½ + β` like x,
 * equal to `tf.moments` and `tf.batchNorm` within float32 rounding.
 *
 * @example
 * import * as tf from '@tensorflow/tfjs-core';
 * import { FUSED_BATCH_NORM_TRAINING_KERNEL } from '@phalanx/layers';
 * const provided = tf.getKernel(FUSED_BATCH_NORM_TRAINING_KERNEL, tf.getBackend()) != null;
 */
export const FUSED_BATCH_NORM_TRAINING_KERNEL = 'PhalanxBatchNormTraining';

/**
 * Name of the fused batch-norm training backward kernel. Contract: inputs `dy` and `x` `[…, C]`, the
 * forward's `mean` and `variance` `[C]`, `gamma` `[C]` (float32), attribute `epsilon`; with
 * r = (σ² + ε)^−½, x̂ = (x − μ)·r and sums over every axis but the last (N values per channel), outputs
 * `[dx, dGamma, dBeta]`: `dx = γ·r·(dy − Σdy/N − x̂·Σ(dy·x̂)/N)` like x, `dγ = Σ dy·x̂`, `dβ = Σ dy` (`[C]`).
 *
 * @example
 * import * as tf from '@tensorflow/tfjs-core';
 * import { FUSED_BATCH_NORM_TRAINING_GRAD_KERNEL } from '@phalanx/layers';
 * const provided = tf.getKernel(FUSED_BATCH_NORM_TRAINING_GRAD_KERNEL, tf.getBackend()) != null;
 */
export const FUSED_BATCH_NORM_TRAINING_GRAD_KERNEL = 'PhalanxBatchNormTrainingGrad';

/**
 * Name of the optional fused moving-average kernel: both moving statistics of a batch norm updated in
 * one call. Contract: inputs `movingMean`, `movingVariance`, `mean`, `variance` (float32, all `[C]`),
 * attribute `decay` (= 1 − momentum); outputs `[m′, v′]` with `m′ = m − (m − μ)·decay` and
 * `v′ = v − (v − σ²)·decay`, each operation rounded to float32 in that order — bitwise what
 * `tf.sub(m, tf.mul(tf.sub(m, μ), decay))` gives, which is how tfjs-layers updates them.
 *
 * @example
 * import * as tf from '@tensorflow/tfjs-core';
 * import { FUSED_MOVING_AVERAGES_KERNEL } from '@phalanx/layers';
 * const provided = tf.getKernel(FUSED_MOVING_AVERAGES_KERNEL, tf.getBackend()) != null;
 */
export const FUSED_MOVING_AVERAGES_KERNEL = 'PhalanxMovingAverages';

/**
 * Whether the active backend registers both fused batch-norm training kernels
 * ({@link FUSED_BATCH_NORM_TRAINING_KERNEL}, {@link FUSED_BATCH_NORM_TRAINING_GRAD_KERNEL}), i.e. whether
 * {@link batchNormTraining} runs them rather than composing `tf.moments`, `tf.batchNorm` and the
 * closed-form gradient from tfjs ops.
 *
 * @example
 * import { fusedBatchNormKernelsAvailable } from '@phalanx/layers';
 * console.log(fusedBatchNormKernelsAvailable()); // true on wasm once @phalanx/wasm-training is imported
 */
export function fusedBatchNormKernelsAvailable(): boolean {
  const backend = tf.getBackend();
  return (
    tf.getKernel(FUSED_BATCH_NORM_TRAINING_KERNEL, backend) != null &&
    tf.getKernel(FUSED_BATCH_NORM_TRAINING_GRAD_KERNEL, backend) != null
  );
}
