/**
 * Held-out accuracy of an estimator on synthetic hands, measured through `estimateHands` (so the
 * letterbox and the mapping back to image pixels are part of what is measured), next to the two
 * baselines the training examples report, with the same rule (mean over the visible joints):
 * - hand centre: every joint at the centroid of the sample's visible true joints (all 21 if none is);
 * - mean pose: one fixed pose for every image, the per-joint mean uv of 2048 samples of the training
 *   stream (seed 1) at the same size.
 */
import * as tf from '@tensorflow/tfjs-core';
import { syntheticHands } from '@phalanx/data';
import type { HandPoseEstimator, HeldOutEvaluation } from '../src';

/** Options of {@link evaluateOnSyntheticHands}. */
export interface SyntheticEvaluationOptions {
  /** Seed of the held-out hands (the training runs use seed 1). */
  seed: number;
  /** Number of hands. */
  count: number;
  /** Side of the square test images. */
  imageSize: number;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);

/** Per-joint mean uv `[21][2]` of `count` training samples (seed 1) of side `size`. */
function meanTrainingPose(size: number, count = 2048): number[][] {
  const sum = Array.from({ length: 21 }, () => [0, 0]);
  for (const s of syntheticHands({ seed: 1, size, count })) {
    for (let j = 0; j < 21; j++) for (let c = 0; c < 2; c++) sum[j][c] += s.uv[2 * j + c] / count;
  }
  return sum;
}

/** Mean 2D end-point error (visible joints, image pixels) of the estimator and of the two baselines. */
export async function evaluateOnSyntheticHands(
  estimator: HandPoseEstimator,
  options: SyntheticEvaluationOptions,
): Promise<HeldOutEvaluation> {
  const gts: number[][][] = [];
  const visible: Uint8Array[] = [];
  const predictions: number[][][] = [];
  for (const s of syntheticHands({ seed: options.seed, size: options.imageSize, count: options.count })) {
    const image = tf.tensor3d(Int32Array.from(s.image), [s.height, s.width, 3], 'int32');
    const [hand] = await estimator.estimateHands(image);
    image.dispose();
    predictions.push(hand.keypoints.map((k) => [k.x, k.y]));
    gts.push(Array.from({ length: 21 }, (_, j) => [s.uv[2 * j], s.uv[2 * j + 1]]));
    visible.push(s.visible);
  }
  const meanPose = meanTrainingPose(options.imageSize);
  const errors = (guess: (i: number) => number[][]) =>
    mean(
      gts.flatMap((gt, i) =>
        gt.flatMap(([x, y], j) => (visible[i][j] ? [Math.hypot(guess(i)[j][0] - x, guess(i)[j][1] - y)] : [])),
      ),
    );
  const centre = (i: number) => {
    const shown = gts[i].filter((_, j) => visible[i][j]);
    const points = shown.length > 0 ? shown : gts[i];
    const c = [0, 1].map((k) => mean(points.map((p) => p[k])));
    return gts[i].map(() => c);
  };
  const epe2dPx = errors((i) => predictions[i]);
  const handCentrePx = errors(centre);
  return {
    dataset: 'synthetic hands (@phalanx/data syntheticHands)',
    seed: options.seed,
    count: options.count,
    imageSize: options.imageSize,
    epe2dPx,
    handCentrePx,
    meanPosePx: errors(() => meanPose),
    ratioToHandCentre: epe2dPx / handCentrePx,
  };
}
