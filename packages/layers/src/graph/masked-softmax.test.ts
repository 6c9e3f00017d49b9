import * as tf from '@tensorflow/tfjs-core';
import { expectNoTensorLeak, expectNumericGradient, forEachBackend } from '@phalanx/testing';
import { describe, expect, it } from 'vitest';
import { PhalanxShapeError } from '@phalanx/errors';
import { handAdjacency, hopNeighborhood } from './adjacency';
import { dynamicEdgeGAT, type DynamicEdgeGATArgs, knnNeighborhoodMask } from './dynamic-edge-gat';
import { maskedSoftmax } from './masked-softmax';

/** Deterministic pseudo-random values in [-1, 1). */
function values(count: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: count }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  });
}

/** Softmax of each row over the entries where `mask` is 1, in float64; 0 elsewhere. */
function hostMaskedSoftmax(scores: number[][], mask: number[][]): number[][] {
  return scores.map((row, i) => {
    const inside = row.map((_, j) => mask[i][j] === 1);
    const max = Math.max(...row.filter((_, j) => inside[j]));
    const e = row.map((v, j) => (inside[j] ? Math.exp(v - max) : 0));
    const total = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / total);
  });
}

/** A J × J 0/1 mask with a 1 on the diagonal and about half the other entries set. */
function randomMask(joints: number, seed: number): number[][] {
  const u = values(joints * joints, seed);
  return Array.from({ length: joints }, (_, i) =>
    Array.from({ length: joints }, (__, j) => (i === j || u[i * joints + j] > 0 ? 1 : 0)),
  );
}

/** Max |row sum − 1| of α `[..., J, J]` and the largest |α| outside the mask (which must be exactly 0). */
function rowStats(alpha: number[][], mask: number[][]): { sumError: number; outside: number; finite: boolean } {
  let sumError = 0;
  let outside = 0;
  let finite = true;
  alpha.forEach((row, i) => {
    sumError = Math.max(sumError, Math.abs(row.reduce((a, b) => a + b, 0) - 1));
    row.forEach((v, j) => {
      if (!Number.isFinite(v)) finite = false;
      if (mask[i][j] === 0) outside = Math.max(outside, Math.abs(v));
    });
  });
  return { sumError, outside, finite };
}

