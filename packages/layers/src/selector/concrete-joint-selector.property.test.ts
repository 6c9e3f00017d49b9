/**
 * Property tests of the Concrete joint selection against a float64 reference written from its definition
 * (test/reference.ts): random J, G, C, batch, τ, logits and Gumbel noise; the functional cores, their
 * gradients, and the layer in each of its modes.
 */
import * as tf from '@tensorflow/tfjs-core';
import { expectClose, forEachBackend, IN_BROWSER } from '@phalanx/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  centralDifference,
  concreteSelectionReference,
  dot,
  float32Values,
  hardSelectionReference,
  selectJointsReference,
  uniformStream,
} from '../../test/reference';
import { concreteJointSelector, concreteSelection, hardSelection, selectJoints } from './concrete-joint-selector';

// Tolerances. S is a softmax over ≤ 4 groups of scores ≤ ~(3 + 17)/0.2 = 100 in size: float32 rounds the
// scaled scores to ~6e-8 relative, i.e. ≤ 6e-6 absolute in the exponent, so S to ~6e-6 relative. y sums
// ≤ 4 products S·x with |x| ≤ 2: 5e-5 absolute covers both. Gradients (size ≤ ~|x|/τ ≈ 10) against a
// float64 central difference: 1e-3 relative, 1e-4 absolute.
const VALUE_TOLERANCE = { rtol: 1e-5, atol: 5e-5 };
const GRADIENT_TOLERANCE = { rtol: 1e-3, atol: 1e-4 };
const RUNS = IN_BROWSER ? 10 : 40;

const cases = fc.record({
  batch: fc.integer({ min: 1, max: 3 }),
  groups: fc.integer({ min: 2, max: 4 }),
  joints: fc.integer({ min: 1, max: 7 }),
  channels: fc.integer({ min: 1, max: 3 }),
  tau: fc.constantFrom(0.2, 0.5, 1, 5),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
});

/** Inputs of one case: logits, Gumbel noise −log(−log U) (float32-rounded), x and an upstream gradient. */
function draw(c: { batch: number; groups: number; joints: number; channels: number; seed: number }) {
  const next = uniformStream(c.seed);
  const jg = c.joints * c.groups;
  const logits = float32Values(next, jg, 3);
  const noise = Array.from({ length: jg }, () => Math.fround(-Math.log(-Math.log(Math.max(next(), 1e-10)))));
  const x = float32Values(next, c.batch * c.groups * c.joints * c.channels, 2);
  const up = float32Values(next, c.batch * c.joints * c.channels);
  return { next, logits, noise, x, up };
}

/** Hard and straight-through selections on logits with ties (the layer starts with all logits equal). */
function tiedLogitsProperty(): void {
  it('on tied logits the hard and straight-through one-hots pick the first maximum', () => {
    fc.assert(
      fc.property(cases, (c) => {
        const { groups, joints } = c;
        const next = uniformStream(c.seed);
        // Logits from {0, 1, 2}: most rows have ties (the layer starts with all logits equal).
        const logits = Array.from({ length: joints * groups }, () => Math.floor(next() * 3));
        const truth = hardSelectionReference(logits, joints, groups);
        const [l, zero] = [tf.tensor2d(logits, [joints, groups]), tf.zeros([joints, groups])];
        const hard = hardSelection(l);
        const st = concreteSelection(l, c.tau, zero, true);
        expectClose(hard, truth, { rtol: 0, atol: 0 }, 'hard');
        expectClose(st, truth, { rtol: 0, atol: 0 }, 'straight-through');
        tf.dispose([l, zero, hard, st]);
      }),
      { seed: 4504, numRuns: RUNS },
    );
  });
}

