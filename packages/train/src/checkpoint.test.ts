import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PhalanxFileError } from '@phalanx/errors';
import { fileSystem } from '@phalanx/layers';
import { useBackend } from '@phalanx/testing';
import { checkCheckpoint, writeCheckpoint } from './checkpoint';
import { Trainer } from './trainer';
import {
  listCheckpoints,
  recoverCheckpointFolder,
  removeStaleTemporaries,
  replaceFolder,
  rotateCheckpoints,
} from './checkpoint-folders';
import { parseTrainerState, type TrainerState } from './trainer-state';

const valid: TrainerState = {
  version: 1,
  step: 10,
  batchesSeen: 40,
  samplesSeen: 320,
  learningRates: { all: 1e-3, frozen: null },
  temperature: 4.5,
  selectorNoiseCalls: { meta_S: 40 },
  best: { name: 'epe', mode: 'min', value: 3.5, step: 8 },
  lastMetrics: { epe: 3.7, auc: null },
  savedAt: '2026-01-01T00:00:00.000Z',
  skippedSteps: 1,
  finite: true,
  ema: { updates: 9, decay: 0.99 },
};

let root: string;
beforeAll(async () => {
  await useBackend('cpu');
  root = mkdtempSync(join(tmpdir(), 'phalanx-checkpoint-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The pid of a process that has ended. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid!;
}

describe('trainer-state.json schema', () => {
  it('accepts a valid state, and one without the optional fields', () => {
    expect(parseTrainerState(JSON.stringify(valid), 'f')).toEqual(valid);
    const { skippedSteps: _s, finite: _f, ema: _e, ...older } = valid;
    expect(parseTrainerState(JSON.stringify({ ...older, best: null, lastMetrics: null }), 'f').step).toBe(10);
  });

  const broken: [string, unknown, string][] = [
    ['text', 'not json', 'f: content is not valid JSON'],
    ['an array', [], 'f: content must be a JSON object'],
    ['version', { ...valid, version: 2 }, "f: field 'version' must be 1"],
    ['step', { ...valid, step: 1.5 }, "f: field 'step' must be an integer ≥ 0"],
    ['a missing field', { ...valid, samplesSeen: undefined }, "f: field 'samplesSeen' must be an integer ≥ 0"],
    [
      'learning rates',
      { ...valid, learningRates: { all: 'fast' } },
      "f: field 'learningRates' entry 'all' must be a finite number",
    ],
    ['temperature', { ...valid, temperature: 'hot' }, "f: field 'temperature' must be a finite number"],
    [
      'noise calls',
      { ...valid, selectorNoiseCalls: { meta_S: -1 } },
      "f: field 'selectorNoiseCalls' entry 'meta_S' must be an integer ≥ 0",
    ],
    [
      'best.mode',
      { ...valid, best: { ...valid.best, mode: 'up' } },
      "f: field 'best' field 'mode' must be 'min' or 'max'",
    ],
    ['lastMetrics', { ...valid, lastMetrics: [1] }, "f: field 'lastMetrics' must be an object"],
    ['savedAt', { ...valid, savedAt: 5 }, "f: field 'savedAt' must be a string"],
    ['finite', { ...valid, finite: 'yes' }, "f: field 'finite' must be a boolean"],
    ['ema', { ...valid, ema: { updates: 1 } }, "f: field 'ema' field 'decay' must be a finite number"],
  ];
  for (const [what, json, message] of broken) {
    it(`names a bad ${what}`, () => {
      const text = typeof json === 'string' ? json : JSON.stringify(json);
      expect(() => parseTrainerState(text, 'f')).toThrow(PhalanxFileError);
      expect(() => parseTrainerState(text, 'f')).toThrow(message);
    });
  }
});

describe('checkpoint folders', () => {
  function model(): tfl.LayersModel {
    const x = tfl.input({ shape: [3] });
    const y = tfl.layers.dense({ units: 2, name: 'd' }).apply(x) as tfl.SymbolicTensor;
    return tfl.model({ inputs: x, outputs: y });
  }

  it('writeCheckpoint refuses a state its reader would refuse, writing nothing', async () => {
    const dir = join(root, 'refused', 'step-00000001');
    const bad: TrainerState[] = [
      { ...valid, ema: null, samplesSeen: Number.NaN },
      { ...valid, ema: null, lastMetrics: 5 as unknown as TrainerState['lastMetrics'] },
    ];
    for (const state of bad) {
      await expect(writeCheckpoint(dir, model(), [], state)).rejects.toThrow(PhalanxFileError);
      expect(existsSync(join(root, 'refused'))).toBe(false);
    }
  });

  it('writeCheckpoint replaces an existing folder and leaves no temporary behind; reports finiteness', async () => {
    const dir = join(root, 'write', 'step-00000001');
    const m = model();
    const first = await writeCheckpoint(dir, m, [], { ...valid, ema: null });
    expect(first).toEqual({ dir, finite: true });
    m.getLayer('d').weights[1].write(tf.tensor1d([Number.NaN, 0]));
    const second = await writeCheckpoint(dir, m, [], { ...valid, step: 11, ema: null });
    expect(second.finite).toBe(false);
    expect(readdirSync(join(root, 'write'))).toEqual(['step-00000001']);
    const state = await checkCheckpoint(dir);
    expect(state).toMatchObject({ step: 11, finite: false });
    const loaded = await tfl.loadLayersModel(fileSystem(dir));
    expect(Array.from(loaded.getLayer('d').getWeights()[1].dataSync())).toEqual([Number.NaN, 0]);
  });

  it('puts back a folder whose replacement was killed between its two renames', async () => {
    const parent = join(root, 'recover');
    const staged = join(parent, 'best.tmp-1-a');
    mkdirSync(staged, { recursive: true });
    writeFileSync(join(staged, 'trainer-state.json'), JSON.stringify(valid));
    await replaceFolder(staged, join(parent, 'best'));
    // The kill: the old best/ was renamed aside, the new one not yet in place.
    const aside = `best.old-${deadPid()}-x`;
    await replaceFolder(join(parent, 'best'), join(parent, aside));
    expect(existsSync(join(parent, 'best'))).toBe(false);
    expect(await recoverCheckpointFolder(join(parent, 'best'))).toBe(join(parent, 'best'));
    expect(readdirSync(parent)).toEqual(['best']);
    expect(await recoverCheckpointFolder(join(parent, 'nothing'))).toBeNull();
  });

  it('removes temporaries of dead writers only', async () => {
    const dir = join(root, 'stale');
    const dead = `step-00000003.tmp-${deadPid()}-x`;
    const live = `step-00000004.tmp-${process.pid}-y`;
    for (const name of [dead, live, 'step-00000002']) mkdirSync(join(dir, name), { recursive: true });
    await removeStaleTemporaries(dir);
    expect(readdirSync(dir).sort()).toEqual([live, 'step-00000002'].sort());
  });

  it('rotation deletes through a set-aside name; a half-deleted leftover is never listed and is cleaned up', async () => {
    const dir = join(root, 'rotate');
    for (const step of [1, 2, 3, 4]) {
      mkdirSync(join(dir, `step-0000000${step}`), { recursive: true });
      writeFileSync(join(dir, `step-0000000${step}`, 'trainer-state.json'), JSON.stringify({ finite: true }));
    }
    const deleted = await rotateCheckpoints(dir, 2);
    expect(deleted.map((d) => d.slice(dir.length + 1))).toEqual(['step-00000001', 'step-00000002']);
    expect(readdirSync(dir).sort()).toEqual(['step-00000003', 'step-00000004']);
    // What a rotation killed mid-delete leaves: the state file of a folder whose weights are already gone.
    const leftover = `step-00000003.del-${deadPid()}-z`;
    mkdirSync(join(dir, leftover));
    writeFileSync(join(dir, leftover, 'trainer-state.json'), JSON.stringify({ finite: true }));
    expect((await listCheckpoints(dir)).map((c) => c.step)).toEqual([3, 4]);
    await removeStaleTemporaries(dir);
    expect(readdirSync(dir).sort()).toEqual(['step-00000003', 'step-00000004']);
  });

  it('a failed save leaks no tensor and leaves no temporary folder', async () => {
    const m = model();
    const trainer = new Trainer({ model: m, loss: ([y]) => tf.mean(y) as tf.Scalar, progress: false, ema: {} });
    await trainer.trainStep(tf.ones([2, 3]));
    const parent = join(root, 'blocked');
    writeFileSync(parent, 'a file where a folder should be');
    const count = tf.memory().numTensors;
    await expect(trainer.saveCheckpoint(join(parent, 'step-00000001'))).rejects.toThrow(
      /step-00000001: checkpoint folder cannot be made: .*blocked is a file$/,
    );
    expect(tf.memory().numTensors).toBe(count);
    const dir = join(root, 'unblocked');
    mkdirSync(dir);
    // A model whose save fails half-way: the staged folder is removed.
    const failing = new Trainer({ model: m, loss: ([y]) => tf.mean(y) as tf.Scalar, progress: false });
    const before = tf.memory().numTensors; // (its Adam made two scalars)
    const save = m.save.bind(m);
    m.save = async () => Promise.reject(new Error('disk full'));
    await expect(failing.saveCheckpoint(join(dir, 'step-00000001'))).rejects.toThrow('disk full');
    m.save = save;
    expect(readdirSync(dir)).toEqual([]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('checkCheckpoint names what is damaged', async () => {
    const dir = join(root, 'check');
    await writeCheckpoint(dir, model(), [], { ...valid, ema: null });
    await expect(checkCheckpoint(join(root, 'missing'))).rejects.toThrow(/trainer-state\.json: file cannot be read/);
    const state = JSON.parse(readFileSync(join(dir, 'trainer-state.json'), 'utf8'));
    writeFileSync(join(dir, 'trainer-state.json'), JSON.stringify({ ...state, ema: { updates: 1, decay: 0.9 } }));
    await expect(checkCheckpoint(dir)).rejects.toThrow(/ema.*model\.json: file cannot be read/);
    writeFileSync(join(dir, 'model.json'), '{');
    await expect(checkCheckpoint(dir)).rejects.toThrow(/model\.json: content is not valid JSON/);
  });
});
