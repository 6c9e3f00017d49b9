/**
 * Property tests of the soft-argmax cores against a float64 reference written from the definition
 * (test/reference.ts), on random small shapes — 1-pixel and odd, non-square maps — seeds, β and units.
 */
import * as tf from '@tensorflow/tfjs-core';
import { expectClose, forEachBackend, IN_BROWSER } from '@phalanx/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  centralDifference,
  dot,
  float32Values,
  latentReference,
  uniformStream,
  volumetricReference,
  type VolumeSpec,
} from '../../test/reference';
import { latentSoftArgmax25D, softArgmax25D, volumetricSoftArgmax25D } from './soft-argmax-25d';

// Tolerances. The keypoints are convex combinations of coordinates ≤ 5 (pixels) over at most
// 6·6·4 = 144 cells; float32 rounds each probability and each partial sum to ~6e-8 relative, so the
// worst case is ~144 · 6e-8 · 5 ≈ 4e-5 absolute — 1e-4 leaves margin and is still ~1e-5 of a pixel
// grid's extent. The probability maps are single softmax values (≤ 1) summed over ≤ 4 bins: 1e-6.
const KEYPOINT_TOLERANCE = { rtol: 1e-5, atol: 1e-4 };
const MAP_TOLERANCE = { rtol: 1e-5, atol: 1e-6 };
// Gradients: tfjs' float32 analytic gradient against a float64 central difference (exact to ~1e-9).
// They are products p·(coordinate − expectation) of size ≤ 5; float32 error ~1e-5 of that.
const GRADIENT_TOLERANCE = { rtol: 1e-3, atol: 1e-4 };

const sizes = fc.record({
  batch: fc.integer({ min: 1, max: 3 }),
  height: fc.integer({ min: 1, max: 6 }),
  width: fc.integer({ min: 1, max: 6 }),
  joints: fc.integer({ min: 1, max: 3 }),
  depth: fc.integer({ min: 2, max: 4 }),
});
const RUNS = IN_BROWSER ? 8 : 30;
const betas = fc.constantFrom(0.25, 1, 2.5, 7);

/** Compares the keypoints' gradient with respect to `input` at a few coordinates with the reference's. */
function expectGradientAt(
  loss: (x: tf.Tensor) => tf.Scalar,
  input: number[],
  shape: number[],
  referenceLoss: (x: number[]) => number,
  next: () => number,
): void {
  const x = tf.tensor(input, shape);
  const g = tf.grad(loss)(x);
  const grad = g.dataSync();
  const picks = Array.from({ length: 4 }, () => Math.floor(next() * input.length));
  expectClose(
    picks.map((i) => grad[i]),
    picks.map((i) => centralDifference(referenceLoss, input, i)),
    GRADIENT_TOLERANCE,
    'gradient',
  );
  tf.dispose([x, g]);
}

/** The layer with a trainable β per joint, its β gradient, and logits far beyond unit size. */
function perJointBetaProperty(backend: string): void {
  describe(`SoftArgmax25D per-joint β property (${backend})`, () => {
    it('the layer with trainable β [J] equals the reference; ∂/∂β matches; logits up to 1e30 stay exact', () => {
      fc.assert(
        fc.property(
          sizes,
          fc.boolean(),
          fc.constantFrom(3, 1e30),
          fc.integer({ min: 0, max: 2 ** 31 - 1 }),
          (dims, volumetric, scale, seed) => {
            const { batch, height, width, joints, depth } = dims;
            const next = uniformStream(seed);
            const beta = float32Values(next, joints, 2).map((v) => Math.fround(Math.abs(v) + 0.25));
            const channels = volumetric ? joints * depth : joints;
            const shape: [number, number, number, number] = [batch, height, width, channels];
            const count = batch * height * width * channels;
            const maps = float32Values(next, count, scale);
            const depthMap = float32Values(next, count, 2);
            const up = float32Values(next, batch * joints * 3);
            // Per joint: the volumetric reference at that joint's β (joints are independent).
            const reference = (b: readonly number[]): number[] => {
              if (!volumetric)
                return latentReference(maps, depthMap, { ...dims, beta: b, normalized: false }).keypoints;
              const perJoint = b.map(
                (bj) => volumetricReference(maps, { ...dims, beta: bj, normalized: false }).keypoints,
              );
              return perJoint[0].map((_, n) => perJoint[Math.floor(n / 3) % joints][n]);
            };
            const layer = softArgmax25D({
              mode: volumetric ? 'volumetric' : 'latent',
              numJoints: joints,
              depthBins: depth,
              trainableBeta: true,
            });
            const inputs = volumetric
              ? [tf.tensor4d(maps, shape)]
              : [tf.tensor4d(maps, shape), tf.tensor4d(depthMap, shape)];
            layer.build(inputs.map((t) => t.shape));
            const betaTensor = tf.tensor1d(beta);
            layer.setWeights([betaTensor]);
            const out = layer.apply(volumetric ? inputs[0] : inputs) as tf.Tensor;
            expectClose(out, reference(beta), KEYPOINT_TOLERANCE, 'keypoints');
            if (scale === 3) {
              const upstream = tf.tensor1d(up);
              const loss = (b: tf.Tensor): tf.Scalar => {
                const result = volumetric
                  ? volumetricSoftArgmax25D(inputs[0], joints, depth, { beta: b })
                  : latentSoftArgmax25D(inputs[0], inputs[1], { beta: b });
                return tf.sum(tf.mul(tf.reshape(result.keypoints, [-1]), upstream));
              };
              const g = tf.grad(loss)(betaTensor);
              const numeric = beta.map((_, i) => centralDifference((b) => dot(reference(b), up), beta, i));
              expectClose(g, numeric, GRADIENT_TOLERANCE, '∂/∂β');
              tf.dispose([upstream, g]);
            }
            tf.dispose([...inputs, betaTensor, out]);
            for (const w of layer.weights) w.dispose();
          },
        ),
        { seed: 2503, numRuns: RUNS },
      );
    });
  });
}

