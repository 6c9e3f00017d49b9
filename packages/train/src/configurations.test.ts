/**
 * Unusual but valid trainer configurations, together: an empty parameter group, a group with its own
 * clipping and a schedule in warm-up, a frozen layer, gradient accumulation over micro-batches of
 * unequal sizes, global clipping and a moving average — FlatAdam against tfjs' Adam, a resumed run
 * against an uninterrupted one, and `fit` with k micro-batches against one batch of them all.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@phalanx/testing';
import { cosineLr, warmupLr } from './schedules';
import { Trainer } from './trainer';
import { maxRelativeDifference } from '../test/relative-difference';

type Batch = { xs: tf.Tensor; ys: tf.Tensor };

/** Three dense layers, no batch norm; `frozen` is the one the configurations freeze. */
function mlp(): tfl.LayersModel {
  const x = tfl.input({ shape: [3], name: 'x' });
  const dense = (units: number, name: string, seed: number, activation?: 'tanh') =>
    tfl.layers.dense({ units, name, activation, kernelInitializer: tfl.initializers.glorotUniform({ seed }) });
  const h = dense(5, 'a', 1, 'tanh').apply(x) as tfl.SymbolicTensor;
  const g = dense(4, 'frozen', 3, 'tanh').apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: dense(2, 'b', 2).apply(g) as tfl.SymbolicTensor });
}

/** Batch i: 3, 4 or 5 rows, depending only on i. */
const batch = (i: number): Batch =>
  tf.tidy(() => ({
    xs: tf.randomNormal([3 + (i % 3), 3], 0, 1, 'float32', 10 + i),
    ys: tf.randomNormal([3 + (i % 3), 2], 0, 1, 'float32', 500 + i),
  }));
const data = ({ batchesSeen }: { batchesSeen: number }) =>
  (function* () {
    for (let i = batchesSeen; ; i++) yield batch(i);
  })();
const mse = (o: tf.Tensor[], b: Batch) => tf.mean(tf.square(tf.sub(o[0], b.ys))) as tf.Scalar;
const weights = (m: tfl.LayersModel) =>
  Object.fromEntries(m.weights.map((v) => [v.originalName, Array.from(v.read().dataSync())]));

