/**
 * PA-MPJPE of the shipped estimators' `keypoints3D` through `estimateHands`, on held-out synthetic hands,
 * next to the mean hand's: a diagnostic of the 3D output that users get (metres, lifted from the models'
 * 2.5D joints; see the README, "Output"). The mean hand is the per-joint mean of the wrist-relative 3D
 * joints of 2 048 hands of the training stream (seed 1); Procrustes alignment (rotation, scale,
 * translation) is applied to every prediction, the mean hand included, before the mean distance over
 * the 21 joints.
 *
 *   pnpm --filter @phalanx/pretrained exec tsx scripts/pa-mpjpe.ts [--size 96] [--count 128] [--seed 20250]
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { syntheticHands } from '@phalanx/data';
import { paMpjpe } from '@phalanx/pose';
import { loadHandPoseEstimator, HAND_POSE_MODELS } from '../src';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '96' },
    count: { type: 'string', default: '128' },
    seed: { type: 'string', default: '20250' },
  },
});
const [size, count, seed] = [values.size, values.count, values.seed].map(Number);
await tf.setBackend('wasm');

/** The 21 joints minus the wrist's, `[21][3]` in the data's unit (mm). */
const wristRelative = (xyz: ArrayLike<number>) =>
  Array.from({ length: 21 }, (_, j) => [0, 1, 2].map((c) => xyz[3 * j + c] - xyz[c]));

const meanHand = Array.from({ length: 21 }, () => [0, 0, 0]);
for (const s of syntheticHands({ seed: 1, size, count: 2048 })) {
  wristRelative(s.xyz).forEach((p, j) => p.forEach((v, c) => (meanHand[j][c] += v / 2048)));
}
// Rendered once: the truth and every estimator's input.
const hands = [...syntheticHands({ seed, size, count })];
const truth = hands.map((s) => wristRelative(s.xyz));
console.log(`${count} synthetic hands of seed ${seed} at ${size} px; PA-MPJPE in mm`);
console.log(
  `mean hand: ${paMpjpe(
    truth,
    truth.map(() => meanHand),
  ).toFixed(1)}`,
);
for (const name of HAND_POSE_MODELS) {
  const estimator = await loadHandPoseEstimator(name);
  const predicted: number[][][] = [];
  for (const s of hands) {
    const image = tf.tensor3d(Int32Array.from(s.image), [s.height, s.width, 3], 'int32');
    const [hand] = await estimator.estimateHands(image);
    image.dispose();
    predicted.push(hand.keypoints3D.map((k) => [k.x * 1000, k.y * 1000, k.z * 1000]));
  }
  estimator.dispose();
  console.log(`${name}: ${paMpjpe(truth, predicted).toFixed(1)}`);
}
