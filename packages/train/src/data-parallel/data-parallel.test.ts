import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@phalanx/testing';
import { PhalanxConfigError } from '@phalanx/errors';
import { checkpointName } from '../checkpoint-folders';
import { Trainer } from '../trainer';
import {
  bnMlp,
  mlp,
  mse,
  singleTrainerWeights,
  type Batch,
  type FitReplicaData,
  type FitReplicaResult,
  type ReplicaTestData,
} from '../../test/data-parallel-shared';
import {
  averageMovingStatistics,
  ReplicaSync,
  runDataParallel,
  stopOnFirstSigint,
  trainableWeightsDigest,
  checkReplicasInStep,
} from './index';
import { meanInFloat64, meanInReplicaOrder } from './protocol';
import { maxRelativeDifference } from '../../test/relative-difference';

const replicaModule = new URL('../../test/data-parallel-replica.ts', import.meta.url);
const fitReplicaModule = new URL('../../test/data-parallel-fit-replica.ts', import.meta.url);
const scratch = mkdtempSync(join(tmpdir(), 'phalanx-data-parallel-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function runFit(data: FitReplicaData, signal?: AbortSignal): Promise<FitReplicaResult[]> {
  return runDataParallel<FitReplicaData, FitReplicaResult>({ module: fitReplicaModule, replicas: 2, data, signal });
}

const FIT = { steps: 5, batchSize: 8, checkpointEvery: 100 };
const straightDir = join(scratch, 'straight');
let straightRun: Promise<FitReplicaResult[]> | null = null;
/** The uninterrupted 5-step run of the fit tests (run once, shared). */
function straight(): Promise<FitReplicaResult[]> {
  straightRun ??= runFit({ ...FIT, checkpointDir: straightDir, resume: null });
  return straightRun;
}

function run(replicas: number, data: ReplicaTestData): Promise<Float32Array[][]> {
  return runDataParallel<ReplicaTestData, Float32Array[]>({ module: replicaModule, replicas, data });
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
    const single = await singleTrainerWeights(model, data.steps, data.batchSize);
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
    // A misspelt option is refused before any worker starts.
    await expect(runDataParallel({ module: replicaModule, replica: 2 } as never)).rejects.toThrow(
      'runDataParallel: options.replica must be an option (one of module, replicas, data, signal), but received 2.',
    );
    await expect(runDataParallel([] as never)).rejects.toThrow(
      'runDataParallel: options must be an object {module, replicas, data?, signal?}, but received [].',
    );
  });

  it('a stop ends every replica after the same step with a checkpoint; resuming from it ends as an uninterrupted run', async () => {
    const common = FIT;
    const [straight0, straight1] = await straight();
    const dir = join(scratch, 'stopped');
    // Aborted before the start: the first exchange tells every replica to stop after step 1.
    const stopped = await runFit({ ...common, checkpointDir: dir, resume: null }, AbortSignal.abort());
    expect(stopped.map((r) => [r.step, r.interrupted])).toEqual([
      [1, true],
      [1, true],
    ]);
    expect(stopped[0].checkpoint).toBe(join(dir, checkpointName(1)));
    expect(stopped[1].checkpoint).toBeNull(); // only replica 0 writes
    expect(readdirSync(dir)).toEqual([checkpointName(1)]);
    const resumed = await runFit({ ...common, checkpointDir: dir, resume: join(dir, checkpointName(1)) });
    expect(resumed.map((r) => [r.step, r.interrupted])).toEqual([
      [5, false],
      [5, false],
    ]);
    expect([straight0.step, straight1.step]).toEqual([5, 5]);
    expect(resumed[1].weights).toEqual(resumed[0].weights); // replicas stay identical
    const names = bnMlp().weights.map((w) => w.originalName);
    const moving = names.map((n) => /moving_/.test(n));
    // Trainable weights (and the Adam state behind them) continue bit for bit; the moving statistics,
    // averaged at the interrupt in the resumed run only, agree up to float rounding.
    resumed[0].weights.forEach((w, k) => {
      if (!moving[k]) expect(w, names[k]).toEqual(straight0.weights[k]);
      else w.forEach((v, i) => expect(v).toBeCloseTo(straight0.weights[k][i], 5));
    });
    expect(maxRelativeDifference(straight0.weights, stopped[0].weights)).toBeGreaterThan(1e-3); // it trained on
  });

  it('batch-norm moving statistics end as the mean over the replicas, in every replica and in the checkpoint', async () => {
    const [first, second] = await straight();
    // Each replica gathered its own statistics on its shards...
    expect(maxRelativeDifference(first.statsBeforeAverage, second.statsBeforeAverage)).toBeGreaterThan(1e-3);
    // ...and ends with their mean.
    const names = bnMlp().weights.map((w) => w.originalName);
    const statsAfter = (r: FitReplicaResult) => r.weights.filter((_, k) => /moving_/.test(names[k]));
    const expected = first.statsBeforeAverage.map((s, k) => meanInFloat64([s, second.statsBeforeAverage[k]]));
    expect(statsAfter(first)).toEqual(expected);
    expect(statsAfter(second)).toEqual(expected);
    // Replica 0's end checkpoint holds them.
    const model = bnMlp();
    await new Trainer<Batch>({ model, loss: mse, progress: false }).restore(join(straightDir, checkpointName(5)));
    expect(model.weights.map((w) => w.read().dataSync())).toEqual(first.weights);
  });

  it('averageMovingStatistics: only trainable batch-norm statistics; ReplicaSync validates its periods', async () => {
    const model = bnMlp();
    const sent: number[] = [];
    const count = await averageMovingStatistics(model, async (values) => {
      sent.push(values.length);
      return values.map((v) => v + 1);
    });
    expect(count).toBe(2);
    expect(sent).toEqual([16]);
    expect(Array.from(model.getLayer('bn').getWeights()[2].dataSync())).toEqual(new Array(8).fill(1)); // moving mean 0 + 1
    model.getLayer('bn').trainable = false; // frozen: left alone, but the call is still made
    await averageMovingStatistics(model, async (values) => (sent.push(values.length), values));
    expect(sent).toEqual([16, 0]);
    expect(
      () => new ReplicaSync({ stopRequested: false, averageAcrossReplicas: async (v) => v }, { averageEvery: [0] }),
    ).toThrow('ReplicaSync: averageEvery[0] must be an integer ≥ 1, but received 0.');
  });

  it('averages in float32, in replica order', () => {
    const mean = meanInReplicaOrder([new Float32Array([1, 0.1, 3]), new Float32Array([2, 0.2, -3])]);
    expect(Array.from(mean)).toEqual([1.5, Math.fround(Math.fround(Math.fround(0.1) + Math.fround(0.2)) / 2), 0]);
  });

  it('weights unequal shards by their samples, Σ_r n_r·v_r / Σ n_r in float64; equal shards as before', () => {
    const a = new Float32Array([1, 0.1, 3]);
    const b = new Float32Array([2, 0.2, -3]);
    expect(Array.from(meanInReplicaOrder([a, b], [3, 1]))).toEqual([1.25, Math.fround((3 * a[1] + b[1]) / 4), 1.5]);
    expect(meanInReplicaOrder([a, b], [5, 5])).toEqual(meanInReplicaOrder([a, b]));
  });

  it('averages statistics in float64: equal values come back exactly', () => {
    const x = new Float32Array([0.1, 1 / 3, 7e-8, 12345.678]);
    expect(meanInFloat64([x, x, x])).toEqual(x);
    expect(Array.from(meanInFloat64([new Float32Array([1, 2]), new Float32Array([2, 5])]))).toEqual([1.5, 3.5]);
  });
});

