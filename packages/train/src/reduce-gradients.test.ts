import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { PhalanxNonFiniteError } from '@phalanx/errors';
import { useBackend } from '@phalanx/testing';
import type { GradientReducer } from './step';
import { Trainer, type TrainerConfig } from './trainer';

type Batch = { xs: tf.Tensor; ys: tf.Tensor };

/** One dense layer y = x·W + b without batch norm: the SGD update is checked by hand. */
function linear(): tfl.LayersModel {
  const x = tfl.input({ shape: [3], name: 'x' });
  const y = tfl.layers
    .dense({ units: 2, name: 'd', kernelInitializer: tfl.initializers.glorotUniform({ seed: 4 }) })
    .apply(x) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: y });
}

function batch(): Batch {
  return tf.tidy(() => ({
    xs: tf.randomNormal([5, 3], 0, 1, 'float32', 11),
    ys: tf.randomNormal([5, 2], 0, 1, 'float32', 12),
  }));
}

const mse = (outputs: tf.Tensor[], b: Batch) => tf.mean(tf.square(tf.sub(outputs[0], b.ys))) as tf.Scalar;

function sgd(model: tfl.LayersModel, reduceGradients?: GradientReducer, lr = 0.5): Trainer<Batch> {
  return new Trainer<Batch>({
    model,
    loss: mse,
    progress: false,
    reduceGradients,
    parameterGroups: [{ name: 'all', lr, optimizerFactory: (rate) => tf.train.sgd(rate) }],
  });
}

function values(model: tfl.LayersModel): Float32Array[] {
  return model.weights.map((w) => w.read().dataSync() as Float32Array);
}

/** Gradients of the mse by hand: dL/dW = (2/(n·k)) xᵀ(y − t), dL/db = (2/(n·k)) Σ_rows (y − t). */
function handGradients(model: tfl.LayersModel, b: Batch): { kernel: tf.Tensor; bias: tf.Tensor } {
  return tf.tidy(() => {
    const [kernel, bias] = model.weights.map((w) => w.read());
    const residual = tf.sub(tf.add(tf.matMul(b.xs, kernel), bias), b.ys);
    const scale = 2 / residual.size;
    return { kernel: tf.mul(tf.matMul(b.xs, residual, true, false), scale), bias: tf.mul(tf.sum(residual, 0), scale) };
  });
}

/** A reducer that averages each gradient with a fixed "other replica" gradient of the same shape. */
function averageWith(fixed: (shape: number[]) => tf.Tensor, seen: Record<string, number>[] = []): GradientReducer {
  return async (grads, context) => {
    seen.push({ step: context.step, samples: context.samples, loss: (await context.loss.data())[0] });
    return tf.tidy(() =>
      Object.fromEntries(Object.entries(grads).map(([name, g]) => [name, tf.div(tf.add(g, fixed(g.shape)), 2)])),
    );
  };
}

beforeAll(async () => {
  await useBackend('cpu');
});

