/**
 * Temperatures live in a float32 weight: every entry point that takes one refuses a value that is not a
 * positive normal float32 (it would be 0, a subnormal, or Infinity there), with an error naming the
 * component and no leaked tensor; and the schedules' output is > 0 in float32 at every step.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { forEachBackend } from '@phalanx/testing';
import { describe, expect, it } from 'vitest';
import { FLOAT32_MIN_NORMAL, PhalanxConfigError } from '@phalanx/errors';
import { concreteJointSelector, concreteSelection } from './concrete-joint-selector';
import { annealTemperature, exponentialTemperature, stepTemperature, TemperatureAnnealing } from './temperature';

/** Temperatures that pass a finite, > 0 check but do not survive float32. */
const NOT_FLOAT32 = [1e-50, 1e-46, 1e-40, 2 ** -127, 1e39, 3.5e38];

function refused(component: string, f: () => unknown): void {
  const before = tf.memory().numTensors;
  let error: unknown;
  try {
    f();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(PhalanxConfigError);
  expect((error as Error).message.startsWith(`${component}:`), (error as Error).message).toBe(true);
  expect(tf.memory().numTensors).toBe(before);
}

forEachBackend(() => {
  describe('temperature schedules in float32', () => {
    it(`refuse ${NOT_FLOAT32.length} initial and minimum values each that float32 cannot hold`, () => {
      for (const v of NOT_FLOAT32) {
        refused('stepTemperature', () => stepTemperature({ minimum: v, initial: Math.max(v, 5) }));
        refused('exponentialTemperature', () =>
          exponentialTemperature({ rate: 1, minimum: v, initial: Math.max(v, 5) }),
        );
        if (v > 1) {
          refused('stepTemperature', () => stepTemperature({ initial: v }));
          refused('exponentialTemperature', () => exponentialTemperature({ rate: 1, initial: v }));
        }
      }
      expect(() => stepTemperature({ minimum: 1e-50 })).toThrow(
        'stepTemperature: minimum must be a positive normal float32 (1.1754944e-38 ≤ x ≤ 3.4028235e38), but received 1e-50.',
      );
    });

    it('give a τ > 0 in float32 at every step, down to the smallest accepted minimum', () => {
      const schedules = [
        stepTemperature({ initial: 1, decrement: 1, every: 1, minimum: FLOAT32_MIN_NORMAL }),
        exponentialTemperature({ initial: 1, rate: 10, minimum: FLOAT32_MIN_NORMAL }),
      ];
      for (const tau of schedules) {
        for (const step of [0, 1, 2, 10, 1000, 1e6, 2 ** 31, Number.MAX_SAFE_INTEGER]) {
          const stored = new Float32Array([tau(step)])[0];
          expect(stored, `τ(${step})`).toBeGreaterThan(0);
        }
      }
    });

    it('reject a null argument object by name, not with a TypeError', () => {
      refused('stepTemperature', () => stepTemperature(null as never));
      refused('exponentialTemperature', () => exponentialTemperature(null as never));
      refused('TemperatureAnnealing', () => new TemperatureAnnealing(stepTemperature(), null as never));
    });
  });

  describe('ConcreteJointSelector temperatures in float32', () => {
    it(`refuses ${NOT_FLOAT32.length} values at every entry point, leaving τ unchanged`, () => {
      const layer = concreteJointSelector({ numJoints: 4, numGroups: 3 });
      const x = tf.zeros([1, 3, 4, 2]);
      tf.dispose(layer.apply(x) as tf.Tensor);
      const logits = tf.zeros([4, 3]);
      for (const v of NOT_FLOAT32) {
        refused('ConcreteJointSelector', () =>
          concreteJointSelector({ numJoints: 4, numGroups: 3, initialTemperature: v }),
        );
        refused('ConcreteJointSelector', () => layer.setTemperature(v));
        refused('concreteSelection', () => concreteSelection(logits, v));
      }
      // A float32 weight can hold a subnormal: setWeights must refuse it too.
      const subnormal = tf.scalar(1e-40);
      expect(subnormal.dataSync()[0]).toBeGreaterThan(0);
      refused('ConcreteJointSelector', () => layer.setWeights([logits, subnormal]));
      expect(layer.getTemperature()).toBe(5);
      const input = tfl.input({ shape: [3, 4, 2] });
      const model = tfl.model({ inputs: input, outputs: layer.apply(input) as tfl.SymbolicTensor });
      refused('annealTemperature', () => annealTemperature(model, () => 1e-50, 0));
      expect(layer.getTemperature()).toBe(5);
      tf.dispose([x, logits, subnormal]);
    });
  });
});
