/**
 * The accuracy of each test-time rotation setting (`estimateHands(image, {rotations})`, 1, 2 or 4 views)
 * on held-out synthetic hands: 2D end-point error against the hand-centre baseline, and PA-MPJPE of
 * `keypoints3D` against the mean hand's (`evaluate.ts`). The network time grows with the views.
 *
 *   pnpm --filter @phalanx/pretrained exec tsx scripts/rotations.ts [--count 1024] [--seed 31337]
 *     [--model ehpe|learnable-groups] [--dir <a saved model's folder>]
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { fileSystem } from '@phalanx/layers';
import { HAND_POSE_MODELS, TEST_ROTATIONS, loadHandPoseEstimator, type HandPoseModelName } from '../src';
import { estimateSyntheticHands, evaluateOnSyntheticHands, paMpjpeOnSyntheticHands } from './evaluate';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1024' },
    seed: { type: 'string', default: '31337' },
    model: { type: 'string' },
    dir: { type: 'string' },
  },
});
const [count, seed] = [values.count, values.seed].map(Number);
const names = values.model === undefined ? HAND_POSE_MODELS : [values.model as HandPoseModelName];
await tf.setBackend('wasm');

console.log(`${count} synthetic hands of seed ${seed}; 2D EPE in px (× the hand centre), PA-MPJPE in mm`);
for (const name of names) {
  const handler = values.dir === undefined ? undefined : fileSystem(resolve(values.dir));
  const estimator = await loadHandPoseEstimator(name, handler === undefined ? {} : { handler });
  const imageSize = estimator.inputSize;
  for (const rotations of TEST_ROTATIONS) {
    const options = { seed, count, imageSize, estimation: { rotations } };
    const t0 = performance.now();
    const estimated = await estimateSyntheticHands(estimator, options);
    const ms = (performance.now() - t0) / count;
    const flat = await evaluateOnSyntheticHands(estimator, options, estimated);
    const pa = await paMpjpeOnSyntheticHands(estimator, options, estimated);
    console.log(
      `${name} at ${imageSize} px, rotations ${rotations}: 2D ${flat.epe2dPx.toFixed(2)} px ` +
        `(${flat.ratioToHandCentre.toFixed(3)} × the hand centre ${flat.handCentrePx.toFixed(2)} px), ` +
        `PA-MPJPE ${pa.paMpjpeMm.toFixed(1)} mm (${(pa.paMpjpeMm / pa.meanHandMm).toFixed(3)} × the mean ` +
        `hand's ${pa.meanHandMm.toFixed(1)} mm); ${ms.toFixed(1)} ms a hand`,
    );
  }
  estimator.dispose();
}
