import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PhalanxConfigError, PhalanxFileError } from '@phalanx/errors';
import { fileSystem } from '@phalanx/layers';
import { useBackend } from '@phalanx/testing';
import { ExponentialMovingAverage, type EmaOptions } from './ema';
import { Trainer } from './trainer';

type Batch = { xs: tf.Tensor; ys: tf.Tensor };

function model(): tfl.LayersModel {
  const x = tfl.input({ shape: [4], name: 'x' });
  let h = tfl.layers
    .dense({ units: 5, name: 'a', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) })
    .apply(x) as tfl.SymbolicTensor;
  h = tfl.layers.batchNormalization({ name: 'bn' }).apply(h) as tfl.SymbolicTensor;
  const y = tfl.layers
    .dense({ units: 2, name: 'b', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) })
    .apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: y });
}

function* data({ batchesSeen }: { batchesSeen: number }): Generator<Batch> {
  for (let i = batchesSeen; ; i++) {
    yield tf.tidy(() => ({
      xs: tf.randomNormal([8, 4], 0, 1, 'float32', 1 + i), // seed 0 would mean unseeded
      ys: tf.randomNormal([8, 2], 0, 1, 'float32', 1000 + i),
    }));
  }
}

const mse = (outputs: tf.Tensor[], b: Batch) => tf.mean(tf.square(tf.sub(outputs[0], b.ys))) as tf.Scalar;

function trainer(
  m: tfl.LayersModel,
  ema: EmaOptions,
  extra: Partial<ConstructorParameters<typeof Trainer<Batch>>[0]> = {},
) {
  return new Trainer<Batch>({ model: m, loss: mse, progress: false, ema, ...extra });
}

const trainable = (m: tfl.LayersModel) => m.trainableWeights.map((w) => Array.from(w.read().dataSync()));
const averages = (ema: ExponentialMovingAverage) =>
  Object.values(ema.averagedWeights()).map((t) => Array.from(t.dataSync()));

