/**
 * Checkpoint and log folders that cannot be made or written: a `PhalanxFileError` naming the folder, before
 * any training step — not Node's raw (and on a read-only or virtual file system misleading) `ENOENT`/`EPERM`
 * after steps of training, and never the endless loop of Node 20's recursive `mkdir` under `/proc`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PhalanxFileError } from '@phalanx/errors';
import { useBackend } from '@phalanx/testing';
import { checkCheckpointRoot } from './checkpoint-folders';
import { JsonlLog } from './jsonl-log';
import { Trainer } from './trainer';

type Batch = { xs: tf.Tensor; ys: tf.Tensor };

const linux = process.platform === 'linux';
/** The package folder: tsx reads its tsconfig.json there (workspace packages resolve to their sources). */
const PACKAGE = fileURLToPath(new URL('..', import.meta.url));
const CHILD = fileURLToPath(new URL('../test/proc-folders-child.ts', import.meta.url));

function trainer(onStep: () => void): Trainer<Batch> {
  const x = tfl.input({ shape: [3] });
  const model = tfl.model({ inputs: x, outputs: tfl.layers.dense({ units: 2 }).apply(x) as tfl.SymbolicTensor });
  const loss = (outputs: tf.Tensor[], b: Batch) => tf.mean(tf.square(tf.sub(outputs[0], b.ys))) as tf.Scalar;
  return new Trainer<Batch>({ model, loss, progress: false, callbacks: [{ onStepEnd: onStep }] });
}

function* data(): Generator<Batch> {
  for (;;) yield tf.tidy(() => ({ xs: tf.ones([4, 3]), ys: tf.zeros([4, 2]) }));
}

/** `fit` for 3 steps with `options`; its error (or `null`) and the steps it ran. */
async function fitFailure(options: { checkpointDir?: string; logFile?: string | null }): Promise<[unknown, number]> {
  let steps = 0;
  const t = trainer(() => void (steps += 1));
  const error = await t
    .fit({ data, steps: 3, checkpointEvery: options.checkpointDir ? 1 : undefined, handleSigint: false, ...options })
    .then(
      () => null,
      (e: unknown) => e,
    );
  return [error, steps];
}

let root: string;
let file: string;
beforeAll(async () => {
  await useBackend('cpu');
  root = mkdtempSync(join(tmpdir(), 'phalanx-folders-'));
  file = join(root, 'a-file');
  writeFileSync(file, 'not a folder');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('a folder under a regular file', () => {
  it('is a PhalanxFileError naming the log or checkpoint, before any step', async () => {
    expect(() => new JsonlLog(join(file, 'logs', 'log.jsonl'))).toThrow(PhalanxFileError);
    expect(() => new JsonlLog(join(file, 'logs', 'log.jsonl'))).toThrow(
      /a-file\/logs\/log\.jsonl: log folder cannot be made: .*a-file is a file$/,
    );
    const [error, steps] = await fitFailure({ logFile: join(file, 'log.jsonl') });
    expect(error).toBeInstanceOf(PhalanxFileError);
    expect(steps).toBe(0);
    const t = trainer(() => undefined);
    const saved = await t.saveCheckpoint(join(file, 'ck', 'step-00000001')).catch((e: unknown) => e);
    expect(saved).toBeInstanceOf(PhalanxFileError);
    expect((saved as Error).message).toMatch(/step-00000001: checkpoint folder cannot be made: .*a-file is a file$/);
  });

  it('a writable root passes the check as it is (nothing made, no probe left); a log makes its folder', async () => {
    const before = readdirSync(root).sort();
    await checkCheckpointRoot(join(root, 'new', 'deeper', 'runs'));
    expect(readdirSync(root).sort()).toEqual(before);
    await checkCheckpointRoot(root);
    expect(readdirSync(root).sort()).toEqual(before);
    const log = new JsonlLog(join(root, 'logs', 'a', 'log.jsonl'));
    expect(readdirSync(join(root, 'logs', 'a'))).toEqual([]);
    log.write({ event: 'warning', step: 0, message: 'x' });
    expect(readdirSync(join(root, 'logs', 'a'))).toEqual(['log.jsonl']);
  });
});

describe.runIf(linux && existsSync('/sys/kernel'))('a folder on sysfs (no new entries, for root too)', () => {
  it('is a PhalanxFileError before any step, for the checkpoint root and for the log', async () => {
    for (const options of [
      { checkpointDir: '/sys/phalanx-test-checkpoints' },
      { checkpointDir: '/sys/phalanx-test-checkpoints', logFile: null }, // failed only at the first checkpoint
      { logFile: '/sys/phalanx-test.jsonl' },
    ]) {
      const [error, steps] = await fitFailure(options);
      expect(error, JSON.stringify(options)).toBeInstanceOf(PhalanxFileError);
      expect((error as Error).message).toMatch(/^\/sys\/phalanx-test[-.a-z]*: (checkpoint folder|log file|log folder)/);
      expect(steps).toBe(0);
    }
    expect(existsSync('/sys/phalanx-test-checkpoints')).toBe(false);
  });
});

describe.runIf(linux && existsSync('/proc/self'))('a folder under /proc', () => {
  it('is a PhalanxFileError at once, not an endless recursive mkdir (run in a child with a time limit)', () => {
    const child = spawnSync(process.execPath, ['--import', 'tsx', CHILD, '/proc/phalanx-test/run'], {
      cwd: PACKAGE,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(child.signal, `the child was stopped: it hung (stderr: ${child.stderr})`).toBeNull();
    expect(child.status, child.stderr).toBe(0);
    const results = JSON.parse(child.stdout.trim().split('\n').pop() as string) as Record<string, unknown>;
    const { steps, ...calls } = results;
    expect(steps).toBe(0);
    for (const [label, outcome] of Object.entries(calls)) {
      expect(outcome, label).toMatchObject({ name: 'PhalanxFileError' });
      expect((outcome as { message: string }).message, label).toMatch(
        /^\/proc\/phalanx-test\/run\/[-a-z0-9./]+: (checkpoint|log) folder cannot be made: (mkdir \/proc\/phalanx-test failed|no folder can be made in \/proc): the file system takes no new folders there \(ENOENT\)$/,
      );
    }
  }, 90_000);
});
