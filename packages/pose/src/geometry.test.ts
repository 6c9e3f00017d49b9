import * as tf from '@tensorflow/tfjs-core';
import { expectClose, forEachBackend, useBackend } from '@phalanx/testing';
import { describe, expect, it } from 'vitest';
import {
  applySimilarity,
  gaussianHeatmaps,
  gaussianHeatmapsArray,
  normalizeHand,
  procrustesAlign,
  projectPoints,
  recoverRootDepth,
  similarityTransform,
  uvdToXyz,
  xyzToUvd,
} from './geometry';
import { PhalanxConfigError } from '@phalanx/errors';
import { det3 } from './linalg';
import { auc, freihandAlign, linspace, mpjpe, paMpjpe } from './metrics';
import { randomHand, randomK, randomRotation, rng, TEST_K } from '../test/hands';

const K = TEST_K;

function maxDiff(a: number[][], b: number[][]): number {
  return Math.max(...a.flatMap((row, i) => row.map((v, j) => Math.abs(v - b[i][j]))));
}

describe('projection and 2.5D ↔ 3D (float64 arrays)', () => {
  it('projects with u = fx·x/z + cx, v = fy·y/z + cy', () => {
    expect(projectPoints([[0.1, -0.05, 0.5]], K)).toEqual([[228, 72]]);
    const batch = projectPoints([[[0.1, -0.05, 0.5]], [[0, 0, 2]]], [K, K]);
    expect(batch).toEqual([[[228, 72]], [[128, 120]]]);
  });

  it('uvdToXyz is the release P2W and inverts xyzToUvd on random hands', () => {
    const rand = rng(1);
    for (let trial = 0; trial < 50; trial++) {
      const xyz = randomHand(rand);
      const k = randomK(rand);
      const { uvd, rootDepth, scale } = xyzToUvd(xyz, k);
      expect(uvd[9][2]).toBe(0);
      expect(Math.abs(uvd[10][2])).toBeLessThanOrEqual(1);
      expect(rootDepth).toBe(xyz[9][2]);
      const back = uvdToXyz(uvd, k, { rootDepth, scale });
      expect(maxDiff(back, xyz)).toBeLessThan(1e-14);
      // The Learnable Groups release keeps z_root in K[2][2]; only fx, fy, cx, cy are read here.
      const kRelease = [k[0], k[1], [0, 0, rootDepth]];
      const p2w = uvd.map(([u, v, d]) => {
        const z = d * scale + kRelease[2][2];
        return [z * ((u - k[0][2]) / k[0][0]), z * ((v - k[1][2]) / k[1][1]), z];
      });
      expect(maxDiff(uvdToXyz(uvd, kRelease, { rootDepth, scale }), p2w)).toBe(0);
      // 3D → 2.5D → 3D → 2.5D.
      expect(maxDiff(xyzToUvd(back, k).uvd, uvd)).toBeLessThan(1e-9);
    }
  });

  it('normalises by the middle MCP–PIP bone with the middle MCP as root', () => {
    const rand = rng(2);
    const hands = [randomHand(rand), randomHand(rand)];
    const { normalized, rootPosition, scale } = normalizeHand(hands);
    for (let b = 0; b < 2; b++) {
      expect(normalized[b][9]).toEqual([0, 0, 0]);
      expect(Math.hypot(...normalized[b][10])).toBeCloseTo(1, 14);
      expect(rootPosition[b]).toEqual(hands[b][9]);
      expect(scale[b]).toBeCloseTo(Math.hypot(...hands[b][10].map((v, c) => v - hands[b][9][c])), 15);
    }
    const wristRooted = normalizeHand(hands[0], { root: 0, ref: 12 });
    expect(Math.hypot(...wristRooted.normalized[12])).toBeCloseTo(1, 14);
  });

  it('recovers the root depth from scale-normalised 2.5D (Iqbal et al.) on random hands', () => {
    const rand = rng(4);
    let worst = 0;
    let checked = 0;
    for (let trial = 0; trial < 300; trial++) {
      const xyz = randomHand(rand);
      const k = randomK(rand);
      const { uvd, rootDepth, scale } = xyzToUvd(xyz, k);
      const zNorm = recoverRootDepth(uvd, k);
      // Always a solution: the recovered hand's normalising bone has length 1.
      const hand = uvdToXyz(uvd, k, { rootDepth: zNorm, scale: 1 });
      expect(Math.hypot(...hand[10].map((v, c) => v - hand[9][c]))).toBeCloseTo(1, 9);
      // The larger root is the true one unless the bone points nearly along the viewing ray.
      if (Math.abs(uvd[10][2]) > 0.9) continue;
      checked++;
      worst = Math.max(worst, Math.abs(zNorm * scale - rootDepth) / rootDepth);
      // The whole hand, in scale units, then in metres.
      expect(
        maxDiff(
          hand.map((p) => p.map((v) => v * scale)),
          xyz,
        ),
      ).toBeLessThan(1e-9);
    }
    expect(checked).toBeGreaterThan(250);
    expect(worst).toBeLessThan(1e-10);
    // Batched, with another bone and a bone length that is not 1.
    const hands = [randomHand(rand), randomHand(rand)];
    const { uvd, rootDepth } = xyzToUvd(hands, K, { root: 0, ref: 9 });
    const bone = hands.map((h) => Math.hypot(...h[9].map((v, c) => v - h[0][c])));
    const z = recoverRootDepth(uvd, K, { root: 0, ref: 9, boneLength: 1 });
    z.forEach((v, b) => expect(Math.abs(v * bone[b] - rootDepth[b])).toBeLessThan(1e-12));
    const uvdMetres = uvd.map((h, b) => h.map(([u, v, d]) => [u, v, d * bone[b]]));
    const zMetres = recoverRootDepth(uvdMetres, K, { root: 0, ref: 9, boneLength: bone[0] });
    expect(Math.abs(zMetres[0] - rootDepth[0])).toBeLessThan(1e-12);
  });

  it('rejects bad shapes and options with named errors', () => {
    const hand = randomHand(rng(5));
    expect(() => projectPoints([[1, 2]] as never, K)).toThrow(
      'projectPoints: xyz must be an array [J][3] or [B][J][3], but received [1, 2].',
    );
    expect(() => projectPoints(hand, [K, K])).toThrow('projectPoints: K must be [3, 3], but received [2, 3, 3].');
    expect(() => projectPoints([hand, hand], [K])).toThrow(
      'projectPoints: K must be [3, 3] or [2, 3, 3], but received [1, 3, 3].',
    );
    expect(() => uvdToXyz(hand, K, {} as never)).toThrow('uvdToXyz: rootDepth must be given');
    expect(() => uvdToXyz([hand, hand], K, { rootDepth: [1, 2, 3] })).toThrow(
      'uvdToXyz: rootDepth must be a number, 2 numbers or a tensor [], [2] or [2, 1] (one per sample), but received [3].',
    );
    expect(() => normalizeHand(hand, { root: 9, ref: 9 })).toThrow(
      'normalizeHand: ref must be a joint other than root (9), but received 9.',
    );
    expect(() => recoverRootDepth(hand, K, { ref: 21 })).toThrow(
      'recoverRootDepth: ref must be a joint index < 21, but received 21.',
    );
    expect(() => recoverRootDepth(hand, K, { boneLength: 0 })).toThrow(
      'recoverRootDepth: boneLength must be a finite number > 0, but received 0.',
    );
  });
});

