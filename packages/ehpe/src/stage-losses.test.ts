import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { forEachBackend, thrownBy } from '@phalanx/testing';
import { PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { pgStageLoss, pgStageTargets, twStageLoss, twStageTargets, type LossWithParts } from './index';

/** The live tensors `f` leaves behind once what it returns is disposed (0 for a throw that cleans up). */
function leftBehind(f: () => LossWithParts): { leaked: number; error: unknown } {
  const before = tf.memory().numTensors;
  let error: unknown;
  try {
    const { total, parts } = f();
    tf.dispose([total, ...Object.values(parts)]);
  } catch (e) {
    error = e;
  }
  return { leaked: tf.memory().numTensors - before, error };
}

forEachBackend(() => {
  describe('stage losses: no tensor left behind, every argument checked first', () => {
    const B = 2;
    const batch = () => ({
      uv: tf.randomUniform([B, 21, 2], 0, 63, 'float32', 1),
      xyz: tf.randomUniform([B, 21, 3], 400, 600, 'float32', 2),
    });

    it('twStageLoss leaves nothing behind on success and on error, and names bad options', () => {
      const keypoints = batch();
      const target = twStageTargets(keypoints, { inputSize: 64, heatmapSize: 16, depthBins: 4 });
      const heatmaps = tf.randomUniform([B, 16, 16, 6], 0, 1, 'float32', 3);
      const coords25d = tf.randomUniform([B, 6, 3], 0, 4, 'float32', 4);
      const volume = tf.randomNormal([B, 16, 16, 24], 0, 1, 'float32', 5);
      const weights = [tf.tensor1d([1, -2]), tf.tensor2d([[-3, 0.5]])];
      const prediction = { heatmaps, coords25d, volume };
      const all = { weights, scoremapWeight: 1, depthMarginalWeight: 1, depthBins: 4 };
      for (const options of [{}, { weights }, { distance: 'euclidean' as const }, all]) {
        expect(leftBehind(() => twStageLoss(target, prediction, options))).toEqual({ leaked: 0, error: undefined });
      }
      // Error paths: shapes checked before anything is computed.
      const badCoords = { heatmaps, coords25d: tf.zeros([B, 5, 3]) };
      const badVolume = { heatmaps, coords25d, volume: tf.zeros([B, 16, 16, 20]) };
      for (const [run, kind] of [
        [() => twStageLoss(target, badCoords), PhalanxShapeError],
        [() => twStageLoss(target, badVolume, { scoremapWeight: 1, depthBins: 4 }), PhalanxShapeError],
        [() => twStageLoss(target, badVolume, { depthMarginalWeight: 1, depthBins: 4 }), PhalanxShapeError],
        [() => twStageLoss(target, prediction, { weights: [weights[0], 5 as never] }), PhalanxConfigError],
      ] as const) {
        const { leaked, error } = leftBehind(run);
        expect(error).toBeInstanceOf(kind);
        expect(leaked).toBe(0);
      }
      expect(thrownBy(() => twStageLoss(target, badCoords))).toHaveProperty(
        'message',
        'twStageLoss: prediction.coords25d must be a tensor of the shape of target.coords25d [2, 6, 3], but received [2, 5, 3].',
      );
      // Options: a misspelt key, null, a non-list of weights are named errors.
      const misspelt = thrownBy(() => twStageLoss(target, prediction, { heatmapweight: 100 } as never));
      expect(misspelt).toBeInstanceOf(PhalanxConfigError);
      expect((misspelt as Error).message).toMatch(/^twStageLoss: options\.heatmapweight must be an option \(one of /);
      expect(thrownBy(() => twStageLoss(target, prediction, null as never))).toBeInstanceOf(PhalanxConfigError);
      expect(thrownBy(() => twStageLoss(target, prediction, { weights: 5 as never }))).toHaveProperty(
        'message',
        'twStageLoss: weights must be a list of tensors or LayerVariables, but received 5.',
      );
      expect(thrownBy(() => twStageLoss(null as never, prediction))).toBeInstanceOf(PhalanxShapeError);
      tf.dispose([...Object.values(keypoints), target.heatmaps, target.coords25d, ...Object.values(prediction)]);
      tf.dispose([...weights, badCoords.coords25d, badVolume.volume]);
    });

    it('pgStageLoss leaves nothing behind on success and on error, and names bad options', () => {
      const keypoints = batch();
      const target = pgStageTargets(keypoints, { depthBins: 4 });
      const joints = tf.randomUniform([B, 21, 3], 0, 4, 'float32', 6);
      const attention = [7, 8].map((seed) => tf.softmax(tf.randomNormal([B, 2, 21, 21], 0, 1, 'float32', seed)));
      const wrong = tf.zeros([B, 2, 20, 20]);
      const fewer = tf.zeros([B, 20, 3]);
      for (const options of [
        {},
        { depthWeight: 0.5 },
        { position: 'euclidean' as const, edgeReduction: 'sum' as const },
      ]) {
        expect(leftBehind(() => pgStageLoss(target, joints, attention, options))).toEqual({
          leaked: 0,
          error: undefined,
        });
      }
      for (const run of [
        () => pgStageLoss(target, joints, [attention[0], wrong]),
        () => pgStageLoss(target, fewer, attention),
        () => pgStageLoss(target, joints, [attention[0], 5 as never]),
      ]) {
        const { leaked, error } = leftBehind(run);
        expect(error).toBeInstanceOf(Error);
        expect((error as Error).name).toMatch(/^Phalanx(Shape|Config)Error$/);
        expect(leaked).toBe(0);
      }
      expect(thrownBy(() => pgStageLoss(target, joints, [attention[0], wrong]))).toHaveProperty(
        'message',
        "pgStageLoss: adjacency[1] must be a 20 × 20 edge set (attention[1]'s J), but received an array of length 21.",
      );
      const misspelt = thrownBy(() => pgStageLoss(target, joints, attention, { edgeWeights: 1 } as never));
      expect((misspelt as Error).message).toMatch(/^pgStageLoss: options\.edgeWeights must be an option \(one of /);
      expect(thrownBy(() => pgStageLoss(target, joints, attention, null as never))).toBeInstanceOf(PhalanxConfigError);
      expect(thrownBy(() => pgStageLoss(target, joints, attention, { adjacency: 5 as never }))).toBeInstanceOf(
        PhalanxConfigError,
      );
      tf.dispose([...Object.values(keypoints), target, joints, ...attention, wrong, fewer]);
    });
  });
});
