import { EventEmitter } from 'node:events';
import type * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { PhalanxConfigError } from '@phalanx/errors';
import { StopOnSigint, type SignalSource } from './sigint';
import { FakeTrainer } from './test-utils';

describe('StopOnSigint', () => {
  it('asks the trainer to stop at the first SIGINT, then leaves later ones to the process', async () => {
    const signals = new EventEmitter();
    const trainer = new FakeTrainer({} as tfl.LayersModel, [new StopOnSigint(signals as SignalSource)]);
    await trainer.emit('onTrainBegin', { step: 0, totalSteps: 5, resumedFrom: null });
    expect(signals.listenerCount('SIGINT')).toBe(1);
    signals.emit('SIGINT');
    expect(trainer.stopRequested).toBe(true);
    expect(signals.listenerCount('SIGINT')).toBe(0); // a second Ctrl-C gets Node's default: the process ends
    const messages = trainer.events.filter(([h]) => h === 'onMessage').map(([, i]) => (i as { text: string }).text);
    expect(messages).toEqual([
      'interrupt: finishing the step, then writing a checkpoint (Ctrl-C again to quit at once)',
    ]);
  });

  it('stops listening at teardown, also when no signal came', async () => {
    const signals = new EventEmitter();
    const trainer = new FakeTrainer({} as tfl.LayersModel, [new StopOnSigint(signals as SignalSource)]);
    await trainer.emit('onTrainBegin', { step: 0, totalSteps: 5, resumedFrom: null });
    await trainer.emit('onTeardown', { step: 0, error: new Error('boom') });
    expect(signals.listenerCount('SIGINT')).toBe(0);
    signals.emit('SIGINT');
    expect(trainer.stopRequested).toBe(false);
  });

  it('names a signal source it cannot listen to when built, not at the start of fit', () => {
    for (const [signals, shown] of [
      [null, 'null'],
      [{ on: () => undefined }, "'object'"],
    ] as const) {
      const build = () => new StopOnSigint(signals as never);
      expect(build).toThrow(PhalanxConfigError);
      expect(build).toThrow(
        `StopOnSigint: signals must be a signal source {on, removeListener} (default process), but received ${shown}.`,
      );
    }
    expect(() => new StopOnSigint()).not.toThrow();
  });
});
