import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { useBackend } from '@phalanx/testing';
import { buildParameterGroups } from './parameter-groups';
import { computeStepGradients, type LossFn, type StepModel } from './step';
import { Trainer } from './trainer';
import { maxRelativeDifference } from '../test/relative-difference';

type Batch = { xs: tf.Tensor; ys: tf.Tensor };

/** Two dense layers, no batch norm (whose statistics would differ between micro-batches and one batch). */
function mlp(): tfl.LayersModel {
  const x = tfl.input({ shape: [4], name: 'x' });
  const h = tfl.layers
    .dense({ units: 6, activation: 'tanh', name: 'a', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) })
    .apply(x) as tfl.SymbolicTensor;
  const y = tfl.layers
    .dense({ units: 2, name: 'b', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) })
    .apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: y });
}

function batch(i: number, n: number): Batch {
  return tf.tidy(() => ({
    xs: tf.randomNormal([n, 4], 0, 1, 'float32', 100 + i),
    ys: tf.randomNormal([n, 2], 0, 1, 'float32', 200 + i),
  }));
}

const mse = (outputs: tf.Tensor[], b: Batch) => tf.mean(tf.square(tf.sub(outputs[0], b.ys))) as tf.Scalar;
const withParts = (outputs: tf.Tensor[], b: Batch) => {
  const l2 = mse(outputs, b);
  const l1 = tf.mean(tf.abs(tf.sub(outputs[0], b.ys))) as tf.Scalar;
  return { total: tf.add(l2, l1) as tf.Scalar, parts: { l1, l2 } };
};

function sgdTrainer(model: tfl.LayersModel, loss: LossFn<Batch> = mse, accumulateBatches = 1): Trainer<Batch> {
  return new Trainer<Batch>({
    model,
    loss,
    progress: false,
    accumulateBatches,
    parameterGroups: [{ name: 'all', lr: 0.1, optimizerFactory: (lr) => tf.train.sgd(lr) }],
  });
}

function weights(model: tfl.LayersModel): Float32Array[] {
  return model.weights.map((w) => w.read().dataSync() as Float32Array);
}

beforeAll(async () => {
  await useBackend('cpu');
});

describe('gradient accumulation', () => {
  const sizeCases: [string, number[]][] = [
    ['equal micro-batches', [8, 8, 8, 8]],
    ['unequal micro-batches (weighted by size)', [8, 3, 1, 6]],
  ];
  for (const [what, sizes] of sizeCases) {
    it(`equals one step on the concatenated batch for a mean loss: ${what}`, async () => {
      const micro = sizes.map((n, i) => batch(i, n));
      const whole: Batch = { xs: tf.concat(micro.map((b) => b.xs)), ys: tf.concat(micro.map((b) => b.ys)) };
      const accumulated = mlp();
      const single = mlp();
      const a = await sgdTrainer(accumulated, withParts, sizes.length).trainStep(...micro);
      const b = await sgdTrainer(single, withParts).trainStep(whole);
      expect(a.microBatches).toBe(sizes.length);
      expect(a.batchSize).toBe(b.batchSize);
      expect(a.loss).toBeCloseTo(b.loss, 5);
      expect(a.parts!.l1).toBeCloseTo(b.parts!.l1, 5);
      expect(a.parts!.l2).toBeCloseTo(b.parts!.l2, 5);
      expect(a.gradNorm).toBeCloseTo(b.gradNorm, 5);
      // The weights moved (lr 0.1) and agree to float32 rounding.
      expect(maxRelativeDifference(weights(accumulated), weights(mlp()))).toBeGreaterThan(1e-3);
      expect(maxRelativeDifference(weights(accumulated), weights(single))).toBeLessThan(2e-6);
      tf.dispose([micro, whole]);
    });
  }

  it('fit takes accumulateBatches batches per optimizer step; schedules count optimizer steps', async () => {
    const seen: number[] = [];
    const trainer = new Trainer<Batch>({
      model: mlp(),
      loss: mse,
      progress: false,
      accumulateBatches: 3,
      parameterGroups: [{ name: 'all', lr: (step) => 0.1 / (1 + step) }],
      callbacks: [{ onStepEnd: (r) => void seen.push(r.learningRates.all) }],
    });
    const result = await trainer.fit({ data: ({ batchesSeen }) => gen(batchesSeen), steps: 4 });
    expect(result.step).toBe(4);
    expect(trainer.batchesSeen).toBe(12);
    expect(trainer.samplesSeen).toBe(12 * 5);
    expect(seen).toEqual([0.1, 0.05, 0.1 / 3, 0.025]);
    function* gen(start: number): Generator<Batch> {
      for (let i = start; ; i++) yield batch(i, 5);
    }
  });
});

