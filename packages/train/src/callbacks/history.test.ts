import type * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { RunHistory } from './history';
import { FakeTrainer, stepResult } from './test-utils';

describe('RunHistory', () => {
  it('records losses, skips, the last step checkpoint and warnings of one run', async () => {
    const history = new RunHistory();
    const trainer = new FakeTrainer({} as tfl.LayersModel, [history]);
    for (const run of [1, 2]) {
      await trainer.emit('onTrainBegin', { step: 0, totalSteps: 3, resumedFrom: run === 2 ? 'x' : null });
      await trainer.emit('onStepEnd', stepResult(1, 0.5));
      await trainer.emit('onStepEnd', stepResult(2, Number.NaN, { skipped: true }));
      await trainer.emit('onCheckpoint', { step: 2, dir: 'step-2', reason: 'periodic', finite: true });
      await trainer.emit('onCheckpoint', { step: 2, dir: 'best', reason: 'best', finite: true });
      await trainer.message('note');
      await trainer.message('careful', 'warning');
    }
    expect(history.losses).toEqual([0.5, Number.NaN]);
    expect(history.skippedSteps).toBe(1);
    expect(history.checkpoint).toBe('step-2');
    expect(history.warnings).toEqual(['careful']);
    expect(history.resumedFrom).toBe('x');
  });
});
