/**
 * The checkpoint readers, writers and folder helpers, and the JSON-lines log, given a path that is not a
 * non-empty string: a PhalanxConfigError naming the function and the argument, raised before any file is
 * touched — not node's raw TypeError, and not "no checkpoints" for a `null` root.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PhalanxConfigError } from '@phalanx/errors';
import { useBackend } from '@phalanx/testing';
import { checkCheckpoint, readOptimizerSnapshots, readTrainerState, writeCheckpoint } from './checkpoint';
import {
  checkCheckpointRoot,
  checkpointName,
  latestCheckpoint,
  listCheckpoints,
  recoverCheckpointFolder,
  removeStaleTemporaries,
  replaceFolder,
  rotateCheckpoints,
} from './checkpoint-folders';
import { JsonlLog } from './jsonl-log';
import {
  loadModelWeights,
  prepareModelWeights,
  prepareOptimizers,
  prepareTrainerRestore,
  readCheckedWeights,
} from './restore';

let scratch: string;
let model: tfl.LayersModel;
beforeAll(async () => {
  await useBackend('cpu');
  scratch = mkdtempSync(join(tmpdir(), 'phalanx-paths-'));
  const input = tfl.input({ shape: [3] });
  model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 2 }).apply(input) as tfl.SymbolicTensor });
});
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
  model.dispose();
});

/** The error `f` throws or rejects with (fails the test if it succeeds). */
async function failure(f: () => unknown): Promise<Error> {
  try {
    await f();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}

describe('checkpoint paths', () => {
  // [function, argument, call with the path].
  const calls: [string, string, (path: never) => unknown][] = [
    ['writeCheckpoint', 'dir', (p) => writeCheckpoint(p, model, [], null as never)],
    ['readTrainerState', 'dir', (p) => readTrainerState(p)],
    ['readOptimizerSnapshots', 'dir', (p) => readOptimizerSnapshots(p)],
    ['checkCheckpoint', 'dir', (p) => checkCheckpoint(p)],
    ['replaceFolder', 'staged', (p) => replaceFolder(p, join(scratch, 'target'))],
    ['replaceFolder', 'target', (p) => replaceFolder(join(scratch, 'staged'), p)],
    ['checkCheckpointRoot', 'dir', (p) => checkCheckpointRoot(p)],
    ['recoverCheckpointFolder', 'target', (p) => recoverCheckpointFolder(p)],
    ['removeStaleTemporaries', 'root', (p) => removeStaleTemporaries(p)],
    ['listCheckpoints', 'root', (p) => listCheckpoints(p)],
    ['latestCheckpoint', 'root', (p) => latestCheckpoint(p)],
    ['rotateCheckpoints', 'root', (p) => rotateCheckpoints(p, 2)],
    ['readCheckedWeights', 'dir', (p) => readCheckedWeights(model.weights, p)],
    ['prepareModelWeights', 'dir', (p) => prepareModelWeights(model.weights, p)],
    ['loadModelWeights', 'dir', (p) => loadModelWeights(model, p)],
    ['prepareOptimizers', 'dir', (p) => prepareOptimizers([], p)],
    ['prepareTrainerRestore', 'dir', (p) => prepareTrainerRestore(p, { model, groups: [], participants: [] })],
  ];

  it('null, a number, an empty string or a NUL is a PhalanxConfigError naming the function and argument', async () => {
    for (const [name, argument, call] of calls) {
      for (const [path, shown] of [
        [null, 'null'],
        [undefined, 'undefined'],
        [42, '42'],
        ['', "''"],
        ['a\0b', "'a\0b'"],
      ] as const) {
        const error = await failure(() => call(path as never));
        expect(error, `${name}(${shown})`).toBeInstanceOf(PhalanxConfigError);
        expect(error.message).toBe(
          `${name}: ${argument} must be a folder path (a non-empty string), but received ${shown}.`,
        );
      }
    }
  });

  it('checks the other arguments before any file is read', async () => {
    const dir = join(scratch, 'missing');
    const cases: [() => unknown, string][] = [
      [() => loadModelWeights(null as never, dir), 'loadModelWeights: model must be a tf.LayersModel or layer'],
      [
        () => readCheckedWeights(null as never, dir),
        "readCheckedWeights: weights must be an array of a model's weights",
      ],
      [() => prepareOptimizers(null as never, dir), 'prepareOptimizers: groups must be an array of parameter groups'],
      [
        () => prepareTrainerRestore(dir, null as never),
        'prepareTrainerRestore: target must be an object {model, groups, participants}, but received null.',
      ],
      [
        () => prepareTrainerRestore(dir, { model, groups: null as never, participants: [] }),
        'prepareTrainerRestore: target.groups must be an array, but received null.',
      ],
      [() => rotateCheckpoints(dir, Number.NaN), 'rotateCheckpoints: keep must be an integer ≥ 0, but received NaN.'],
      [() => checkpointName(1.5), 'checkpointName: step must be an integer ≥ 0, but received 1.5.'],
    ];
    for (const [f, message] of cases) {
      const error = await failure(f);
      expect(error, message).toBeInstanceOf(PhalanxConfigError);
      expect(error.message).toContain(message);
    }
    expect(tf.memory().numTensors).toBe(model.weights.length);
  });
});

describe('JsonlLog', () => {
  it('names a path or an event it cannot write, and writes valid events as before', () => {
    for (const [path, shown] of [
      [null, 'null'],
      ['', "''"],
    ] as const) {
      expect(() => new JsonlLog(path as never)).toThrow(
        `JsonlLog: path must be a file path (a non-empty string), but received ${shown}.`,
      );
    }
    const file = join(scratch, 'logs', 'run.jsonl');
    const log = new JsonlLog(file);
    for (const [event, shown] of [
      [null, 'null'],
      [{ step: 1 }, '{"step":1}'],
      [{ event: 'eval', step: '1' }, '{"event":"eval","step":"1"}'],
    ] as const) {
      expect(() => log.write(event as never)).toThrow(
        `JsonlLog.write: event must be an event object {event: string, step: number, …}, but received ${shown}.`,
      );
    }
    expect(existsSync(file)).toBe(false);
    log.write({ event: 'eval', step: 3, metrics: { epe: 1.5 }, ms: 2 });
    const line = JSON.parse(readFileSync(file, 'utf8'));
    expect(line).toMatchObject({ event: 'eval', step: 3, metrics: { epe: 1.5 }, ms: 2 });
    expect(Object.keys(line)).toEqual(['event', 'step', 'time', 'metrics', 'ms']);
  });
});
