import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PhalanxNonFiniteError } from '@phalanx/errors';
import { useBackend } from '@phalanx/testing';
import { listCheckpoints } from './checkpoint-folders';
import type { TrainerCallbacks } from './callbacks/callback';
import type { LossFn } from './step';
import { Trainer, type NonFiniteAction } from './trainer';

type Batch = { xs: tf.Tensor; ys: tf.Tensor };

function model(): tfl.LayersModel {
  const x = tfl.input({ shape: [4], name: 'x' });
  let h = tfl.layers
    .dense({ units: 6, name: 'a', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) })
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

/** A loss that is NaN at the given steps (0-based step index), finite elsewhere. */
const nanLossAt =
  (steps: number[]): LossFn<Batch> =>
  (outputs, b, { step }) =>
    steps.includes(step) ? (tf.mul(mse(outputs, b), Number.NaN) as tf.Scalar) : mse(outputs, b);

/** A finite loss (the same value) whose gradient is NaN at the given steps: d√u/du = ∞ at u = 0, times 0. */
const nanGradientAt =
  (steps: number[]): LossFn<Batch> =>
  (outputs, b, { step }) => {
    const loss = mse(outputs, b);
    if (!steps.includes(step)) return loss;
    const zero = tf.sqrt(tf.sub(outputs[0], outputs[0]));
    return tf.add(loss, tf.mul(tf.sum(zero), 0)) as tf.Scalar;
  };

/** A finite total whose logged part `a` is NaN at the given steps (a part the total does not include). */
const nanPartAt =
  (steps: number[]): LossFn<Batch> =>
  (outputs, b, { step }) => {
    const total = mse(outputs, b);
    const a = steps.includes(step) ? tf.scalar(Number.NaN) : (tf.mul(total, 2) as tf.Scalar);
    return { total, parts: { a, b: tf.mul(total, 1) as tf.Scalar } };
  };

function weights(m: tfl.LayersModel): Record<string, number[]> {
  return Object.fromEntries(m.weights.map((w) => [w.originalName, Array.from(w.read().dataSync())]));
}

function trainer(
  loss: LossFn<Batch>,
  onNonFinite?: NonFiniteAction,
  callbacks: (m: tfl.LayersModel) => TrainerCallbacks[] = () => [],
): { t: Trainer<Batch>; m: tfl.LayersModel } {
  const m = model();
  return { m, t: new Trainer<Batch>({ model: m, loss, progress: false, onNonFinite, callbacks: callbacks(m) }) };
}

