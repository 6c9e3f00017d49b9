/**
 * The optional stage-1 terms on the TW-stage's 2.5D volume (not in the EHPE paper): the cross-entropies of
 * each joint's x, y and depth marginals against their targets.
 */
import * as tf from '@tensorflow/tfjs-core';
import { checkInteger, checkPositiveFloat32, FLOAT32_MAX, PhalanxShapeError } from '@phalanx/errors';
import { leanLogSumExp } from '@phalanx/layers';

/** Checks the arguments every volume term shares; returns the depth bins and β. */
function checkVolumeArgs(
  name: string,
  volume: unknown,
  target: { value: unknown; argument: string; rank: number; expected: string },
  depthBins: number,
  beta: number,
): { D: number; b: number } {
  const D = checkInteger(name, 'depthBins', depthBins, 1);
  const b = checkPositiveFloat32(name, 'beta', beta); // the logits are float32: β must be one, and not flush to 0
  if (!(volume instanceof tf.Tensor) || volume.rank !== 4) {
    throw new PhalanxShapeError(name, 'volume', '[B, S, S, n·D]', volume instanceof tf.Tensor ? volume.shape : volume);
  }
  if (!(target.value instanceof tf.Tensor) || target.value.rank !== target.rank) {
    const shape = target.value instanceof tf.Tensor ? target.value.shape : target.value;
    throw new PhalanxShapeError(name, target.argument, target.expected, shape);
  }
  return { D, b };
}

/**
 * The logits `β·V` of each joint's volume, `x [B, S², n, D]` → `[B, S², n, D]`, overflow-safe:
 *
 *     logits = max(β·(V − s_j), −3.4028235e38),   s_j = 0 if β·V_j is finite, else max_{x,y,d} V_j
 *
 * A joint whose `β·V` leaves float32 (`|β·V| > 3.4e38`: a logsumexp of `+∞` is NaN, and a position whose
 * logits are all `−∞` gives `0·(−∞)` = NaN in the cross-entropy) is scored on the shifted form, which the
 * volume terms cannot tell from `β·V`: they depend on `V_j` only through `log softmax` over the joint's
 * S×S×D volume, which a shift leaves alone (the clamp only moves logits whose probability is 0 in float32).
 * The joint is chosen with `tf.where` on `[B, 1, n, 1]` (β·V is finite in the whole joint iff it is at the
 * joint's maximum and minimum, as β > 0), no host read, like the selector's `overflowSafeScores`. Other
 * joints get `V − 0 = V`, and the clamp leaves finite logits alone: `β·V` bit for bit, and the gradient
 * `β·dy` too. The shifted form's gradient is `β·dy` (0 where clamped): `s_j` is a constant, as the terms do
 * not depend on it. NaN in a joint stays NaN.
 */
function overflowSafeLogits(x: tf.Tensor, b: number): tf.Tensor {
  const run = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [v, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const top = tf.max(v, [1, 3], true); // [B, 1, n, 1]
    const finite = tf.logicalAnd(tf.isFinite(tf.mul(top, b)), tf.isFinite(tf.mul(tf.min(v, [1, 3], true), b)));
    const shift = tf.where(finite, tf.zerosLike(top), top);
    const value = tf.maximum(tf.mul(tf.sub(v, shift), b), -FLOAT32_MAX);
    save([value, finite]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, [logits, kept]: tf.Tensor[]) => {
        const unclamped = tf.logicalOr(kept, tf.greater(logits, -FLOAT32_MAX));
        return tf.where(unclamped, tf.mul(dy, b), tf.zerosLike(dy));
      },
    };
  });
  return run(x);
}

/**
 * Cross-entropy of each joint's 2D distribution in the volume (the x, y marginal of
 * `p = softmax(β·V_j)` over its S×S×D volume, the distribution whose mean is the soft-argmax's x, y)
 * against the target heatmap normalised to sum 1 (integral-regression style supervision; not in the
 * paper):
 *
 *     log p_j(x, y) = logsumexp_d β·V_j(x, y, d) − logsumexp_{x,y,d} β·V_j
 *     CE = mean_{b, j} − Σ_{x,y} t̂_j(x, y) · log p_j(x, y),   t̂_j = t_j / Σ t_j
 *
 * A joint whose target heatmap sums to 0 (far outside the map) contributes 0.
 * `β` must be a positive normal float32. A joint whose `β·V` overflows float32 is scored on `β·(V − max V_j)`,
 * the same softmax (finite loss and gradient instead of NaN); other joints get the plain `β·V`, bit for bit.
 *
 * **Shapes**: `volume [B, S, S, n·D]` (channel `j·D + d`), `targetHeatmaps [B, S, S, n]` (≥ 0) → a scalar.
 *
 * @example
 * const volume = tf.randomNormal([2, 24, 24, 6 * 8]);
 * const targets = twStageTargets(
 *   { uv: tf.randomUniform([2, 21, 2], 0, 95), xyz: tf.randomUniform([2, 21, 3], 400, 600) },
 *   { inputSize: 96, heatmapSize: 24, depthBins: 8 },
 * );
 * const ce = volumeScoremapCrossEntropy(volume, targets.heatmaps, 8); // ≈ ln(24·24) for random logits
 */