describe('the step core', () => {
  const data = { calls: 0 };
  const original = { data: tf.Tensor.prototype.data, dataSync: tf.Tensor.prototype.dataSync };
  afterEach(() => Object.assign(tf.Tensor.prototype, original));

  it('reads the device once per step (loss, gradient norm and parts together), with or without accumulation', async () => {
    const b = [batch(0, 4), batch(1, 4)];
    for (const [loss, k] of [
      [mse, 1],
      [withParts, 1],
      [withParts, 2],
    ] as const) {
      const trainer = sgdTrainer(mlp(), loss, k);
      await trainer.trainStep(...b.slice(0, k));
      Object.assign(tf.Tensor.prototype, {
        data(this: tf.Tensor) {
          data.calls += 1;
          return original.data.call(this);
        },
        dataSync(this: tf.Tensor) {
          data.calls += 1;
          return original.dataSync.call(this);
        },
      });
      data.calls = 0;
      await trainer.trainStep(...b.slice(0, k));
      Object.assign(tf.Tensor.prototype, original);
      expect(data.calls, `${loss === mse ? 'plain' : 'parts'} loss, ${k} micro-batches`).toBe(1);
    }
    tf.dispose(b);
  });

  it('keeps the tensor count constant with accumulation, and on a loss that throws', async () => {
    const trainer = sgdTrainer(mlp(), withParts, 3);
    const b = [batch(0, 4), batch(1, 4), batch(2, 4)];
    await trainer.trainStep(...b);
    const before = tf.memory().numTensors;
    await trainer.trainStep(...b);
    expect(tf.memory().numTensors).toBe(before);
    // A loss that fails on the third micro-batch, after parts of the first two were made.
    let calls = 0;
    const failing = new Trainer<Batch>({
      model: mlp(),
      progress: false,
      loss: (outputs, batch) => {
        calls += 1;
        const parts = withParts(outputs, batch);
        if (calls % 3 === 0) return { total: parts.total, parts: { l1: 'oops' as unknown as tf.Scalar } };
        return parts;
      },
      accumulateBatches: 3,
    });
    const count = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) {
      await expect(failing.trainStep(...b)).rejects.toThrow(
        'Trainer: loss parts must be scalar tensors, but received {"l1":"oops"}.',
      );
    }
    expect(tf.memory().numTensors).toBe(count);
    expect(failing.step).toBe(0);
    tf.dispose(b);
  });

  it('rejects a call without batches and a bad accumulateBatches', async () => {
    await expect(sgdTrainer(mlp()).trainStep()).rejects.toThrow(
      'Trainer.trainStep: batches must be at least one batch, but received 0.',
    );
    expect(() => sgdTrainer(mlp(), mse, 0)).toThrow(PhalanxConfigError);
    expect(() => sgdTrainer(mlp(), mse, 1.5)).toThrow(
      'Trainer: accumulateBatches must be an integer ≥ 1, but received 1.5.',
    );
  });
});

