import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  expectClose,
  expectConfigRoundTrip,
  expectLayerMatchesGolden,
  expectNoLeakInPredictAndTrain,
  expectNoTensorLeak,
  expectNumericGradient,
  expectSaveLoadIdentical,
  forEachBackend,
  readJson,
  type GoldenLayerCase,
} from '@phalanx/testing';
import { describe, expect, it } from 'vitest';
import { PhalanxShapeError } from '@phalanx/errors';
import { JointFeatureSampler, jointFeatureSampler, sampleJointFeatures } from './joint-feature-sampler';

const golden = readJson<GoldenLayerCase>(new URL('../../test/fixtures/joint_feature_sampler.json', import.meta.url));

/**
 * Plain-JS transcription of PyTorch's bilinear grid_sampler_2d (align_corners=True, zeros padding) in
 * pixel coordinates: forward value and the backward w.r.t. the point, which uses floor-based corners
 * (so at an integer coordinate it is the right-sided derivative).
 */
function reference(
  f: number[][][], // [H][W][C]
  x: number,
  y: number,
  up: number[], // upstream gradient [C]
): { value: number[]; gx: number; gy: number } {
  const H = f.length;
  const W = f[0].length;
  const C = f[0][0].length;
  const at = (i: number, j: number, c: number): number => (i >= 0 && i < H && j >= 0 && j < W ? f[i][j][c] : 0);
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const fx = x - x0;
  const fy = y - y0;
  const value: number[] = [];
  let gx = 0;
  let gy = 0;
  for (let c = 0; c < C; c++) {
    const nw = at(y0, x0, c);
    const ne = at(y0, x0 + 1, c);
    const sw = at(y0 + 1, x0, c);
    const se = at(y0 + 1, x0 + 1, c);
    value.push(nw * (1 - fx) * (1 - fy) + ne * fx * (1 - fy) + sw * (1 - fx) * fy + se * fx * fy);
    gx += up[c] * ((ne - nw) * (1 - fy) + (se - sw) * fy);
    gy += up[c] * ((sw - nw) * (1 - fx) + (se - ne) * fx);
  }
  return { value, gx, gy };
}

forEachBackend(() => {
  describe('JointFeatureSampler', () => {
    it('matches the PyTorch grid_sample golden (outputs, feature and point gradients)', () => {
      expectLayerMatchesGolden(jointFeatureSampler(), golden);
    });

    it('matches PyTorch on integer, border and outside points, including the point gradient', () => {
      const [H, W, C] = [4, 5, 3];
      const features = tf.randomNormal([1, H, W, C], 0, 1, 'float32', 31);
      // Exactly on pixel centres, on the last row/column, one pixel outside, far outside, half outside.
      const pts = [
        [2, 1],
        [0, 0],
        [4, 3],
        [4, 1.25],
        [-1, 2],
        [7, -3],
        [-0.5, 3.5],
        [1.75, 3],
      ];
      const points = tf.tensor3d([pts]);
      const up = tf.randomNormal([1, pts.length, C], 0, 1, 'float32', 32);
      const [out, grads] = tf.tidy(() => {
        const g = tf.grads((f: tf.Tensor, p: tf.Tensor) => tf.sum(tf.mul(sampleJointFeatures(f, p), up)));
        return [sampleJointFeatures(features, points), g([features, points])] as const;
      });
      const fArr = (features.arraySync() as number[][][][])[0];
      const upArr = (up.arraySync() as number[][][])[0];
      const refs = pts.map(([x, y], j) => reference(fArr, x, y, upArr[j]));
      expectClose(
        out,
        { shape: [1, pts.length, C], data: refs.flatMap((r) => r.value) },
        { rtol: 1e-5, atol: 1e-6 },
        'values',
      );
      expectClose(
        grads[1],
        { shape: [1, pts.length, 2], data: refs.flatMap((r) => [r.gx, r.gy]) },
        { rtol: 1e-5, atol: 1e-6 },
        'point gradient',
      );
      // On a pixel centre the value is that pixel exactly.
      expectClose(tf.slice(out, [0, 0, 0], [1, 1, C]), fArr[1][2], { rtol: 0, atol: 1e-6 }, 'pixel (1, 2)');
      tf.dispose([features, points, up, out, ...grads]);
    });

    it('has numerically correct gradients in features and points', () => {
      const features = tf.randomNormal([2, 4, 3, 2], 0, 1, 'float32', 41);
      const points = tf.tensor3d([
        [
          [0.3, 1.6],
          [1.45, 2.7],
          [-0.4, 0.2],
        ],
        [
          [2.3, 3.4],
          [1.1, 0.55],
          [0.8, 2.2],
        ],
      ]);
      const up = tf.randomNormal([2, 3, 2], 0, 1, 'float32', 42);
      const f = (feat: tf.Tensor, p: tf.Tensor): tf.Scalar => tf.sum(tf.mul(sampleJointFeatures(feat, p), up));
      expectNumericGradient(f, [features, points], { samples: 12, epsilon: 1e-2 });
      tf.dispose([features, points, up]);
    });

    it('the functional core leaves only its output behind, called outside any tidy', async () => {
      const features = tf.randomNormal([1, 4, 4, 2], 0, 1, 'float32', 5);
      const points = tf.tensor3d([
        [
          [1.5, 2.5],
          [0, 0],
        ],
      ]);
      await expectNoTensorLeak(() => sampleJointFeatures(features, points).dispose(), 'sampleJointFeatures');
      tf.dispose([features, points]);
    });

    it('round-trips its config', () => {
      expectConfigRoundTrip(jointFeatureSampler({ name: 'sampler' }));
    });

    it('in a model: save → load gives identical outputs; trains without leaks', async () => {
      const featIn = tfl.input({ shape: [6, 5, 4] });
      const pointsIn = tfl.input({ shape: [3, 2] });
      // A trainable layer before the sampler, so the training step back-propagates through it.
      const projected = tfl.layers.dense({ units: 4 }).apply(featIn) as tfl.SymbolicTensor;
      const out = jointFeatureSampler().apply([projected, pointsIn]) as tfl.SymbolicTensor;
      expect(out.shape).toEqual([null, 3, 4]);
      const model = tfl.model({ inputs: [featIn, pointsIn], outputs: out });
      const features = tf.randomNormal([2, 6, 5, 4], 0, 1, 'float32', 51);
      const points = tf.randomUniform([2, 3, 2], -0.5, 5, 'float32', 52);
      const loaded = await expectSaveLoadIdentical(model, [features, points]);
      expect(loaded.layers.some((l) => l instanceof JointFeatureSampler)).toBe(true);
      await expectNoLeakInPredictAndTrain(model, [features, points]);
      tf.dispose([features, points]);
    });
  });
});

