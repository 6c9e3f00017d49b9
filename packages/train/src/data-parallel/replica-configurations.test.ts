import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@phalanx/testing';
import { Trainer } from '../trainer';
import { mlp, singleTrainerWeights, type Batch, type ReplicaTestData } from '../../test/data-parallel-shared';
import { adamConfig, microBatch, type AdamReplicaData } from '../../test/data-parallel-adam-replica';
import { maxRelativeDifference } from '../../test/relative-difference';
import { runDataParallel } from './index';

const adamReplica = new URL('../../test/data-parallel-adam-replica.ts', import.meta.url);
const replicaModule = new URL('../../test/data-parallel-replica.ts', import.meta.url);

function run(replicas: number, data: ReplicaTestData): Promise<Float32Array[][]> {
  return runDataParallel<ReplicaTestData, Float32Array[]>({ module: replicaModule, replicas, data });
}

beforeAll(async () => {
  await useBackend('cpu');
});

describe('runDataParallel with Adam, groups, clipping, accumulation and a moving average', () => {
  it('1, 2 and 3 replicas on (uneven) shards of a batch of 7 follow 1 trainer on the whole batch', async () => {
    const data: AdamReplicaData = { steps: 3, batchSize: 7 }; // shards of 4, 3 and of 3, 2, 2 rows
    const model = mlp();
    const trainer = new Trainer<Batch>(adamConfig(model));
    for (let step = 0; step < data.steps; step++) {
      const micro = [0, 1].map((k) => microBatch(step, k, data.batchSize));
      await trainer.trainStep(...micro);
      tf.dispose(micro);
    }
    const single = model.weights.map((w) => w.read().dataSync() as Float32Array);
    const averaged = Object.values(trainer.ema!.averagedWeights()).map((t) => t.dataSync() as Float32Array);
    expect(
      maxRelativeDifference(
        single,
        mlp().weights.map((w) => w.read().dataSync() as Float32Array),
      ),
    ).toBeGreaterThan(1e-2);
    for (const replicas of [1, 2, 3]) {
      const results = await runDataParallel<AdamReplicaData, Float32Array[][]>({
        module: adamReplica,
        replicas,
        data,
      });
      const [weights, ema] = results[0];
      expect(maxRelativeDifference(weights, single), `${replicas} replicas: weights`).toBeLessThan(1e-4);
      expect(maxRelativeDifference(ema, averaged), `${replicas} replicas: average`).toBeLessThan(1e-4);
      results.forEach((r) => expect(r).toEqual(results[0]));
    }
  });
});

describe('runDataParallel: uneven shards', () => {
  it('uneven shards (3 replicas of a batch of 8, 2 of 7) follow 1 trainer on the whole batch too', async () => {
    // context.shard gives shards of 3, 3, 2 and 4, 3 rows: each shard's mean gradient counts by its samples.
    for (const [replicas, batchSize] of [
      [3, 8],
      [2, 7],
    ]) {
      const data: ReplicaTestData = { steps: 2, batchSize, mode: 'train' };
      const results = await run(replicas, data);
      const single = await singleTrainerWeights(mlp(), data.steps, data.batchSize);
      expect(maxRelativeDifference(results[0], single), `${replicas} replicas, batch ${batchSize}`).toBeLessThan(1e-5);
      results.forEach((r) => expect(r).toEqual(results[0]));
    }
  });
});
