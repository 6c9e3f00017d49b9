import type * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { ProgressReporting } from './progress';
import { FakeTrainer, stepResult } from './test-utils';

describe('ProgressReporting', () => {
  it('shows the bar and prints resume, evaluations, skipped steps, the last checkpoint and messages', async () => {
    let text = '';
    const stream = { write: (s: string) => (text += s), isTTY: false };
    const trainer = new FakeTrainer({} as tfl.LayersModel, [new ProgressReporting({ stream, every: 1 })]);
    await trainer.emit('onTrainBegin', { step: 2, totalSteps: 4, resumedFrom: 'runs/a/step-00000002' });
    await trainer.emit('onStepEnd', stepResult(3, 0.5, { temperature: 4.5 }));
    await trainer.emit('onStepEnd', stepResult(4, Number.NaN, { skipped: true, gradNorm: Number.NaN }));
    await trainer.emit('onEvaluate', {
      step: 4,
      metrics: { epe: 3.14159, n: 7, bad: Number.NaN },
      ms: 1,
      best: null,
      improved: false,
    });
    await trainer.emit('onCheckpoint', { step: 4, dir: 'runs/a/step-00000004', reason: 'periodic', finite: true });
    await trainer.emit('onCheckpoint', { step: 4, dir: 'runs/a/step-00000004', reason: 'end', finite: true });
    await trainer.message('hello');
    await trainer.message('careful', 'warning');
    await trainer.emit('onTeardown', { step: 4, error: null });
    const lines = text.trim().split('\n');
    expect(lines[0]).toBe('resumed from runs/a/step-00000002 at step 2');
    expect(lines[1]).toMatch(/^step 3\/4 \(75%\) loss 0\.5000 τ 4\.500 · /);
    expect(lines[2]).toBe('step 4 skipped: loss NaN, gradient norm NaN');
    expect(lines[3]).toMatch(/^step 4\/4 \(100%\) loss NaN/);
    expect(lines.slice(4)).toEqual([
      'eval @ 4: epe 3.1416, n 7, bad NaN',
      'checkpoint runs/a/step-00000004',
      'hello',
      'warning: careful',
    ]);
  });
});
