/**
 * Held-out accuracy of an estimator on synthetic hands, measured through `estimateHands` (so the
 * letterbox and the mapping back to image pixels are part of what is measured), next to the two
 * baselines the training examples report, with the same rule (mean over the visible joints):
 * - hand centre: every joint at the centroid of the sample's visible true joints (all 21 if none is);
 * - mean pose: one fixed pose for every image, the per-joint mean uv of 2048 samples of the training
 *   stream (seed 1) at the same size.
 */
import * as tf from '@tensorflow/tfjs-core';
import { syntheticHands, type HandSample } from '@phalanx/data';
import { paMpjpe } from '@phalanx/pose';
import type { EstimationConfig, Hand, HandPoseEstimator, HeldOutEvaluation } from '../src';

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

/** The held-out hands of `options` and the estimator's hand for each, in order. */
export interface SyntheticEstimates {
  samples: HandSample[];
  hands: Hand[];
}

/** Renders the held-out hands of `options` and runs `estimateHands` on each, once. */
export async function estimateSyntheticHands(
  estimator: HandPoseEstimator,
  options: SyntheticEvaluationOptions,
): Promise<SyntheticEstimates> {
  const out: SyntheticEstimates = { samples: [], hands: [] };
  for (const s of syntheticHands({ seed: options.seed, size: options.imageSize, count: options.count })) {
    const image = tf.tensor3d(Int32Array.from(s.image), [s.height, s.width, 3], 'int32');
    const [hand] = await estimator.estimateHands(image, options.estimation);
    image.dispose();
    out.samples.push(s);
    out.hands.push(hand);
  }
  return out;
}

/**
 * Mean 2D end-point error (visible joints, image pixels) of the estimator and of the two baselines;
 * `estimated` (of the same `options`) saves running the estimator again.
 */
export async function evaluateOnSyntheticHands(
  estimator: HandPoseEstimator,
  options: SyntheticEvaluationOptions,
  estimated?: SyntheticEstimates,
): Promise<HeldOutEvaluation> {
  const { samples, hands } = estimated ?? (await estimateSyntheticHands(estimator, options));
  const predictions = hands.map((hand) => hand.keypoints.map((k) => [k.x, k.y]));
  const gts = samples.map((s) => Array.from({ length: 21 }, (_, j) => [s.uv[2 * j], s.uv[2 * j + 1]]));
  const visible = samples.map((s) => s.visible);
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
 * true wrist-relative joints, the mean distance over the 21 joints; `estimated` (of the same `options`)
 * saves running the estimator again.
 */
export async function paMpjpeOnSyntheticHands(
  estimator: HandPoseEstimator,
  options: SyntheticEvaluationOptions,
  estimated?: SyntheticEstimates,
): Promise<HeldOutPaMpjpe> {
  const size = options.imageSize;
  const meanHand = Array.from({ length: 21 }, () => [0, 0, 0]);
  for (const s of syntheticHands({ seed: 1, size, count: 2048 })) {
    wristRelative(s.xyz).forEach((p, j) => p.forEach((v, c) => (meanHand[j][c] += v / 2048)));
  }
  const { samples, hands } = estimated ?? (await estimateSyntheticHands(estimator, options));
  const truth = samples.map((s) => wristRelative(s.xyz));
  const predicted = hands.map((hand) => hand.keypoints3D.map((k) => [k.x * 1000, k.y * 1000, k.z * 1000]));
  return {
    paMpjpeMm: paMpjpe(truth, predicted),
    meanHandMm: paMpjpe(
      truth,
      truth.map(() => meanHand),
    ),
  };
}
