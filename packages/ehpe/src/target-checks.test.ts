import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { forEachBackend, thrownBy } from '@phalanx/testing';
import { PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { depthToBins, joints25dToXyz, pgStageTargets, twStageTargets } from './index';

/** What `f` throws, and the tensors it left behind. */
function refusal(f: () => unknown): { error: unknown; leaked: number } {
  const before = tf.memory().numTensors;
  const error = thrownBy(f);
  return { error, leaked: tf.memory().numTensors - before };
}

forEachBackend(() => {
  describe('EHPE targets: keypoints checked before computing', () => {
    const TW = { inputSize: 64, heatmapSize: 16, depthBins: 4 };

    it('uv and xyz of different batches are a named shape error', () => {
      const batch = { uv: tf.zeros([2, 21, 2]), xyz: tf.zeros([3, 21, 3]) };
      for (const [component, run] of [
        ['twStageTargets', () => twStageTargets(batch, TW)],
        ['pgStageTargets', () => pgStageTargets(batch)],
      ] as const) {
        const { error, leaked } = refusal(run);
        expect(error, component).toBeInstanceOf(PhalanxShapeError);
        expect((error as Error).message).toBe(
          `${component}: xyz must be a tensor [2, 21, 3] (the batch and joints of uv), but received [3, 21, 3].`,
        );
        expect(leaked).toBe(0);
      }
      tf.dispose([batch.uv, batch.xyz]);
    });

    it('fewer joints than tipWristJoints or rootJoint read is a named config error', () => {
      const batch = { uv: tf.zeros([1, 6, 2]), xyz: tf.zeros([1, 6, 3]) };
      const cases: [() => unknown, string][] = [
        [
          () => twStageTargets(batch, TW),
          'twStageTargets: tipWristJoints must be joints of uv (indices < 6), but received [0, 4, 8, 12, 16, 20].',
        ],
        [
          () => twStageTargets(batch, { ...TW, tipWristJoints: [0, 4], rootJoint: 9 }),
          'twStageTargets: rootJoint must be a joint of xyz (an integer < 6), but received 9.',
        ],
        [
          () => pgStageTargets(batch, { rootJoint: 6 }),
          'pgStageTargets: rootJoint must be a joint of xyz (an integer < 6), but received 6.',
        ],
      ];
      for (const [run, message] of cases) {
        const { error, leaked } = refusal(run);
        expect(error, message).toBeInstanceOf(PhalanxConfigError);
        expect((error as Error).message).toBe(message);
        expect(leaked).toBe(0);
      }
      const fine = twStageTargets(batch, { ...TW, tipWristJoints: [0, 5], rootJoint: 5 });
      expect(fine.coords25d.shape).toEqual([1, 2, 3]);
      tf.dispose([batch.uv, batch.xyz, fine.heatmaps, fine.coords25d]);
    });

    it('joints25dToXyz names a missing or misshapen xyz and a rootJoint beyond it', () => {
      const joints = tf.fill([2, 21, 3], 2);
      const K = tf.tensor2d([
        [300, 0, 32],
        [0, 300, 32],
        [0, 0, 1],
      ]);
      const xyz = tf.fill([2, 21, 3], 500);
      const few = tf.zeros([2, 5, 3]);
      const expected = (root: number) =>
        `a tensor [2, J, 3] or [1, J, 3] (the batch of joints; J > rootJoint = ${root})`;
      const cases: [() => unknown, string][] = [
        [() => joints25dToXyz(joints, null as never, K), `xyz must be ${expected(0)}, but received null.`],
        [() => joints25dToXyz(joints, few, K, { rootJoint: 9 }), `xyz must be ${expected(9)}, but received [2, 5, 3].`],
        [() => joints25dToXyz(joints, tf.zeros([3, 21, 3]), K), `xyz must be ${expected(0)}, but received [3, 21, 3].`],
        [() => joints25dToXyz(null as never, xyz, K), 'joints must be a tensor [B, J, 3], but received null.'],
      ];
      for (const [run, message] of cases) {
        const error = thrownBy(run);
        expect(error, message).toBeInstanceOf(PhalanxShapeError);
        expect((error as Error).message).toBe(`joints25dToXyz: ${message}`);
      }
      const before = tf.memory().numTensors;
      expect(thrownBy(() => joints25dToXyz(joints, few, K, { rootJoint: 9 }))).toBeInstanceOf(PhalanxShapeError);
      expect(tf.memory().numTensors).toBe(before);
      // One ground-truth hand for the whole batch still broadcasts.
      const one = tf.fill([1, 21, 3], 500);
      const [a, b] = [joints25dToXyz(joints, xyz, K), joints25dToXyz(joints, one, K)];
      expect(b.arraySync()).toEqual(a.arraySync());
      tf.dispose([joints, K, xyz, few, one, a, b]);
    });

    it('a depth range float32 cannot hold is a named error, not NaN depth bins', () => {
      const xyz = tf.tensor3d([Array.from({ length: 21 }, (_, j) => [0, 0, 500 + j])]);
      const uv = tf.zeros([1, 21, 2]);
      const K = tf.tensor2d([
        [300, 0, 32],
        [0, 300, 32],
        [0, 0, 1],
      ]);
      const float32 = 'a positive normal float32 (1.1754944e-38 ≤ x ≤ 3.4028235e38)';
      const cases: [() => unknown, string][] = [
        [
          () => depthToBins(xyz, { depthRange: 1e-46 }),
          `depthToBins: depthRange must be ${float32}, but received 1e-46.`,
        ],
        [
          () => pgStageTargets({ uv, xyz }, { depthRange: 1e-40 }),
          `pgStageTargets: depthRange must be ${float32}, but received 1e-40.`,
        ],
        [
          () => twStageTargets({ uv, xyz }, { ...TW, depthRange: 1e39 }),
          `twStageTargets: depthRange must be ${float32}, but received 1e+39.`,
        ],
        [
          () => joints25dToXyz(xyz, xyz, K, { depthRange: 1e-46 }),
          `joints25dToXyz: depthRange must be ${float32}, but received 1e-46.`,
        ],
      ];
      for (const [run, message] of cases) {
        const { error, leaked } = refusal(run);
        expect(error, message).toBeInstanceOf(PhalanxConfigError);
        expect((error as Error).message).toBe(message);
        expect(leaked).toBe(0);
      }
      // The smallest and largest normal float32 ranges give finite bins.
      for (const depthRange of [1.1754944e-38, 3.4028235e38]) {
        const bins = depthToBins(xyz, { depthRange });
        expect(Array.from(bins.dataSync()).every(Number.isFinite), `${depthRange}`).toBe(true);
        bins.dispose();
      }
      tf.dispose([xyz, uv, K]);
    });
  });
});