describe('a loss or a batch the step cannot use', () => {
  const part = (a: tf.Tensor) => (outputs: tf.Tensor[], b: Batch) => ({ total: mse(outputs, b), parts: { a } });
  const cases: [string, LossFn<Batch>, number, RegExp][] = [
    [
      'a part that is not a scalar',
      (o, b) => part(tf.mean(o[0], 1))(o, b) as never,
      1,
      /^Trainer: loss parts\['a'\] must be a float32 scalar, but received a float32 tensor of shape \[4\]\.$/,
    ],
    [
      'a part of dtype int32',
      (o, b) => part(tf.cast(tf.mean(o[0]), 'int32'))(o, b) as never,
      1,
      /^Trainer: loss parts\['a'\] must be a float32 scalar, but received an int32 tensor of shape \[\]\.$/,
    ],
    [
      'a part that is not a scalar, with accumulation',
      (o, b) => part(tf.mean(o[0], 1))(o, b) as never,
      2,
      /^Trainer: loss parts\['a'\] must be a float32 scalar/,
    ],
    [
      'an int32 total',
      (o) => tf.cast(tf.mul(tf.mean(o[0]), 100), 'int32') as tf.Scalar,
      1,
      /^Trainer: loss must be a float32 scalar, but received an int32 tensor of shape \[\]\.$/,
    ],
    [
      'an int32 total, with accumulation (it trained on the truncated loss)',
      (o) => tf.cast(tf.mul(tf.mean(o[0]), 100), 'int32') as tf.Scalar,
      2,
      /^Trainer: loss must be a float32 scalar, but received an int32 tensor of shape \[\]\.$/,
    ],
    [
      'a total that is not a scalar',
      (o) => tf.mean(o[0], 1) as tf.Scalar,
      1,
      /^Trainer: loss must be a float32 scalar, but received a float32 tensor of shape \[4\]\.$/,
    ],
    [
      'a loss that depends on no trainable weight',
      () => tf.scalar(2),
      1,
      /^Trainer: loss must be computed from the model outputs \(a scalar with a gradient to an unfrozen trainable weight\), but received a scalar that depends on none of them\.$/,
    ],
    [
      'a loss that depends on no trainable weight, with parts and accumulation',
      (o) => ({ total: tf.scalar(2), parts: { a: tf.mean(o[0]) as tf.Scalar } }),
      2,
      /^Trainer: loss must be computed from the model outputs/,
    ],
  ];
  for (const [what, loss, k, message] of cases) {
    it(`is a PhalanxConfigError for ${what}, and leaks no tensor`, async () => {
      const trainer = sgdTrainer(mlp(), loss, k);
      const b = [batch(0, 4), batch(1, 4)].slice(0, k);
      const before = weights(trainer.model);
      const count = tf.memory().numTensors;
      for (let i = 0; i < 2; i++) {
        const error = await trainer.trainStep(...b).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(PhalanxConfigError);
        expect((error as Error).message).toMatch(message);
      }
      expect(tf.memory().numTensors).toBe(count);
      expect(trainer.step).toBe(0);
      expect(weights(trainer.model)).toEqual(before);
      tf.dispose(b);
    });
  }

  it('is a PhalanxShapeError naming the disposed entry of a batch, and leaks no tensor', async () => {
    const gone = tf.ones([4, 4]);
    gone.dispose();
    const trainer = sgdTrainer(mlp());
    // Custom inputs that hand the model a disposed tensor.
    const custom = new Trainer<Batch>({
      model: mlp(),
      loss: mse,
      progress: false,
      inputs: () => gone,
      batchSize: () => 4,
    });
    const live = batch(0, 4);
    const count = tf.memory().numTensors;
    const cases: [unknown, string, Trainer<Batch>][] = [
      [
        { xs: live.xs, ys: gone },
        'Trainer: batch.ys must be a live tensor, but received a disposed tensor of shape [4, 4].',
        trainer,
      ],
      [
        { xs: gone, ys: live.ys },
        'Trainer: batch.xs must be a live tensor, but received a disposed tensor of shape [4, 4].',
        trainer,
      ],
      [
        [gone, live.ys],
        'Trainer: batch[0] must be a live tensor, but received a disposed tensor of shape [4, 4].',
        trainer,
      ],
      [live, 'Trainer: inputs(batch) must be a live tensor, but received a disposed tensor of shape [4, 4].', custom],
    ];
    for (const [dead, message, t] of cases) {
      const error = await t.trainStep(dead as Batch).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PhalanxShapeError);
      expect((error as Error).message).toBe(message);
    }
    expect(tf.memory().numTensors).toBe(count);
    expect(trainer.step + custom.step).toBe(0);
    tf.dispose(live);
  });
});

describe('computeStepGradients', () => {
  it('frees the gradients and measures of the step when clipping or measuring them fails', () => {
    const model = mlp();
    const groups = buildParameterGroups('Trainer', model.trainableWeights, [{ name: 'all', lr: 0.1 }]);
    // A StepModel is a plain object: nothing checked this clipping norm before the step.
    const stepModel: StepModel<Batch> = {
      component: 'Trainer',
      trainingModel: model,
      groups,
      clipNorm: 0,
      inputs: (b) => b.xs,
      loss: withParts,
    };
    const b = [batch(0, 4), batch(1, 4)];
    const count = tf.memory().numTensors;
    for (const k of [1, 2]) {
      expect(() => computeStepGradients(stepModel, b.slice(0, k), [4, 4].slice(0, k), 0)).toThrow(
        'clipByGlobalNorm: maxNorm must be a finite number > 0, but received 0.',
      );
      expect(tf.memory().numTensors, `${k} micro-batches`).toBe(count);
    }
    tf.dispose(b);
  });
});
