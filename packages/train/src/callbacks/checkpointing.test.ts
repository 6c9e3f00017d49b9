import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, describe, expect, it } from 'vitest';
import { Checkpointing } from './checkpointing';
import { FakeTrainer, stateAt } from './test-utils';

const root = mkdtempSync(join(tmpdir(), 'phalanx-checkpointing-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const model = {} as tfl.LayersModel;

function checkpointEvents(trainer: FakeTrainer): [number, string][] {
  return trainer.events
    .filter(([hook]) => hook === 'onCheckpoint')
    .map(([, info]) => {
      const i = info as { step: number; reason: string };
      return [i.step, i.reason];
    });
}

describe('Checkpointing', () => {
  it('writes every `every` steps and at the end, keeps the newest `keep`', async () => {
    const dir = join(root, 'periodic');
    const trainer = new FakeTrainer(model, [new Checkpointing({ dir, every: 2, keep: 2 })]);
    await trainer.emit('onTrainBegin', { step: 0, totalSteps: 7, resumedFrom: null });
    await trainer.steps(1, 7);
    await trainer.emit('onLoopEnd', { step: 7, interrupted: false });
    expect(checkpointEvents(trainer)).toEqual([
      [2, 'periodic'],
      [4, 'periodic'],
      [6, 'periodic'],
      [7, 'end'],
    ]);
    expect(readdirSync(dir).sort()).toEqual(['step-00000006', 'step-00000007']);
  });

  it('an interrupt on a checkpoint step writes nothing twice; a resumed run does not rewrite its start', async () => {
    const dir = join(root, 'interrupt');
    const trainer = new FakeTrainer(model, [new Checkpointing({ dir, every: 2 })]);
    await trainer.emit('onTrainBegin', { step: 0, totalSteps: 9, resumedFrom: null });
    await trainer.steps(1, 4);
    await trainer.emit('onLoopEnd', { step: 4, interrupted: true });
    expect(checkpointEvents(trainer)).toEqual([
      [2, 'periodic'],
      [4, 'periodic'],
    ]);
    await trainer.emit('onLoopEnd', { step: 4, interrupted: true });
    const resumed = new FakeTrainer(model, [new Checkpointing({ dir, every: 2 })]);
    resumed.step = 4;
    await resumed.emit('onTrainBegin', { step: 4, totalSteps: 4, resumedFrom: join(dir, 'step-00000004') });
    await resumed.emit('onLoopEnd', { step: 4, interrupted: false });
    expect(resumed.saved).toEqual([]);
    resumed.step = 5;
    await resumed.emit('onLoopEnd', { step: 5, interrupted: true });
    expect(checkpointEvents(resumed)).toEqual([[5, 'interrupt']]);
  });

  it('keeps the newest finite checkpoint beyond `keep`', async () => {
    const dir = join(root, 'finite');
    const trainer = new FakeTrainer(model, [new Checkpointing({ dir, every: 1, keep: 1 })]);
    await trainer.emit('onTrainBegin', { step: 0, totalSteps: 9, resumedFrom: null });
    await trainer.steps(1, 3);
    trainer.finite = false;
    await trainer.steps(4, 6);
    expect(readdirSync(dir).sort()).toEqual(['step-00000003', 'step-00000006']);
  });

  it('writes best/ after an evaluation that improved, replacing the previous one', async () => {
    const dir = join(root, 'best');
    const trainer = new FakeTrainer(model, [new Checkpointing({ dir })]);
    await trainer.emit('onTrainBegin', { step: 0, totalSteps: 9, resumedFrom: null });
    const evaluate = (step: number, improved: boolean) =>
      trainer.emit('onEvaluate', { step, metrics: {}, ms: 1, best: null, improved });
    trainer.step = 1;
    await evaluate(1, true);
    trainer.step = 2;
    await evaluate(2, false);
    trainer.step = 3;
    await evaluate(3, true);
    expect(checkpointEvents(trainer)).toEqual([
      [1, 'best'],
      [3, 'best'],
    ]);
    expect(readdirSync(dir)).toEqual(['best']);
  });

  it('at the start, cleans up after killed writers and puts back a half-replaced best/', async () => {
    const dir = join(root, 'cleanup');
    const dead = 2 ** 22 + 12345; // above Linux's default pid_max: no such process
    mkdirSync(join(dir, `best.old-${dead}-x`), { recursive: true });
    writeFileSync(join(dir, `best.old-${dead}-x`, 'trainer-state.json'), JSON.stringify(stateAt(3)));
    mkdirSync(join(dir, `step-00000004.tmp-${dead}-y`));
    const trainer = new FakeTrainer(model, [new Checkpointing({ dir })]);
    await trainer.emit('onTrainBegin', { step: 0, totalSteps: 9, resumedFrom: null });
    expect(readdirSync(dir)).toEqual(['best']);
    expect(existsSync(join(dir, 'best', 'trainer-state.json'))).toBe(true);
  });

  it('rejects bad options', () => {
    expect(() => new Checkpointing({ dir: '' })).toThrow(
      "Checkpointing: dir must be a folder path (a non-empty string), but received ''.",
    );
    expect(() => new Checkpointing({ dir: 'a\0b' })).toThrow(/^Checkpointing: dir must be a folder path/);
    expect(() => new Checkpointing({ dir: 'x', every: 0 })).toThrow('Checkpointing: every must be an integer ≥ 1');
    expect(() => new Checkpointing({ dir: 'x', keep: 0 })).toThrow('Checkpointing: keep must be an integer ≥ 1');
    expect(() => new Checkpointing({ dir: 'x', keepLast: 3 } as never)).toThrow(
      'Checkpointing: options.keepLast must be an option (one of dir, every, keep), but received 3.',
    );
    expect(() => new Checkpointing(['x'] as never)).toThrow(
      'Checkpointing: options must be an object {dir, every?, keep?}, but received ["x"].',
    );
  });
});
