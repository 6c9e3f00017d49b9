/**
 * The optional stage-1 terms on the TW-stage's 2.5D volume (not in the EHPE paper): the cross-entropies of
 * each joint's x, y and depth marginals against their targets.
 */
import * as tf from '@tensorflow/tfjs-core';
import { checkFinite, checkInteger, PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
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
  const b = checkFinite(name, 'beta', beta);
  if (!(b > 0)) throw new PhalanxConfigError(name, 'beta', 'a number > 0', b);
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
 * Cross-entropy of each joint's 2D distribution in the volume (the x, y marginal of
 * `p = softmax(β·V_j)` over its S×S×D volume, the distribution whose mean is the soft-argmax's x, y)
 * against the target heatmap normalised to sum 1 (integral-regression style supervision; not in the
 * paper):
 *
 *     log p_j(x, y) = logsumexp_d β·V_j(x, y, d) − logsumexp_{x,y,d} β·V_j
 *     CE = mean_{b, j} − Σ_{x,y} t̂_j(x, y) · log p_j(x, y),   t̂_j = t_j / Σ t_j
 *
 * A joint whose target heatmap sums to 0 (far outside the map) contributes 0.
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
    const logits = tf.mul(tf.reshape(volume, [B, H * W, n, D]), b);
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
    const logits = tf.mul(tf.reshape(volume, [B, H * W, n, D]), b);
    const marginal = leanLogSumExp(logits, 1); // [B, n, D]
    const logp = tf.sub(marginal, leanLogSumExp(marginal, 2, true));
    const z = tf.clipByValue(tf.expandDims(tf.cast(targetDepths, 'float32'), 2), 0, D - 1);
    const bins = tf.reshape(tf.range(0, D, 1, 'float32'), [1, 1, D]);
    const t = tf.relu(tf.sub(1, tf.abs(tf.sub(bins, z))));
    return tf.neg(tf.mean(tf.sum(tf.mul(t, logp), 2))) as tf.Scalar;
  });
}