describe('JointFeatureSampler validation', () => {
  it('rejects a single input', () => {
    expect(() => jointFeatureSampler().build([null, 4, 4, 2])).toThrow(PhalanxShapeError);
    expect(() => jointFeatureSampler().build([null, 4, 4, 2])).toThrow(
      'JointFeatureSampler: inputs must be a list [features, points] of two tensors, but received [null, 4, 4, 2].',
    );
  });

  it('rejects features that are not rank 4', () => {
    expect(() =>
      jointFeatureSampler().build([
        [null, 4, 2],
        [null, 3, 2],
      ]),
    ).toThrow('JointFeatureSampler: features shape must be rank 4 [B, H, W, C], but received [null, 4, 2].');
  });

  it('rejects points that are not [B, J, 2]', () => {
    expect(() =>
      jointFeatureSampler().build([
        [null, 4, 4, 2],
        [null, 3, 3],
      ]),
    ).toThrow('JointFeatureSampler: points shape must be [B, J, 2] (x, y per joint), but received [null, 3, 3].');
    expect(() =>
      jointFeatureSampler().build([
        [2, 4, 4, 2],
        [3, 3, 2],
      ]),
    ).toThrow("JointFeatureSampler: points shape must be the features' batch size 2, but received [3, 3, 2].");
  });

  it('rejects feature maps with H = 0 or W = 0 (no pixel to sample), layer and functional core', () => {
    const points = tf.tensor3d([[[0, 0]]]);
    for (const shape of [
      [1, 0, 4, 1],
      [1, 4, 0, 1],
    ]) {
      const f = tf.zeros(shape);
      const received = `but received [${shape.join(', ')}].`;
      expect(() => sampleJointFeatures(f, points)).toThrow(PhalanxShapeError);
      expect(() => sampleJointFeatures(f, points)).toThrow(
        `sampleJointFeatures: features must be a map of at least 1×1 pixels (H, W ≥ 1), ${received}`,
      );
      expect(() => jointFeatureSampler().apply([f, points])).toThrow(
        `JointFeatureSampler: features shape must be a map of at least 1×1 pixels (H, W ≥ 1), ${received}`,
      );
      f.dispose();
    }
    expect(() =>
      jointFeatureSampler().build([
        [null, 4, 0, 2],
        [null, 3, 2],
      ]),
    ).toThrow(PhalanxShapeError);
    points.dispose();
  });

  it('the functional core rejects mismatched tensors', () => {
    const f = tf.zeros([2, 4, 4, 3]);
    const p = tf.zeros([1, 5, 2]);
    expect(() => sampleJointFeatures(f, p)).toThrow(
      'sampleJointFeatures: points must be a [B = 2, J, 2] tensor, but received [1, 5, 2].',
    );
    tf.dispose([f, p]);
  });
});
