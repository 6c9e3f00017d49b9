/**
 * Property tests of DualBranchFusion (EHPE Eq. 11) against a float64 reference written from its definition
 * (test/reference.ts), on random batch, joints (one included), channels and both visual-weight forms.
 */
import * as tf from '@tensorflow/tfjs-core';
import { expectClose, forEachBackend, IN_BROWSER } from '@phalanx/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectGradientsMatchReference } from '../../test/property-checks';
import { dot, dualBranchReference, float32Values, uniformStream } from '../../test/reference';
import { dualBranchFusion, dualBranchFusionCore } from './dual-branch-fusion';

// Tolerances. Every output is a sum of at most 2·J ≤ 12 products of values ≤ 2 in size; float32 rounds
// each step to ~6e-8 relative, so |error| ≤ 12 · 6e-8 · 24 ≈ 2e-5 in the worst case: 3e-5 absolute,
// 1e-5 relative. Gradients are the same kind of sums (of upstream values): float32 vs a float64 central
// difference (exact to ~1e-9 on these bilinear maps), 1e-4 absolute and relative.
const VALUE_TOLERANCE = { rtol: 1e-5, atol: 3e-5 };
const GRADIENT_TOLERANCE = { rtol: 1e-4, atol: 1e-4 };
const RUNS = IN_BROWSER ? 10 : 40;
const SEED = fc.integer({ min: 0, max: 2 ** 31 - 1 });

const dualCases = fc.record({
  batch: fc.integer({ min: 1, max: 3 }),
  joints: fc.integer({ min: 1, max: 6 }),
  channels: fc.integer({ min: 1, max: 4 }),
  matrix: fc.boolean(),
  seed: SEED,
});

forEachBackend((backend) => {
  describe(`DualBranchFusion property (${backend})`, () => {
    it('core: W_s·structural + (W_v ⊙ or ·) visual, gradients in all four inputs', () => {
      fc.assert(
        fc.property(dualCases, (c) => {
          const { batch, joints, channels, matrix } = c;
          const next = uniformStream(c.seed);
          const n = batch * joints * channels;
          const [s, v] = [float32Values(next, n, 2), float32Values(next, n, 2)];
          const ws = float32Values(next, joints * joints);
          const wv = float32Values(next, matrix ? joints * joints : joints);
          const up = float32Values(next, n);
          const dims = { batch, joints, channels, matrix };
          const shape = [batch, joints, channels];
          const before = tf.memory().numTensors;
          const inputs = [
            { values: s, shape },
            { values: v, shape },
            { values: ws, shape: [joints, joints] },
            { values: wv, shape: [joints, matrix ? joints : 1] },
          ];
          const ts = inputs.map((i) => tf.tensor(i.values, i.shape));
          const out = dualBranchFusionCore(ts[0], ts[1], ts[2], ts[3]);
          expectClose(out, { shape, data: dualBranchReference(s, v, ws, wv, dims) }, VALUE_TOLERANCE, 'out');
          tf.dispose([...ts, out]);
          const upstream = tf.tensor3d(up, shape as [number, number, number]);
          const loss = (a: tf.Tensor, b: tf.Tensor, c2: tf.Tensor, d: tf.Tensor): tf.Scalar =>
            tf.sum(tf.mul(dualBranchFusionCore(a, b, c2, d), upstream));
          const reference = ([a, b, c2, d]: number[][]): number => dot(dualBranchReference(a, b, c2, d, dims), up);
          expectGradientsMatchReference(
            loss as (...xs: tf.Tensor[]) => tf.Scalar,
            inputs,
            reference,
            next,
            GRADIENT_TOLERANCE,
            2,
          );
          upstream.dispose();
          expect(tf.memory().numTensors).toBe(before);
        }),
        { seed: 3203, numRuns: RUNS },
      );
    });

    it('the layer starts at structural + visual and applies set weights', () => {
      fc.assert(
        fc.property(dualCases, (c) => {
          const { batch, joints, channels, matrix } = c;
          const next = uniformStream(c.seed);
          const n = batch * joints * channels;
          const [s, v] = [float32Values(next, n, 2), float32Values(next, n, 2)];
          const shape: [number, number, number] = [batch, joints, channels];
          const layer = dualBranchFusion({ numJoints: joints, visualWeight: matrix ? 'matrix' : 'vector' });
          const [st, vt] = [tf.tensor3d(s, shape), tf.tensor3d(v, shape)];
          const initial = layer.apply([st, vt]) as tf.Tensor;
          expectClose(
            initial,
            s.map((x, i) => x + v[i]),
            VALUE_TOLERANCE,
            'initial',
          );
          const ws = float32Values(next, joints * joints);
          const wv = float32Values(next, matrix ? joints * joints : joints);
          const weights = [tf.tensor2d(ws, [joints, joints]), tf.tensor2d(wv, [joints, matrix ? joints : 1])];
          layer.setWeights(weights);
          const out = layer.apply([st, vt]) as tf.Tensor;
          expectClose(
            out,
            dualBranchReference(s, v, ws, wv, { batch, joints, channels, matrix }),
            VALUE_TOLERANCE,
            'set',
          );
          tf.dispose([st, vt, initial, out, ...weights]);
          layer.dispose();
        }),
        { seed: 3204, numRuns: RUNS },
      );
    });
  });
});