let root: string;
beforeAll(async () => {
  await useBackend('cpu');
  root = mkdtempSync(join(tmpdir(), 'phalanx-nonfinite-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("onNonFinite: 'stop' (default)", () => {
  for (const [what, loss, values] of [
    ['a NaN loss', nanLossAt([2]), /^Trainer: step 3 has a non-finite loss \(NaN\)/],
    [
      'a NaN gradient with a finite loss',
      nanGradientAt([2]),
      /step 3 has a non-finite gradNorm \(NaN\); loss [0-9.]+\./,
    ],
  ] as const) {
    it(`throws PhalanxNonFiniteError naming the step of ${what}, before anything is applied`, async () => {
      let afterStep2: Record<string, number[]> = {};
      let tensorsAfterStep2 = 0;
      const { t: probe, m } = trainer(loss, undefined, (m) => [
        {
          onStepEnd: (r) => {
            if (r.step !== 2) return;
            afterStep2 = weights(m);
            tensorsAfterStep2 = tf.memory().numTensors;
          },
        },
      ]);
      const error = await probe.fit({ data, steps: 5, handleSigint: false }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PhalanxNonFiniteError);
      expect((error as Error).message).toMatch(values);
      expect((error as PhalanxNonFiniteError).step).toBe(3);
      expect(probe.step).toBe(2);
      // Weights (batch-norm statistics aside: the forward pass of step 3 updated them) and Adam's step count.
      const now = weights(m);
      for (const name of ['a/kernel', 'a/bias', 'b/kernel', 'b/bias', 'bn/gamma', 'bn/beta']) {
        expect(now[name], name).toEqual(afterStep2[name]);
      }
      // No tensor leaked by the failed step (the step-2 batch was freed; the step-3 one too).
      expect(tf.memory().numTensors).toBe(tensorsAfterStep2 - 2);
      const [iterations] = await probe.optimizerOf('all').getWeights();
      expect(iterations.tensor.dataSync()[0]).toBe(2);
      iterations.tensor.dispose();
    });
  }
});

describe('a non-finite loss part', () => {
  it('stops the run like a non-finite loss, naming the part and the step, before anything is applied', async () => {
    let afterStep2: Record<string, number[]> = {};
    const { t: probe, m } = trainer(nanPartAt([2]), undefined, (m) => [
      { onStepEnd: (r) => void (r.step === 2 && (afterStep2 = weights(m))) },
    ]);
    const error = await probe.fit({ data, steps: 5, handleSigint: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PhalanxNonFiniteError);
    expect((error as Error).message).toMatch(
      /^Trainer: step 3 has a non-finite loss part 'a' \(NaN\); loss [0-9.]+, gradNorm [0-9.]+, loss part 'b' [0-9.]+\. The step was not applied\.$/,
    );
    expect((error as PhalanxNonFiniteError).step).toBe(3);
    expect(probe.step).toBe(2);
    const now = weights(m);
    for (const name of ['a/kernel', 'a/bias', 'b/kernel', 'b/bias']) expect(now[name], name).toEqual(afterStep2[name]);
  });

  it("is skipped with onNonFinite: 'skip', from the values already read back (one host read per step)", async () => {
    const { t, m } = trainer(nanPartAt([1]), 'skip');
    const it = data({ batchesSeen: 0 });
    const b = it.next().value as Batch;
    await t.trainStep(b);
    const before = weights(m);
    const original = { data: tf.Tensor.prototype.data, dataSync: tf.Tensor.prototype.dataSync };
    let reads = 0;
    Object.assign(tf.Tensor.prototype, {
      data(this: tf.Tensor) {
        reads += 1;
        return original.data.call(this);
      },
      dataSync(this: tf.Tensor) {
        reads += 1;
        return original.dataSync.call(this);
      },
    });
    let result;
    try {
      result = await t.trainStep(b);
    } finally {
      Object.assign(tf.Tensor.prototype, original);
    }
    expect(reads).toBe(1);
    expect(result.skipped).toBe(true);
    expect(result.parts!.a).toBeNaN();
    expect(t.skippedSteps).toBe(1);
    expect(weights(m)).toEqual(before);
    expect((await t.trainStep(b)).skipped).toBe(false);
    tf.dispose(b);
  });
});

describe("onNonFinite: 'skip'", () => {
  it('drops the step (weights, Adam state and batch-norm statistics unchanged), counts it and goes on', async () => {
    const before: Record<number, Record<string, number[]>> = {};
    const results: { step: number; skipped: boolean; loss: number }[] = [];
    const { t: probe, m } = trainer(nanLossAt([1, 2]), 'skip', (m) => [
      { onStepBegin: ({ step }) => void (before[step] = weights(m)) },
      { onStepEnd: (r) => void results.push({ step: r.step, skipped: r.skipped, loss: r.loss }) },
    ]);
    const dir = join(root, 'skip');
    const result = await probe.fit({ data, steps: 4, checkpointDir: dir, handleSigint: false });
    expect(results.map((r) => r.skipped)).toEqual([false, true, true, false]);
    expect(results[1].loss).toBeNaN();
    expect(result.skippedSteps).toBe(2);
    expect(probe.skippedSteps).toBe(2);
    // Steps 2 and 3 (indices 1, 2) changed nothing — batch-norm moving statistics included.
    expect(before[2]).toEqual(before[1]);
    expect(before[3]).toEqual(before[1]);
    expect(weights(m)).not.toEqual(before[3]);
    const [iterations] = await probe.optimizerOf('all').getWeights();
    expect(iterations.tensor.dataSync()[0]).toBe(2);
    const log = readFileSync(join(dir, 'log.jsonl'), 'utf8');
    expect(log).toMatch(/"event":"step","step":2,.*"loss":null,.*"skipped":true/);
    const state = JSON.parse(readFileSync(join(dir, 'step-00000004', 'trainer-state.json'), 'utf8'));
    expect(state).toMatchObject({ step: 4, skippedSteps: 2, finite: true });
  });

  it('keeps the tensor count constant over skipped steps', async () => {
    const { t } = trainer(nanGradientAt([1, 2, 3, 4]), 'skip');
    const it = data({ batchesSeen: 0 });
    const b = it.next().value as Batch;
    await t.trainStep(b);
    await t.trainStep(b);
    const count = tf.memory().numTensors;
    await t.trainStep(b);
    await t.trainStep(b);
    expect(tf.memory().numTensors).toBe(count);
    expect(t.skippedSteps).toBe(3);
    tf.dispose(b);
  });
});

describe('checkpoint rotation and non-finite weights', () => {
  it('never deletes the newest finite checkpoint in favour of non-finite ones', async () => {
    const m = model();
    const dir = join(root, 'rotation');
    const t = new Trainer<Batch>({
      model: m,
      loss: mse,
      onNonFinite: 'skip',
      progress: false,
      // Corrupt a weight after step 3: from then on the weights (and every loss) are NaN.
      callbacks: [
        { onStepEnd: (r) => void (r.step === 3 && m.getLayer('b').weights[1].write(tf.fill([2], Number.NaN))) },
      ],
    });
    await t.fit({ data, steps: 7, checkpointDir: dir, checkpointEvery: 1, keepCheckpoints: 2, handleSigint: false });
    const kept = (await listCheckpoints(dir)).map((c) => c.step);
    expect(kept).toEqual([2, 6, 7]);
    const finite = (step: number) =>
      JSON.parse(readFileSync(join(dir, `step-${String(step).padStart(8, '0')}`, 'trainer-state.json'), 'utf8')).finite;
    expect(kept.map(finite)).toEqual([true, false, false]);
    expect(readdirSync(dir).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });
});
