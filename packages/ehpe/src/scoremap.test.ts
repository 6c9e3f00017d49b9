import * as tf from '@tensorflow/tfjs-core';
import '@phalanx/wasm-training';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectClose, expectNumericGradient, forEachBackend } from '@phalanx/testing';
import { disposeBatch, renderSyntheticHand, toBatch } from '@phalanx/data';
import { PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { Trainer } from '@phalanx/train';
import { createEhpe, twStageLoss, twStageRecipe, twStageTargets, volumeScoremapCrossEntropy } from './index';
import { TINY_EHPE } from './tiny.fixture';

/** The cross-entropy in plain numbers: per (b, j), the 2D marginal of softmax(β·V) against t / Σt. */
function referenceCrossEntropy(
  volume: Float32Array,
  target: Float32Array,
  [B, H, W, n]: number[],
  D: number,
  beta: number,
): number {
  let total = 0;
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < n; j++) {
      const marginal: number[] = [];
      const t: number[] = [];
      for (let p = 0; p < H * W; p++) {
        const logits = Array.from({ length: D }, (_, d) => beta * volume[(b * H * W + p) * n * D + j * D + d]);
        const m = Math.max(...logits);
        marginal.push(m + Math.log(logits.reduce((s, v) => s + Math.exp(v - m), 0)));
        t.push(target[(b * H * W + p) * n + j]);
      }
      const m = Math.max(...marginal);
      const logZ = m + Math.log(marginal.reduce((s, v) => s + Math.exp(v - m), 0));
      const mass = t.reduce((s, v) => s + v, 0);
      if (mass > 0) total -= t.reduce((s, v, p) => s + (v / mass) * (marginal[p] - logZ), 0);
    }
  }
  return total / (B * n);
}

describe('volumeScoremapCrossEntropy', () => {
  forEachBackend(() => {
    it('equals the cross-entropy of the 2D marginal computed in plain numbers (random shapes, β)', () => {
      fc.assert(
        fc.property(
          fc.record({
            B: fc.integer({ min: 1, max: 2 }),
            S: fc.integer({ min: 1, max: 5 }),
            n: fc.integer({ min: 1, max: 3 }),
            D: fc.integer({ min: 1, max: 4 }),
            beta: fc.double({ min: 0.1, max: 4, noNaN: true }),
            seed: fc.integer({ min: 0, max: 1000 }),
            zeroJoint: fc.boolean(),
          }),
          ({ B, S, n, D, beta, seed, zeroJoint }) => {
            const shape = [B, S, S, n];
            const volume = tf.randomNormal([B, S, S, n * D], 0, 3, 'float32', seed);
            let target = tf.randomUniform(shape, 0, 1, 'float32', seed + 1);
            if (zeroJoint) {
              const mask = tf.tensor1d(Array.from({ length: n }, (_, j) => (j === 0 ? 0 : 1)));
              target = tf.mul(target, mask);
            }
            const ce = volumeScoremapCrossEntropy(volume, target, D, beta);
            const expected = referenceCrossEntropy(
              volume.dataSync() as Float32Array,
              target.dataSync() as Float32Array,
              shape,
              D,
              beta,
            );
            expectClose(ce.dataSync(), [expected], { rtol: 1e-4, atol: 1e-4 });
            tf.dispose([volume, target, ce]);
          },
        ),
        { numRuns: 40 },
      );
    });

    it('is ln(S²) for a constant volume and falls as the volume concentrates at the target', async () => {
      const S = 6;
      const target = tf.tidy(() => tf.reshape(tf.oneHot(tf.tensor1d([14], 'int32'), S * S), [1, S, S, 1]));
      const flat = tf.zeros([1, S, S, 2]);
      expect((await volumeScoremapCrossEntropy(flat, target, 2).data())[0]).toBeCloseTo(Math.log(S * S), 5);
      const peaked = tf.tidy(() => tf.mul(tf.tile(target, [1, 1, 1, 2]), 10));
      const ce = (await volumeScoremapCrossEntropy(peaked, target, 2).data())[0];
      expect(ce).toBeLessThan(0.01);
      expect(ce).toBeGreaterThanOrEqual(0);
      tf.dispose([target, flat, peaked]);
    });

    it('has the gradient finite differences give', () => {
      const volume = tf.randomNormal([1, 3, 3, 2 * 3], 0, 1, 'float32', 7);
      const target = tf.randomUniform([1, 3, 3, 2], 0, 1, 'float32', 8);
      expectNumericGradient((v) => volumeScoremapCrossEntropy(v, target, 3, 1.5), [volume], { samples: 16 });
      tf.dispose([volume, target]);
    });

    it('names a bad shape, depth-bin count or β', () => {
      const volume = tf.zeros([1, 4, 4, 6]);
      const target = tf.zeros([1, 4, 4, 2]);
      expect(() => volumeScoremapCrossEntropy(volume, target, 4)).toThrow(PhalanxShapeError);
      expect(() => volumeScoremapCrossEntropy(volume, target, 4)).toThrow(/volume must be \[1, 4, 4, 8\]/);
      expect(() => volumeScoremapCrossEntropy(tf.zeros([4, 4, 6]), target, 3)).toThrow(PhalanxShapeError);
      expect(() => volumeScoremapCrossEntropy(volume, tf.zeros([1, 4, 2]), 3)).toThrow(PhalanxShapeError);
      expect(() => volumeScoremapCrossEntropy(volume, target, 0)).toThrow(PhalanxConfigError);
      expect(() => volumeScoremapCrossEntropy(volume, target, 3, 0)).toThrow(PhalanxConfigError);
      expect(() => volumeScoremapCrossEntropy(volume, target, 3, Number.NaN)).toThrow(/beta/);
      tf.dispose([volume, target]);
    });
  });
});