describe('Trainer reduceGradients', () => {
  it('applies the gradients the hook returns: w ← w − lr·(g + f)/2', async () => {
    const model = linear();
    const b = batch();
    const before = values(model);
    const hand = handGradients(model, b);
    const fixed = (shape: number[]) => tf.fill(shape, 0.25);
    const seen: Record<string, number>[] = [];
    const result = await sgd(model, averageWith(fixed, seen)).trainStep(b);
    const after = values(model);
    const expected = [hand.kernel, hand.bias].map((g, k) =>
      tf.tidy(() => tf.sub(tf.tensor(before[k], g.shape), tf.mul(tf.div(tf.add(g, 0.25), 2), 0.5)).dataSync()),
    );
    after.forEach((w, k) => w.forEach((v, i) => expect(v).toBeCloseTo(expected[k][i], 5)));
    // The hook saw this step's own loss and sample count; the reported norm is that of the reduced gradients.
    expect(seen).toEqual([{ step: 0, samples: 5, loss: result.loss }]);
    const reducedNorm = tf.tidy(() =>
      Math.sqrt(
        [hand.kernel, hand.bias].reduce((s, g) => s + tf.sum(tf.square(tf.div(tf.add(g, 0.25), 2))).dataSync()[0], 0),
      ),
    );
    expect(result.gradNorm).toBeCloseTo(reducedNorm, 5);
    tf.dispose([b, hand]);
  });

  it('changes nothing when absent, and an identity hook equals no hook', async () => {
    const b = batch();
    const plain = linear();
    const hooked = linear();
    const a = await sgd(plain).trainStep(b);
    const c = await sgd(hooked, async (grads) => ({ ...grads })).trainStep(b);
    expect(c.loss).toBe(a.loss);
    expect(c.gradNorm).toBe(a.gradNorm);
    expect(values(hooked)).toEqual(values(plain));
    tf.dispose(b);
  });

  it('keeps the tensor count constant, with new or returned tensors, and when the hook throws', async () => {
    const b = batch();
    for (const reducer of [
      averageWith((s) => tf.ones(s)),
      async (g: Readonly<Record<string, tf.Tensor>>) => ({ ...g }),
    ]) {
      const trainer = sgd(linear(), reducer);
      await trainer.trainStep(b);
      const count = tf.memory().numTensors;
      await trainer.trainStep(b);
      expect(tf.memory().numTensors).toBe(count);
    }
    const failing = sgd(linear(), async (grads) => {
      tf.tidy(() => Object.values(grads).map((g) => tf.keep(tf.mul(g, 2)))); // made then lost: the hook's own leak
      throw new Error('exchange lost');
    });
    const count = tf.memory().numTensors;
    await expect(failing.trainStep(b)).rejects.toThrow('exchange lost');
    expect(tf.memory().numTensors - count).toBe(2); // only the two tensors the hook itself leaked
    expect(failing.step).toBe(0);
    tf.dispose(b);
  });

  it('rejects a result with a missing or reshaped gradient, freeing what it returned', async () => {
    const b = batch();
    const model = linear();
    const before = values(model);
    const missing = sgd(model, async (grads) => ({ [Object.keys(grads)[0]]: tf.clone(Object.values(grads)[0]) }));
    const reshaped = sgd(model, async (grads) =>
      Object.fromEntries(Object.entries(grads).map(([n, g]) => [n, tf.reshape(g, [-1])])),
    );
    const count = tf.memory().numTensors; // (an SGD optimizer holds its learning rate as a tensor)
    await expect(missing.trainStep(b)).rejects.toThrow(
      /^Trainer: reduceGradients result 'd\/bias[_0-9]*' must be a tensor, but received undefined\.$/,
    );
    await expect(reshaped.trainStep(b)).rejects.toThrow(
      /reduceGradients result 'd\/kernel[_0-9]*' must be shape \[3,2\]/,
    );
    expect(tf.memory().numTensors).toBe(count);
    expect(values(model)).toEqual(before);
    tf.dispose(b);
  });

  it('checks what is applied for finiteness: a finite step made NaN by the hook is not applied', async () => {
    const b = batch();
    const model = linear();
    const before = values(model);
    const poison: GradientReducer = async (grads) =>
      tf.tidy(() => Object.fromEntries(Object.entries(grads).map(([n, g]) => [n, tf.mul(g, Number.NaN)])));
    await expect(sgd(model, poison).trainStep(b)).rejects.toThrow(PhalanxNonFiniteError);
    expect(values(model)).toEqual(before);
    const skipping = new Trainer<Batch>({
      model,
      loss: mse,
      progress: false,
      onNonFinite: 'skip',
      reduceGradients: poison,
    });
    const result = await skipping.trainStep(b);
    expect(result.skipped).toBe(true);
    expect(skipping.skippedSteps).toBe(1);
    expect(values(model)).toEqual(before);
    tf.dispose(b);
  });

  it('judges the loss and parts the hook reports over the replicas: a NaN one there is not applied', async () => {
    const b = batch();
    const model = linear();
    const before = values(model);
    const otherReplicaNaN: GradientReducer = async (grads, context) => {
      context.reportGroupMeasures({ loss: 0.5, parts: { log: Number.NaN } });
      return grads;
    };
    const loss = (outputs: tf.Tensor[], x: Batch) => ({ total: mse(outputs, x), parts: { log: mse(outputs, x) } });
    const config: TrainerConfig<Batch> = { model, loss, progress: false, reduceGradients: otherReplicaNaN };
    await expect(new Trainer<Batch>(config).trainStep(b)).rejects.toThrow(
      "Trainer: step 1 has a non-finite loss part 'log' (NaN); loss 0.5, gradNorm",
    );
    const skipping = new Trainer<Batch>({ ...config, onNonFinite: 'skip' });
    const result = await skipping.trainStep(b);
    expect([result.skipped, skipping.skippedSteps, Number.isFinite(result.loss)]).toEqual([true, 1, true]);
    expect(values(model)).toEqual(before);
    tf.dispose(b);
  });

  it('rejects a hook that is not a function', () => {
    expect(() => sgd(linear(), 3 as unknown as GradientReducer)).toThrow(
      'Trainer: reduceGradients must be an async function (grads, context) → grads, but received 3.',
    );
  });
});
