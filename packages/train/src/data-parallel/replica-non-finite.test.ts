import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@phalanx/testing';
import {
  nonFiniteBatch,
  nonFiniteTrainer,
  type NonFiniteReplicaData,
  type NonFiniteReplicaResult,
} from '../../test/data-parallel-non-finite-replica';
import { maxRelativeDifference } from '../../test/relative-difference';
import { runDataParallel } from './index';

const replicaModule = new URL('../../test/data-parallel-non-finite-replica.ts', import.meta.url);

/** One trainer on the whole global batches: what the replicas must follow. */
async function single(data: NonFiniteReplicaData): Promise<NonFiniteReplicaResult> {
  const trainer = nonFiniteTrainer(data);
  const skipped: boolean[] = [];
  let error: string | null = null;
  for (let step = 0; step < data.steps && error === null; step++) {
    const b = nonFiniteBatch(step, data);
    try {
      skipped.push((await trainer.trainStep(b)).skipped);
    } catch (e) {
      error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    }
    tf.dispose(b);
  }
  const weights = trainer.model.weights.map((w) => w.read().dataSync() as Float32Array);
  return { weights, step: trainer.step, skippedSteps: trainer.skippedSteps, skipped, error };
}

beforeAll(async () => {
  await useBackend('cpu');
});

describe('runDataParallel: a step non-finite in one replica only', () => {
  // Row 1 of the batch at step 2 (0-based 1) is in replica 1's shard only.
  const base = { steps: 4, batchSize: 8, badStep: 1 };

  it.each(['part', 'loss', 'gradient'] as const)(
    "'skip': a non-finite %s in one replica skips the step in every replica, as one trainer does",
    async (where) => {
      const data: NonFiniteReplicaData = { ...base, where, onNonFinite: 'skip' };
      const expected = await single(data);
      expect(expected.skipped).toEqual([false, true, false, false]);
      const results = await runDataParallel<NonFiniteReplicaData, NonFiniteReplicaResult>({
        module: replicaModule,
        replicas: 2,
        data,
      });
      for (const [r, result] of results.entries()) {
        expect({ r, skipped: result.skipped, count: result.skippedSteps }).toEqual({
          r,
          skipped: expected.skipped,
          count: 1,
        });
        expect(result.weights, `replica ${r} in step with replica 0`).toEqual(results[0].weights);
      }
      expect(maxRelativeDifference(results[0].weights, expected.weights)).toBeLessThan(1e-4);
    },
  );

  it.each(['part', 'loss'] as const)(
    "'stop': a non-finite %s in one replica stops every replica at that step with PhalanxNonFiniteError",
    async (where) => {
      const data: NonFiniteReplicaData = { ...base, where, onNonFinite: 'stop' };
      const expected = await single(data);
      const what = where === 'part' ? "loss part 'log' (NaN)" : 'loss (NaN)';
      expect(expected.error).toMatch(`PhalanxNonFiniteError: Trainer: step 2 has a non-finite ${what}`);
      // Each replica catches its error and returns: with replica 1 alone stopping, replica 0 would
      // wait at the next step's exchange and the run would reject (a replica finished early).
      const results = await runDataParallel<NonFiniteReplicaData, NonFiniteReplicaResult>({
        module: replicaModule,
        replicas: 2,
        data,
      });
      for (const [r, result] of results.entries()) {
        expect({ r, step: result.step, error: result.error?.split(';')[0] }).toEqual({
          r,
          step: 1,
          error: expected.error?.split(';')[0],
        });
        expect(result.weights, `replica ${r} in step with replica 0`).toEqual(results[0].weights);
      }
      expect(maxRelativeDifference(results[0].weights, expected.weights)).toBeLessThan(1e-4);
    },
  );
});
