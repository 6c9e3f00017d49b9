import * as tf from '@tensorflow/tfjs-core';
import '@phalanx/wasm-training';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectClose, expectNumericGradient, forEachBackend } from '@phalanx/testing';
import { disposeBatch, renderSyntheticHand, toBatch } from '@phalanx/data';
import { PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { Trainer } from '@phalanx/train';
import { createEhpe, twStageLoss, twStageRecipe, twStageTargets, volumeDepthCrossEntropy } from './index';
import { TINY_EHPE } from './tiny.fixture';

/** The cross-entropy in plain numbers: per (b, j), the depth marginal of softmax(β·V) against z's two bins. */
function referenceCrossEntropy(
  volume: Float32Array,
  depths: Float32Array,
  [B, H, W, n]: number[],
  D: number,
  beta: number,
): number {
  let total = 0;
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < n; j++) {
      const all: number[][] = Array.from({ length: D }, () => []);
      for (let p = 0; p < H * W; p++) {
        for (let d = 0; d < D; d++) all[d].push(beta * volume[(b * H * W + p) * n * D + j * D + d]);
      }
      const lse = (xs: number[]) => {
        const m = Math.max(...xs);
        return m + Math.log(xs.reduce((s, v) => s + Math.exp(v - m), 0));
      };
      const marginal = all.map(lse);
      const logZ = lse(marginal);
      const z = Math.min(Math.max(depths[b * n + j], 0), D - 1);
      const lo = Math.floor(z);
      const hi = Math.min(lo + 1, D - 1);
      const wHi = z - lo;
      total -= (1 - wHi) * (marginal[lo] - logZ) + (hi !== lo ? wHi * (marginal[hi] - logZ) : 0);
    }
  }
  return total / (B * n);
}

describe('volumeDepthCrossEntropy', () => {
  forEachBackend(() => {
    it('equals the cross-entropy of the depth marginal computed in plain numbers (random shapes, β, depths)', () => {
      fc.assert(
        fc.property(
          fc.record({
            B: fc.integer({ min: 1, max: 2 }),
            S: fc.integer({ min: 1, max: 4 }),
            n: fc.integer({ min: 1, max: 3 }),
            D: fc.integer({ min: 1, max: 6 }),
            beta: fc.double({ min: 0.1, max: 4, noNaN: true }),
            seed: fc.integer({ min: 0, max: 1000 }),
          }),
          ({ B, S, n, D, beta, seed }) => {
            const volume = tf.randomNormal([B, S, S, n * D], 0, 3, 'float32', seed);
            // Depths from below the first bin to beyond the last: clamped.
            const depths = tf.randomUniform([B, n], -1, D, 'float32', seed + 1);
            const ce = volumeDepthCrossEntropy(volume, depths, D, beta);
            const expected = referenceCrossEntropy(
              volume.dataSync() as Float32Array,
              depths.dataSync() as Float32Array,
              [B, S, S, n],
              D,
              beta,
            );
            expectClose(ce.dataSync(), [expected], { rtol: 1e-4, atol: 1e-4 });
            tf.dispose([volume, depths, ce]);
          },
        ),
        { numRuns: 40 },
      );
    });

    it('is ln D for a constant volume and the target entropy at its minimum, where the depth marginal is the target', async () => {
      const D = 5;
      const flat = tf.zeros([1, 3, 3, D]);
      const depths = tf.tensor2d([[1.25]]);
      expect((await volumeDepthCrossEntropy(flat, depths, D).data())[0]).toBeCloseTo(Math.log(D), 5);
      const t = [0, 0.75, 0.25, 0, 0];
      const entropy = -(0.75 * Math.log(0.75) + 0.25 * Math.log(0.25));
      // Logits log t(d) (−30 where t = 0) at every x, y: the depth marginal is t.
      const best = tf.tidy(() =>
        tf.tile(tf.reshape(tf.tensor1d(t.map((v) => (v > 0 ? Math.log(v) : -30))), [1, 1, 1, D]), [1, 3, 3, 1]),
      );
      const atBest = (await volumeDepthCrossEntropy(best, depths, D).data())[0];
      expect(atBest).toBeCloseTo(entropy, 4);
      const shifted = tf.tidy(() =>
        tf.tile(
          tf.reshape(tf.tensor1d([0, 0.25, 0.75, 0, 0].map((v) => (v > 0 ? Math.log(v) : -30))), [1, 1, 1, D]),
          [1, 3, 3, 1],
        ),
      );
      expect((await volumeDepthCrossEntropy(shifted, depths, D).data())[0]).toBeGreaterThan(atBest + 0.1);
      tf.dispose([flat, depths, best, shifted]);
    });

    it('has the gradient finite differences give', () => {
      const volume = tf.randomNormal([1, 3, 3, 2 * 4], 0, 1, 'float32', 7);
      const depths = tf.tensor2d([[0.3, 2.6]]);
      expectNumericGradient((v) => volumeDepthCrossEntropy(v, depths, 4, 1.5), [volume], { samples: 16 });
      tf.dispose([volume, depths]);
    });

    it('names a bad shape, depth-bin count or β', () => {
      const volume = tf.zeros([1, 4, 4, 6]);
      const depths = tf.zeros([1, 2]);
      expect(() => volumeDepthCrossEntropy(volume, depths, 4)).toThrow(PhalanxShapeError);
      expect(() => volumeDepthCrossEntropy(volume, depths, 4)).toThrow(/volume must be \[1, S, S, 8\]/);
      expect(() => volumeDepthCrossEntropy(tf.zeros([4, 4, 6]), depths, 3)).toThrow(PhalanxShapeError);
      expect(() => volumeDepthCrossEntropy(volume, tf.zeros([1, 2, 1]), 3)).toThrow(/targetDepths/);
      expect(() => volumeDepthCrossEntropy(volume, tf.zeros([2, 2]), 3)).toThrow(PhalanxShapeError);
      expect(() => volumeDepthCrossEntropy(volume, depths, 0)).toThrow(PhalanxConfigError);
      expect(() => volumeDepthCrossEntropy(volume, depths, 3, -1)).toThrow(PhalanxConfigError);
      expect(() => volumeDepthCrossEntropy(volume, depths, 3, Number.NaN)).toThrow(/beta/);
      tf.dispose([volume, depths]);
    });
  });
});

