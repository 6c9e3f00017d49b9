/**
 * The point losses and `@phalanx/pose`'s float64 metrics write the same formulas twice — the mean
 * Euclidean distance (`mpjpeLoss` / `mpjpe`) and its square (`squaredDistanceLoss` / the end-point
 * errors squared). These tests check each twin against the other on the same float32 inputs.
 */
import * as tf from '@tensorflow/tfjs-core';
import { forEachBackend } from '@phalanx/testing';
import { endPointErrors, mpjpe } from '@phalanx/pose';
import { describe, expect, it } from 'vitest';
import { mpjpeLoss, squaredDistanceLoss } from './index';

/** Deterministic pseudo-random float32 values in [−scale, scale). */
function values(count: number, seed: number, scale: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: count }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.fround(((s / 2 ** 32) * 2 - 1) * scale);
  });
}

/** `[B][J][3]` from a flat list. */
function points(flat: number[], batch: number, joints: number): number[][][] {
  return Array.from({ length: batch }, (_, b) =>
    Array.from({ length: joints }, (__, j) => flat.slice((b * joints + j) * 3, (b * joints + j) * 3 + 3)),
  );
}

forEachBackend(() => {
  describe('losses and their float64 metric twins', () => {
    // Millimetre-like hands (±150), predictions off by up to ±20, one exact joint per sample.
    const cases = [1, 2, 3, 4, 5, 6, 7, 8].map((seed) => {
      const [batch, joints] = [1 + (seed % 4), 21];
      const gt = points(values(batch * joints * 3, seed, 150), batch, joints);
      const offsets = values(batch * joints * 3, seed + 100, 20);
      const pred = gt.map((hand, b) =>
        hand.map((p, j) => (j === 0 ? [...p] : p.map((v, c) => Math.fround(v + offsets[(b * joints + j) * 3 + c])))),
      );
      return { gt, pred };
    });

    it(`mpjpeLoss equals pose's mpjpe (${cases.length} batches)`, () => {
      for (const { gt, pred } of cases) {
        const loss = tf.tidy(() => mpjpeLoss(tf.tensor3d(gt), tf.tensor3d(pred)).dataSync()[0]);
        const metric = mpjpe(gt, pred);
        expect(Math.abs(loss - metric) / metric).toBeLessThan(1e-6);
      }
    });

    it(`squaredDistanceLoss equals the mean squared end-point error (${cases.length} batches)`, () => {
      for (const { gt, pred } of cases) {
        const loss = tf.tidy(() => squaredDistanceLoss(tf.tensor3d(gt), tf.tensor3d(pred)).dataSync()[0]);
        const errors = (endPointErrors(gt, pred) as number[][]).flat();
        const metric = errors.reduce((sum, e) => sum + e * e, 0) / errors.length;
        expect(Math.abs(loss - metric) / metric).toBeLessThan(1e-6);
      }
    });
  });
});