forEachBackend((backend) => {
  describe(`Concrete selection property (${backend})`, () => {
    it('concreteSelection and selectJoints equal softmax((l + n)/τ) and Σ_g S·x, gradients included', () => {
      fc.assert(
        fc.property(cases, fc.boolean(), (c, withNoise) => {
          const { batch, groups, joints, channels, tau } = c;
          const { next, logits, noise, x, up } = draw(c);
          const dims = { batch, groups, joints, channels };
          const truthS = concreteSelectionReference(logits, withNoise ? noise : null, tau, joints, groups);
          const before = tf.memory().numTensors;
          const [l, n, xt, upstream] = [
            tf.tensor2d(logits, [joints, groups]),
            tf.tensor2d(noise, [joints, groups]),
            tf.tensor4d(x, [batch, groups, joints, channels]),
            tf.tensor3d(up, [batch, joints, channels]),
          ];
          const s = concreteSelection(l, tau, withNoise ? n : null, false);
          expectClose(s, { shape: [joints, groups], data: truthS }, VALUE_TOLERANCE, 'S');
          const y = selectJoints(xt, s);
          expectClose(
            y,
            { shape: [batch, joints, channels], data: selectJointsReference(x, truthS, dims) },
            VALUE_TOLERANCE,
            'y',
          );
          const loss = (lv: tf.Tensor, xv: tf.Tensor): tf.Scalar =>
            tf.sum(tf.mul(selectJoints(xv, concreteSelection(lv, tau, withNoise ? n : null, false)), upstream));
          const [gl, gx] = tf.grads(loss)([l, xt]);
          const refLoss = (lv: number[], xv: number[]): number =>
            dot(
              selectJointsReference(
                xv,
                concreteSelectionReference(lv, withNoise ? noise : null, tau, joints, groups),
                dims,
              ),
              up,
            );
          const pick = (n: number): number[] => Array.from({ length: 3 }, () => Math.floor(next() * n));
          const pl = pick(logits.length);
          const px = pick(x.length);
          const gld = gl.dataSync();
          const gxd = gx.dataSync();
          expectClose(
            pl.map((i) => gld[i]),
            pl.map((i) => centralDifference((v) => refLoss(v, x), logits, i)),
            GRADIENT_TOLERANCE,
            '∂/∂logits',
          );
          expectClose(
            px.map((i) => gxd[i]),
            px.map((i) => centralDifference((v) => refLoss(logits, v), x, i)),
            GRADIENT_TOLERANCE,
            '∂/∂x',
          );
          tf.dispose([l, n, xt, upstream, s, y, gl, gx]);
          expect(tf.memory().numTensors).toBe(before);
        }),
        { seed: 4501, numRuns: RUNS },
      );
    });

    it('straight-through forwards one-hot(argmax(l + n)) with the soft gradient; hardSelection is one-hot(argmax l)', () => {
      fc.assert(
        fc.property(cases, (c) => {
          const { groups, joints, tau } = c;
          const { next, logits, noise } = draw(c);
          const upArray = float32Values(next, joints * groups);
          const perturbed = logits.map((v, i) => Math.fround(v + noise[i]));
          const before = tf.memory().numTensors;
          const [l, n] = [tf.tensor2d(logits, [joints, groups]), tf.tensor2d(noise, [joints, groups])];
          const upstream = tf.tensor2d(upArray, [joints, groups]);
          const st = concreteSelection(l, tau, n, true);
          expectClose(
            st,
            hardSelectionReference(perturbed, joints, groups),
            { rtol: 0, atol: 0 },
            'straight-through value',
          );
          const hard = hardSelection(l);
          expectClose(hard, hardSelectionReference(logits, joints, groups), { rtol: 0, atol: 0 }, 'hard');
          const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(concreteSelection(v, tau, n, true), upstream)))(l);
          const refLoss = (v: number[]): number =>
            dot(concreteSelectionReference(v, noise, tau, joints, groups), upArray);
          expectClose(
            g,
            logits.map((_, i) => centralDifference(refLoss, logits, i)),
            GRADIENT_TOLERANCE,
            'ST gradient',
          );
          tf.dispose([l, n, upstream, st, hard, g]);
          expect(tf.memory().numTensors).toBe(before);
        }),
        { seed: 4502, numRuns: RUNS },
      );
    });

    tiedLogitsProperty();

    it('the layer computes Σ_g S·x with S from its logits and τ in training, soft and hard inference', () => {
      fc.assert(
        fc.property(cases, fc.constantFrom('train', 'soft', 'hard'), fc.boolean(), (c, mode, tiny) => {
          const { batch, groups, joints, channels } = c;
          // A τ near the smallest normal float32 overflows (l + n)/τ: the layer's shifted path.
          const tau = tiny ? Math.fround(3e-38) : c.tau;
          const { logits, noise, x } = draw(c);
          const layer = concreteJointSelector({
            numJoints: joints,
            numGroups: groups,
            initialTemperature: tau,
            inferenceMode: mode === 'hard' ? 'hard' : 'soft',
          });
          layer.build([null, groups, joints, channels]);
          const [l, t, n, xt] = [
            tf.tensor2d(logits, [joints, groups]),
            tf.scalar(tau),
            tf.tensor2d(noise, [joints, groups]),
            tf.tensor4d(x, [batch, groups, joints, channels]),
          ];
          layer.setWeights([l, t]);
          const y = layer.apply(xt, { training: mode === 'train', gumbelNoise: n }) as tf.Tensor;
          const truthS =
            mode === 'hard'
              ? hardSelectionReference(logits, joints, groups)
              : concreteSelectionReference(logits, mode === 'train' ? noise : null, tau, joints, groups);
          const truth = selectJointsReference(x, truthS, { batch, groups, joints, channels });
          expectClose(y, { shape: [batch, joints, channels], data: truth }, VALUE_TOLERANCE, `layer ${mode}`);
          tf.dispose([l, t, n, xt, y]);
          for (const w of layer.weights) w.dispose();
        }),
        { seed: 4503, numRuns: RUNS },
      );
    });
  });
});