describe('the stage-1 depth term', () => {
  forEachBackend(() => {
    it('twStageLoss adds depthMarginalWeight × the cross-entropy of the target depths, and names what it lacks', async () => {
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
      const both = twStageLoss(target, prediction, {
        depthMarginalWeight: 0.5,
        scoremapWeight: 2,
        depthBins: 4,
        beta: 2,
      });
      const depths = tf.tidy(() => tf.squeeze(tf.slice(target.coords25d, [0, 0, 2], [-1, -1, 1]), [2]));
      const z = await volumeDepthCrossEntropy(prediction.volume, depths, 4, 2).data();
      const s = await both.parts.scoremap.data();
      const [p, w] = await Promise.all([plain.total.data(), both.total.data()]);
      expect(w[0]).toBeCloseTo(p[0] + 0.5 * z[0] + 2 * s[0], 4);
      expect((await both.parts.depthMarginal.data())[0]).toBeCloseTo(z[0], 5);
      expect(plain.parts.depthMarginal).toBeUndefined();
      const { volume: _omitted, ...noVolume } = prediction;
      expect(() => twStageLoss(target, noVolume, { depthMarginalWeight: 1, depthBins: 4 })).toThrow(
        /prediction\.volume/,
      );
      expect(() => twStageLoss(target, prediction, { depthMarginalWeight: 1 })).toThrow(/depthBins/);
      expect(() => twStageLoss(target, prediction, { depthMarginalWeight: -1, depthBins: 4 })).toThrow(
        PhalanxConfigError,
      );
      tf.dispose([batch.uv, batch.xyz, target.heatmaps, target.coords25d, ...Object.values(prediction), depths]);
      tf.dispose([plain.total, both.total, ...Object.values(plain.parts), ...Object.values(both.parts)]);
    });

    it('twStageRecipe names a bad weight at once; with depthMarginalWeight alone it trains on the volume, leak-free', async () => {
      const model = createEhpe(TINY_EHPE);
      const recipe = twStageRecipe(model, { lr: 3e-3, depthMarginalWeight: 1 });
      expect(recipe.model.outputs.map((o) => o.shape)).toEqual([
        [null, 16, 16, 6],
        [null, 6, 3],
        [null, 16, 16, 6 * 4],
      ]);
      for (const bad of [{ depthMarginalWeight: -1 }, { scoremapWeight: Number.NaN }, { heatmapWeight: -2 }]) {
        expect(() => twStageRecipe(model, bad)).toThrow(PhalanxConfigError);
      }
      expect(() => twStageRecipe(model, { depthMarginalWeight: -1 })).toThrow(/depthMarginalWeight/);
      const batch = toBatch([0, 1].map((i) => renderSyntheticHand(400 + i, { size: 64 })));
      const trainer = new Trainer({ ...recipe, progress: false });
      const first = await trainer.trainStep(batch);
      expect(Object.keys(first.parts ?? {})).toEqual(expect.arrayContaining(['depthMarginal']));
      expect(first.parts).not.toHaveProperty('scoremap');
      const before = tf.memory().numTensors;
      const terms: number[] = [];
      for (let i = 0; i < 12; i++) terms.push((await trainer.trainStep(batch)).parts?.depthMarginal ?? Number.NaN);
      expect(tf.memory().numTensors).toBe(before);
      expect(terms.every(Number.isFinite)).toBe(true);
      expect(Math.min(...terms.slice(-3))).toBeLessThan(terms[0]);
      disposeBatch(batch);
      model.dispose();
    });
  }, ['wasm']);
});