describe('Procrustes alignment', () => {
  it('recovers a known similarity transform exactly', () => {
    const rand = rng(6);
    for (let trial = 0; trial < 20; trial++) {
      const pred = randomHand(rand);
      const r = randomRotation(rand);
      const s = 0.5 + 2 * rand();
      const t = [rand(), rand() - 0.5, 2 * rand()];
      const gt = applySimilarity(pred, { rotation: r, scale: s, translation: t });
      const found = similarityTransform(pred, gt);
      expect(maxDiff(found.rotation, r)).toBeLessThan(1e-12);
      expect(Math.abs(found.scale - s)).toBeLessThan(1e-12);
      expect(Math.max(...found.translation.map((v, i) => Math.abs(v - t[i])))).toBeLessThan(1e-12);
      expect(maxDiff(procrustesAlign(pred, gt), gt)).toBeLessThan(1e-12);
      expect(det3(found.rotation)).toBeCloseTo(1, 12);
      // Rigid alignment keeps the scale at 1.
      expect(similarityTransform(pred, gt, { scale: false }).scale).toBe(1);
    }
  });

  it('reflections: a proper rotation by default, the mirror image with allowReflection (and in FreiHAND PA-MPJPE)', () => {
    const rand = rng(8);
    const pred = randomHand(rand);
    const mirror = [
      [-1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ];
    const r = randomRotation(rand).map((row) =>
      [0, 1, 2].map((j) => row[0] * mirror[0][j] + row[1] * mirror[1][j] + row[2] * mirror[2][j]),
    );
    const gt = applySimilarity(pred, { rotation: r, scale: 1.3, translation: [0.1, 0.2, 0.3] });
    const proper = similarityTransform(pred, gt);
    expect(det3(proper.rotation)).toBeCloseTo(1, 12);
    expect(mpjpe(gt, procrustesAlign(pred, gt))).toBeGreaterThan(1e-3);
    const improper = similarityTransform(pred, gt, { allowReflection: true });
    expect(det3(improper.rotation)).toBeCloseTo(-1, 12);
    expect(maxDiff(improper.rotation, r)).toBeLessThan(1e-12);
    expect(maxDiff(procrustesAlign(pred, gt, { allowReflection: true }), gt)).toBeLessThan(1e-12);
    expect(paMpjpe(gt, pred)).toBeLessThan(1e-8);
  });

  it("is optimal on noisy points and agrees with FreiHAND's alignment", () => {
    const rand = rng(9);
    const gt = randomHand(rand);
    const pred = gt.map((p) => p.map((v) => v + 0.01 * (rand() - 0.5)));
    const aligned = procrustesAlign(pred, gt);
    const best = mpjpe(gt, aligned);
    const freihand = freihandAlign(pred, gt);
    expect(maxDiff(freihand, aligned)).toBeLessThan(1e-7);
    const err2 = (pts: number[][]) => pts.reduce((s, p, i) => s + p.reduce((q, v, c) => q + (v - gt[i][c]) ** 2, 0), 0);
    const base = err2(aligned);
    const t = similarityTransform(pred, gt);
    for (let k = 0; k < 20; k++) {
      const small = randomRotation(rand).map((row, i) =>
        row.map((v, j) => (i === j ? 1 : 0) + 1e-3 * (v - (i === j ? 1 : 0))),
      );
      const rot = t.rotation.map((row) =>
        [0, 1, 2].map((j) => row[0] * small[0][j] + row[1] * small[1][j] + row[2] * small[2][j]),
      );
      const moved = applySimilarity(pred, { ...t, rotation: rot, scale: t.scale * (1 + 1e-3 * (rand() - 0.5)) });
      expect(err2(moved)).toBeGreaterThanOrEqual(base - 1e-15);
    }
    expect(best).toBeLessThan(mpjpe(gt, pred));
    // Batched alignment equals per-sample alignment; tensors are read as arrays.
    const batched = procrustesAlign([pred, gt], [gt, pred]);
    expect(maxDiff(batched[0], aligned)).toBe(0);
    expect(() => procrustesAlign(pred, gt.slice(1))).toThrow(
      'procrustesAlign: pred must be of the shape of gt [20, 3], but received [21, 3].',
    );
    expect(() => similarityTransform([[1, 2]] as never, [[1, 2]] as never)).toThrow(
      'similarityTransform: pred must be points [J, 3] (J ≥ 1), but received [1, 2].',
    );
  });

  it('says that no joints is the problem, not a shape mismatch of equal shapes', async () => {
    await useBackend('cpu');
    const none = tf.zeros([0, 3]);
    const two = tf.zeros([2, 3]);
    const batch = tf.zeros([2, 0, 3]);
    expect(() => similarityTransform(none, none)).toThrow(
      'similarityTransform: pred must be points [J, 3] with at least 1 joint, but received [0, 3].',
    );
    expect(() => similarityTransform(two, none)).toThrow(
      'similarityTransform: gt must be points [J, 3] with at least 1 joint, but received [0, 3].',
    );
    expect(() => procrustesAlign(none, none)).toThrow(
      'procrustesAlign: pred must be points [J, 3] or [N, J, 3] with at least 1 joint, but received [0, 3].',
    );
    expect(() => procrustesAlign(batch, batch)).toThrow(
      'procrustesAlign: pred must be points [J, 3] or [N, J, 3] with at least 1 joint, but received [2, 0, 3].',
    );
    expect(similarityTransform([[1, 2, 3]], [[4, 5, 6]]).translation).toEqual([4, 5, 6]); // one joint is enough
    tf.dispose([none, two, batch]);
  });

  it('degenerate sets do not give NaN', () => {
    const same = [
      [1, 1, 1],
      [1, 1, 1],
      [1, 1, 1],
    ];
    const gt = [
      [0, 0, 0],
      [1, 0, 0],
      [0, 2, 0],
    ];
    const t = similarityTransform(same, gt);
    expect(t.scale).toBe(0);
    expect(procrustesAlign(same, gt).flat().every(Number.isFinite)).toBe(true);
    // Collinear and planar sets align exactly onto transformed copies of themselves.
    const line = [0, 1, 2, 3].map((i) => [i, 2 * i, -i]);
    const r = randomRotation(rng(10));
    const moved = applySimilarity(line, { rotation: r, scale: 2, translation: [1, 0, 0] });
    expect(maxDiff(procrustesAlign(line, moved), moved)).toBeLessThan(1e-12);
    const plane = gt.concat([[1, 1, 0]]);
    const movedPlane = applySimilarity(plane, { rotation: r, scale: 0.5, translation: [0, 1, 0] });
    expect(maxDiff(procrustesAlign(plane, movedPlane), movedPlane)).toBeLessThan(1e-12);
  });
});

describe('Gaussian heatmaps (arrays)', () => {
  it('follow EHPE Eq. 1 (normalised density) or peak 1, channels-last', () => {
    const uv = [
      [10, 20],
      [31.5, 8.25],
    ];
    const h = gaussianHeatmapsArray(uv, { height: 40, width: 48, sigma: 2 });
    expect(h.length).toBe(40 * 48 * 2);
    const at = (y: number, x: number, j: number) => h[(y * 48 + x) * 2 + j];
    expect(at(20, 10, 0)).toBeCloseTo(1 / (8 * Math.PI), 7);
    let sum = 0;
    for (let y = 0; y < 40; y++) for (let x = 0; x < 48; x++) sum += at(y, x, 0);
    expect(sum).toBeCloseTo(1, 5);
    expect(at(8, 31, 1)).toBeCloseTo(Math.exp(-(0.25 + 0.0625) / 8) / (8 * Math.PI), 7);
    const peak = gaussianHeatmapsArray([uv], {
      height: 40,
      width: 48,
      sigma: [2, 3],
      normalize: 'peak',
      visible: [[1, 0]],
    });
    expect(peak[(20 * 48 + 10) * 2]).toBe(1);
    expect(peak.filter((v, i) => i % 2 === 1 && v !== 0).length).toBe(0);
    expect(() => gaussianHeatmapsArray(uv, { height: 4, width: 4, sigma: 0 })).toThrow(
      'gaussianHeatmapsArray: sigma must be a finite number > 0, but received 0.',
    );
    expect(() => gaussianHeatmapsArray(uv, { height: 4.5, width: 4 })).toThrow(
      'gaussianHeatmapsArray: height must be an integer ≥ 1, but received 4.5.',
    );
  });

  it('refuses a sigma so small that the float32 maps would be NaN, and leaks nothing on a visible mismatch', async () => {
    await useBackend('cpu');
    const uv = [
      [10, 20],
      [3, 3],
    ];
    for (const sigma of [1e-30, [1, 1e-25] as [number, number]]) {
      expect(() => gaussianHeatmaps(uv, { height: 8, width: 8, sigma })).toThrow(
        /^gaussianHeatmaps: sigma must be a number ≥ 1e-19 \(2σ² a normal float32\), but received 1e-\d+\.$/,
      );
      expect(() => gaussianHeatmapsArray(uv, { height: 8, width: 8, sigma })).toThrow(/sigma must be a number ≥ 1e-19/);
    }
    const before = tf.memory().numTensors;
    expect(() => gaussianHeatmaps(uv, { height: 8, width: 8, visible: [1, 0, 1] })).toThrow(
      'gaussianHeatmaps: visible must be [2] (one flag per joint), but received [3].',
    );
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuse a sigma that is neither a number nor a pair, and maps of more than 2^28 values, before allocating', async () => {
    await useBackend('cpu');
    const uv = [
      [10, 20],
      [3, 3],
    ];
    const before = tf.memory().numTensors;
    for (const [name, heatmaps] of [
      ['gaussianHeatmaps', gaussianHeatmaps],
      ['gaussianHeatmapsArray', gaussianHeatmapsArray],
    ] as const) {
      for (const sigma of [[1, 2, 3], [2], [], '2'])
        expect(() => heatmaps(uv, { height: 8, width: 8, sigma: sigma as never }), JSON.stringify(sigma)).toThrow(
          `${name}: sigma must be a number > 0 or a pair [σx, σy] of them, but received `,
        );
      expect(() => heatmaps(uv, { height: 8, width: 8, sigma: [1, -1] })).toThrow(
        `${name}: sigma must be a finite number > 0, but received -1.`,
      );
      expect(() => heatmaps(uv, { height: 1e12, width: 1e12 })).toThrow(
        `${name}: one map [height, width] must be of at most 268435456 (2^28) elements, but received '[1000000000000, 1000000000000]: 1e+24 elements'.`,
      );
      expect(() => heatmaps(uv, { height: 2 ** 31, width: 1 })).toThrow(PhalanxConfigError);
      // Each map fits, the batch does not: 4000 hands of 21 joints at 64 × 64.
      const batch = Array.from({ length: 4000 }, () => Array.from({ length: 21 }, () => [1, 2]));
      expect(() => heatmaps(batch, { height: 64, width: 64 })).toThrow(
        `${name}: the heatmaps [B, H, W, J] must be of at most 268435456 (2^28) elements, but received '[4000, 64, 64, 21]: 344064000 elements'.`,
      );
    }
    const big = tf.zeros([4000, 21, 2]);
    const empty = tf.zeros([0, 21, 2]);
    expect(() => gaussianHeatmaps(big, { height: 64, width: 64 })).toThrow(
      /the heatmaps \[B, H, W, J\] must be of at most/,
    );
    expect(() => gaussianHeatmaps(empty, { height: 2 ** 15, width: 2 ** 14 })).toThrow(/one map \[height, width\]/);
    // The largest map is allowed (for an empty batch only the coordinate ranges are allocated).
    const none = gaussianHeatmaps(empty, { height: 2 ** 14, width: 2 ** 14 });
    expect(none.shape).toEqual([0, 2 ** 14, 2 ** 14, 21]);
    tf.dispose([none, empty, big]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('auc refuses a curve that is not finite and thresholds that do not increase; linspace refuses more than 10⁷ points', () => {
    expect(() => auc([0, 1], [NaN, 1])).toThrow('auc: curve must be finite values, but received NaN.');
    for (const thresholds of [
      [0, 2, 1],
      [0, 1, 1],
      [2, 1, 0],
      [0, Number.NaN, 2],
      [0, 1, Infinity],
    ])
      expect(() => auc(thresholds, [0, 0.5, 1]), `[${thresholds}]`).toThrow(
        /auc: thresholds must be finite and strictly increasing/,
      );
    expect(() => linspace(0, 1, 1e12)).toThrow(
      'linspace: num must be an integer in [1, 10000000], but received 1000000000000.',
    );
    expect(linspace(0, 1, 3)).toEqual([0, 0.5, 1]);
  });

  it('linspace and auc take a range wider than the largest double; ordinary ranges give what they gave', () => {
    const max = Number.MAX_VALUE;
    expect(linspace(-1.7e308, 1.7e308, 3)).toEqual([-1.7e308, 0, 1.7e308]);
    expect(linspace(1.7e308, -1.7e308, 3)).toEqual([1.7e308, 0, -1.7e308]);
    expect(linspace(-max, max, 3)).toEqual([-max, 0, max]);
    const wide = linspace(-max, max, 1001);
    expect(wide.every((t, i) => Number.isFinite(t) && (i === 0 || t > wide[i - 1]))).toBe(true);
    expect(Math.abs(wide[500])).toBeLessThan(1e-15 * max); // 0 up to rounding
    expect(auc([-1.7e308, 1.7e308], [0, 1])).toBe(0.5);
    expect(auc([-max, 0, max], [0, 1, 1])).toBeCloseTo(0.75, 15);
    expect(auc([0, 1e308, 1.7e308], [1, 1, 1])).toBe(1);
    const step = wide.map((t) => (t > 0 ? 1 : 0));
    expect(auc(wide, step)).toBeCloseTo(0.4995, 12); // 499.5 of 1000 segments
    // Ordinary ranges: numpy's i·step + start and trapz(curve, t) / trapz(1, t), bit for bit.
    const rand = rng(31);
    for (let k = 0; k < 200; k++) {
      const [start, stop] = [(rand() - 0.5) * 10 ** (12 * rand()), (rand() - 0.5) * 10 ** (12 * rand())];
      const num = 2 + Math.floor(rand() * 40);
      const step = (stop - start) / (num - 1);
      const numpy = Array.from({ length: num }, (_, i) => (i === num - 1 ? stop : i * step + start));
      expect(linspace(start, stop, num)).toEqual(numpy);
      if (!(stop > start)) continue;
      const curve = numpy.map(() => rand());
      let area = 0;
      let norm = 0;
      for (let i = 0; i + 1 < num; i++) {
        area += ((numpy[i + 1] - numpy[i]) * (curve[i] + curve[i + 1])) / 2;
        norm += ((numpy[i + 1] - numpy[i]) * 2) / 2;
      }
      expect(auc(numpy, curve)).toBe(area / norm);
    }
  });
});

forEachBackend((backend) => {
  describe(`tensor paths (${backend})`, () => {
    const rand = rng(12);
    const hands = [randomHand(rand), randomHand(rand), randomHand(rand)];
    const ks = hands.map(() => randomK(rand));

    it('match the float64 array paths and leak no tensors', () => {
      const before = tf.memory().numTensors;
      const xyz = tf.tensor3d(hands);
      const kt = tf.tensor3d(ks);
      const uv = projectPoints(xyz, kt);
      expectClose(uv, projectPoints(hands, ks).flat(2), { rtol: 1e-5, atol: 1e-3 }, 'uv');
      const { uvd, rootDepth, scale } = xyzToUvd(xyz, kt);
      const ref = xyzToUvd(hands, ks);
      expectClose(uvd, ref.uvd.flat(2), { rtol: 1e-4, atol: 1e-3 }, 'uvd');
      expectClose(rootDepth, ref.rootDepth, { rtol: 1e-6, atol: 1e-7 }, 'rootDepth');
      expectClose(scale, ref.scale, { rtol: 1e-5, atol: 1e-7 }, 'scale');
      const back = uvdToXyz(uvd, kt, { rootDepth, scale });
      expectClose(back, hands.flat(2), { rtol: 1e-4, atol: 1e-5 }, 'round trip');
      const z = recoverRootDepth(uvd, kt);
      expect(z.shape).toEqual([3]);
      const zMetres = tf.mul(z, scale);
      expectClose(zMetres, ref.rootDepth, { rtol: 2e-3, atol: 0 }, 'root depth (float32)');
      zMetres.dispose();
      const n = normalizeHand(xyz);
      expectClose(n.normalized, normalizeHand(hands).normalized.flat(2), { rtol: 1e-4, atol: 1e-5 }, 'normalized');
      // Unbatched tensors with a shared K.
      const one = tf.tensor2d(hands[0]);
      const uv1 = projectPoints(one, K);
      expect(uv1.shape).toEqual([21, 2]);
      expectClose(uv1, projectPoints(hands[0], K).flat(), { rtol: 1e-5, atol: 1e-3 }, 'uv unbatched');
      tf.dispose([xyz, kt, uv, uvd, rootDepth, scale, back, z, n.normalized, n.rootPosition, n.scale, one, uv1]);
      expect(tf.memory().numTensors).toBe(before);
      expect(() => projectPoints(tf.zeros([2, 21, 2]), K)).toThrow(
        'projectPoints: points must be a tensor [J, 3] or [B, J, 3], but received [2, 21, 2].',
      );
    });

    it('heatmaps: tensor equals array version, masks, gradients flow to uv', () => {
      const uvArr = [
        [
          [3.3, 4.7],
          [10, 2],
        ],
        [
          [0, 0],
          [15, 11.5],
        ],
      ];
      const uv = tf.tensor3d(uvArr);
      const vis = [
        [1, 1],
        [0, 1],
      ];
      const maps = gaussianHeatmaps(uv, { height: 12, width: 16, sigma: 1.5, visible: vis });
      expect(maps.shape).toEqual([2, 12, 16, 2]);
      expectClose(
        maps,
        gaussianHeatmapsArray(uvArr, { height: 12, width: 16, sigma: 1.5, visible: vis }),
        { rtol: 1e-4, atol: 1e-7 },
        'heatmaps',
      );
      const single = gaussianHeatmaps(uvArr[0], { height: 12, width: 16, normalize: 'peak' });
      expect(single.shape).toEqual([12, 16, 2]);
      // d/du of the peak map's sum at x = 3.3 points toward the mass: finite and non-zero.
      const g = tf.grad((u: tf.Tensor) => tf.sum(gaussianHeatmaps(u, { height: 12, width: 16, sigma: 1.5 })))(uv);
      const gd = g.arraySync() as number[][][];
      expect(gd.flat(2).every(Number.isFinite)).toBe(true);
      expect(Math.abs(gd[0][0][0])).toBeGreaterThan(1e-4);
      tf.dispose([uv, maps, single, g]);
    });
  });
});
