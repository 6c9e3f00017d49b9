/**
 * Held-out accuracy of an estimator on synthetic hands, measured through `estimateHands` (so the
 * letterbox and the mapping back to image pixels are part of what is measured), next to two baselines
 * that know the answer's position: every joint at the true centre of the hand, and one fixed mean pose.
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

/**
 * Mean 2D end-point error (visible joints, image pixels) of the estimator, of the hand-centre baseline
 * (each joint at the mean of the sample's 21 true joints) and of the mean-pose baseline (each joint at
 * its mean position over the set).
 */
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
  const meanPose = Array.from({ length: 21 }, (_, j) => [0, 1].map((c) => mean(gts.map((g) => g[j][c]))));
  const errors = (guess: (i: number) => number[][]) =>
    mean(
      gts.flatMap((gt, i) =>
        gt.flatMap(([x, y], j) => (visible[i][j] ? [Math.hypot(guess(i)[j][0] - x, guess(i)[j][1] - y)] : [])),
      ),
    );
  const centre = (i: number) => {
    const c = [0, 1].map((k) => mean(gts[i].map((p) => p[k])));
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
