/**
 * PA-MPJPE of the shipped estimators' `keypoints3D` through `estimateHands`, on held-out synthetic hands,
 * next to the mean hand's: a diagnostic of the 3D output that users get (metres, lifted from the models'
 * 2.5D joints; see the README, "Output"). The mean hand is the per-joint mean of the wrist-relative 3D
 * joints of 2 048 hands of the training stream (seed 1); Procrustes alignment (rotation, scale,
 * translation) is applied to every prediction, the mean hand included, before the mean distance over
 * the 21 joints.
 *
 *   pnpm --filter @phalanx/pretrained exec tsx scripts/pa-mpjpe.ts [--size 96] [--count 128] [--seed 20250]
 *     [--rotations 1|2|4]
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { loadHandPoseEstimator, HAND_POSE_MODELS, checkTestRotations } from '../src';
import { paMpjpeOnSyntheticHands } from './evaluate';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '96' },
    count: { type: 'string', default: '128' },
    seed: { type: 'string', default: '20250' },
    rotations: { type: 'string', default: '1' },
  },
});
const [size, count, seed] = [values.size, values.count, values.seed].map(Number);
const rotations = checkTestRotations('pa-mpjpe', '--rotations', Number(values.rotations));
await tf.setBackend('wasm');

console.log(`${count} synthetic hands of seed ${seed} at ${size} px, ${rotations} view(s); PA-MPJPE in mm`);
let meanHandShown = false;
for (const name of HAND_POSE_MODELS) {
  const estimator = await loadHandPoseEstimator(name);
  const options = { seed, count, imageSize: size, estimation: { rotations } };
  const { paMpjpeMm, meanHandMm } = await paMpjpeOnSyntheticHands(estimator, options);
  estimator.dispose();
  if (!meanHandShown) console.log(`mean hand: ${meanHandMm.toFixed(1)}`);
  meanHandShown = true;
  console.log(`${name}: ${paMpjpeMm.toFixed(1)}`);
}
