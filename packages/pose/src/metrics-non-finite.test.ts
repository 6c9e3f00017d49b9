/**
 * A metric over a NaN or ±Infinity coordinate is a named error, never a NaN (or Infinity) result: the
 * error names the metric, the argument and the entry. Masked-out keypoints are not read by the metrics
 * that skip them, and a refused batch leaves a KeypointEvaluator as it was.
 */
import * as tf from '@tensorflow/tfjs-core';
import { PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { thrownBy, useBackend } from '@phalanx/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { KeypointEvaluator } from './evaluator';
import { endPointErrors, freihandAlign, mpjpe, paMpjpe, trapezoid } from './metrics';
import { randomHand, rng } from '../test/hands';

const rand = rng(3);
const gt = [randomHand(rand), randomHand(rand)];
const pred = gt.map((hand) => hand.map((p) => p.map((v) => v + 0.01 * (rand() - 0.5))));

/** `x` with entry `[i][k][c]` replaced by `value`. */
function poisoned(x: number[][][], [i, k, c]: number[], value: number): number[][][] {
  return x.map((hand, a) => hand.map((p, b) => p.map((v, d) => (a === i && b === k && d === c ? value : v))));
}

const metrics: [string, (g: number[][][] | tf.Tensor, p: number[][][] | tf.Tensor) => unknown][] = [
  ['mpjpe', (g, p) => mpjpe(g, p)],
  ['paMpjpe', (g, p) => paMpjpe(g, p)],
  ['endPointErrors', (g, p) => endPointErrors(g, p)],
  ['KeypointEvaluator.feed', (g, p) => new KeypointEvaluator().feed(g, p)],
];

beforeAll(async () => {
  await useBackend('cpu');
});

describe('metrics refuse coordinates that are not finite', () => {
  it('names the metric, the argument and the entry, for NaN and ±Infinity in gt or pred', () => {
    for (const [name, metric] of metrics) {
      for (const value of [Number.NaN, Infinity, -Infinity]) {
        for (const [argument, at] of [
          ['pred', [1, 3, 2]],
          ['gt', [0, 20, 0]],
        ] as const) {
          const g = argument === 'gt' ? poisoned(gt, [...at], value) : gt;
          const p = argument === 'pred' ? poisoned(pred, [...at], value) : pred;
          const error = thrownBy(() => metric(g, p));
          expect(error).toBeInstanceOf(PhalanxConfigError);
          expect((error as Error).message).toBe(
            `${name}: ${argument}[${at.join('][')}] must be a finite number, but received ${value}.`,
          );
        }
      }
    }
  });

  it('reads tensors the same way, and names an unbatched entry without a sample index', () => {
    const g = tf.tensor3d(gt);
    const p = tf.tensor3d(poisoned(pred, [1, 7, 0], Number.NaN));
    for (const [name, metric] of metrics) {
      expect(() => metric(g, p)).toThrow(`${name}: pred[1][7][0] must be a finite number, but received NaN.`);
    }
    tf.dispose([g, p]);
    const hand = poisoned(pred, [0, 4, 1], Infinity)[0];
    expect(() => mpjpe(gt[0], hand)).toThrow('mpjpe: pred[4][1] must be a finite number, but received Infinity.');
    expect(() => freihandAlign(hand, gt[0])).toThrow(
      'freihandAlign: pred[4][1] must be a finite number, but received Infinity.',
    );
    expect(() => freihandAlign(gt[0], hand)).toThrow('freihandAlign: gt[4][1] must be a finite number');
  });

  it('finite coordinates whose distance overflows float64 are named too', () => {
    const far = [[[1e200, 0, 0]]];
    const near = [[[-1e200, 0, 0]]];
    expect(() => mpjpe(far, near)).toThrow(
      'mpjpe: pred[0][0] must be a keypoint at a finite distance from gt[0][0] (it overflows float64), but received [-1e+200, 0, 0].',
    );
  });

  it('mpjpe and feed do not read keypoints that visible masks out; paMpjpe, whose alignment reads all, does', () => {
    const vis = gt.map((hand) => hand.map((_, k) => (k === 5 ? 0 : 1)));
    const p = poisoned(pred, [1, 5, 0], Number.NaN);
    // Reference: the mean Euclidean distance over the visible keypoints, by hand.
    const visible = gt.flatMap((hand, i) =>
      hand.flatMap((q, k) => (k === 5 ? [] : [Math.hypot(...q.map((v, c) => v - pred[i][k][c]))])),
    );
    const expected = visible.reduce((s, v) => s + v, 0) / visible.length;
    expect(Math.abs(mpjpe(gt, p, vis) - expected)).toBeLessThan(1e-15);
    const m = new KeypointEvaluator().feed(gt, p, vis).measures({ min: 0, max: 0.05 });
    expect(m.counts[5]).toBe(0);
    expect(Number.isFinite(m.epeMean)).toBe(true);
    expect(() => paMpjpe(gt, p, vis)).toThrow('paMpjpe: pred[1][5][0] must be a finite number, but received NaN.');
  });

  it('a refused batch is not recorded: the evaluator measures what it measured before', () => {
    const ev = new KeypointEvaluator().feed(gt, pred);
    const before = ev.measures({ min: 0, max: 0.05 });
    // The NaN sits in the second sample: the first must not be recorded either.
    expect(() => ev.feed(gt, poisoned(pred, [1, 20, 2], Number.NaN))).toThrow(PhalanxConfigError);
    expect(ev.numSamples).toBe(2);
    expect(ev.errors(0)).toHaveLength(2);
    expect(ev.measures({ min: 0, max: 0.05 })).toEqual(before);
  });
});

describe('trapezoid', () => {
  it('is numpy.trapz for finite input and names a value that is not finite or an argument that is not an array', () => {
    // ∫ over [0, 1, 3] of the piecewise-linear curve through 0, 1, 1: 0.5 + 2.
    expect(trapezoid([0, 1, 1], [0, 1, 3])).toBe(2.5);
    expect(() => trapezoid([0, Number.NaN], [0, 1])).toThrow(
      'trapezoid: y[1] must be a finite number, but received NaN.',
    );
    expect(() => trapezoid([0, 1], [0, Infinity])).toThrow(
      'trapezoid: x[1] must be a finite number, but received Infinity.',
    );
    expect(() => trapezoid(null as never, [0, 1])).toThrow(
      new PhalanxShapeError('trapezoid', 'y', 'as long as x (2)', null),
    );
    expect(() => trapezoid([0, 1], undefined as never)).toThrow(
      'trapezoid: x must be an array of numbers, but received undefined.',
    );
  });
});