describe('ReplicaSync: replicas start in step', () => {
  it('a replica whose weights differ at the start stops the run with a named error', async () => {
    const data = { ...FIT, steps: 2, checkpointDir: join(scratch, 'apart'), resume: null, perturbReplica1: 1e-3 };
    await expect(runFit(data)).rejects.toThrow(/same trainable weights in every replica/);
    expect(readdirSync(scratch)).not.toContain('apart'); // nothing written: it failed before the first step
  });
});

describe('trainableWeightsDigest', () => {
  it('is equal for equal weights and changes with one bit of one weight, frozen weights aside', async () => {
    const a = mlp();
    const b = mlp();
    expect(await trainableWeightsDigest(a)).toMatch(/^[0-9a-f]{8}$/);
    expect(await trainableWeightsDigest(b)).toBe(await trainableWeightsDigest(a)); // seeded initialisers: the same weights
    const kernel = b.trainableWeights[2];
    const values = kernel.read().dataSync().slice();
    const bits = new Uint32Array(values.buffer);
    bits[5] ^= 1; // the lowest bit of one value
    kernel.write(tf.tensor(values, kernel.read().shape));
    expect(await trainableWeightsDigest(b)).not.toBe(await trainableWeightsDigest(a));
    a.layers[2].trainable = false; // not a trainable weight any more: not in the digest
    b.layers[2].trainable = false;
    expect(await trainableWeightsDigest(b)).toBe(await trainableWeightsDigest(a));
    await expect(trainableWeightsDigest(null as never)).rejects.toThrow(/trainableWeightsDigest: model/);
  });
});

describe('checkReplicasInStep', () => {
  it('passes equal digests, names every digest when one differs, and refuses a list that is not one', () => {
    expect(() => checkReplicasInStep(['9e3779b1'])).not.toThrow();
    expect(() => checkReplicasInStep(['9e3779b1', '9e3779b1', '9e3779b1'])).not.toThrow();
    expect(() => checkReplicasInStep(['9e3779b1', '9e3779b1', '0badf00d'])).toThrow(
      'the replicas ended with different weights (digests 9e3779b1, 9e3779b1, 0badf00d): they fell out of step',
    );
    for (const bad of [[], null, ['a', 1], 'a']) {
      expect(() => checkReplicasInStep(bad as never)).toThrow(PhalanxConfigError);
    }
  });
});

describe('stopOnFirstSigint', () => {
  it('aborts its signal at the first SIGINT only, then leaves SIGINT to Node; release() removes an unused listener', () => {
    const listeners = process.listenerCount('SIGINT');
    const stop = stopOnFirstSigint(null);
    expect(process.listenerCount('SIGINT')).toBe(listeners + 1);
    expect(stop.signal.aborted).toBe(false);
    process.emit('SIGINT');
    expect(stop.signal.aborted).toBe(true);
    expect(process.listenerCount('SIGINT')).toBe(listeners); // a second Ctrl-C meets Node's default
    stop.release(); // harmless after the fact
    const unused = stopOnFirstSigint(null);
    unused.release();
    expect(process.listenerCount('SIGINT')).toBe(listeners);
    expect(unused.signal.aborted).toBe(false);
  });
});
