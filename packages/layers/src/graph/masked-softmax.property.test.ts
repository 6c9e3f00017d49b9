/**
 * Property tests of maskedSoftmax against a float64 softmax over each row's unmasked entries
 * (test/reference.ts): random ranks 2–4, row lengths including 1, masks shared, per-sample or broadcast
 * (rows without neighbours included), scores from unit size to 1e30.
 */
import * as tf from '@tensorflow/tfjs-core';
import { expectClose, forEachBackend, IN_BROWSER } from '@phalanx/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectGradientsMatchReference } from '../../test/property-checks';
import { dot, float32Values, maskedSoftmaxReference, uniformStream } from '../../test/reference';
import { maskedSoftmax } from './masked-softmax';

const RUNS = IN_BROWSER ? 10 : 60;
/** The largest finite float32. */
const FLOAT32_MAX = 3.4028234663852886e38;
// Gradients α(dy − Σ α dy) at unit-size scores: float32 vs a float64 central difference, 1e-4.
const GRADIENT_TOLERANCE = { rtol: 1e-4, atol: 1e-4 };

const cases = fc.record({
  lead: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 0, maxLength: 2 }),
  rows: fc.integer({ min: 1, max: 5 }),
  cols: fc.integer({ min: 1, max: 5 }),
  maskForm: fc.constantFrom('shared', 'full', 'broadcast'),
  scale: fc.constantFrom(1, 30, 1e4, 1e30),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
});

/** The mask's shape: `[R, C]` (shared), the scores' shape (full), or the scores' with leading axes 1. */
function maskShape(shape: number[], form: string): number[] {
  if (form === 'shared') return shape.slice(-2);
  if (form === 'full') return shape;
  return shape.map((d, i) => (i < shape.length - 2 ? 1 : d));
}

/** The mask `m` of shape `mShape` expanded to `shape` (broadcast from the last axis). */
function expandMask(m: number[], mShape: number[], shape: number[]): number[] {
  const size = shape.reduce((a, b) => a * b, 1);
  const offset = shape.length - mShape.length;
  return Array.from({ length: size }, (_, flat) => {
    let rest = flat;
    let index = 0;
    let stride = 1;
    for (let axis = shape.length - 1; axis >= 0; axis--) {
      const coordinate = rest % shape[axis];
      rest = Math.floor(rest / shape[axis]);
      if (axis >= offset) {
        const d = mShape[axis - offset];
        index += (d === 1 ? 0 : coordinate) * stride;
        stride *= d;
      }
    }
    return m[index];
  });
}

forEachBackend((backend) => {
  describe(`maskedSoftmax property (${backend})`, () => {
    it('equals a float64 softmax over each row’s unmasked entries, 0 elsewhere; gradients at unit scale', () => {
      fc.assert(
        fc.property(cases, (c) => {
          const shape = [...c.lead, c.rows, c.cols];
          const next = uniformStream(c.seed);
          const size = shape.reduce((a, b) => a * b, 1);
          const scores = float32Values(next, size, c.scale);
          const mShape = maskShape(shape, c.maskForm);
          const mask = Array.from({ length: mShape.reduce((a, b) => a * b, 1) }, () => (next() < 0.6 ? 1 : 0));
          const full = expandMask(mask, mShape, shape);
          const truth = maskedSoftmaxReference(scores, full, c.cols);
          // The documented precision: scores closer than ~2⁻²⁴ of the row's range are not told apart, so α
          // is exact to a relative 4·range·2⁻²⁴ (≤ 5e-3 at scale 1e4); at 1e30 random rows are one-hot by
          // gaps ≫ that, compared to 1e-2. Plus 2e-6 absolute for the float32 exp and normalisation.
          const rtol = Math.min(1e-2, Math.max(1e-6, 8 * c.scale * 2 ** -24));
          const before = tf.memory().numTensors;
          const [s, m] = [tf.tensor(scores, shape), tf.tensor(mask, mShape)];
          const alpha = maskedSoftmax(s, m);
          expectClose(alpha, { shape, data: truth }, { rtol, atol: 2e-6 }, `α at scale ${c.scale}`);
          const outside = Array.from(alpha.dataSync()).filter((_, i) => full[i] === 0);
          expect(outside.every((v) => v === 0)).toBe(true);
          tf.dispose([s, alpha]);
          if (c.scale === 1) {
            const up = float32Values(next, size);
            const upstream = tf.tensor(up, shape);
            const loss = (x: tf.Tensor): tf.Scalar => tf.sum(tf.mul(maskedSoftmax(x, m), upstream));
            const reference = ([x]: number[][]): number => dot(maskedSoftmaxReference(x, full, c.cols), up);
            expectGradientsMatchReference(loss, [{ values: scores, shape }], reference, next, GRADIENT_TOLERANCE, 4);
            upstream.dispose();
          }
          m.dispose();
          expect(tf.memory().numTensors).toBe(before);
        }),
        { seed: 6101, numRuns: RUNS },
      );
    });

    it('follows the documented ±∞ and NaN rules: −∞ weighs 0, +∞ take the row, NaN inside poisons it', () => {
      const special = fc.record({
        lead: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 0, maxLength: 1 }),
        rows: fc.integer({ min: 1, max: 4 }),
        cols: fc.integer({ min: 1, max: 6 }),
        scale: fc.constantFrom(1, 1e30, FLOAT32_MAX),
        seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      });
      fc.assert(
        fc.property(special, (c) => {
          const shape = [...c.lead, c.rows, c.cols];
          const next = uniformStream(c.seed);
          const size = shape.reduce((a, b) => a * b, 1);
          // About a quarter special: ±∞, NaN and ±FLOAT32_MAX (finite, and what the clip maps ±∞ to).
          const scores = float32Values(next, size, c.scale).map((v) => {
            const u = next();
            if (u < 0.08) return Infinity;
            if (u < 0.16) return -Infinity;
            if (u < 0.2) return Number.NaN;
            if (u < 0.23) return -FLOAT32_MAX;
            return u < 0.26 ? FLOAT32_MAX : v;
          });
          const mask = Array.from({ length: c.rows * c.cols }, () => (next() < 0.6 ? 1 : 0));
          const truth = maskedSoftmaxReference(scores, expandMask(mask, [c.rows, c.cols], shape), c.cols);
          const [s, m] = [tf.tensor(scores, shape), tf.tensor2d(mask, [c.rows, c.cols])];
          const alpha = maskedSoftmax(s, m);
          const got = Array.from(alpha.dataSync());
          tf.dispose([s, m, alpha]);
          // A NaN row must be NaN; elsewhere float32's precision over the row's range (1e-2 at these scales,
          // where random rows are one-hot or exact ties).
          const nan = truth.map(Number.isNaN);
          expect(got.map(Number.isNaN)).toEqual(nan);
          const finite = (xs: number[]): number[] => xs.filter((_, i) => !nan[i]);
          const rtol = c.scale === 1 ? 1e-5 : 1e-2;
          expectClose(finite(got), finite(truth), { rtol, atol: 2e-6 }, `α with special scores at scale ${c.scale}`);
        }),
        { seed: 6102, numRuns: IN_BROWSER ? 20 : 300 },
      );
    });
  });
});