const TINY = TINY_EHPE;

describe('the stage-1 scoremap term', () => {
  forEachBackend(() => {
    it('twStageLoss adds scoremapWeight × the cross-entropy, and names what it lacks', async () => {
      const batch = {
        uv: tf.randomUniform([2, 21, 2], 0, 63, 'float32', 3),
        xyz: tf.randomUniform([2, 21, 3], 400, 600, 'float32', 4),
      };
      const target = twStageTargets(batch, { inputSize: 64, heatmapSize: 8, depthBins: 4 });
      const prediction = {
        heatmaps: tf.randomNormal([2, 8, 8, 6], 0, 1, 'float32', 5),
        coords25d: tf.randomNormal([2, 6, 3], 4, 1, 'float32', 6),
        volume: tf.randomNormal([2, 8, 8, 24], 0, 1, 'float32', 7),
      };
      const plain = twStageLoss(target, prediction);
      const withCe = twStageLoss(target, prediction, { scoremapWeight: 0.5, depthBins: 4, beta: 2 });
      const ce = volumeScoremapCrossEntropy(prediction.volume, target.heatmaps, 4, 2);
      const [p, w, c] = await Promise.all([plain.total.data(), withCe.total.data(), ce.data()]);
      expect(w[0]).toBeCloseTo(p[0] + 0.5 * c[0], 4);
      expect((await withCe.parts.scoremap.data())[0]).toBeCloseTo(c[0], 5);
      expect(plain.parts.scoremap).toBeUndefined();
      const { volume: _omitted, ...noVolume } = prediction;
      expect(() => twStageLoss(target, noVolume, { scoremapWeight: 1, depthBins: 4 })).toThrow(/prediction\.volume/);
      expect(() => twStageLoss(target, prediction, { scoremapWeight: 1 })).toThrow(/depthBins/);
      expect(() => twStageLoss(target, prediction, { scoremapWeight: -1, depthBins: 4 })).toThrow(PhalanxConfigError);
      tf.dispose([batch.uv, batch.xyz, target.heatmaps, target.coords25d, ...Object.values(prediction), ce]);
      tf.dispose([plain.total, withCe.total, ...Object.values(plain.parts), ...Object.values(withCe.parts)]);
    });

    it('twStageRecipe with scoremapWeight trains on the volume, leaks nothing, and leaves the default as it was', async () => {
      const model = createEhpe(TINY);
      const plain = twStageRecipe(model);
      expect(plain.model.outputs).toHaveLength(2);
      const recipe = twStageRecipe(model, { lr: 3e-3, scoremapWeight: 1 });
      expect(recipe.model.outputs.map((o) => o.shape)).toEqual([
        [null, 16, 16, 6],
        [null, 6, 3],
        [null, 16, 16, 6 * 4],
      ]);
      const batch = toBatch([0, 1].map((i) => renderSyntheticHand(300 + i, { size: 64 })));
      const trainer = new Trainer({ ...recipe, progress: false });
      const first = await trainer.trainStep(batch);
      expect(Object.keys(first.parts ?? {})).toContain('scoremap');
      const before = tf.memory().numTensors;
      const scoremaps: number[] = [];
      for (let i = 0; i < 12; i++) scoremaps.push((await trainer.trainStep(batch)).parts?.scoremap ?? Number.NaN);
      expect(tf.memory().numTensors).toBe(before);
      expect(scoremaps.every(Number.isFinite)).toBe(true);
      expect(Math.min(...scoremaps.slice(-3))).toBeLessThan(scoremaps[0]);
      disposeBatch(batch);
      model.dispose();
    });
  }, ['wasm']);
});
