import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@phalanx/testing';
import { Trainer } from '../trainer';
import { globalBatch, mlp, mse, type Batch, type ReplicaTestData } from '../../test/data-parallel-shared';
import { runDataParallel } from './index';
import { meanInReplicaOrder } from './protocol';

const replicaModule = new URL('../../test/data-parallel-replica.ts', import.meta.url);

function run(replicas: number, data: ReplicaTestData): Promise<Float32Array[][]> {
  return runDataParallel<ReplicaTestData, Float32Array[]>({ module: replicaModule, replicas, data });
}

function maxRelativeDifference(a: Float32Array[], b: Float32Array[]): number {
  let worst = 0;
  a.forEach((x, k) =>
    x.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - b[k][i]) / Math.max(1e-3, Math.abs(b[k][i]))))),
  );
  return worst;
}

beforeAll(async () => {
  await useBackend('cpu');
});

describe('runDataParallel', () => {
  it('2 replicas on shards of a batch follow 1 trainer on the whole batch; replicas stay identical', async () => {
    const data: ReplicaTestData = { steps: 4, batchSize: 8, mode: 'train' };
    const [first, second] = await run(2, data);
    const model = mlp();
    const initial = model.weights.map((w) => w.read().dataSync().slice() as Float32Array);
    const trainer = new Trainer<Batch>({
      model,
      loss: mse,
      progress: false,
      parameterGroups: [{ name: 'all', lr: 0.1, optimizerFactory: (lr) => tf.train.sgd(lr) }],
    });
    for (let step = 0; step < data.steps; step++) {
      const b = globalBatch(step, data.batchSize);
      await trainer.trainStep(b);
      tf.dispose(b);
    }
    const single = model.weights.map((w) => w.read().dataSync() as Float32Array);
    expect(maxRelativeDifference(initial, single)).toBeGreaterThan(1e-2); // the weights moved
    expect(maxRelativeDifference(first, single)).toBeLessThan(1e-5);
    expect(second).toEqual(first); // every replica applied the same mean gradients
  });

  it("rejects with the failing replica's error, named, and stops every worker", async () => {
    const error = await run(2, { steps: 5, batchSize: 4, mode: 'throw' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).toBe('RangeError');
    expect((error as Error).message).toBe('replica 1: replica test failure at step 2');
  });

  it('rejects when a replica finishes while others wait for an exchange', async () => {
    await expect(run(2, { steps: 3, batchSize: 4, mode: 'uneven' })).rejects.toThrow(
      /every replica must take the same number of steps/,
    );
  });

  it('rejects a module without a default function, and bad options', async () => {
    await expect(runDataParallel({ module: new URL('./protocol.ts', import.meta.url), replicas: 1 })).rejects.toThrow(
      /replica 0: runDataParallel: module .*protocol\.ts must export default a function/,
    );
    await expect(runDataParallel({ module: replicaModule, replicas: 0 })).rejects.toThrow(
      'runDataParallel: replicas must be an integer ≥ 1, but received 0.',
    );
  });

  it('averages in float32, in replica order', () => {
    const mean = meanInReplicaOrder([new Float32Array([1, 0.1, 3]), new Float32Array([2, 0.2, -3])]);
    expect(Array.from(mean)).toEqual([1.5, Math.fround(Math.fround(Math.fround(0.1) + Math.fround(0.2)) / 2), 0]);
  });
});
