/**
 * Property tests of the joint feature sampler against a float64 bilinear interpolation written from its
 * definition (`Σ max(0, 1 − |x − w|)·max(0, 1 − |y − h|)·f[h, w]`, test/reference.ts): random maps from
 * 1×1 to 5×5 (non-square), points inside, on and beyond the border, and on integer coordinates.
 */
import * as tf from '@tensorflow/tfjs-core';
import { expectClose, forEachBackend, IN_BROWSER } from '@phalanx/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectGradientsMatchReference } from '../../test/property-checks';
import { dot, float32Values, sampleReference, uniformStream } from '../../test/reference';
import { jointFeatureSampler, sampleJointFeatures } from './joint-feature-sampler';

// Tolerances. Each output mixes at most 4 features ≤ 2 with weights that float32 computes to ~1e-7
// (the fractions t − ⌊t⌋ are exact): 1e-5 absolute, 1e-5 relative. The gradients are the same kind of
// sums (features · upstream ≤ 2): 1e-4 against float64 differences.
const VALUE_TOLERANCE = { rtol: 1e-5, atol: 1e-5 };
const GRADIENT_TOLERANCE = { rtol: 1e-4, atol: 1e-4 };
const RUNS = IN_BROWSER ? 10 : 50;

const cases = fc.record({
  batch: fc.integer({ min: 1, max: 3 }),
  height: fc.integer({ min: 1, max: 5 }),
  width: fc.integer({ min: 1, max: 5 }),
  channels: fc.integer({ min: 1, max: 4 }),
  joints: fc.integer({ min: 1, max: 5 }),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
});
type Case = typeof cases extends fc.Arbitrary<infer T> ? T : never;

/** Points (x, y) in [−1.5, W + 0.5] × [−1.5, H + 0.5], float32; `integers` rounds them to whole pixels. */
function drawPoints(c: Case, next: () => number, integers: boolean): number[] {
  return Array.from({ length: c.batch * c.joints * 2 }, (_, n) => {
    const extent = n % 2 === 0 ? c.width : c.height;
    const t = next() * (extent + 2) - 1.5;
    return Math.fround(integers ? Math.round(t) : t);
  });
}

forEachBackend((backend) => {
  describe(`sampleJointFeatures property (${backend})`, () => {
    it('equals float64 bilinear interpolation with zeros outside; gradients in features and points', () => {
      fc.assert(
        fc.property(cases, (c) => {
          const { batch, height, width, channels, joints } = c;
          const next = uniformStream(c.seed);
          const features = float32Values(next, batch * height * width * channels, 2);
          const points = drawPoints(c, next, false);
          const fShape = [batch, height, width, channels];
          const pShape = [batch, joints, 2];
          const truth = sampleReference(features, points, c);
          const before = tf.memory().numTensors;
          const [f, p] = [tf.tensor(features, fShape), tf.tensor(points, pShape)];
          const out = sampleJointFeatures(f, p);
          expectClose(out, { shape: [batch, joints, channels], data: truth }, VALUE_TOLERANCE, 'core');
          const layerOut = jointFeatureSampler().apply([f, p]) as tf.Tensor;
          expectClose(layerOut, truth, VALUE_TOLERANCE, 'layer');
          tf.dispose([f, p, out, layerOut]);
          const up = float32Values(next, truth.length);
          const upstream = tf.tensor(up, [batch, joints, channels]);
          const loss = (fv: tf.Tensor, pv: tf.Tensor): tf.Scalar =>
            tf.sum(tf.mul(sampleJointFeatures(fv, pv), upstream));
          const reference = ([fv, pv]: number[][]): number => dot(sampleReference(fv, pv, c), up);
          const inputs = [
            { values: features, shape: fShape },
            { values: points, shape: pShape },
          ];
          expectGradientsMatchReference(
            loss as (...xs: tf.Tensor[]) => tf.Scalar,
            inputs,
            reference,
            next,
            GRADIENT_TOLERANCE,
            4,
          );
          upstream.dispose();
          expect(tf.memory().numTensors).toBe(before);
        }),
        { seed: 7101, numRuns: RUNS },
      );
    });

    it('at integer coordinates returns the pixel (0 outside) and the right-sided derivative in the points', () => {
      fc.assert(
        fc.property(cases, (c) => {
          const { batch, height, width, channels, joints } = c;
          const next = uniformStream(c.seed);
          const features = float32Values(next, batch * height * width * channels, 2);
          const points = drawPoints(c, next, true);
          const up = float32Values(next, batch * joints * channels);
          const [f, p] = [
            tf.tensor4d(features, [batch, height, width, channels]),
            tf.tensor3d(points, [batch, joints, 2]),
          ];
          const upstream = tf.tensor3d(up, [batch, joints, channels]);
          const out = sampleJointFeatures(f, p);
          expectClose(out, sampleReference(features, points, c), VALUE_TOLERANCE, 'value at integer points');
          const g = tf.grad((pv: tf.Tensor) => tf.sum(tf.mul(sampleJointFeatures(f, pv), upstream)))(p);
          // The reference is piecewise linear in each coordinate: (L(t + h) − L(t))/h is its exact right derivative.
          const h = 1e-3;
          const loss = (pv: number[]): number => dot(sampleReference(features, pv, c), up);
          const rightSided = points.map((_, i) => {
            const shifted = points.slice();
            shifted[i] += h;
            return (loss(shifted) - loss(points)) / h;
          });
          expectClose(g, rightSided, GRADIENT_TOLERANCE, 'right-sided ∂/∂points');
          tf.dispose([f, p, upstream, out, g]);
        }),
        { seed: 7102, numRuns: RUNS },
      );
    });
  });
});
