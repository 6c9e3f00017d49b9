/**
 * Configuration contracts of the losses: every options object and weight is either refused with a
 * named error that leaks no tensor, or usable in float32 (finite losses).
 */
import * as tf from '@tensorflow/tfjs-core';
import { forEachBackend, thrownBy } from '@phalanx/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PhalanxArgumentError, PhalanxConfigError } from '@phalanx/errors';
import {
  edgeStabilityLoss,
  heatmapMSE,
  l1Penalty,
  mpjpeLoss,
  squaredDistanceLoss,
  xyzL1Loss,
  xyzL1LossFn,
} from './index';

/** Values a careless or hostile caller may pass for an option (as in the layers' contract tests). */
const HOSTILE: unknown[] = [
  undefined,
  null,
  Number.NaN,
  Infinity,
  -Infinity,
  0,
  -0,
  -1,
  0.5,
  1.5,
  1e-50,
  1e-39,
  1e39,
  -1e39,
  2 ** 24 + 1,
  2 ** 53,
  '3',
  true,
  {},
  [],
];
const NOT_OPTIONS: unknown[] = [null, 5, 'mean', true, []];

/** Asserts a named argument error of `component` (never a TypeError) and that no tensor was left behind. */
function expectRefused(component: string, f: () => unknown, what: string): void {
  const before = tf.memory().numTensors;
  const error = thrownBy(f);
  expect(error, what).toBeInstanceOf(PhalanxArgumentError);
  expect((error as Error).message.startsWith(`${component}:`), `${what}: ${(error as Error).message}`).toBe(true);
  expect(tf.memory().numTensors, `tensors after ${what}`).toBe(before);
}

forEachBackend(() => {
  describe('loss configuration', () => {
    // Δz = 0 for every joint: a zWeight that overflows float32 would turn 0·∞ into NaN.
    let target: tf.Tensor;
    let prediction: tf.Tensor;
    let attention: tf.Tensor;
    const adjacency = [
      [0, 1, 0],
      [1, 0, 1],
      [0, 1, 0],
    ];
    beforeAll(() => {
      target = tf.tensor3d([
        [
          [0, 0, 1],
          [1, 2, 3],
        ],
      ]);
      prediction = tf.tensor3d([
        [
          [0.5, -1, 1],
          [1, 2.5, 3],
        ],
      ]);
      attention = tf.fill([1, 2, 3, 3], 0.5);
    });
    afterAll(() => tf.dispose([target, prediction, attention]));

    it(`options that are not objects (${NOT_OPTIONS.length} kinds × 3 functions) are named errors, not TypeErrors`, () => {
      for (const options of NOT_OPTIONS) {
        const what = `options = ${JSON.stringify(options)}`;
        expectRefused('xyzL1Loss', () => xyzL1Loss(target, prediction, options as never), what);
        expectRefused('xyzL1LossFn', () => xyzL1LossFn(options as never), what);
        expectRefused('edgeStabilityLoss', () => edgeStabilityLoss(attention, adjacency, options as never), what);
      }
    });

    it('a misspelt option is refused by name instead of falling back to its default', () => {
      const cases: [() => unknown, string][] = [
        [
          () => xyzL1Loss(target, prediction, { zweight: 0.5 } as never),
          'xyzL1Loss: options.zweight must be an option (one of zWeight), but received 0.5.',
        ],
        [
          () => xyzL1LossFn({ weight: 2 } as never),
          'xyzL1LossFn: options.weight must be an option (one of zWeight), but received 2.',
        ],
        [
          () => edgeStabilityLoss(attention, adjacency, { reduce: 'sum' } as never),
          "edgeStabilityLoss: options.reduce must be an option (one of reduction), but received 'sum'.",
        ],
      ];
      const before = tf.memory().numTensors;
      for (const [f, message] of cases) {
        expect(f, message).toThrow(PhalanxConfigError);
        expect(f).toThrow(message);
      }
      expect(tf.memory().numTensors).toBe(before);
    });

    it(`zWeight: ${HOSTILE.length} hostile values × 2 functions are refused by name or give a finite loss`, () => {
      let accepted = 0;
      for (const zWeight of HOSTILE) {
        const what = `zWeight = ${typeof zWeight === 'number' ? zWeight : JSON.stringify(zWeight)}`;
        const error = thrownBy(() => xyzL1LossFn({ zWeight: zWeight as number }));
        if (error !== undefined) {
          expectRefused('xyzL1LossFn', () => xyzL1LossFn({ zWeight: zWeight as number }), what);
          expectRefused('xyzL1Loss', () => xyzL1Loss(target, prediction, { zWeight: zWeight as number }), what);
          expect(error).toBeInstanceOf(PhalanxConfigError);
          continue;
        }
        for (const loss of [
          xyzL1Loss(target, prediction, { zWeight: zWeight as number }),
          xyzL1LossFn({ zWeight: zWeight as number })(target, prediction),
        ]) {
          expect(Number.isFinite(loss.dataSync()[0]), what).toBe(true);
          loss.dispose();
        }
        accepted++;
      }
      // undefined and null (the default), 0, -0, 0.5, 1.5, 1e-50, 1e-39, 2^24 + 1, 2^53.
      expect(accepted).toBe(10);
      expect(() => xyzL1LossFn({ zWeight: 1e39 })).toThrow(
        'xyzL1LossFn: zWeight must be a number representable in float32 (|x| ≤ 3.4028235e38), but received 1e+39.',
      );
    });

    it(`reduction: ${HOSTILE.length} hostile values are refused by name`, () => {
      for (const reduction of HOSTILE) {
        if (reduction == null) continue; // the default
        expectRefused(
          'edgeStabilityLoss',
          () => edgeStabilityLoss(attention, adjacency, { reduction: reduction as 'sum' }),
          `reduction = ${String(reduction)}`,
        );
      }
    });

    it('tensors replaced by hostile values are named errors for every loss, with no leak', () => {
      let cases = 0;
      for (const bad of HOSTILE) {
        const what = `input = ${String(bad)}`;
        const x = bad as tf.Tensor;
        expectRefused('heatmapMSE', () => heatmapMSE(x, target), what);
        expectRefused('mpjpeLoss', () => mpjpeLoss(target, x), what);
        expectRefused('squaredDistanceLoss', () => squaredDistanceLoss(x, prediction), what);
        expectRefused('xyzL1Loss', () => xyzL1Loss(target, x), what);
        expectRefused('edgeStabilityLoss', () => edgeStabilityLoss(x, adjacency), what);
        expectRefused('edgeStabilityLoss', () => edgeStabilityLoss(attention, x as never), what);
        expectRefused('l1Penalty', () => l1Penalty([target, x]), what);
        cases += 7;
      }
      expect(cases).toBe(7 * HOSTILE.length);
    });
  });
});
