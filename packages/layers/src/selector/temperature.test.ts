import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { forEachBackend } from '@phalanx/testing';
import { describe, expect, it } from 'vitest';
import { PhalanxConfigError } from '@phalanx/errors';
import { concreteJointSelector, type ConcreteJointSelector } from './concrete-joint-selector';
import {
  annealTemperature,
  exponentialTemperature,
  findConcreteJointSelectors,
  stepTemperature,
  TemperatureAnnealing,
} from './temperature';

describe('stepTemperature', () => {
  it('follows the paper: 5, −0.1 every 1000 steps, clamped at 0.1', () => {
    const tau = stepTemperature();
    expect(tau(0)).toBe(5);
    expect(tau(999)).toBe(5);
    expect(tau(1000)).toBe(4.9);
    expect(tau(1999)).toBe(4.9);
    expect(tau(2000)).toBe(4.8);
    expect(tau(11_000)).toBe(3.9); // 5 − 0.1·11 is 3.9000000000000004 in binary arithmetic
    expect(tau(48_999)).toBe(0.2);
    expect(tau(49_000)).toBe(0.1);
    expect(tau(10_000_000)).toBe(0.1);
  });

  it('has no float drift at any decrement step', () => {
    const tau = stepTemperature();
    for (let k = 0; k <= 49; k++) expect(tau(k * 1000)).toBe(Number((5 - k / 10).toFixed(1)));
  });

  it('accepts its own arguments', () => {
    const tau = stepTemperature({ initial: 2, decrement: 0.25, every: 10, minimum: 0.5 });
    expect([0, 9, 10, 25, 60, 1000].map(tau)).toEqual([2, 2, 1.75, 1.5, 0.5, 0.5]);
  });

  it.each([
    [{ initial: 0 }, 'stepTemperature: initial must be a finite number > 0, but received 0.'],
    [{ decrement: -0.1 }, 'stepTemperature: decrement must be a finite number ≥ 0, but received -0.1.'],
    [{ every: 0 }, 'stepTemperature: every must be an integer ≥ 1, but received 0.'],
    [{ every: 2.5 }, 'stepTemperature: every must be an integer ≥ 1, but received 2.5.'],
    [{ minimum: 0 }, 'stepTemperature: minimum must be a finite number > 0, but received 0.'],
    [{ minimum: 6 }, 'stepTemperature: minimum must be a number ≤ initial (5), but received 6.'],
  ])('rejects %o', (args, message) => {
    expect(() => stepTemperature(args)).toThrow(message);
  });

  it('rejects a negative or fractional step', () => {
    const tau = stepTemperature();
    expect(() => tau(-1)).toThrow('stepTemperature: step must be an integer ≥ 0, but received -1.');
    expect(() => tau(0.5)).toThrow('stepTemperature: step must be an integer ≥ 0, but received 0.5.');
  });
});

describe('exponentialTemperature', () => {
  it('is max(minimum, initial·exp(−rate·step))', () => {
    const tau = exponentialTemperature({ initial: 1, rate: 1e-4, minimum: 0.3 });
    expect(tau(0)).toBe(1);
    expect(tau(5000)).toBeCloseTo(Math.exp(-0.5), 12);
    expect(tau(20_000)).toBe(0.3);
    expect(exponentialTemperature({ rate: 0 })(123)).toBe(5);
  });

  it.each([
    [{ rate: -1 }, 'exponentialTemperature: rate must be a finite number ≥ 0, but received -1.'],
    [{ rate: Number.NaN }, 'exponentialTemperature: rate must be a finite number, but received NaN.'],
    [{}, 'exponentialTemperature: rate must be a finite number, but received undefined.'],
    [{ rate: 1, initial: -2 }, 'exponentialTemperature: initial must be a finite number > 0, but received -2.'],
    [
      { rate: 1, initial: 1, minimum: 2 },
      'exponentialTemperature: minimum must be a number ≤ initial (1), but received 2.',
    ],
  ])('rejects %o', (args, message) => {
    expect(() => exponentialTemperature(args as { rate: number })).toThrow(message);
  });
});

