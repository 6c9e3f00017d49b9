import fc from 'fast-check';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@phalanx/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  gaussianHeatmaps,
  gaussianHeatmapsArray,
  projectPoints,
  recoverRootDepth,
  uvdToXyz,
  xyzToUvd,
} from './geometry';

beforeAll(async () => {
  await useBackend('cpu');
});

/** A batch of hands with their own cameras (fx ≠ fy, any principal point) and any root–ref bone. */
const batchArb = fc
  .record({ B: fc.integer({ min: 1, max: 4 }), J: fc.integer({ min: 2, max: 42 }) })
  .chain(({ B, J }) =>
    fc.record({
      K: fc.array(
        fc
          .tuple(
            fc.double({ min: 50, max: 3000, noNaN: true }),
            fc.double({ min: 50, max: 3000, noNaN: true }),
            fc.double({ min: -200, max: 600, noNaN: true }),
            fc.double({ min: -200, max: 600, noNaN: true }),
          )
          .map(([fx, fy, cx, cy]) => [
            [fx, 0, cx],
            [0, fy, cy],
            [0, 0, 1],
          ]),
        { minLength: B, maxLength: B },
      ),
      xyz: fc.array(
        fc.array(
          fc.tuple(
            fc.double({ min: -0.3, max: 0.3, noNaN: true }),
            fc.double({ min: -0.3, max: 0.3, noNaN: true }),
            fc.double({ min: 0.2, max: 2, noNaN: true }),
          ),
          { minLength: J, maxLength: J },
        ),
        { minLength: B, maxLength: B },
      ),
      bone: fc.tuple(fc.nat(J - 1), fc.nat(J - 2)).map(([root, r]) => ({ root, ref: r >= root ? r + 1 : r })),
    }),
  )
  // A root–ref bone of length 0 has no scale (the arrays refuse it, tensors give NaN): bones of 1 cm and more.
  .filter(({ xyz, bone }) =>
    xyz.every((hand) => {
      const [r, f] = [hand[bone.root], hand[bone.ref]];
      return Math.hypot(f[0] - r[0], f[1] - r[1], f[2] - r[2]) >= 0.01;
    }),
  );

describe('projection and 2.5D ↔ 3D with other joint counts, roots, bones and cameras', () => {
  it('arrays: uv is the float64 pinhole, and uvdToXyz ∘ xyzToUvd gives xyz back (fast-check)', () => {
    fc.assert(
      fc.property(batchArb, ({ K, xyz, bone }) => {
        const uv = projectPoints(xyz, K);
        xyz.forEach((hand, b) =>
          hand.forEach(([x, y, z], j) => {
            const [[fx, , cx], [, fy, cy]] = K[b];
            expect(Math.abs(uv[b][j][0] - ((fx * x) / z + cx))).toBeLessThanOrEqual(1e-9);
            expect(Math.abs(uv[b][j][1] - ((fy * y) / z + cy))).toBeLessThanOrEqual(1e-9);
          }),
        );
        const { uvd, rootDepth, scale } = xyzToUvd(xyz, K, bone);
        xyz.forEach((hand, b) => {
          const [r, f] = [hand[bone.root], hand[bone.ref]];
          expect(rootDepth[b]).toBe(r[2]);
          expect(Math.abs(scale[b] - Math.hypot(f[0] - r[0], f[1] - r[1], f[2] - r[2]))).toBeLessThan(1e-15);
          hand.forEach((p, j) => expect(Math.abs(uvd[b][j][2] - (p[2] - r[2]) / scale[b])).toBeLessThan(1e-9));
        });
        const back = uvdToXyz(uvd, K, { rootDepth, scale });
        back.forEach((hand, b) =>
          hand.forEach((p, j) => p.forEach((v, c) => expect(Math.abs(v - xyz[b][j][c])).toBeLessThan(1e-12))),
        );
      }),
      { numRuns: 200, seed: 45 },
    );
  });

  it('tensors with per-sample K [B, 3, 3] agree with the float64 arrays to float32 precision (fast-check)', () => {
    fc.assert(
      fc.property(batchArb, ({ K, xyz, bone }) => {
        const before = tf.memory().numTensors;
        const [tx, tK] = [tf.tensor3d(xyz), tf.tensor3d(K)];
        const uv64 = projectPoints(xyz, K);
        const uv32 = tf.tidy(() => projectPoints(tx, tK).arraySync() as number[][][]);
        uv32.forEach((hand, b) =>
          hand.forEach((p, j) =>
            p.forEach((v, c) => {
              // float32 rounding of fx·x/z and of cx: a few ulps of their magnitudes.
              const size = Math.abs(K[b][c][c] * (xyz[b][j][c] / xyz[b][j][2])) + Math.abs(K[b][c][2]);
              expect(Math.abs(v - uv64[b][j][c])).toBeLessThanOrEqual(1e-6 * size + 1e-6);
            }),
          ),
        );
        const res = xyzToUvd(tx, tK, bone);
        const back = tf.tidy(
          () => uvdToXyz(res.uvd, tK, { rootDepth: res.rootDepth, scale: res.scale }).arraySync() as number[][][],
        );
        back.forEach((hand, b) =>
          hand.forEach((p, j) => p.forEach((v, c) => expect(Math.abs(v - xyz[b][j][c])).toBeLessThan(1e-5))),
        );
        tf.dispose([tx, tK, res.uvd, res.rootDepth, res.scale]);
        expect(tf.memory().numTensors).toBe(before);
      }),
      { numRuns: 100, seed: 45 },
    );
  });
});

