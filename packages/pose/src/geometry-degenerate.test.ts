/**
 * Degenerate geometry on the float64 (array) paths: what has no finite answer is a named error saying
 * what is degenerate; what has one (a joint lifted to z = 0, coinciding Procrustes sets) returns it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { PhalanxConfigError } from '@phalanx/errors';
import { useBackend } from '@phalanx/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  gaussianHeatmapsArray,
  normalizeHand,
  procrustesAlign,
  projectPoints,
  recoverRootDepth,
  similarityTransform,
  uvdToXyz,
  xyzToUvd,
} from './geometry';
import { freihandAlign, paMpjpe } from './metrics';
import { randomHand, rng, TEST_K } from '../test/hands';

const K = TEST_K;
const hand = randomHand(rng(5));

/** `K` with entry `[r][c]` set to `value`. */
function withK(r: number, c: number, value: number): number[][] {
  return K.map((row, i) => row.map((v, j) => (i === r && j === c ? value : v)));
}

/** `points` with point `j` replaced by `p`. */
function withPoint(points: number[][], j: number, p: number[]): number[][] {
  return points.map((q, k) => (k === j ? p : q));
}

beforeAll(async () => {
  await useBackend('cpu');
});

describe('intrinsics and coordinates', () => {
  it('refuse fx = 0, fy = 0 and intrinsics that are not finite, naming the entry, in every function', () => {
    const uvd = xyzToUvd(hand, K).uvd;
    const calls: [string, (k: number[][]) => unknown][] = [
      ['projectPoints', (k) => projectPoints(hand, k)],
      ['uvdToXyz', (k) => uvdToXyz(uvd, k, { rootDepth: 0.5 })],
      ['xyzToUvd', (k) => xyzToUvd(hand, k)],
      ['recoverRootDepth', (k) => recoverRootDepth(uvd, k)],
    ];
    for (const [name, f] of calls) {
      expect(() => f(withK(0, 0, 0))).toThrow(
        `${name}: K[0][0] (fx) must be a finite focal length ≠ 0, but received 0.`,
      );
      expect(() => f(withK(1, 1, Infinity))).toThrow(
        `${name}: K[1][1] (fy) must be a finite focal length ≠ 0, but received Infinity.`,
      );
      expect(() => f(withK(0, 2, Number.NaN))).toThrow(
        `${name}: K[0][2] (cx) must be a finite number, but received NaN.`,
      );
      // Entries that are not read (the release keeps z_root in K[2][2]) may hold anything.
      expect(() => f(withK(2, 2, Number.NaN))).not.toThrow();
    }
    expect(() => projectPoints([hand, hand], [K, withK(1, 1, 0)])).toThrow(
      'projectPoints: K[1][1][1] (fy) must be a finite focal length ≠ 0, but received 0.',
    );
  });

  it('the tensor paths check an array K too, and leak nothing when they refuse it', () => {
    const x = tf.tensor2d(hand);
    const before = tf.memory().numTensors;
    expect(() => projectPoints(x, withK(0, 0, 0))).toThrow('projectPoints: K[0][0] (fx) must be a finite focal length');
    expect(() => uvdToXyz(x, withK(1, 1, 0), { rootDepth: 1 })).toThrow('uvdToXyz: K[1][1] (fy) must be');
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('refuse coordinates, root depths and scales that are not finite', () => {
    expect(() => projectPoints(withPoint(hand, 3, [0, Number.NaN, 1]), K)).toThrow(
      'projectPoints: xyz[3][1] must be a finite number, but received NaN.',
    );
    expect(() => normalizeHand([hand, withPoint(hand, 0, [0, 0, -Infinity])])).toThrow(
      'normalizeHand: xyz[1][0][2] must be a finite number, but received -Infinity.',
    );
    expect(() => uvdToXyz([[1, 2, 0]], K, { rootDepth: Number.NaN })).toThrow(
      'uvdToXyz: rootDepth must be a finite number, but received NaN.',
    );
    expect(() => uvdToXyz([[[1, 2, 0]], [[1, 2, 0]]], K, { rootDepth: 1, scale: [1, Infinity] })).toThrow(
      'uvdToXyz: scale[1] must be a finite number, but received Infinity.',
    );
    expect(() => gaussianHeatmapsArray([[3, Number.NaN]], { height: 4, width: 4 })).toThrow(
      'gaussianHeatmapsArray: uv[0][1] must be a finite number, but received NaN.',
    );
  });
});

describe('points on the camera plane', () => {
  it('projectPoints and xyzToUvd refuse z = 0 (no projection) and a z so small the projection overflows', () => {
    expect(() => projectPoints([[0.1, 0, 0]], K)).toThrow(
      'projectPoints: xyz[0] must be a point off the camera plane (z ≠ 0; a point with z = 0 has no projection), but received [0.1, 0, 0].',
    );
    // x = y = 0 on the plane is 0/0, not ±Infinity: refused alike.
    expect(() => projectPoints([[[0, 0, 1]], [[0, 0, 0]]], K)).toThrow(
      'projectPoints: xyz[1][0] must be a point off the camera plane',
    );
    expect(() => projectPoints([[1, 0, 1e-310]], K)).toThrow(
      'projectPoints: xyz[0] must be a point whose projection is finite (z is so close to 0 that it overflows), but received [1, 0, 1e-310].',
    );
    expect(() => xyzToUvd(withPoint(hand, 4, [0.1, 0.2, 0]), K)).toThrow(
      'xyzToUvd: xyz[4] must be a point off the camera plane',
    );
    // Behind the camera is not degenerate: the same formula, by hand.
    expect(projectPoints([[0.1, -0.05, -0.5]], K)).toEqual([[(500 * 0.1) / -0.5 + 128, (480 * -0.05) / -0.5 + 120]]);
  });

  it('uvdToXyz lifts a joint to z = 0 to the camera centre, on both paths', () => {
    // z = d·s + z_root = 0: x = z·(u − cx)/fx = 0 and y = 0 whatever the pixel (every ray meets there).
    const uvd = [
      [300, 40, -2],
      [10, 200, 0],
    ];
    const xyz = uvdToXyz(uvd, K, { rootDepth: 0.5, scale: 0.25 });
    expect(xyz[0].map(Math.abs)).toEqual([0, 0, 0]); // ±0: the sign of u − cx
    expect(xyz[1]).toEqual([0.5 * ((10 - 128) / 500), 0.5 * ((200 - 120) / 480), 0.5]);
    const t = uvdToXyz(tf.tensor2d(uvd), K, { rootDepth: 0.5, scale: 0.25 });
    expect((t.arraySync() as number[][])[0].map(Math.abs)).toEqual([0, 0, 0]);
    t.dispose();
  });
});

describe('zero-length reference bone', () => {
  it('normalizeHand and xyzToUvd name the bone whose joints coincide', () => {
    const flat = withPoint(hand, 10, [...hand[9]]);
    expect(() => normalizeHand(flat)).toThrow(
      'normalizeHand: the root–ref bone ‖xyz[10] − xyz[9]‖ must be a finite number > 0, but received 0.',
    );
    expect(() => normalizeHand([hand, flat])).toThrow(
      'normalizeHand: the root–ref bone ‖xyz[1][10] − xyz[1][9]‖ must be a finite number > 0, but received 0.',
    );
    expect(() => xyzToUvd(withPoint(hand, 5, [...hand[0]]), K, { root: 0, ref: 5 })).toThrow(
      'xyzToUvd: the root–ref bone ‖xyz[5] − xyz[0]‖ must be a finite number > 0, but received 0.',
    );
    // A bone of any positive length is a scale: the normalised bone has length 1.
    const tiny = withPoint(hand, 10, [hand[9][0] + 1e-9, hand[9][1], hand[9][2]]);
    const { normalized, scale } = normalizeHand(tiny);
    expect(scale).toBe(tiny[10][0] - tiny[9][0]);
    expect(normalized[10]).toEqual([1, 0, 0]);
  });

  it('recoverRootDepth names root and ref joints on one pixel (the bone along the viewing ray)', () => {
    // Joint 10 straight behind joint 9 on its ray: the same pixel, depth one bone further.
    const uvd = xyzToUvd(hand, K).uvd;
    const along = withPoint(uvd, 10, [uvd[9][0], uvd[9][1], 1]);
    const error = (() => {
      try {
        recoverRootDepth(along, K);
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error).toBeInstanceOf(PhalanxConfigError);
    expect(error?.message).toBe(
      `recoverRootDepth: the root and ref joints uvd[9], uvd[10] must be at different pixels (on one pixel the bone lies along the viewing ray: its depth is undetermined), but received [[${uvd[9][0]}, ${uvd[9][1]}], [${uvd[9][0]}, ${uvd[9][1]}]].`,
    );
    expect(() => recoverRootDepth([uvd, along], K)).toThrow('the root and ref joints uvd[1][9], uvd[1][10]');
  });
});

describe('degenerate Procrustes', () => {
  const tri = [
    [0, 0, 0],
    [1, 0, 0],
    [0, 2, 0],
  ];
  const centroid = [1 / 3, 2 / 3, 0];
  // 0.1 + 0.1 + 0.1 is not 0.3: the centroid of three equal points is off by an ulp.
  const point = [
    [0.1, 0.1, 0.1],
    [0.1, 0.1, 0.1],
    [0.1, 0.1, 0.1],
  ];

  it('a pred whose points coincide gets scale 0 and maps onto gt’s centroid (the least-squares answer)', () => {
    const t = similarityTransform(point, tri);
    expect(t.scale).toBe(0);
    t.translation.forEach((v, c) => expect(Math.abs(v - centroid[c])).toBeLessThan(1e-15));
    for (const q of procrustesAlign(point, tri))
      q.forEach((v, c) => expect(Math.abs(v - centroid[c])).toBeLessThan(1e-15));
    for (const q of freihandAlign(point, tri))
      q.forEach((v, c) => expect(Math.abs(v - centroid[c])).toBeLessThan(1e-15));
    // PA-MPJPE is then the mean distance of gt's points from their centroid.
    const spread = tri.reduce((s, q) => s + Math.hypot(...q.map((v, c) => v - centroid[c])), 0) / 3;
    expect(Math.abs(paMpjpe(tri, point) - spread)).toBeLessThan(1e-15);
  });

  it('a gt whose points coincide is matched exactly, with a scale of 0 up to rounding', () => {
    const t = similarityTransform(tri, point);
    expect(Math.abs(t.scale)).toBeLessThan(1e-15);
    for (const q of procrustesAlign(tri, point)) q.forEach((v) => expect(Math.abs(v - 0.1)).toBeLessThan(1e-15));
    expect(paMpjpe(point, tri)).toBeLessThan(1e-15);
  });

  it('refuses coordinates that are not finite, naming the function and the entry', () => {
    expect(() => similarityTransform(withPoint(tri, 1, [1, Number.NaN, 0]), tri)).toThrow(
      'similarityTransform: pred[1][1] must be a finite number, but received NaN.',
    );
    expect(() => procrustesAlign([tri, tri], [tri, withPoint(tri, 2, [Infinity, 0, 0])])).toThrow(
      'procrustesAlign: gt[1][2][0] must be a finite number, but received Infinity.',
    );
  });
});
