/**
 * Every geometry formula of this package is written twice: with tf ops (tensors in, differentiable) and in
 * float64 on nested arrays. These tests check the twins against each other on the same inputs — values
 * rounded to float32 first, so that the only difference left is float32 arithmetic — over many random
 * hands, on every backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { forEachBackend } from '@phalanx/testing';
import { describe, expect, it } from 'vitest';
import {
  gaussianHeatmaps,
  gaussianHeatmapsArray,
  normalizeHand,
  projectPoints,
  recoverRootDepth,
  uvdToXyz,
  xyzToUvd,
} from './geometry';
import { randomHand, randomK, rng } from '../test/hands';

const HANDS = 64;

const f32 = (x: number[][][]): number[][][] => x.map((h) => h.map((p) => p.map(Math.fround)));

/** Largest |tensor − float64| / (|float64| + scale) over all entries (`scale` sets the absolute floor). */
function worstRelative(tensor: tf.Tensor, reference: number[] | number[][] | number[][][], scale: number): number {
  const got = tensor.dataSync();
  const want = (reference as unknown[]).flat(2) as number[];
  expect(got.length).toBe(want.length);
  let worst = 0;
  want.forEach((w, i) => {
    // NaN compares false: make it the worst.
    const error = Math.abs(got[i] - w) / (Math.abs(w) + scale);
    worst = Number.isNaN(error) ? Infinity : Math.max(worst, error);
  });
  return worst;
}

function inputs(seed: number): { hands: number[][][]; ks: number[][][] } {
  const rand = rng(seed);
  const hands = f32(Array.from({ length: HANDS }, () => randomHand(rand)));
  const ks = f32(Array.from({ length: HANDS }, () => randomK(rand)));
  return { hands, ks };
}

