/**
 * Property tests of GroupFusion (NDDR fusion, Learnable Groups Eq. 9) against a float64 reference written
 * from its definition (test/reference.ts), on random groups (one included), channels, units and spatial sizes.
 */
import * as tf from '@tensorflow/tfjs-core';
import { expectClose, forEachBackend, IN_BROWSER } from '@phalanx/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectGradientsMatchReference } from '../../test/property-checks';
import { dot, float32Values, fuseGroupsReference, uniformStream } from '../../test/reference';
import { fuseGroups, groupFusion } from './group-fusion';

// Tolerances. Every output is a sum of at most G·C ≤ 16 products of values ≤ 2 in size plus a bias;
// float32 rounds each step to ~6e-8 relative, so |error| ≤ 16 · 6e-8 · 16 ≈ 2e-5 in the worst case:
// 3e-5 absolute, 1e-5 relative. Gradients are the same kind of sums (of upstream values): float32 vs a
// float64 central difference (exact to ~1e-9 on these bilinear maps), 1e-4 absolute and relative.
const VALUE_TOLERANCE = { rtol: 1e-5, atol: 3e-5 };
const GRADIENT_TOLERANCE = { rtol: 1e-4, atol: 1e-4 };
const RUNS = IN_BROWSER ? 10 : 40;
const SEED = fc.integer({ min: 0, max: 2 ** 31 - 1 });

const groupCases = fc.record({
  batch: fc.integer({ min: 1, max: 3 }),
  height: fc.integer({ min: 1, max: 3 }),
  width: fc.integer({ min: 1, max: 4 }),
  groups: fc.integer({ min: 1, max: 4 }),
  channels: fc.integer({ min: 1, max: 4 }),
  units: fc.integer({ min: 1, max: 4 }),
  bias: fc.boolean(),
  seed: SEED,
});

