import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderSyntheticHand } from '@phalanx/data';
import { PhalanxConfigError } from '@phalanx/errors';
import { expectNoTensorLeak, useBackend } from '@phalanx/testing';
import type { EstimationConfig, Hand, HandPoseEstimator } from './estimator';
import { loadHandPoseEstimator } from './load';
import { meanOverTurns, quarterTurns, turnedViews, type TestRotations } from './rotations';

/** (x, y) after k clockwise quarter turns of an S × S image (y down): one turn is (x, y) → (S − 1 − y, x). */
function turnPoint([x, y]: number[], k: number, size: number): number[] {
  let p = [x, y];
  for (let i = 0; i < k; i++) p = [size - 1 - p[1], p[0]];
  return p;
}

/** An S × S × 3 int32 image turned k times clockwise, pixel by pixel on the host. */
function turnImage(pixels: Int32Array, size: number, k: number): tf.Tensor3D {
  const out = new Int32Array(pixels.length);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const [tx, ty] = turnPoint([x, y], k, size);
      for (let c = 0; c < 3; c++) out[3 * (ty * size + tx) + c] = pixels[3 * (y * size + x) + c];
    }
  }
  return tf.tensor3d(out, [size, size, 3], 'int32');
}

const xy = (hand: Hand) => hand.keypoints.map((k) => [k.x, k.y]);

beforeAll(async () => {
  await useBackend('cpu');
});

describe('turnedViews', () => {
  it('moves the pixel at (x, y) to (S − 1 − y, x) per quarter turn, as the views of 1, 2 and 4', async () => {
    const size = 5;
    const at = [3, 1]; // x, y
    const input = tf.tidy(() =>
      tf.reshape(tf.oneHot(tf.tensor1d([at[1] * size + at[0]], 'int32'), size * size), [1, size, size, 1]),
    ) as tf.Tensor4D;
    for (const views of [1, 2, 4] as const) {
      const batch = turnedViews(input, views);
      expect(batch.shape).toEqual([views, size, size, 1]);
      const values = (await batch.array()) as number[][][][];
      quarterTurns(views).forEach((k, i) => {
        const [x, y] = turnPoint(at, k, size);
        expect(values[i][y][x][0]).toBe(1);
        expect(values[i].flat(2).reduce((a, b) => a + b, 0)).toBe(1);
      });
      batch.dispose();
    }
    input.dispose();
  });
});

describe('meanOverTurns', () => {
  it('turns each view back to the same joints, and averages depths and scores (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<TestRotations>(1, 2, 4),
        fc.integer({ min: 2, max: 300 }),
        fc.array(
          fc.tuple(fc.double({ min: -50, max: 350, noNaN: true }), fc.double({ min: -50, max: 350, noNaN: true })),
          {
            minLength: 21,
            maxLength: 21,
          },
        ),
        fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 4, maxLength: 4 }),
        async (views, size, joints, depthShift) => {
          // View i sees the joints turned quarterTurns(views)[i] times, with depths shifted by depthShift[i].
          const rows = quarterTurns(views).map((k, i) => [
            ...joints.flatMap((p, j) => [...turnPoint(p, k, size), j / 10 + depthShift[i]]),
            depthShift[i],
          ]);
          const mean = meanOverTurns(tf.tensor2d(rows), views, size);
          const values = await mean.data();
          mean.dispose();
          const meanShift = depthShift.slice(0, views).reduce((a, b) => a + b, 0) / views;
          joints.forEach(([x, y], j) => {
            expect(values[3 * j]).toBeCloseTo(x, 3);
            expect(values[3 * j + 1]).toBeCloseTo(y, 3);
            expect(values[3 * j + 2]).toBeCloseTo(j / 10 + meanShift, 5);
          });
          expect(values[63]).toBeCloseTo(meanShift, 5);
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('estimateHands with rotations', () => {
  let lg: HandPoseEstimator;
  let ehpe: HandPoseEstimator;
  beforeAll(async () => {
    lg = await loadHandPoseEstimator('learnable-groups');
    ehpe = await loadHandPoseEstimator('ehpe');
  });
  afterAll(() => {
    lg?.dispose();
    ehpe?.dispose();
  });

  it('is the mean of single estimates on the turned images, each turned back (both networks, 2 and 4 views)', async () => {
    for (const estimator of [lg, ehpe]) {
      const size = estimator.inputSize;
      const pixels = Int32Array.from(renderSyntheticHand(7, { size }).image);
      const singles: number[][][] = [];
      const depths: number[][] = [];
      for (let k = 0; k < 4; k++) {
        const turned = turnImage(pixels, size, k);
        const [hand] = await estimator.estimateHands(turned);
        turned.dispose();
        singles.push(xy(hand).map((p) => turnPoint(p, (4 - k) % 4, size)));
        depths.push(hand.keypoints3D.map((p) => p.z - hand.keypoints3D[0].z));
      }
      const image = tf.tensor3d(pixels, [size, size, 3], 'int32');
      for (const views of [2, 4] as const) {
        const [hand] = await estimator.estimateHands(image, { rotations: views });
        const used = quarterTurns(views);
        hand.keypoints.forEach((p, j) => {
          const mean = [0, 1].map((c) => used.reduce((a, k) => a + singles[k][j][c], 0) / views);
          expect(Math.abs(p.x - mean[0]) + Math.abs(p.y - mean[1])).toBeLessThan(2e-3 * size);
          // A turn in the image plane leaves the depths: the mean of the views' wrist-relative depths.
          const depth = used.reduce((a, k) => a + depths[k][j], 0) / views;
          expect(hand.keypoints3D[j].z).toBeCloseTo(depth, 5);
        });
      }
      const [one] = await estimator.estimateHands(image, { rotations: 1 });
      xy(one).forEach((p, j) => p.forEach((v, c) => expect(v).toBeCloseTo(singles[0][j][c], 3)));
      image.dispose();
      // The four views disagree: averaging them is not the single estimate again.
      expect(
        Math.max(...singles[2].flatMap((p, j) => p.map((v, c) => Math.abs(v - singles[0][j][c])))),
      ).toBeGreaterThan(0.01);
    }
  });

  it('leaves no tensor behind', async () => {
    const image = tf.tensor3d(Int32Array.from(renderSyntheticHand(8, { size: 80 }).image), [80, 80, 3], 'int32');
    await ehpe.estimateHands(image, { rotations: 4 }); // warm-up: the backend's own one-time tensors
    await expectNoTensorLeak(() => ehpe.estimateHands(image, { rotations: 4 }));
    image.dispose();
  });

  it('refuses a rotations other than 1, 2 and 4 by name', async () => {
    const image = tf.zeros([8, 8, 3], 'int32') as tf.Tensor3D;
    for (const rotations of [0, 3, 8, '4', 2.5, null]) {
      const config = { rotations } as unknown as EstimationConfig;
      await expect(lg.estimateHands(image, config)).rejects.toThrow(PhalanxConfigError);
      await expect(lg.estimateHands(image, config)).rejects.toThrow(
        /^estimateHands: config.rotations must be one of 1, 2, 4, but received .+\.$/,
      );
    }
    image.dispose();
  });
});