forEachBackend(() => {
  describe('maskedSoftmax', () => {
    it('refuses a mask that does not broadcast to the scores, and non-tensors, by name (not tfjs broadcast errors)', () => {
      const [scores, square, column, row] = [tf.zeros([2, 3]), tf.zeros([3, 3]), tf.zeros([2, 1]), tf.ones([1, 3])];
      const before = tf.memory().numTensors;
      const cases: [unknown, unknown, string][] = [
        [scores, square, "maskedSoftmax: mask must be broadcastable to the scores' shape [2, 3], but received [3, 3]."],
        [scores, column, "maskedSoftmax: mask must be broadcastable to the scores' shape [2, 3], but received [2, 1]."],
        [null, scores, 'maskedSoftmax: scores must be a tf.Tensor, but received null.'],
        [scores, [[1, 1, 1]], "maskedSoftmax: mask must be a tf.Tensor, but received 'object'."],
      ];
      for (const [s, m, message] of cases) {
        expect(() => maskedSoftmax(s as tf.Tensor, m as tf.Tensor), message).toThrow(PhalanxShapeError);
        expect(() => maskedSoftmax(s as tf.Tensor, m as tf.Tensor)).toThrow(message);
      }
      expect(tf.memory().numTensors).toBe(before);
      const broadcast = maskedSoftmax(scores, row); // a [1, 3] mask applies to every row
      expect(broadcast.shape).toEqual([2, 3]);
      tf.dispose([scores, square, column, row, broadcast]);
    });

    it('equals the float64 softmax over the mask at every score magnitude, exactly 0 outside it', () => {
      const joints = 7;
      let cases = 0;
      for (const [seed, scale] of [
        [1, 1],
        [2, 30],
        [3, 1e6],
        [4, 1e12],
        [5, 1e30],
      ] as const) {
        const mask = randomMask(joints, seed);
        const scores = values(joints * joints, seed + 10).map((v) => v * scale);
        const rows = Array.from({ length: joints }, (_, i) => scores.slice(i * joints, (i + 1) * joints));
        const alpha = tf.tidy(() => maskedSoftmax(tf.tensor2d(rows), tf.tensor2d(mask)).arraySync() as number[][]);
        const expected = hostMaskedSoftmax(rows, mask);
        alpha.forEach((row, i) =>
          row.forEach((v, j) => {
            if (mask[i][j] === 0) expect(v, `outside at ${i},${j} (scale ${scale})`).toBe(0);
            else expect(Math.abs(v - expected[i][j]), `α at ${i},${j} (scale ${scale})`).toBeLessThan(2e-6);
          }),
        );
        expect(rowStats(alpha, mask).sumError).toBeLessThan(2e-6);
        cases++;
      }
      expect(cases).toBe(5);
    });

    it('is not overwhelmed where an added −1e9 penalty is: masked-out scores 1e12 above the neighbours', () => {
      const scores = tf.tensor2d([
        [0, 1, 1e12],
        [2e12, 0, -3],
      ]);
      const mask = tf.tensor2d([
        [1, 1, 0],
        [0, 1, 1],
      ]);
      const alpha = maskedSoftmax(scores, mask);
      const a = alpha.arraySync() as number[][];
      expect(a[0][2]).toBe(0);
      expect(a[1][0]).toBe(0);
      expect(a[0][0] + a[0][1]).toBeCloseTo(1, 6);
      expect(a[0][1]).toBeCloseTo(Math.E / (1 + Math.E), 6);
      expect(a[1][1]).toBeCloseTo(1 / (1 + Math.exp(-3)), 6);
      tf.dispose([scores, mask, alpha]);
    });

    it('takes scores up to the largest float32 and ±∞; a NaN neighbour makes its row NaN, a masked-out one is ignored', () => {
      const run = (scores: number[], mask: number[]) =>
        tf.tidy(() => (maskedSoftmax(tf.tensor2d([scores]), tf.tensor2d([mask])).arraySync() as number[][])[0]);
      const close = (got: number[], want: number[]) =>
        got.forEach((v, j) => expect(Math.abs(v - want[j]), `[${got}] vs [${want}]`).toBeLessThan(1e-6));
      const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
      // Differences beyond the largest float32: 3e38 − 1e38 = 2e38 wins outright.
      expect(run([1e38, 3e38, -3e38], [1, 1, 0])).toEqual([0, 1, 0]);
      expect(run([-3.4e38, 3.4e38], [1, 1])).toEqual([0, 1]);
      // −∞ outside the mask (pre-masked scores) changes nothing; inside, it weighs 0.
      close(run([1, 2, -Infinity], [1, 1, 0]), [sigmoid(-1), sigmoid(1), 0]);
      close(run([-Infinity, 1, 2], [1, 1, 1]), [0, sigmoid(-1), sigmoid(1)]);
      expect(run([-Infinity, -Infinity, 5], [1, 1, 0])).toEqual([0, 0, 0]); // no finite neighbour: none
      expect(run([Infinity, 1, Infinity], [1, 1, 0])).toEqual([1, 0, 0]);
      expect(run([Infinity, 1, Infinity], [1, 1, 1])).toEqual([0.5, 0, 0.5]);
      // A NaN outside the mask is ignored like any masked-out score; inside, it makes its row NaN.
      close(run([1, 2, Number.NaN], [1, 1, 0]), [sigmoid(-1), sigmoid(1), 0]);
      const row = run([1, 2, Number.NaN], [1, 0, 1]);
      expect(row.every(Number.isNaN), `[${row}]`).toBe(true);
    });

    it('gives a row without neighbours all zeros, not NaN, and broadcasts the mask over leading axes', () => {
      const alpha = tf.tidy(
        () =>
          maskedSoftmax(
            tf.ones([2, 3, 2, 2]),
            tf.tensor2d([
              [0, 0],
              [1, 1],
            ]),
          ).arraySync() as number[][][][],
      );
      for (const row of alpha.flat(2)) expect(row.length).toBe(2);
      expect(alpha[1][2][0]).toEqual([0, 0]);
      expect(alpha[1][2][1]).toEqual([0.5, 0.5]);
    });

    it('has the softmax gradient on the mask and exactly 0 outside it', () => {
      const mask = tf.tensor2d(randomMask(5, 9));
      const scores = tf.tensor2d(
        values(25, 11).map((v) => 3 * v),
        [5, 5],
      );
      const weights = tf.tensor2d(values(25, 12), [5, 5]);
      const f = (s: tf.Tensor): tf.Scalar => tf.sum(tf.mul(maskedSoftmax(s, mask), weights));
      expectNumericGradient(f, [scores], { epsilon: 1e-2, samples: 25 });
      const grad = tf.grad(f)(scores);
      const g = grad.arraySync() as number[][];
      const m = mask.arraySync() as number[][];
      g.forEach((row, i) => row.forEach((v, j) => m[i][j] === 0 && expect(Math.abs(v)).toBe(0)));
      tf.dispose([mask, scores, weights, grad]);
    });

    it('leaks no tensors and names itself for a mask of the wrong size', async () => {
      const scores = tf.ones([2, 4, 4]);
      const mask = tf.ones([4, 4]);
      await expectNoTensorLeak(() => tf.dispose(maskedSoftmax(scores, mask)), 'maskedSoftmax');
      const before = tf.memory().numTensors;
      const bad = tf.ones([4, 3]);
      expect(() => maskedSoftmax(scores, bad)).toThrow(PhalanxShapeError);
      expect(() => maskedSoftmax(scores, bad)).toThrow(
        "maskedSoftmax: mask must be broadcastable to the scores' shape [2, 4, 4], but received [4, 3].",
      );
      expect(tf.memory().numTensors).toBe(before + 1);
      tf.dispose([scores, mask, bad]);
    });
  });
});