let root: string;
beforeAll(async () => {
  await useBackend('cpu');
  root = mkdtempSync(join(tmpdir(), 'phalanx-ema-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('ExponentialMovingAverage', () => {
  it('refuses a model that is not one and a misspelt option by name (a typo was silently ignored)', () => {
    const m = model();
    const before = tf.memory().numTensors;
    const cases: [() => unknown, string][] = [
      [
        () => new ExponentialMovingAverage(null as never),
        'ExponentialMovingAverage: model must be a tf.LayersModel, but received null.',
      ],
      [
        () => new ExponentialMovingAverage(m, [] as never),
        'ExponentialMovingAverage: options must be an object, but received [].',
      ],
      [
        () => new ExponentialMovingAverage(m, { warmUp: false } as EmaOptions),
        'ExponentialMovingAverage: options.warmUp must be an option (one of decay, warmup, evaluate), but received false.',
      ],
    ];
    for (const [f, message] of cases) {
      expect(f, message).toThrow(PhalanxConfigError);
      expect(f).toThrow(message);
    }
    expect(
      () => new Trainer<Batch>({ model: m, loss: mse, progress: false, ema: { decy: 0.9 } as EmaOptions }),
    ).toThrow('ExponentialMovingAverage: options.decy must be an option');
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });

  it('follows ā ← d_t ā + (1 − d_t) w after every applied step, d_t = min(d, (1+t)/(10+t))', async () => {
    const m = model();
    const t = trainer(m, { decay: 0.8 });
    const ema = t.ema!;
    expect([0, 1, 5, 100].map((k) => ema.decayAt(k))).toEqual([0.1, 2 / 11, 0.4, 0.8]);
    let expected = trainable(m);
    const it = data({ batchesSeen: 0 });
    for (let step = 0; step < 30; step++) {
      const b = it.next().value as Batch;
      await t.trainStep(b);
      tf.dispose(b);
      const d = ema.decayAt(step);
      const w = trainable(m);
      expected = expected.map((a, k) => a.map((v, i) => d * v + (1 - d) * w[k][i]));
    }
    expect(ema.updates).toBe(30);
    averages(ema).forEach((a, k) => a.forEach((v, i) => expect(Math.abs(v - expected[k][i])).toBeLessThan(1e-6)));
    // The average lags the weights.
    expect(averages(ema)).not.toEqual(trainable(m));
  });

  it('does not move on skipped steps, and leaks nothing', async () => {
    const m = model();
    const t = trainer(
      m,
      { decay: 0.5, warmup: false },
      {
        onNonFinite: 'skip',
        loss: (o, b, { step }) => (step === 2 ? (tf.mul(mse(o, b), Number.NaN) as tf.Scalar) : mse(o, b)),
      },
    );
    const it = data({ batchesSeen: 0 });
    const b = it.next().value as Batch;
    await t.trainStep(b);
    await t.trainStep(b);
    const before = averages(t.ema!);
    const count = tf.memory().numTensors;
    const skipped = await t.trainStep(b);
    expect(skipped.skipped).toBe(true);
    expect(averages(t.ema!)).toEqual(before);
    expect(t.ema!.updates).toBe(2);
    await t.trainStep(b);
    expect(tf.memory().numTensors).toBe(count);
    tf.dispose(b);
  });

  it('withAveragedWeights puts the averages in and the trained values back bit for bit', async () => {
    const m = model();
    const t = trainer(m, { decay: 0.9 });
    const it = data({ batchesSeen: 0 });
    for (let i = 0; i < 3; i++) {
      const b = it.next().value as Batch;
      await t.trainStep(b);
      tf.dispose(b);
    }
    const trained = trainable(m);
    const seen = await t.ema!.withAveragedWeights(async () => trainable(m));
    expect(seen).toEqual(averages(t.ema!));
    expect(trainable(m)).toEqual(trained);
    await expect(t.ema!.withAveragedWeights(() => Promise.reject(new Error('x')))).rejects.toThrow('x');
    expect(trainable(m)).toEqual(trained);
  });
});

describe('ExponentialMovingAverage: evaluations and checkpoints', () => {
  it('evaluations see the averaged weights (evaluate: true) or the trained ones (false)', async () => {
    for (const evaluate of [true, false]) {
      const m = model();
      const t = trainer(m, { decay: 0.9, evaluate });
      const x = tf.ones([1, 4]);
      let seen: number[] = [];
      await t.fit({
        data,
        steps: 4,
        handleSigint: false,
        evaluate: async () => {
          seen = trainable(m).flat();
          return {};
        },
      });
      expect(seen).toEqual((evaluate ? averages(t.ema!) : trainable(m)).flat());
      tf.dispose(x);
    }
  });

  it('is saved in each checkpoint (ema/, a loadable model) and restored exactly on resume', async () => {
    const run = async (dir: string, steps: number, stopAt?: number, resume = false) => {
      const m = model();
      const t: Trainer<Batch> = trainer(
        m,
        { decay: 0.7 },
        { callbacks: [{ onStepEnd: (r) => void (r.step === stopAt && t.stop()) }] },
      );
      await t.fit({ data, steps, checkpointDir: dir, checkpointEvery: 2, resume, handleSigint: false });
      return t;
    };
    const straight = await run(join(root, 'straight'), 6);
    await run(join(root, 'resumed'), 6, 3);
    const resumed = await run(join(root, 'resumed'), 6, undefined, true);
    expect(trainable(resumed.model), 'weights').toEqual(trainable(straight.model));
    expect(averages(resumed.ema!), 'averages').toEqual(averages(straight.ema!));
    expect(resumed.ema!.updates).toBe(6);

    const dir = join(root, 'straight', 'step-00000006');
    const state = JSON.parse(readFileSync(join(dir, 'trainer-state.json'), 'utf8'));
    expect(state.ema).toEqual({ updates: 6, decay: 0.7 });
    const loaded = await tfl.loadLayersModel(fileSystem(join(dir, 'ema')));
    expect(trainable(loaded)).toEqual(averages(straight.ema!));
    // Non-trainable weights (batch-norm statistics) are the trained model's.
    expect(loaded.getLayer('bn').getWeights()[2].dataSync()).toEqual(
      straight.model.getLayer('bn').getWeights()[2].dataSync(),
    );
    expect(existsSync(join(root, 'straight', 'step-00000006', 'ema', 'weights.bin'))).toBe(true);
  });

  it('restarts from the restored weights when the checkpoint has no average; a changed decay is an error', async () => {
    const plain = join(root, 'plain');
    await new Trainer<Batch>({ model: model(), loss: mse, progress: false }).fit({
      data,
      steps: 2,
      checkpointDir: plain,
      handleSigint: false,
    });
    const t = trainer(model(), { decay: 0.9 });
    await t.restore(join(plain, 'step-00000002'));
    expect(t.ema!.updates).toBe(0);
    expect(averages(t.ema!)).toEqual(trainable(t.model));

    const withEma = join(root, 'straight', 'step-00000006');
    const other = trainer(model(), { decay: 0.95 });
    const count = tf.memory().numTensors;
    await expect(other.restore(withEma)).rejects.toThrow(PhalanxFileError);
    await expect(other.restore(withEma)).rejects.toThrow(/ema\.decay is 0\.7, but the trainer's is 0\.95/);
    expect(other.step).toBe(0);
    expect(tf.memory().numTensors).toBe(count);
  });

  it('rejects bad options', () => {
    expect(() => new ExponentialMovingAverage(model(), { decay: 1 })).toThrow(
      'ExponentialMovingAverage: decay must be a number in [0, 1), but received 1.',
    );
    expect(() => new ExponentialMovingAverage(model(), { warmup: 1 as never })).toThrow(
      'ExponentialMovingAverage: warmup must be a boolean, but received 1.',
    );
  });
});