forEachBackend(() => {
  describe(`tensor and float64 twins agree on ${HANDS} random hands`, () => {
    it('projectPoints (per-sample K, shared K, unbatched)', () => {
      const { hands, ks } = inputs(1);
      const [xyz, k] = [tf.tensor3d(hands), tf.tensor3d(ks)];
      const uv = projectPoints(xyz, k);
      expect(worstRelative(uv, projectPoints(hands, ks), 100)).toBeLessThan(1e-6);
      const shared = projectPoints(xyz, ks[0]);
      expect(worstRelative(shared, projectPoints(hands, ks[0]), 100)).toBeLessThan(1e-6);
      const one = tf.tensor2d(hands[3]);
      const uvOne = projectPoints(one, ks[3]);
      expect(worstRelative(uvOne, projectPoints(hands[3], ks[3]), 100)).toBeLessThan(1e-6);
      tf.dispose([xyz, k, uv, shared, one, uvOne]);
    });

    it('xyzToUvd and uvdToXyz (uvd, root depth, scale; per-sample root depth and scale)', () => {
      const { hands, ks } = inputs(2);
      const [xyz, k] = [tf.tensor3d(hands), tf.tensor3d(ks)];
      const t = xyzToUvd(xyz, k);
      const a = xyzToUvd(hands, ks);
      expect(worstRelative(t.uvd, a.uvd, 1)).toBeLessThan(1e-5);
      expect(worstRelative(t.rootDepth, a.rootDepth, 0)).toBeLessThan(1e-6);
      expect(worstRelative(t.scale, a.scale, 0)).toBeLessThan(1e-6);
      // Back to 3D from the same (float32) 2.5D on both paths.
      const uvd = f32(a.uvd);
      const rootDepth = a.rootDepth.map(Math.fround);
      const scale = a.scale.map(Math.fround);
      const [uvdT, rootT, scaleT] = [tf.tensor3d(uvd), tf.tensor1d(rootDepth), tf.tensor1d(scale)];
      const back = uvdToXyz(uvdT, k, { rootDepth: rootT, scale: scaleT });
      expect(worstRelative(back, uvdToXyz(uvd, ks, { rootDepth, scale }), 1e-3)).toBeLessThan(1e-6);
      tf.dispose([xyz, k, t.uvd, t.rootDepth, t.scale, uvdT, rootT, scaleT, back]);
    });

    it('normalizeHand (normalized hand, root position, scale; another bone)', () => {
      const { hands } = inputs(3);
      const xyz = tf.tensor3d(hands);
      for (const bone of [{}, { root: 0, ref: 9 }]) {
        const t = normalizeHand(xyz, bone);
        const a = normalizeHand(hands, bone);
        expect(worstRelative(t.normalized, a.normalized, 1e-2)).toBeLessThan(1e-6);
        expect(worstRelative(t.rootPosition, a.rootPosition as number[][], 1e-3)).toBeLessThan(1e-6);
        expect(worstRelative(t.scale, a.scale, 0)).toBeLessThan(1e-6);
        tf.dispose([t.normalized, t.rootPosition, t.scale]);
      }
      xyz.dispose();
    });

    it('recoverRootDepth on exact and noisy 2.5D: both branches of the stable root, clamped discriminants', () => {
      const { hands, ks } = inputs(4);
      const rand = rng(40);
      const exact = xyzToUvd(hands, ks).uvd;
      // Noise on u, v (pixels) and d (bone units) makes some discriminants negative (clamped to 0).
      const noisy = exact.map((h) =>
        h.map(([u, v, d]) => [u + 3 * (rand() - 0.5), v + 3 * (rand() - 0.5), d + 0.6 * (rand() - 0.5)]),
      );
      const branches = { positiveB: 0, otherB: 0, clamped: 0 };
      for (const uvd of [f32(exact), f32(noisy)]) {
        const [uvdT, k] = [tf.tensor3d(uvd), tf.tensor3d(ks)];
        const z = recoverRootDepth(uvdT, k);
        const reference = recoverRootDepth(uvd, ks);
        // Relative to the root depth itself (tens of bone lengths); float32 keeps it to ~1e-6.
        expect(worstRelative(z, reference, 1)).toBeLessThan(1e-5);
        uvd.forEach((hand, b) => {
          const cam = ks[b];
          const [xn, yn] = [(hand[9][0] - cam[0][2]) / cam[0][0], (hand[9][1] - cam[1][2]) / cam[1][1]];
          const [xm, ym] = [(hand[10][0] - cam[0][2]) / cam[0][0], (hand[10][1] - cam[1][2]) / cam[1][1]];
          const [dn, dm] = [hand[9][2], hand[10][2]];
          const [dx, dy] = [xn - xm, yn - ym];
          const [px, py] = [xn * dn - xm * dm, yn * dn - ym * dm];
          const [qa, qb] = [dx * dx + dy * dy, 2 * (dx * px + dy * py)];
          const qc = px * px + py * py + (dn - dm) ** 2 - 1;
          if (qb > 0) branches.positiveB++;
          else branches.otherB++;
          if (qb * qb - 4 * qa * qc < 0) branches.clamped++;
        });
        tf.dispose([uvdT, k, z]);
      }
      expect(branches.positiveB).toBeGreaterThan(0);
      expect(branches.otherB).toBeGreaterThan(0);
      expect(branches.clamped).toBeGreaterThan(0);
    });

    it('gaussianHeatmaps and gaussianHeatmapsArray (batched with visibility, unbatched, anisotropic, peak)', () => {
      const rand = rng(5);
      const uv = f32([0, 1, 2].map(() => Array.from({ length: 21 }, () => [rand() * 31, rand() * 23])));
      const visible = uv.map((h) => h.map(() => (rand() > 0.2 ? 1 : 0)));
      const options = [
        { height: 24, width: 32, sigma: 2, visible },
        { height: 24, width: 32, sigma: [1.5, 3] as [number, number], normalize: 'peak' as const },
      ];
      const uvT = tf.tensor3d(uv);
      for (const o of options) {
        const maps = gaussianHeatmaps(uvT, o);
        expect(worstRelative(maps, Array.from(gaussianHeatmapsArray(uv, o)), 1e-6)).toBeLessThan(1e-5);
        const one = gaussianHeatmaps(uv[1], { ...o, visible: undefined });
        expect(
          worstRelative(one, Array.from(gaussianHeatmapsArray(uv[1], { ...o, visible: undefined })), 1e-6),
        ).toBeLessThan(1e-5);
        tf.dispose([maps, one]);
      }
      uvT.dispose();
    });
  });
});