/** Heatmap configurations: 1–3 hands of 1–42 joints, maps from 1 × 1 up, keypoints inside and outside them. */
const heatmapArb = fc
  .record({
    B: fc.integer({ min: 1, max: 3 }),
    J: fc.integer({ min: 1, max: 42 }),
    H: fc.integer({ min: 1, max: 24 }),
    W: fc.integer({ min: 1, max: 24 }),
  })
  .chain(({ B, J, H, W }) =>
    fc.record({
      H: fc.constant(H),
      W: fc.constant(W),
      uv: fc.array(
        fc.array(
          fc.tuple(fc.double({ min: -4, max: W + 3, noNaN: true }), fc.double({ min: -4, max: H + 3, noNaN: true })),
          { minLength: J, maxLength: J },
        ),
        { minLength: B, maxLength: B },
      ),
      visible: fc.array(fc.array(fc.constantFrom(0, 1), { minLength: J, maxLength: J }), {
        minLength: B,
        maxLength: B,
      }),
      sigma: fc.tuple(fc.double({ min: 0.3, max: 5, noNaN: true }), fc.double({ min: 0.3, max: 5, noNaN: true })),
      normalize: fc.constantFrom('gaussian' as const, 'peak' as const),
    }),
  );

describe('gaussian heatmap targets with other sizes, sigmas, joint counts and masks', () => {
  it('both functions give EHPE Eq. 1 in float64 on the [B, H, W, J] grid, masked joints 0 (fast-check)', () => {
    fc.assert(
      fc.property(heatmapArb, ({ H, W, uv, visible, sigma, normalize }) => {
        const [sx, sy] = sigma;
        const options = { height: H, width: W, sigma, normalize, visible };
        const fromArray = gaussianHeatmapsArray(uv, options);
        const maps = gaussianHeatmaps(uv, options);
        expect(maps.shape).toEqual([uv.length, H, W, uv[0].length]);
        const fromTensor = maps.dataSync();
        maps.dispose();
        const A = normalize === 'gaussian' ? 1 / (2 * Math.PI * sx * sy) : 1;
        const J = uv[0].length;
        let worstArray = 0;
        let worstTensor = 0;
        uv.forEach((hand, b) =>
          hand.forEach(([u, v], j) => {
            for (let y = 0; y < H; y++) {
              for (let x = 0; x < W; x++) {
                const g = (x - u) ** 2 / (2 * sx * sx) + (y - v) ** 2 / (2 * sy * sy);
                const expected = visible[b][j] === 1 ? A * Math.exp(-g) : 0;
                const o = ((b * H + y) * W + x) * J + j;
                worstArray = Math.max(worstArray, Math.abs(fromArray[o] - expected));
                worstTensor = Math.max(worstTensor, Math.abs(fromTensor[o] - expected));
              }
            }
          }),
        );
        expect(worstArray).toBeLessThanOrEqual(1e-6 * A);
        expect(worstTensor).toBeLessThanOrEqual(2e-6 * A);
      }),
      { numRuns: 120, seed: 45 },
    );
  });
});

/**
 * A camera matrix with off-diagonal entries in its first two rows, as an affine pixel map `A` turns a pinhole
 * into (`A·K`, e.g. `augment` of `@phalanx/data` with `rotateCamera: false`): a rotation by θ and a scale s.
 */
