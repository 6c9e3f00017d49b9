import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, describe, expect, it } from 'vitest';
import { PhalanxConfigError, PhalanxNonFiniteError } from '@phalanx/errors';
import { JsonlLogging } from './logging';
import { FakeTrainer, stepResult } from './test-utils';

const root = mkdtempSync(join(tmpdir(), 'phalanx-logging-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('JsonlLogging', () => {
  it('refuses a path that is not a non-empty string without NUL, by name', () => {
    for (const [path, shown] of [
      ['', "''"],
      [null, 'null'],
      [3, '3'],
      ['a\0b', "'a\0b'"],
    ] as const) {
      const make = () => new JsonlLogging(path as unknown as string);
      expect(make).toThrow(PhalanxConfigError);
      expect(make).toThrow(`JsonlLogging: path must be a file path (a non-empty string), but received ${shown}.`);
    }
  });

  it('writes one JSON object per event, with the average speed since the start', async () => {
    const path = join(root, 'a', 'log.jsonl');
    let now = 0;
    const logging = new JsonlLogging(path, () => now);
    const trainer = new FakeTrainer({} as tfl.LayersModel, [logging]);
    await trainer.emit('onTrainBegin', { step: 10, totalSteps: 20, resumedFrom: 'ckpt' });
    now = 2000;
    await trainer.emit('onStepEnd', stepResult(11, 0.5, { parts: { a: 0.25 }, temperature: 4, microBatches: 2 }));
    now = 4000;
    await trainer.emit('onStepEnd', stepResult(12, Number.NaN, { skipped: true }));
    await trainer.emit('onEvaluate', { step: 12, metrics: { epe: 3 }, ms: 5, best: null, improved: false });
    await trainer.emit('onCheckpoint', { step: 12, dir: 'd', reason: 'periodic', finite: false });
    await trainer.message('just a notice');
    await trainer.message('look at this', 'warning');
    await trainer.emit('onTeardown', {
      step: 12,
      error: new PhalanxNonFiniteError('Trainer', 13, { loss: Number.NaN }),
    });
    await trainer.emit('onTrainEnd', {
      step: 12,
      interrupted: true,
      losses: [],
      metrics: null,
      best: null,
      checkpoint: null,
      resumedFrom: null,
      skippedSteps: 1,
      warnings: [],
    });
    const events = readFileSync(path, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(events.map((e) => e.event)).toEqual([
      'start',
      'step',
      'step',
      'eval',
      'checkpoint',
      'warning',
      'error',
      'end',
    ]);
    expect(events[0]).toMatchObject({ step: 10, totalSteps: 20, resumedFrom: 'ckpt' });
    expect(events[1]).toMatchObject({
      step: 11,
      loss: 0.5,
      parts: { a: 0.25 },
      temperature: 4,
      microBatches: 2,
      batchSize: 4,
      stepsPerSecond: 0.5,
      samplesPerSecond: 2,
    });
    expect(events[1].skipped).toBeUndefined();
    expect(events[2]).toMatchObject({ step: 12, loss: null, skipped: true, stepsPerSecond: 0.5 });
    expect(events[4]).toMatchObject({ dir: 'd', reason: 'periodic', finite: false });
    expect(events[5]).toMatchObject({ message: 'look at this' });
    expect(events[6]).toMatchObject({ name: 'PhalanxNonFiniteError', message: expect.stringMatching(/step 13/) });
    expect(events[7]).toMatchObject({ interrupted: true, seconds: 4 });
    for (const e of events) expect(typeof e.time).toBe('string');
  });
});
