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
import { paMpjpe } from '@phalanx/pose';
import type { EstimationConfig, HandPoseEstimator, HeldOutEvaluation } from '../src';

/** Options of {@link evaluateOnSyntheticHands}. */
export interface SyntheticEvaluationOptions {
  /** Seed of the held-out hands (the training runs use seed 1). */
  seed: number;
  /** Number of hands. */
  count: number;
  /** Side of the square test images. */
  imageSize: number;
  /** What every `estimateHands` call is given (e.g. `{rotations: 4}`). Default: nothing. */
  estimation?: EstimationConfig;
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
    const [hand] = await estimator.estimateHands(image, options.estimation);
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

/** The 21 joints minus the wrist's, `[21][3]` in the data's unit (mm). */
const wristRelative = (xyz: ArrayLike<number>) =>
  Array.from({ length: 21 }, (_, j) => [0, 1, 2].map((c) => xyz[3 * j + c] - xyz[c]));

/** PA-MPJPE (mm) of the estimator's `keypoints3D` and of the mean hand on the same hands. */
export interface HeldOutPaMpjpe {
  /** The estimator's, Procrustes-aligned to each hand's true wrist-relative joints. */
  paMpjpeMm: number;
  /** The mean hand's: the per-joint mean of the wrist-relative 3D joints of 2 048 training hands (seed 1). */
  meanHandMm: number;
}

/**
 * PA-MPJPE of the estimator's 3D output (metres, lifted from its 2.5D joints) on held-out synthetic
 * hands, next to the mean hand's, both with Procrustes alignment (rotation, scale, translation) to the
 * true wrist-relative joints, the mean distance over the 21 joints.
 */
export async function paMpjpeOnSyntheticHands(
  estimator: HandPoseEstimator,
  options: SyntheticEvaluationOptions,
): Promise<HeldOutPaMpjpe> {
  const size = options.imageSize;
  const meanHand = Array.from({ length: 21 }, () => [0, 0, 0]);
  for (const s of syntheticHands({ seed: 1, size, count: 2048 })) {
    wristRelative(s.xyz).forEach((p, j) => p.forEach((v, c) => (meanHand[j][c] += v / 2048)));
  }
  const truth: number[][][] = [];
  const predicted: number[][][] = [];
  for (const s of syntheticHands({ seed: options.seed, size, count: options.count })) {
    const image = tf.tensor3d(Int32Array.from(s.image), [s.height, s.width, 3], 'int32');
    const [hand] = await estimator.estimateHands(image, options.estimation);
    image.dispose();
    truth.push(wristRelative(s.xyz));
    predicted.push(hand.keypoints3D.map((k) => [k.x * 1000, k.y * 1000, k.z * 1000]));
  }
  return {
    paMpjpeMm: paMpjpe(truth, predicted),
    meanHandMm: paMpjpe(
      truth,
      truth.map(() => meanHand),
    ),
  };
}