const warpedArb = fc
  .record({
    f: fc.tuple(fc.double({ min: 100, max: 2000, noNaN: true }), fc.double({ min: 100, max: 2000, noNaN: true })),
    c: fc.tuple(fc.double({ min: 0, max: 300, noNaN: true }), fc.double({ min: 0, max: 300, noNaN: true })),
    theta: fc.double({ min: -Math.PI, max: Math.PI, noNaN: true }),
    s: fc.double({ min: 0.25, max: 4, noNaN: true }),
    t: fc.tuple(fc.double({ min: -100, max: 100, noNaN: true }), fc.double({ min: -100, max: 100, noNaN: true })),
  })
  .map(({ f: [fx, fy], c: [cx, cy], theta, s, t }) => {
    const A = [
      [s * Math.cos(theta), -s * Math.sin(theta), t[0]],
      [s * Math.sin(theta), s * Math.cos(theta), t[1]],
      [0, 0, 1],
    ];
    const K = [
      [fx, 0, cx],
      [0, fy, cy],
      [0, 0, 1],
    ];
    return A.map((row) => [0, 1, 2].map((j) => row[0] * K[0][j] + row[1] * K[1][j] + row[2] * K[2][j]));
  });

/** `(K₀·p / K₂·p, K₁·p / K₂·p)`: the projection by the whole matrix, in float64. */
function projectByMatrix(K: number[][], p: number[]): number[] {
  const w = K[2][0] * p[0] + K[2][1] * p[1] + K[2][2] * p[2];
  return [0, 1].map((r) => (K[r][0] * p[0] + K[r][1] * p[1] + K[r][2] * p[2]) / w);
}

describe('cameras with skew and K[1][0] (an affine warp of a pinhole)', () => {
  it('project by the whole first two rows and lift back exactly, arrays and tensors (fast-check)', () => {
    const hand = Array.from({ length: 21 }, (_, j) => [
      0.01 * (j % 5) - 0.02,
      0.012 * Math.floor(j / 5) - 0.03,
      0.5 + 0.002 * j,
    ]);
    fc.assert(
      fc.property(warpedArb, (K) => {
        const uv = projectPoints(hand, K);
        uv.forEach((q, j) => {
          const expected = projectByMatrix(K, hand[j]);
          expect(Math.abs(q[0] - expected[0])).toBeLessThan(1e-9 * (1 + Math.abs(expected[0])));
          expect(Math.abs(q[1] - expected[1])).toBeLessThan(1e-9 * (1 + Math.abs(expected[1])));
        });
        const { uvd, rootDepth, scale } = xyzToUvd(hand, K);
        uvdToXyz(uvd, K, { rootDepth, scale }).forEach((p, j) =>
          p.forEach((v, c) => expect(Math.abs(v - hand[j][c])).toBeLessThan(1e-12)),
        );
        // The middle MCP–PIP bone lies almost in the image plane here: the larger root is the true depth.
        expect(Math.abs(recoverRootDepth(uvd, K) * scale - rootDepth)).toBeLessThan(1e-9);
        const [tHand, tK] = [tf.tensor2d(hand), tf.tensor2d(K)];
        const tUv = tf.tidy(() => projectPoints(tHand, tK).arraySync() as number[][]);
        tUv.forEach((q, j) => q.forEach((v, c) => expect(Math.abs(v - uv[j][c])).toBeLessThan(1e-3)));
        const lifted = tf.tidy(() => {
          const res = xyzToUvd(tHand, tK);
          return uvdToXyz(res.uvd, tK, { rootDepth: res.rootDepth, scale: res.scale }).arraySync() as number[][];
        });
        lifted.forEach((p, j) => p.forEach((v, c) => expect(Math.abs(v - hand[j][c])).toBeLessThan(1e-5)));
        const z = tf.tidy(() => recoverRootDepth(xyzToUvd(tHand, tK).uvd, tK).arraySync() as number);
        expect(Math.abs(z * scale - rootDepth)).toBeLessThan(1e-4);
        tf.dispose([tHand, tK]);
      }),
      { numRuns: 100, seed: 45 },
    );
  });

  it('refuse a K whose upper-left 2×2 block is singular, and a skew that is not finite, by name', () => {
    const singular = [
      [100, 200, 10],
      [50, 100, 10],
      [0, 0, 1],
    ];
    expect(() => projectPoints([[0, 0, 1]], singular)).toThrow(
      'projectPoints: K (upper-left 2×2) must be an invertible upper-left 2×2 block [[fx, skew], [K[1][0], fy]]',
    );
    const nan = [
      [100, Number.NaN, 10],
      [0, 100, 10],
      [0, 0, 1],
    ];
    expect(() => uvdToXyz([[0, 0, 0]], nan, { rootDepth: 1 })).toThrow(
      'uvdToXyz: K[0][1] (skew) must be a finite number, but received NaN.',
    );
  });
});
