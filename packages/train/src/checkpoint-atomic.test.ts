import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InjectedCrash } from '@phalanx/testing/fault-injection';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { fileSystem } from '@phalanx/layers';
import { useBackend } from '@phalanx/testing';
import { checkCheckpoint, readOptimizerSnapshots, writeCheckpoint } from './checkpoint';
import { recoverCheckpointFolder } from './checkpoint-folders';
import type { TrainerState } from './trainer-state';

/**
 * Interrupted checkpoint writes: the mocked `node:fs/promises` throws at a chosen mutating operation
 * (before it, or after writing half the file), which leaves the disk as a kill there would. It covers
 * the files `writeCheckpoint` writes itself and those `fileSystem` writes for the model. Inactive unless
 * `crash.at` is set.
 */
const crash = vi.hoisted(() => ({ at: 0, halfWrite: false, count: 0 }));

vi.mock('node:fs/promises', async (importOriginal) => {
  const { crashingFsPromises } = await import('@phalanx/testing/fault-injection');
  return crashingFsPromises(await importOriginal(), crash);
});

function state(step: number): TrainerState {
  return {
    version: 1,
    step,
    batchesSeen: step,
    samplesSeen: step * 4,
    learningRates: { all: 1e-3 },
    temperature: null,
    selectorNoiseCalls: {},
    best: null,
    lastMetrics: null,
    savedAt: '2026-01-01T00:00:00.000Z',
  };
}

/** A tiny model whose every weight equals `step`, so a folder shows which write its weights come from. */
function modelAt(step: number): tfl.LayersModel {
  const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 2, inputShape: [3] })] });
  model.setWeights(model.getWeights().map((w) => tf.fill(w.shape, step)));
  return model;
}

/** Writes the checkpoint of `step` into `dir`: model and one optimizer slot filled with `step`. */
async function writeAt(dir: string, model: tfl.LayersModel, step: number): Promise<void> {
  const slot = tf.fill([3, 2], step);
  try {
    const snapshot = {
      className: 'Adam',
      weights: [{ name: 'dense/kernel/m', tensor: slot }],
      scalars: { accBeta1: 0.9 },
    };
    await writeCheckpoint(dir, model, [{ group: 'all', snapshot }], state(step));
  } finally {
    slot.dispose();
  }
}

/**
 * The step of the checkpoint in `dir` after the recovery a resume runs, or `null` if there is none;
 * fails unless the folder is intact and its weights and optimizer slot all equal its state's step.
 */
async function restoredStep(dir: string, label: string): Promise<number | null> {
  if ((await recoverCheckpointFolder(dir)) === null) return null;
  const { step } = await checkCheckpoint(dir);
  const loaded = await tfl.loadLayersModel(fileSystem(dir));
  for (const w of loaded.getWeights())
    expect(Array.from(w.dataSync()), `${label}: weights of step ${step}`).toEqual(new Array(w.size).fill(step));
  loaded.dispose();
  const snapshots = await readOptimizerSnapshots(dir);
  const slots = snapshots.get('all')!.weights;
  expect(Array.from(slots[0].tensor.dataSync()), `${label}: optimizer slot of step ${step}`).toEqual(
    new Array(6).fill(step),
  );
  tf.dispose(slots.map((s) => s.tensor));
  return step;
}

let root: string;
beforeAll(async () => {
  await useBackend('cpu');
  root = mkdtempSync(join(tmpdir(), 'phalanx-atomic-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('writeCheckpoint is atomic', () => {
  // `best/` is replaced in place of an older best; `step-N/` is a new folder.
  it.each([
    ['best/ replacing an older best', 'best', true],
    ['a new step-N/ folder', 'step-00000002', false],
  ])('an interruption at any file operation of %s leaves the old or the new checkpoint', async (_, name, replaces) => {
    const oldModel = modelAt(1);
    const newModel = modelAt(2);

    crash.at = 0;
    crash.count = 0;
    await writeAt(join(root, 'count', name), newModel, 2);
    if (replaces) {
      crash.count = 0;
      await writeAt(join(root, 'count', name), newModel, 2);
    }
    const operations = crash.count;
    expect(operations).toBeGreaterThanOrEqual(6);

    const seen = { old: 0, new: 0 };
    for (const halfWrite of [false, true]) {
      for (let at = 1; at <= operations; at++) {
        const parent = join(root, `${name}-${halfWrite ? 'half' : 'before'}-${at}`);
        const dir = join(parent, name);
        crash.at = 0;
        if (replaces) await writeAt(dir, oldModel, 1);
        crash.count = 0;
        crash.at = at;
        crash.halfWrite = halfWrite;
        await expect(writeAt(dir, newModel, 2), `crash at ${at}`).rejects.toBeInstanceOf(InjectedCrash);
        crash.at = 0;
        const label = `crash at ${at}, half-write ${halfWrite}`;
        const step = await restoredStep(dir, label);
        expect([replaces ? 1 : null, 2], label).toContain(step);
        seen[step === 2 ? 'new' : 'old'] += 1;
        // The next write into the folder succeeds and leaves only the checkpoint (and set-aside folders
        // of this live process, which a resume removes once it has ended).
        await writeAt(dir, newModel, 2);
        expect(await restoredStep(dir, `${label}, then a full write`)).toBe(2);
        expect(readdirSync(parent).filter((n) => n.includes('.tmp-'))).toEqual([]);
      }
    }
    // A replacement shows both outcomes; a new folder appears with its last operation, so only "none" is seen.
    expect(seen.old).toBeGreaterThan(0);
    if (replaces) expect(seen.new).toBeGreaterThan(0);
    oldModel.dispose();
    newModel.dispose();
  });
});
