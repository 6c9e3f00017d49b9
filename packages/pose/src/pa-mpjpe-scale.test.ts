/**
 * PA-MPJPE (FreiHAND's `align_w_scale`, then the mean end-point error) at any scale of finite coordinates:
 * hands of 1e200 m or 1e-200 m give the protocol's value scaled, not NaN or 0, and ordinary hands give bit for
 * bit what the unscaled protocol gives.
 */
import { describe, expect, it } from 'vitest';
import { svd3, type Matrix3 } from './linalg';
import { freihandAlign, paMpjpe } from './metrics';
import { randomHand, randomRotation, rng } from '../test/hands';

/** FreiHAND's `align_w_scale` as written (the former `freihandAlign`): the reference for ordinary hands. */
function referenceAlign(p: number[][], g: number[][]): number[][] {
  const n = g.length;
  const t1 = [0, 1, 2].map((c) => g.reduce((s, q) => s + q[c], 0) / n);
  const t2 = [0, 1, 2].map((c) => p.reduce((s, q) => s + q[c], 0) / n);
  const a = g.map((q) => q.map((x, c) => x - t1[c]));
  const b = p.map((q) => q.map((x, c) => x - t2[c]));
  const frob = (m: number[][]): number => Math.sqrt(m.reduce((s, q) => s + q[0] * q[0] + q[1] * q[1] + q[2] * q[2], 0));
  const s1 = frob(a) + 1e-8;
  const s2 = frob(b) + 1e-8;
  const an = a.map((q) => q.map((x) => x / s1));
  const bn = b.map((q) => q.map((x) => x / s2));
  const m: Matrix3 = [0, 1, 2].map((i) => [0, 1, 2].map((j) => an.reduce((s, q, k) => s + q[i] * bn[k][j], 0)));
  const { U, S, V } = svd3(m);
  const r = [0, 1, 2].map((i) => [0, 1, 2].map((j) => U[i][0] * V[j][0] + U[i][1] * V[j][1] + U[i][2] * V[j][2]));
  const scale = S[0] + S[1] + S[2];
  return bn.map((q) => [0, 1, 2].map((i) => (q[0] * r[i][0] + q[1] * r[i][1] + q[2] * r[i][2]) * scale * s1 + t1[i]));
}

/** The former `paMpjpe` of one batch: mean of `√(Σ d²)` over every joint, summed in order. */
function referencePaMpjpe(gt: number[][][], pred: number[][][]): number {
  let total = 0;
  let count = 0;
  gt.forEach((hand, i) => {
    const aligned = referenceAlign(pred[i], hand);
    hand.forEach((q, k) => {
      total += Math.sqrt(q.reduce((s, v, c) => s + (v - aligned[k][c]) ** 2, 0));
      count++;
    });
  });
  return total / count;
}

const rand = rng(11);
/** Hands in metres; predictions rotated, scaled, shifted and noisy (PA-MPJPE a few millimetres). */
const gt = Array.from({ length: 6 }, () => randomHand(rand));
const pred = gt.map((hand) => {
  const r = randomRotation(rand);
  return hand.map((q) =>
    [0, 1, 2].map((i) => 1.3 * (r[i][0] * q[0] + r[i][1] * q[1] + r[i][2] * q[2]) + 0.2 + 0.004 * (rand() - 0.5)),
  );
});
const times = (x: number[][][], k: number): number[][][] => x.map((h) => h.map((q) => q.map((v) => v * k)));

describe('paMpjpe and freihandAlign at any scale', () => {
  it('give the protocol’s value scaled for hands of 1e160 to 1e300 (before: NaN)', () => {
    // In millimetres FreiHAND's +1e-8 is negligible against the hands' extent, so the value scales with them.
    const mm = referencePaMpjpe(times(gt, 1000), times(pred, 1000));
    expect(mm).toBeGreaterThan(1);
    for (const k of [2 ** 520, 1e160, 1e200, 1e250, 1e300]) {
      const value = paMpjpe(times(gt, 1000 * k), times(pred, 1000 * k));
      expect(Math.abs(value / k / mm - 1), `PA-MPJPE at ${k}: ${value}`).toBeLessThan(1e-9);
      const aligned = freihandAlign(times(pred, 1000 * k)[0], times(gt, 1000 * k)[0]);
      const expected = referenceAlign(times(pred, 1000)[0], times(gt, 1000)[0]);
      // Within 1e-9 of the hand's extent (~1000 mm): the +1e-8 the millimetre reference adds moves it by ~2e-8 mm.
      aligned.forEach((q, j) =>
        q.forEach((v, c) => expect(Math.abs(v / k - expected[j][c]), `aligned[${j}][${c}] at ${k}`).toBeLessThan(1e-6)),
      );
    }
  });

  it('give the protocol’s value scaled for hands of 1e-160 to 1e-300 (before: 0)', () => {
    // There FreiHAND's +1e-8 dominates: no rotation or scale, pred lands on gt's centroid, and PA-MPJPE is
    // the mean distance of gt's joints from their centroid.
    for (const k of [1e-160, 1e-200, 1e-250, 1e-300]) {
      const g = times(gt, k);
      let spread = 0;
      for (const hand of gt) {
        const centroid = [0, 1, 2].map((c) => hand.reduce((s, q) => s + q[c], 0) / hand.length);
        for (const q of hand) spread += Math.hypot(q[0] - centroid[0], q[1] - centroid[1], q[2] - centroid[2]);
      }
      spread /= gt.length * gt[0].length;
      const value = paMpjpe(g, times(pred, k));
      expect(Math.abs(value / k / spread - 1), `PA-MPJPE at ${k}: ${value}`).toBeLessThan(1e-12);
    }
  });

  it('stay finite for coordinates near the largest double', () => {
    const value = paMpjpe(times(gt, 1e307), times(pred, 1e307));
    expect(Number.isFinite(value), String(value)).toBe(true);
    expect(Math.abs(value / 1e307 / referencePaMpjpe(gt, pred) - 1)).toBeLessThan(1e-6);
  });

  it('name a mean error beyond the largest double (joints ~2.9e308 from where they align)', () => {
    const corner = 1.7e308;
    const cube = [-1, 1].flatMap((x) =>
      [-1, 1].flatMap((y) => [-1, 1].map((z) => [x * corner, y * corner, z * corner])),
    );
    const point = cube.map(() => [0, 0, 0]); // aligns onto the cube's centre: every error √3 · 1.7e308
    expect(() => paMpjpe(cube, point)).toThrow(
      'paMpjpe: pred must be keypoints whose PA-MPJPE is at most the largest double, but received keypoints whose PA-MPJPE overflows float64.',
    );
    expect(
      paMpjpe(
        cube.map((q) => q.map((v) => v / 2)),
        point,
      ) /
        (Math.sqrt(3) * 0.85e308),
    ).toBeCloseTo(1, 12);
  });

  it('are bit for bit the unscaled protocol for ordinary hands (metres, millimetres, 1e-6 to 1e100)', () => {
    for (const k of [1, 1000, 1e-6, 1e-3, 1e6, 1e100]) {
      const g = times(gt, k);
      const p = times(pred, k);
      expect(paMpjpe(g, p), `scale ${k}`).toBe(referencePaMpjpe(g, p));
      g.forEach((hand, i) => expect(freihandAlign(p[i], hand)).toEqual(referenceAlign(p[i], hand)));
    }
  });
});