forEachBackend(() => {
  describe('DynamicEdgeGAT on inputs of large magnitude', () => {
    const cases: [string, Partial<DynamicEdgeGATArgs>, number][] = [
      ['additive, 1 hop', { attention: 'additive' }, 1e10],
      ['additive, 2 hops', { attention: 'additive', hops: 2 }, 1e10],
      ['dotProduct, 1 hop', { attention: 'dotProduct' }, 1e6],
      ['additive, knn', { attention: 'additive', neighborhood: 'knn', k: 4 }, 1e10],
    ];
    for (const [label, args, scale] of cases) {
      it(`α rows sum to 1 over N(i) and are exactly 0 outside it (${label}, |x| ~ ${scale})`, () => {
        const layer = dynamicEdgeGAT({ units: 4, heads: 2, returnAttention: true, ...args });
        const x = tf.tidy(() => tf.mul(tf.tensor3d(values(2 * 21 * 6, 31), [2, 21, 6]), scale));
        layer.build(x.shape);
        const seeded = layer.weights.map((w, i) => {
          const shape = w.shape as number[];
          return tf.tensor(
            values(
              shape.reduce((n, d) => n * d, 1),
              40 + i,
            ),
            shape,
          );
        });
        layer.setWeights(seeded);
        const before = tf.memory().numTensors;
        const [out, alpha] = layer.apply(x) as tf.Tensor[];
        const a = alpha.arraySync() as number[][][][];
        const masks: number[][][] =
          args.neighborhood === 'knn'
            ? tf.tidy(() => knnNeighborhoodMask(x, args.k!).arraySync() as number[][][])
            : [0, 1].map(() => hopNeighborhood(handAdjacency(), args.hops ?? 1));
        a.forEach((sample, b) =>
          sample.forEach((head) => {
            const stats = rowStats(head, masks[b]);
            expect(stats.finite).toBe(true);
            expect(stats.sumError, `row sums (sample ${b})`).toBeLessThan(1e-5);
            expect(stats.outside).toBe(0);
          }),
        );
        expect((out.arraySync() as number[][][]).flat(2).every(Number.isFinite)).toBe(true);
        tf.dispose([out, alpha]);
        expect(tf.memory().numTensors).toBe(before);
        tf.dispose([x, ...seeded]);
      });
    }
  });
});
