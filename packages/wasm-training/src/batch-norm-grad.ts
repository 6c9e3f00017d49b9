import * as tf from '@tensorflow/tfjs-core';

/**
 * Sums `t` (shaped like the kernel's `x`) down to `shape` (the shape of a mean / variance / scale /
 * offset input: rank 1 `[C]` or a broadcastable shape of any rank), as broadcasting would have
 * expanded it.
 */
function reduceTo(t: tf.Tensor, shape: number[]): tf.Tensor {
  const offset = t.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < t.rank; i++) {
    const d = i - offset;
    if (d < 0 || (shape[d] === 1 && t.shape[i] !== 1)) axes.push(i);
  }
  const summed = axes.length > 0 ? tf.sum(t, axes) : t;
  return tf.reshape(summed, shape);
}

/**
 * The gradients of {@link fusedBatchNormGradConfig} when the statistics differ in shape (e.g. a `[1]`
 * variance beside a `[C]` mean): each is the per-element gradient reduced to its own input's shape, the
 * offset's to the scale's (or, without a scale, the mean's: tfjs passes a gradient neither the offset nor
 * its shape).
 */
function mixedShapeGradients(
  g: tf.Tensor,
  [x, mean, variance, scale]: tf.Tensor[],
  epsilon: number,
): Record<string, () => tf.Tensor> {
  const r = () => tf.rsqrt(tf.add(variance, tf.scalar(epsilon)));
  const rg = () => (scale == null ? r() : tf.mul(r(), scale));
  const dyXc = () => tf.mul(g, tf.sub(x, mean));
  const offsetShape = scale == null ? mean.shape : scale.shape;
  return {
    x: () => tf.mul(g, rg()),
    mean: () => reduceTo(tf.neg(tf.mul(g, rg())), mean.shape),
    variance: () => reduceTo(tf.mul(dyXc(), tf.mul(tf.mul(tf.mul(r(), r()), rg()), tf.scalar(-0.5))), variance.shape),
    scale: () => reduceTo(tf.mul(dyXc(), r()), scale.shape),
    offset: () => reduceTo(g, offsetShape),
  };
}

/**
 * Gradient of the `FusedBatchNorm` kernel (`tf.batchNorm`, and tfjs-layers' `batchNormalization` in
 * both modes): y = (x − μ)·r·γ + β with r = (σ² + ε)^−½. With Σ over the axes the statistics are
 * broadcast along,
 *
 * - ∂x = dy·(r·γ)
 * - ∂μ = −r·γ·Σdy
 * - ∂σ² = −½·r³·γ·Σ(dy·(x − μ))
 * - ∂γ = r·Σ(dy·(x − μ))
 * - ∂β = Σdy
 *
 * the same quantities as tfjs-core's gradient, computed differently: per-channel factors are
 * broadcast instead of tiled to the input's shape (tfjs's `Tile` is a scalar loop on wasm — ≈ 12 ms
 * per 1 M elements), the two reductions Σdy and Σ(dy·(x − μ)) are shared by the four statistic
 * gradients, and every full-size temporary is freed at once. The stock gradient computes `x − μ` and
 * `dy·γ` eagerly, outside the engine's per-input `tidy`, so both stay alive until the whole backward
 * pass ends — two input-sized tensors per batch-norm layer. Statistics of different shapes (a `[1]`
 * variance beside a `[C]` mean) get per-element gradients, each reduced to its own statistic's shape.
 */
export const fusedBatchNormGradConfig: tf.GradConfig = {
  kernelName: tf.FusedBatchNorm,
  inputsToSave: ['x', 'mean', 'variance', 'scale'],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
    const g = dy as tf.Tensor;
    const [x, mean, variance, scale] = saved;
    const epsilon = (attrs as unknown as tf.FusedBatchNormAttrs).varianceEpsilon;
    const sameShapes = [variance, scale].every((s) => s == null || tf.util.arraysEqual(s.shape, mean.shape));
    if (!sameShapes) return mixedShapeGradients(g, saved, epsilon);
    // Small (statistics-shaped) tensors only leave this tidy; they live until the backward pass ends.
    const { r, rg, sumDy, sumDyXc } = tf.tidy(() => {
      const r = tf.rsqrt(tf.add(variance, tf.scalar(epsilon)));
      const rg = scale == null ? r : tf.mul(r, scale);
      const stat = mean.shape;
      const sumDy = reduceTo(g, stat);
      const sumDyXc = reduceTo(tf.mul(g, tf.sub(x, mean)), stat);
      return { r, rg, sumDy, sumDyXc };
    });
    const scaleShape = scale == null ? mean.shape : scale.shape;
    return {
      x: () => tf.mul(g, rg),
      mean: () => tf.neg(tf.mul(rg, sumDy)),
      variance: () => tf.mul(tf.mul(tf.mul(tf.mul(r, r), rg), sumDyXc), tf.scalar(-0.5)),
      scale: () => tf.reshape(tf.mul(r, sumDyXc), scaleShape),
      offset: () => tf.reshape(sumDy, scaleShape),
    };
  },
};
