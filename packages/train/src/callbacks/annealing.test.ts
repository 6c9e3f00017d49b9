import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { concreteJointSelector, stepTemperature, type ConcreteJointSelector } from '@phalanx/layers';
import { useBackend } from '@phalanx/testing';
import { SelectorAnnealing } from './annealing';
import { FakeTrainer } from './test-utils';

beforeAll(async () => {
  await useBackend('cpu');
});

function selectorModel(): tfl.LayersModel {
  const x = tfl.input({ shape: [3, 5, 2] });
  const y = concreteJointSelector({ numJoints: 5, numGroups: 3, name: 'meta_S' }).apply(x) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: y });
}

describe('SelectorAnnealing', () => {
  it('sets τ = schedule(step) on every selector before the step', async () => {
    const model = selectorModel();
    const trainer = new FakeTrainer(model);
    const annealing = new SelectorAnnealing(stepTemperature({ initial: 5, decrement: 0.5, every: 10, minimum: 1 }));
    expect(annealing.temperature).toBeNull();
    const selector = model.getLayer('meta_S') as ConcreteJointSelector;
    for (const [step, tau] of [
      [0, 5],
      [9, 5],
      [10, 4.5],
      [35, 3.5],
      [1000, 1],
    ]) {
      annealing.onStepBegin({ step, microBatches: 1 }, trainer);
      expect(annealing.temperature).toBe(tau);
      expect(selector.getTemperature()).toBeCloseTo(tau, 6);
    }
    annealing.restore(2.5);
    expect(annealing.temperature).toBe(2.5);
  });

  it('leaves a model without selectors alone, and rejects a schedule that is not a function', () => {
    const x = tfl.input({ shape: [2] });
    const model = tfl.model({ inputs: x, outputs: tfl.layers.dense({ units: 1 }).apply(x) as tfl.SymbolicTensor });
    const annealing = new SelectorAnnealing(() => 3);
    annealing.onStepBegin({ step: 4, microBatches: 1 }, new FakeTrainer(model));
    expect(annealing.temperature).toBeNull();
    expect(() => new SelectorAnnealing(3 as never)).toThrow(
      'SelectorAnnealing: schedule must be a function step → τ, but received 3.',
    );
  });
});
