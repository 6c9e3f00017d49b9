import type * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { PhalanxConfigError } from '@phalanx/errors';
import { PeriodicEvaluation } from './evaluation';
import { FakeTrainer } from './test-utils';

const model = {} as tfl.LayersModel;

describe('PeriodicEvaluation', () => {
  it('evaluates every `every` steps and once at the end, never twice for a step', async () => {
    const steps: number[] = [];
    const evaluation = new PeriodicEvaluation({ evaluate: async ({ step }) => (steps.push(step), { step }), every: 3 });
    const trainer = new FakeTrainer(model, [evaluation]);
    await trainer.emit('onTrainBegin', { step: 0, totalSteps: 9, resumedFrom: null });
    await trainer.steps(1, 9);
    await trainer.emit('onLoopEnd', { step: 9, interrupted: false });
    expect(steps).toEqual([3, 6, 9]);
    expect(trainer.evaluationWeightCalls).toBe(3);
    expect(trainer.metrics.last).toEqual({ step: 9 });
    const events = trainer.events.filter(([hook]) => hook === 'onEvaluate').map(([, info]) => info);
    expect(events[0]).toMatchObject({ step: 3, metrics: { step: 3 }, best: null, improved: false });
  });

  it('skips the final evaluation after an interrupt', async () => {
    const steps: number[] = [];
    const evaluation = new PeriodicEvaluation({ evaluate: async ({ step }) => (steps.push(step), {}) });
    const trainer = new FakeTrainer(model, [evaluation]);
    await trainer.emit('onTrainBegin', { step: 0, totalSteps: 9, resumedFrom: null });
    await trainer.steps(1, 4);
    await trainer.emit('onLoopEnd', { step: 4, interrupted: true });
    expect(steps).toEqual([]);
  });

  it('tracks the best finite value of the monitored metric and says when it improved', async () => {
    const values = [3, Number.NaN, 2, 2.5, 1];
    let k = 0;
    const evaluation = new PeriodicEvaluation({
      evaluate: async () => ({ epe: values[k++] }),
      every: 1,
      bestMetric: { name: 'epe', mode: 'min' },
    });
    const trainer = new FakeTrainer(model, [evaluation]);
    await trainer.emit('onTrainBegin', { step: 0, totalSteps: 10, resumedFrom: null });
    expect(trainer.metrics.best).toEqual({ name: 'epe', mode: 'min', value: null, step: null });
    await trainer.steps(1, 5);
    const improved = trainer.events
      .filter(([h]) => h === 'onEvaluate')
      .map(([, i]) => (i as { improved: boolean }).improved);
    expect(improved).toEqual([true, false, true, false, true]);
    expect(trainer.metrics.best).toEqual({ name: 'epe', mode: 'min', value: 1, step: 5 });
    // A resumed run with the same metric keeps the best so far; another metric starts afresh.
    await trainer.emit('onTrainBegin', { step: 5, totalSteps: 10, resumedFrom: 'x' });
    expect(trainer.metrics.best?.value).toBe(1);
    const other = new PeriodicEvaluation({ evaluate: async () => ({}), bestMetric: { name: 'auc', mode: 'max' } });
    await other.onTrainBegin({ step: 5, totalSteps: 10, resumedFrom: 'x' }, trainer);
    expect(trainer.metrics.best).toEqual({ name: 'auc', mode: 'max', value: null, step: null });
  });

  it('names a monitored metric that evaluate does not return, and the metrics it returned', async () => {
    let k = 0;
    const evaluation = new PeriodicEvaluation({
      evaluate: async (): Promise<Record<string, number>> => (k++ === 0 ? { epe: 3, auc: 0.5 } : { auc: 0.6 }),
      every: 1,
      bestMetric: { name: 'epe', mode: 'min' },
    });
    const trainer = new FakeTrainer(model, [evaluation]);
    await trainer.emit('onTrainBegin', { step: 0, totalSteps: 10, resumedFrom: null });
    await trainer.steps(1, 1);
    expect(trainer.metrics.best).toMatchObject({ value: 3, step: 1 });
    const missing = trainer.steps(2, 2);
    await expect(missing).rejects.toThrow(PhalanxConfigError);
    await expect(missing).rejects.toThrow(
      "PeriodicEvaluation: bestMetric.name must be a metric that evaluate returns (at step 2 it returned 'auc'), but received 'epe'.",
    );
    expect(trainer.metrics.last).toEqual({ epe: 3, auc: 0.5 }); // the bad evaluation is not stored
    const empty = new PeriodicEvaluation({ evaluate: async () => ({}), bestMetric: { name: 'toString', mode: 'max' } });
    const other = new FakeTrainer(model, [empty]);
    await other.emit('onTrainBegin', { step: 0, totalSteps: 3, resumedFrom: null });
    await expect(other.emit('onLoopEnd', { step: 3, interrupted: false })).rejects.toThrow(
      "bestMetric.name must be a metric that evaluate returns (at step 0 it returned no metrics), but received 'toString'.",
    );
  });

  it('rejects bad options', () => {
    expect(() => new PeriodicEvaluation({ evaluate: 3 as never })).toThrow(
      'PeriodicEvaluation: evaluate must be a function, but received 3.',
    );
    expect(() => new PeriodicEvaluation({ evaluate: async () => ({}), every: 0 })).toThrow(
      'PeriodicEvaluation: every must be an integer ≥ 1, but received 0.',
    );
    expect(() => new PeriodicEvaluation({ evaluate: async () => ({}), evry: 5 } as never)).toThrow(
      'PeriodicEvaluation: options.evry must be an option (one of evaluate, every, bestMetric), but received 5.',
    );
    expect(() => new PeriodicEvaluation([] as never)).toThrow(
      'PeriodicEvaluation: options must be an object {evaluate, every?, bestMetric?}, but received [].',
    );
    expect(
      () => new PeriodicEvaluation({ evaluate: async () => ({}), bestMetric: { name: 'x', mode: 'up' as never } }),
    ).toThrow("PeriodicEvaluation: bestMetric.mode must be 'min' or 'max', but received 'up'.");
  });
});