export function volumeScoremapCrossEntropy(
  volume: tf.Tensor,
  targetHeatmaps: tf.Tensor,
  depthBins: number,
  beta = 1,
): tf.Scalar {
  const name = 'volumeScoremapCrossEntropy';
  const heatmaps = { value: targetHeatmaps, argument: 'targetHeatmaps', rank: 4, expected: '[B, S, S, n]' };
  const { D, b } = checkVolumeArgs(name, volume, heatmaps, depthBins, beta);
  const [B, H, W, n] = targetHeatmaps.shape;
  if (volume.shape[0] !== B || volume.shape[1] !== H || volume.shape[2] !== W || volume.shape[3] !== n * D) {
    throw new PhalanxShapeError(name, 'volume', `[${B}, ${H}, ${W}, ${n * D}] (n·D = ${n}·${D})`, volume.shape);
  }
  return tf.tidy(() => {
    const logits = overflowSafeLogits(tf.reshape(volume, [B, H * W, n, D]), b);
    const marginal = leanLogSumExp(logits, 3); // [B, HW, n]
    const logp = tf.sub(marginal, leanLogSumExp(marginal, 1, true));
    const t = tf.reshape(targetHeatmaps, [B, H * W, n]);
    const mass = tf.sum(t, 1, true);
    const tHat = tf.div(t, tf.maximum(mass, 1e-12));
    return tf.neg(tf.mean(tf.sum(tf.mul(tHat, logp), 1))) as tf.Scalar;
  });
}

/**
 * Cross-entropy of each joint's depth distribution in the volume (the d marginal of
 * `p = softmax(β·V_j)` over its S×S×D volume, the distribution whose mean is the soft-argmax's z)
 * against the target depth z (in bins, `0 ≤ z ≤ D − 1`) spread over its two neighbouring bins, so that
 * the target's mean is z exactly (the "distribution focal loss" target of Li et al. 2020, GFL; not in
 * the EHPE paper):
 *
 *     log p_j(d) = logsumexp_{x,y} β·V_j(x, y, d) − logsumexp_{x,y,d} β·V_j
 *     t_j(d) = max(0, 1 − |d − z_j|)
 *     CE = mean_{b, j} − Σ_d t_j(d) · log p_j(d)
 *
 * Depths outside `[0, D − 1]` are clamped to it first.
 * `β` must be a positive normal float32. A joint whose `β·V` overflows float32 is scored on `β·(V − max V_j)`,
 * the same softmax (finite loss and gradient instead of NaN); other joints get the plain `β·V`, bit for bit.
 *
 * **Shapes**: `volume [B, S, S, n·D]` (channel `j·D + d`), `targetDepths [B, n]` (bins) → a scalar.
 *
 * @example
 * const volume = tf.randomNormal([2, 24, 24, 6 * 8]);
 * const targets = twStageTargets(
 *   { uv: tf.randomUniform([2, 21, 2], 0, 95), xyz: tf.randomUniform([2, 21, 3], 400, 600) },
 *   { inputSize: 96, heatmapSize: 24, depthBins: 8 },
 * );
 * const depths = tf.squeeze(tf.slice(targets.coords25d, [0, 0, 2], [-1, -1, 1]), [2]); // [2, 6]
 * const ce = volumeDepthCrossEntropy(volume, depths, 8); // ≈ ln 8 for random logits
 */
export function volumeDepthCrossEntropy(
  volume: tf.Tensor,
  targetDepths: tf.Tensor,
  depthBins: number,
  beta = 1,
): tf.Scalar {
  const name = 'volumeDepthCrossEntropy';
  const depths = { value: targetDepths, argument: 'targetDepths', rank: 2, expected: '[B, n]' };
  const { D, b } = checkVolumeArgs(name, volume, depths, depthBins, beta);
  const [B, n] = targetDepths.shape;
  const [vB, H, W, channels] = volume.shape;
  if (vB !== B || channels !== n * D) {
    throw new PhalanxShapeError(name, 'volume', `[${B}, S, S, ${n * D}] (n·D = ${n}·${D})`, volume.shape);
  }
  return tf.tidy(() => {
    const logits = overflowSafeLogits(tf.reshape(volume, [B, H * W, n, D]), b);
    const marginal = leanLogSumExp(logits, 1); // [B, n, D]
    const logp = tf.sub(marginal, leanLogSumExp(marginal, 2, true));
    const z = tf.clipByValue(tf.expandDims(tf.cast(targetDepths, 'float32'), 2), 0, D - 1);
    const bins = tf.reshape(tf.range(0, D, 1, 'float32'), [1, 1, D]);
    const t = tf.relu(tf.sub(1, tf.abs(tf.sub(bins, z))));
    return tf.neg(tf.mean(tf.sum(tf.mul(t, logp), 2))) as tf.Scalar;
  });
}