forEachBackend((backend) => {
  describe(`GroupFusion property (${backend})`, () => {
    it('fuseGroups: y_i = concat(x)·kernel[:, i·U:(i+1)·U] + bias, gradients in x, kernel and bias', () => {
      fc.assert(
        fc.property(groupCases, (c) => {
          const { batch, height, width, groups, channels, units } = c;
          const next = uniformStream(c.seed);
          const pixels = batch * height * width;
          const xs = Array.from({ length: groups }, () => float32Values(next, pixels * channels, 2));
          const kernel = float32Values(next, groups * channels * groups * units);
          const bias = c.bias ? float32Values(next, groups * units) : null;
          const up = float32Values(next, groups * pixels * units);
          const dims = { pixels, channels, units };
          const shape = [batch, height, width, channels];
          const before = tf.memory().numTensors;
          const xt = xs.map((x) => tf.tensor4d(x, shape as [number, number, number, number]));
          const [k, b] = [tf.tensor2d(kernel, [groups * channels, groups * units]), bias && tf.tensor1d(bias)];
          const ys = fuseGroups(xt, k, b);
          const truth = fuseGroupsReference(xs, kernel, bias, dims);
          ys.forEach((y, i) =>
            expectClose(y, { shape: [batch, height, width, units], data: truth[i] }, VALUE_TOLERANCE, `y_${i}`),
          );
          tf.dispose([...xt, k, ...ys, ...(b ? [b] : [])]);
          const upstream = tf.tensor1d(up);
          const inputs = [
            ...xs.map((values) => ({ values, shape })),
            { values: kernel, shape: [groups * channels, groups * units] },
          ];
          if (bias) inputs.push({ values: bias, shape: [groups * units] });
          const loss = (...ts: tf.Tensor[]): tf.Scalar => {
            const out = fuseGroups(ts.slice(0, groups), ts[groups], bias ? ts[groups + 1] : null);
            return tf.sum(tf.mul(tf.concat(out.map((y) => tf.reshape(y, [-1]))), upstream));
          };
          const reference = (v: number[][]): number =>
            dot(fuseGroupsReference(v.slice(0, groups), v[groups], bias ? v[groups + 1] : null, dims).flat(), up);
          expectGradientsMatchReference(loss, inputs, reference, next, GRADIENT_TOLERANCE, 2);
          upstream.dispose();
          expect(tf.memory().numTensors).toBe(before);
        }),
        { seed: 3201, numRuns: RUNS },
      );
    });

    it('the layer starts at y_i = α·x_i + β/(G−1)·Σ_{j≠i} x_j (U = C) and applies set weights', () => {
      fc.assert(
        fc.property(
          groupCases,
          fc.double({ min: -2, max: 2, noNaN: true }),
          fc.double({ min: -2, max: 2, noNaN: true }),
          (c, a, bt) => {
            const { batch, height, width, channels } = c;
            const groups = Math.max(c.groups, 2);
            const [alpha, beta] = [Math.fround(a), Math.fround(bt)];
            const next = uniformStream(c.seed);
            const pixels = batch * height * width;
            const xs = Array.from({ length: groups }, () => float32Values(next, pixels * channels, 2));
            const shape: [number, number, number, number] = [batch, height, width, channels];
            const layer = groupFusion({ numGroups: groups, selfWeight: alpha, otherWeight: beta, useBias: c.bias });
            const xt = xs.map((x) => tf.tensor4d(x, shape));
            const ys = layer.apply(xt) as tf.Tensor[];
            const other = beta / (groups - 1);
            ys.forEach((y, i) => {
              const truth = xs[i].map((_, n) => xs.reduce((s, x, j) => s + (j === i ? alpha : other) * x[n], 0));
              expectClose(y, truth, VALUE_TOLERANCE, `initial y_${i}`);
            });
            // Set weights: the reference on the layer's own kernel and bias.
            const kernel = float32Values(next, groups * channels * groups * channels);
            const bias = c.bias ? float32Values(next, groups * channels) : null;
            const weights = [
              tf.tensor2d(kernel, [groups * channels, groups * channels]),
              ...(bias ? [tf.tensor1d(bias)] : []),
            ];
            layer.setWeights(weights);
            const again = layer.apply(xt) as tf.Tensor[];
            const truth = fuseGroupsReference(xs, kernel, bias, { pixels, channels, units: channels });
            again.forEach((y, i) => expectClose(y, truth[i], VALUE_TOLERANCE, `set y_${i}`));
            tf.dispose([...xt, ...ys, ...weights, ...again]);
            layer.dispose();
          },
        ),
        { seed: 3202, numRuns: RUNS },
      );
    });

    it('the layer with units U ≠ C applies set weights as the reference', () => {
      fc.assert(
        fc.property(groupCases, (c) => {
          const { batch, height, width, channels, units } = c;
          const groups = Math.max(c.groups, 2);
          const next = uniformStream(c.seed);
          const pixels = batch * height * width;
          const xs = Array.from({ length: groups }, () => float32Values(next, pixels * channels, 2));
          const kernel = float32Values(next, groups * channels * groups * units);
          const bias = c.bias ? float32Values(next, groups * units) : null;
          const layer = groupFusion({ numGroups: groups, units, useBias: c.bias });
          const shape: [number, number, number, number] = [batch, height, width, channels];
          layer.build(xs.map(() => shape));
          const weights = [
            tf.tensor2d(kernel, [groups * channels, groups * units]),
            ...(bias ? [tf.tensor1d(bias)] : []),
          ];
          layer.setWeights(weights);
          const xt = xs.map((x) => tf.tensor4d(x, shape));
          const ys = layer.apply(xt) as tf.Tensor[];
          const truth = fuseGroupsReference(xs, kernel, bias, { pixels, channels, units });
          ys.forEach((y, i) =>
            expectClose(y, { shape: [batch, height, width, units], data: truth[i] }, VALUE_TOLERANCE, `y_${i}`),
          );
          tf.dispose([...xt, ...ys, ...weights]);
          for (const w of layer.weights) w.dispose();
        }),
        { seed: 3205, numRuns: RUNS },
      );
    });
  });
});