/** Outer model [3, 4, 2] → selector → nested model (with its own selector on a [3, 4, 2] branch). */
function nestedModel(): { model: tfl.LayersModel; selectors: ConcreteJointSelector[] } {
  const inner = concreteJointSelector({ numJoints: 4, numGroups: 3, seed: 1 });
  const innerInput = tfl.input({ shape: [3, 4, 2] });
  const innerModel = tfl.model({ inputs: innerInput, outputs: inner.apply(innerInput) as tfl.SymbolicTensor });
  const outer = concreteJointSelector({ numJoints: 4, numGroups: 3, seed: 2 });
  const input = tfl.input({ shape: [3, 4, 2] });
  const a = outer.apply(input) as tfl.SymbolicTensor;
  const b = innerModel.apply(input) as tfl.SymbolicTensor;
  const out = tfl.layers.add().apply([a, b]) as tfl.SymbolicTensor;
  return { model: tfl.model({ inputs: input, outputs: out }), selectors: [outer, inner] };
}

forEachBackend(() => {
  describe('temperature annealing of a model', () => {
    it('refuses a model that is not one and a schedule that is not a function, by name', () => {
      const cases: [() => unknown, string][] = [
        [
          () => findConcreteJointSelectors(null as never),
          'findConcreteJointSelectors: model must be a tf.LayersModel or layer, but received null.',
        ],
        [
          () => annealTemperature(undefined as never, () => 1, 0),
          'annealTemperature: model must be a tf.LayersModel or layer, but received undefined.',
        ],
        [
          () => annealTemperature(nestedModel().model, 0.5 as never, 0),
          'annealTemperature: schedule must be a function step → τ, but received 0.5.',
        ],
      ];
      for (const [f, message] of cases) {
        expect(f, message).toThrow(PhalanxConfigError);
        expect(f).toThrow(message);
      }
    });

    it('finds selectors in nested models and sets τ with the custom-loop hook', () => {
      const { model, selectors } = nestedModel();
      const found = findConcreteJointSelectors(model);
      expect(found.length).toBe(2);
      expect(new Set(found)).toEqual(new Set(selectors));
      const tau = annealTemperature(model, stepTemperature(), 2500);
      expect(tau).toBe(4.8);
      for (const s of selectors) expect(s.getTemperature()).toBeCloseTo(4.8, 6);
      expect(() => annealTemperature(model, () => 0, 0)).toThrow(
        'annealTemperature: schedule(step) must be a finite number > 0, but received 0.',
      );
    });

    it('model.fit with TemperatureAnnealing changes τ at every batch, across epochs', async () => {
      const { model, selectors } = nestedModel();
      model.compile({ optimizer: tf.train.sgd(0.01), loss: 'meanSquaredError' });
      const schedule = stepTemperature({ initial: 5, decrement: 0.5, every: 2, minimum: 1 });
      const annealing = new TemperatureAnnealing(schedule);
      const seen: number[][] = [];
      const recorder = new tfl.CustomCallback({
        onBatchEnd: async () => {
          seen.push(selectors.map((s) => s.getTemperature()));
        },
      });
      const xs = tf.randomNormal([12, 3, 4, 2], 0, 1, 'float32', 5);
      const ys = tf.zeros([12, 4, 2]);
      // 3 batches per epoch × 2 epochs = 6 steps.
      await model.fit(xs, ys, {
        epochs: 2,
        batchSize: 4,
        shuffle: false,
        verbose: 0,
        callbacks: [annealing, recorder],
      });
      const expected = [5, 5, 4.5, 4.5, 4, 4];
      expect(seen.length).toBe(6);
      seen.forEach((temps, step) => temps.forEach((t) => expect(t).toBeCloseTo(expected[step], 6)));
      expect(annealing.step).toBe(6);
      expect(annealing.temperature).toBe(4);
      // A second fit continues the global step.
      await model.fit(xs, ys, { epochs: 1, batchSize: 12, verbose: 0, callbacks: [annealing] });
      expect(annealing.step).toBe(7);
      for (const s of selectors) expect(s.getTemperature()).toBeCloseTo(3.5, 6);
      tf.dispose([xs, ys]);
    });

    it('starts at initialStep and validates its arguments', () => {
      const annealing = new TemperatureAnnealing(stepTemperature(), { initialStep: 3000 });
      expect(annealing.step).toBe(3000);
      expect(() => new TemperatureAnnealing(stepTemperature(), { initialStep: -1 })).toThrow(
        'TemperatureAnnealing: initialStep must be an integer ≥ 0, but received -1.',
      );
      expect(() => new TemperatureAnnealing(5 as unknown as () => number)).toThrow(
        'TemperatureAnnealing: schedule must be a function step → τ, but received 5.',
      );
    });
  });
});