/** A trainer of the configuration under test; `stopAt` stops `fit` after that step. */
function make(
  model: tfl.LayersModel,
  options: { factory?: (lr: number) => tf.Optimizer; stopAt?: number } = {},
): Trainer<Batch> {
  const optimizer = options.factory ? { optimizerFactory: options.factory } : {};
  const trainer: Trainer<Batch> = new Trainer<Batch>({
    model,
    loss: mse,
    progress: false,
    accumulateBatches: 2,
    ema: { decay: 0.9 },
    clipNorm: 0.5,
    freeze: ['frozen'],
    parameterGroups: [
      { name: 'none', match: /^nothing\//, lr: 0.5, ...optimizer },
      {
        name: 'a',
        match: /^a\//,
        lr: warmupLr({ steps: 6, after: cosineLr({ initial: 0.05, steps: 12 }) }),
        clipNorm: 0.3,
        ...optimizer,
      },
      { name: 'rest', lr: 0.01, ...optimizer },
    ],
    callbacks: [{ onStepEnd: (r) => (r.step === options.stopAt ? trainer.stop() : undefined) }],
  });
  return trainer;
}

let dir: string;
beforeAll(async () => {
  await useBackend('cpu');
  dir = mkdtempSync(join(tmpdir(), 'phalanx-configurations-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('an empty group, a frozen layer, per-group clipping, warm-up, accumulation and a moving average', () => {
  it('train bit for bit alike with FlatAdam (the default) and tf.train.adam; the frozen layer stays', async () => {
    const [flatModel, adamModel] = [mlp(), mlp()];
    const flat = await make(flatModel).fit({ data, steps: 8 });
    const adam = await make(adamModel, { factory: (lr) => tf.train.adam(lr) }).fit({ data, steps: 8 });
    expect(flat.losses).toEqual(adam.losses);
    expect(weights(flatModel)).toEqual(weights(adamModel));
    const initial = weights(mlp());
    expect(weights(flatModel)['frozen/kernel']).toEqual(initial['frozen/kernel']);
    expect(weights(flatModel)['a/kernel']).not.toEqual(initial['a/kernel']);
  });

  it('resume in the warm-up (step 3 of 10) and continue bit for bit: weights, losses, average', async () => {
    const straightModel = mlp();
    const straight = make(straightModel);
    const whole = await straight.fit({ data, steps: 10, checkpointDir: join(dir, 'straight') });
    const first = await make(mlp(), { stopAt: 3 }).fit({ data, steps: 10, checkpointDir: join(dir, 'resumed') });
    expect(first.losses).toHaveLength(3);
    const resumedModel = mlp();
    const resumed = make(resumedModel);
    const second = await resumed.fit({ data, steps: 10, checkpointDir: join(dir, 'resumed'), resume: true });
    expect(second.resumedFrom).not.toBeNull();
    expect([...first.losses, ...second.losses]).toEqual(whole.losses);
    expect(weights(resumedModel)).toEqual(weights(straightModel));
    const averages = (t: Trainer<Batch>) =>
      Object.values(t.ema!.averagedWeights()).map((a) => Array.from(a.dataSync()));
    expect(averages(resumed)).toEqual(averages(straight));
    expect(resumed.ema!.updates).toBe(10);
  });
});

describe('fit with accumulateBatches: k', () => {
  for (const k of [1, 2, 3, 5]) {
    it(`k = ${k}: each step equals one step on its micro-batches concatenated (the last one cut short)`, async () => {
      const total = 2 * k + Math.max(1, k - 1); // two full steps, then a step with the batches left
      const [accumulated, single] = [mlp(), mlp()];
      const sgd = { parameterGroups: [{ name: 'all', lr: 0.1, optimizerFactory: (lr: number) => tf.train.sgd(lr) }] };
      const a = new Trainer<Batch>({ model: accumulated, loss: mse, progress: false, accumulateBatches: k, ...sgd });
      const result = await a.fit({ data: Array.from({ length: total }, (_, i) => batch(i)), steps: 10 });
      expect(result.step).toBe(3);
      const b = new Trainer<Batch>({ model: single, loss: mse, progress: false, ...sgd });
      for (let start = 0; start < total; start += k) {
        const micro = Array.from({ length: Math.min(k, total - start) }, (_, j) => batch(start + j));
        const whole = { xs: tf.concat(micro.map((m) => m.xs)), ys: tf.concat(micro.map((m) => m.ys)) };
        await b.trainStep(whole);
        tf.dispose([micro, whole]);
      }
      const values = (m: tfl.LayersModel) => m.weights.map((w) => w.read().dataSync() as Float32Array);
      expect(maxRelativeDifference(values(accumulated), values(mlp()))).toBeGreaterThan(1e-2);
      expect(maxRelativeDifference(values(accumulated), values(single))).toBeLessThan(1e-5);
    });
  }
});

describe("resume with tfjs' other optimizers and a schedule", () => {
  const factories: [string, (lr: number) => tf.Optimizer][] = [
    ['sgd', (lr) => tf.train.sgd(lr)],
    ['momentum', (lr) => tf.train.momentum(lr, 0.9)],
    ['nesterov', (lr) => tf.train.momentum(lr, 0.9, true)],
    ['rmsprop with momentum', (lr) => tf.train.rmsprop(lr, 0.9, 0.5)],
    ['adagrad', (lr) => tf.train.adagrad(lr)],
    ['adadelta', (lr) => tf.train.adadelta(lr)],
  ];
  for (const [name, factory] of factories) {
    it(`${name}: 3 steps, resume, 3 steps equals 6 steps bit for bit`, async () => {
      const make = (model: tfl.LayersModel, stopAt?: number) => {
        const trainer: Trainer<Batch> = new Trainer<Batch>({
          model,
          loss: mse,
          progress: false,
          parameterGroups: [{ name: 'all', lr: cosineLr({ initial: 0.05, steps: 6 }), optimizerFactory: factory }],
          callbacks: [{ onStepEnd: (r) => (r.step === stopAt ? trainer.stop() : undefined) }],
        });
        return trainer;
      };
      const straightModel = mlp();
      const straight = await make(straightModel).fit({ data, steps: 6, checkpointDir: join(dir, `${name}-a`) });
      const first = await make(mlp(), 3).fit({ data, steps: 6, checkpointDir: join(dir, `${name}-b`) });
      const resumedModel = mlp();
      const second = await make(resumedModel).fit({
        data,
        steps: 6,
        checkpointDir: join(dir, `${name}-b`),
        resume: true,
      });
      expect([...first.losses, ...second.losses]).toEqual(straight.losses);
      expect(weights(resumedModel)).toEqual(weights(straightModel));
    });
  }
});