forEachBackend((backend) => {
  describe(`volumetricSoftArgmax25D property (${backend})`, () => {
    it('equals the float64 expectation over the softmax volume, and so do its gradients', () => {
      fc.assert(
        fc.property(sizes, betas, fc.boolean(), fc.integer({ min: 0, max: 2 ** 31 - 1 }), (dims, beta, norm, seed) => {
          const spec: VolumeSpec = { ...dims, beta, normalized: norm };
          const { batch, height, width, joints, depth } = spec;
          const shape = [batch, height, width, joints * depth];
          const next = uniformStream(seed);
          const volume = float32Values(
            next,
            shape.reduce((a, b) => a * b),
            3,
          );
          const up = float32Values(next, batch * joints * 3);
          const before = tf.memory().numTensors;
          const x = tf.tensor4d(volume, shape as [number, number, number, number]);
          const coordinates = norm ? 'normalized' : 'pixel';
          const options = { beta, coordinates, returnProbabilities: true } as const;
          const { keypoints, probabilities } = volumetricSoftArgmax25D(x, joints, depth, options);
          const truth = volumetricReference(volume, spec);
          expectClose(keypoints, { shape: [batch, joints, 3], data: truth.keypoints }, KEYPOINT_TOLERANCE, 'keypoints');
          expectClose(probabilities as tf.Tensor, truth.maps, MAP_TOLERANCE, 'probabilities');
          tf.dispose([x, keypoints, probabilities as tf.Tensor]);
          const upstream = tf.tensor1d(up);
          const loss = (v: tf.Tensor): tf.Scalar =>
            tf.sum(tf.mul(tf.reshape(volumetricSoftArgmax25D(v, joints, depth, options).keypoints, [-1]), upstream));
          expectGradientAt(loss, volume, shape, (v) => dot(volumetricReference(v, spec).keypoints, up), next);
          upstream.dispose();
          expect(tf.memory().numTensors).toBe(before);
        }),
        { seed: 2501, numRuns: RUNS },
      );
    });
  });

  describe(`latentSoftArgmax25D property (${backend})`, () => {
    it('equals the float64 heatmap expectation with a number or per-joint β, and so do its gradients', () => {
      const perJoint = fc.boolean();
      fc.assert(
        fc.property(
          sizes,
          betas,
          perJoint,
          fc.boolean(),
          fc.integer({ min: 0, max: 2 ** 31 - 1 }),
          (dims, b, pj, norm, seed) => {
            const { batch, height, width, joints } = dims;
            const next = uniformStream(seed);
            const beta = pj ? float32Values(next, joints, 2).map((v) => Math.fround(Math.abs(v) + 0.25)) : null;
            const spec = { ...dims, beta: beta ?? new Array<number>(joints).fill(b), normalized: norm };
            const shape: [number, number, number, number] = [batch, height, width, joints];
            const count = batch * height * width * joints;
            const heat = float32Values(next, count, 3);
            const depthMap = float32Values(next, count, 2);
            const up = float32Values(next, batch * joints * 3);
            const before = tf.memory().numTensors;
            const betaTensor = beta === null ? null : tf.tensor1d(beta);
            const options = {
              beta: betaTensor ?? b,
              coordinates: norm ? 'normalized' : 'pixel',
              returnProbabilities: true,
            } as const;
            const [h, d] = [tf.tensor4d(heat, shape), tf.tensor4d(depthMap, shape)];
            const { keypoints, probabilities } = latentSoftArgmax25D(h, d, options);
            const truth = latentReference(heat, depthMap, spec);
            expectClose(
              keypoints,
              { shape: [batch, joints, 3], data: truth.keypoints },
              KEYPOINT_TOLERANCE,
              'keypoints',
            );
            expectClose(probabilities as tf.Tensor, truth.maps, MAP_TOLERANCE, 'probabilities');
            const upstream = tf.tensor1d(up);
            const keypointsOf = (hm: tf.Tensor, dm: tf.Tensor): tf.Tensor =>
              tf.reshape(latentSoftArgmax25D(hm, dm, options).keypoints, [-1]);
            const viaHeat = (v: tf.Tensor): tf.Scalar => tf.sum(tf.mul(keypointsOf(v, d), upstream));
            const viaDepth = (v: tf.Tensor): tf.Scalar => tf.sum(tf.mul(keypointsOf(h, v), upstream));
            expectGradientAt(viaHeat, heat, shape, (v) => dot(latentReference(v, depthMap, spec).keypoints, up), next);
            expectGradientAt(viaDepth, depthMap, shape, (v) => dot(latentReference(heat, v, spec).keypoints, up), next);
            tf.dispose([h, d, keypoints, probabilities as tf.Tensor, upstream]);
            if (betaTensor !== null) betaTensor.dispose();
            expect(tf.memory().numTensors).toBe(before);
          },
        ),
        { seed: 2502, numRuns: RUNS },
      );
    });
  });

  perJointBetaProperty(backend);
});
