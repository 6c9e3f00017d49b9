/**
 * Property tests of LastAxisLayerNormalization and the channel affine map against float64 references
 * written from their formulas (test/reference.ts): random ranks, widths including 1 and odd sizes,
 * ε, with and without γ / β, offsets that make the mean large against the spread.
 */
import * as tf from '@tensorflow/tfjs-core';
import { expectClose, forEachBackend, IN_BROWSER } from '@phalanx/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectGradientsMatchReference } from '../../test/property-checks';
import { dot, float32Values, layerNormReference, uniformStream } from '../../test/reference';
import { affineChannels, channelAffine } from './channel-affine';
import { lastAxisLayerNormalization } from './last-axis-layer-norm';

const RUNS = IN_BROWSER ? 10 : 50;

const leading = fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 });
const seeds = fc.integer({ min: 0, max: 2 ** 31 - 1 });

forEachBackend((backend) => {
  describe(`LastAxisLayerNormalization property (${backend})`, () => {
    it('equals (x − μ)/√(σ² + ε)·γ + β over the last axis in float64; input gradient included', () => {
      const options = fc.record({
        lead: leading,
        width: fc.integer({ min: 1, max: 7 }),
        epsilon: fc.constantFrom(1e-5, 1e-3, 0.1),
        scale: fc.boolean(),
        center: fc.boolean(),
        offset: fc.constantFrom(0, 10),
        seed: seeds,
      });
      fc.assert(
        fc.property(options, (c) => {
          const shape = [...c.lead, c.width];
          const next = uniformStream(c.seed);
          const size = shape.reduce((a, b) => a * b, 1);
          const x = float32Values(next, size, 2).map((v) => Math.fround(v + c.offset));
          const gamma = c.scale ? float32Values(next, c.width, 2) : null;
          const beta = c.center ? float32Values(next, c.width) : null;
          const layer = lastAxisLayerNormalization({ axis: -1, epsilon: c.epsilon, scale: c.scale, center: c.center });
          layer.build(shape);
          const weights = [...(gamma ? [tf.tensor1d(gamma)] : []), ...(beta ? [tf.tensor1d(beta)] : [])];
          layer.setWeights(weights);
          // Float32 error: μ is rounded to ~|offset + 2|·6e-8·width, which shifts every x − μ by that; over
          // σ ≥ √ε ≥ 3e-3 (σ of spread-2 values is typically ~1) and times |γ| ≤ 2 that is ≤ 1e-4 at
          // offset 10 in the worst case; 5e-5 + 1e-5·offset absolute, 1e-4 relative.
          const tolerance = { rtol: 1e-4, atol: 5e-5 + 1e-5 * c.offset };
          const xt = tf.tensor(x, shape);
          const y = layer.apply(xt) as tf.Tensor;
          const truth = layerNormReference(x, gamma, beta, c.width, c.epsilon);
          expectClose(y, { shape, data: truth }, tolerance, 'output');
          tf.dispose([xt, y]);
          const up = float32Values(next, size);
          const upstream = tf.tensor(up, shape);
          const loss = (v: tf.Tensor): tf.Scalar => tf.sum(tf.mul(layer.apply(v) as tf.Tensor, upstream));
          const reference = ([v]: number[][]): number =>
            dot(layerNormReference(v, gamma, beta, c.width, c.epsilon), up);
          // ∂/∂x = γ/σ·(dy − mean dy − x̂·mean(dy·x̂)) ≤ ~2/√ε·… : relative 1e-3 against the float64 difference.
          const gradientTolerance = { rtol: 1e-3, atol: 1e-3 + 1e-4 * c.offset };
          expectGradientsMatchReference(loss, [{ values: x, shape }], reference, next, gradientTolerance, 3);
          tf.dispose([upstream, ...weights]);
          for (const w of layer.weights) w.dispose();
        }),
        { seed: 8101, numRuns: RUNS },
      );
    });
  });

  describe(`channel affine property (${backend})`, () => {
    it('affineChannels and ChannelAffine equal x·s + t (then max(·, 0)) per channel in float64', () => {
      const options = fc.record({
        lead: leading,
        channels: fc.integer({ min: 1, max: 7 }),
        relu: fc.boolean(),
        seed: seeds,
      });
      fc.assert(
        fc.property(options, (c) => {
          const shape = [...c.lead, c.channels];
          const next = uniformStream(c.seed);
          const size = shape.reduce((a, b) => a * b, 1);
          const x = float32Values(next, size, 3);
          const s = float32Values(next, c.channels, 2);
          const t = float32Values(next, c.channels, 2);
          const truth = x.map((v, n) => {
            const y = v * s[n % c.channels] + t[n % c.channels];
            return c.relu ? Math.max(y, 0) : y;
          });
          // One product and one sum of values ≤ 6 and ≤ 2: ≤ 2 roundings of ~6e-8·8, so 2e-6 absolute.
          const tolerance = { rtol: 1e-6, atol: 2e-6 };
          const activation = c.relu ? 'relu' : 'linear';
          const before = tf.memory().numTensors;
          const [xt, st, tt] = [tf.tensor(x, shape), tf.tensor1d(s), tf.tensor1d(t)];
          const y = affineChannels(xt, st, tt, activation);
          expectClose(y, { shape, data: truth }, tolerance, 'affineChannels');
          const layer = channelAffine({ activation });
          layer.build(shape);
          layer.setWeights([st, tt]);
          const z = layer.apply(xt) as tf.Tensor;
          expectClose(z, truth, tolerance, 'ChannelAffine');
          tf.dispose([xt, st, tt, y, z]);
          for (const w of layer.weights) w.dispose();
          expect(tf.memory().numTensors).toBe(before);
        }),
        { seed: 8102, numRuns: RUNS },
      );
    });
  });
});
