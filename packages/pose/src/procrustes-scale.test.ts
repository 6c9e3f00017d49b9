/**
 * Umeyama's similarity transform (`similarityTransform`, `procrustesAlign`) at any scale of finite coordinates:
 * its SVD forms products of squares of the entries of `GᵀP` — the coordinates to the eighth power — so hands of
 * ~1e38 and beyond came out wrong without a word (the Jacobi rotations were skipped), and NaN from ~1e155. The
 * alignment is now equivariant under a power of two exactly, and ordinary hands give bit for bit what the
 * unscaled formula gives.
 */
import { describe, expect, it } from 'vitest';
import { det3, svd3, type Matrix3 } from './linalg';
import { procrustesAlign, similarityTransform, type SimilarityTransform } from './geometry';
import { randomHand, randomRotation, rng } from '../test/hands';

/** The former `similarityTransform` (proper rotation, with scale): the reference for ordinary hands. */
function referenceTransform(p: number[][], g: number[][]): SimilarityTransform {
  const n = p.length;
  const pm = [0, 1, 2].map((c) => p.reduce((acc, q) => acc + q[c], 0) / n);
  const gm = [0, 1, 2].map((c) => g.reduce((acc, q) => acc + q[c], 0) / n);
  const m: Matrix3 = [
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
  ];
  let pNorm2 = 0;
  for (let k = 0; k < n; k++) {
    const pc = [p[k][0] - pm[0], p[k][1] - pm[1], p[k][2] - pm[2]];
    const gc = [g[k][0] - gm[0], g[k][1] - gm[1], g[k][2] - gm[2]];
    pNorm2 += pc[0] * pc[0] + pc[1] * pc[1] + pc[2] * pc[2];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) m[i][j] += gc[i] * pc[j];
  }
  const { U, S, V } = svd3(m);
  const d = det3(U) * det3(V) >= 0 ? 1 : -1;
  const rotation = [0, 1, 2].map((i) =>
    [0, 1, 2].map((j) => U[i][0] * V[j][0] + U[i][1] * V[j][1] + d * U[i][2] * V[j][2]),
  );
  let max = 0;
  for (const q of p) max = Math.max(max, Math.abs(q[0]), Math.abs(q[1]), Math.abs(q[2]));
  const noise = 3 * n * (n * Number.EPSILON * max) ** 2;
  const scale = pNorm2 > noise ? (S[0] + S[1] + d * S[2]) / pNorm2 : 0;
  const translation = [0, 1, 2].map(
    (i) => gm[i] - scale * (rotation[i][0] * pm[0] + rotation[i][1] * pm[1] + rotation[i][2] * pm[2]),
  );
  return { rotation, scale, translation };
}

const rand = rng(17);
const gt = Array.from({ length: 6 }, () => randomHand(rand));
/** gt rotated, halved, shifted and noisy: the transform back has scale ≈ 2. */
const pred = gt.map((hand) => {
  const r = randomRotation(rand);
  return hand.map((q) =>
    [0, 1, 2].map((i) => 0.5 * (r[i][0] * q[0] + r[i][1] * q[1] + r[i][2] * q[2]) - 0.1 + 0.002 * (rand() - 0.5)),
  );
});
const times = (hand: number[][], k: number): number[][] => hand.map((q) => q.map((v) => v * k));

describe('similarityTransform and procrustesAlign at any scale', () => {
  it('are exactly equivariant under powers of two from 2^-1000 to 2^1000', () => {
    for (let i = 0; i < gt.length; i++) {
      const base = similarityTransform(pred[i], gt[i]);
      expect(base.scale).toBeGreaterThan(1.9);
      for (const e of [-1000, -800, -500, -260, 260, 500, 800, 1000]) {
        const k = 2 ** e;
        const t = similarityTransform(times(pred[i], k), times(gt[i], k));
        expect(t.rotation, `hand ${i} at 2^${e}`).toEqual(base.rotation);
        expect(t.scale, `hand ${i} at 2^${e}`).toBe(base.scale);
        expect(t.translation, `hand ${i} at 2^${e}`).toEqual(base.translation.map((v) => v * k));
      }
    }
  });

  it('align hands of 1e40 to 1e300 and 1e-100 to 1e-300 as the same hands in metres, to rounding', () => {
    for (const k of [1e40, 1e60, 1e100, 1e200, 1e300, 1e-100, 1e-200, 1e-300]) {
      const expected = procrustesAlign(pred[0], gt[0]);
      const aligned = procrustesAlign(times(pred[0], k), times(gt[0], k));
      aligned.forEach((q, j) =>
        q.forEach((v, c) =>
          expect(Math.abs(v / k - expected[j][c]), `aligned[${j}][${c}] at ${k}`).toBeLessThan(1e-12),
        ),
      );
    }
  });

  it('are bit for bit the former formula for ordinary hands (1e-6 to 1e30)', () => {
    for (const k of [1, 1000, 1e-6, 1e-3, 0.3, 7e5, 1e15, 1e30]) {
      for (let i = 0; i < gt.length; i++) {
        const p = times(pred[i], k);
        const g = times(gt[i], k);
        expect(similarityTransform(p, g), `hand ${i} at ${k}`).toEqual(referenceTransform(p, g));
      }
    }
  });
});
