import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concreteJointSelector, fileSystem, multiHeadAttention, seededDropout, stepTemperature } from '@phalanx/layers';
import { PhalanxConfigError } from '@phalanx/errors';
import { useBackend } from '@phalanx/testing';
import { Trainer, type TrainerConfig } from './trainer';
import { FlatAdamOptimizer } from './flat-adam';
import type { ParameterGroupConfig } from './parameter-groups';
import { constantLr, stepLr } from './schedules';
import { ProgressDisplay, type ProgressDisplayOptions, type ProgressStream } from './progress';
import { allLayers, setFrozen } from './freeze';

interface Batch {
  xs: tf.Tensor;
  ys: tf.Tensor;
}

/** A small model with explicitly named layers (so a second instance has the same weight names). */
function smallModel(seed = 1): tfl.LayersModel {
  const x = tfl.input({ shape: [4], name: 'x' });
  let h = tfl.layers
    .dense({ units: 8, name: 'first', kernelInitializer: tfl.initializers.glorotUniform({ seed }) })
    .apply(x) as tfl.SymbolicTensor;
  h = tfl.layers.batchNormalization({ name: 'bn' }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.activation({ activation: 'tanh', name: 'act' }).apply(h) as tfl.SymbolicTensor;
  const y = tfl.layers
    .dense({ units: 2, name: 'second', kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }) })
    .apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: y, name: 'small' });
}

/** A model with a seeded ConcreteJointSelector: per-group predictions of J=5 joints in 2D. */
function selectorModel(): tfl.LayersModel {
  const x = tfl.input({ shape: [4], name: 'x' });
  const h = tfl.layers
    .dense({ units: 3 * 5 * 2, name: 'head', kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }) })
    .apply(x) as tfl.SymbolicTensor;
  const g = tfl.layers.reshape({ targetShape: [3, 5, 2], name: 'split' }).apply(h) as tfl.SymbolicTensor;
  const y = concreteJointSelector({ numJoints: 5, numGroups: 3, seed: 7, name: 'meta_S' }).apply(
    g,
  ) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: y, name: 'sel' });
}

/** Deterministic batches: batch i depends only on i. */
function makeBatch(i: number, outShape: number[]): Batch {
  return tf.tidy(() => ({
    xs: tf.randomNormal([8, 4], 0, 1, 'float32', 1000 + i),
    ys: tf.randomNormal([8, ...outShape], 0, 1, 'float32', 2000 + i),
  }));
}

function* batchesFrom(start: number, outShape: number[]): Generator<Batch> {
  for (let i = start; ; i++) yield makeBatch(i, outShape);
}

const mse = (outputs: tf.Tensor[], batch: Batch) => tf.mean(tf.square(tf.sub(outputs[0], batch.ys))) as tf.Scalar;

function weightsOf(model: tfl.LayersModel): Record<string, Float32Array> {
  return Object.fromEntries(model.weights.map((w) => [w.originalName, w.read().dataSync().slice() as Float32Array]));
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function trainer(model: tfl.LayersModel, extra: Partial<TrainerConfig<Batch>> = {}): Trainer<Batch> {
  return new Trainer<Batch>({ model, loss: mse, progress: false, ...extra });
}

class MemoryStream implements ProgressStream {
  text = '';
  constructor(
    readonly isTTY: boolean,
    readonly columns?: number,
  ) {}
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

let dir: string;
beforeAll(async () => {
  await useBackend('cpu');
  dir = mkdtempSync(join(tmpdir(), 'phalanx-train-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Trainer: trainingModel', () => {
  it('applies the training model (auxiliary output reaches the loss) and checkpoints the model', async () => {
    const model = smallModel();
    const aux = model.getLayer('first').output as tfl.SymbolicTensor;
    const trainingModel = tfl.model({ inputs: model.inputs, outputs: [...model.outputs, aux] });
    const seen: number[] = [];
    const t = new Trainer<Batch>({
      model,
      trainingModel,
      // Only the auxiliary output is supervised: 'first' must move, 'second' gets no gradient.
      loss: (outputs) => {
        seen.push(outputs.length);
        return tf.mean(tf.square(tf.sub(outputs[1], 1))) as tf.Scalar;
      },
      parameterGroups: [{ name: 'all', optimizer: tf.train.sgd(0.1) }],
      progress: false,
    });
    const first = model.getLayer('first').getWeights()[0].dataSync().slice() as Float32Array;
    const second = model.getLayer('second').getWeights()[0].dataSync().slice() as Float32Array;
    const batch = { xs: tf.randomNormal([8, 4], 0, 1, 'float32', 3), ys: tf.zeros([8, 2]) };
    const l0 = (await t.trainStep(batch)).loss;
    let l = l0;
    for (let i = 0; i < 5; i++) l = (await t.trainStep(batch)).loss;
    expect(seen.every((n) => n === 2)).toBe(true);
    expect(l).toBeLessThan(l0);
    expect(maxDiff(model.getLayer('first').getWeights()[0].dataSync() as Float32Array, first)).toBeGreaterThan(0);
    expect(maxDiff(model.getLayer('second').getWeights()[0].dataSync() as Float32Array, second)).toBe(0);
    const root = join(dir, 'training-model');
    await t.saveCheckpoint(root);
    const loaded = await tfl.loadLayersModel(fileSystem(root));
    expect(loaded.outputs.length).toBe(1); // the saved network is `model`, not the training model
    loaded.dispose();
    tf.dispose([batch.xs, batch.ys]);
  });

  it('rejects a training model with weights of its own', () => {
    const model = smallModel();
    expect(
      () => new Trainer<Batch>({ model, trainingModel: smallModel(), loss: () => tf.scalar(0), progress: false }),
    ).toThrow("Trainer: trainingModel must be a tf.LayersModel built from the model's own layers, but received");
  });
});

describe('Trainer: config checked at construction', () => {
  it('setFrozen and allLayers refuse a model that is not one, and a frozen flag that is not a boolean', () => {
    const model = smallModel();
    const cases: [() => unknown, string][] = [
      [
        () => setFrozen(null as never, 'first', true),
        'setFrozen: model must be a tf.LayersModel or layer, but received null.',
      ],
      [
        () => allLayers(undefined as never),
        'allLayers: model must be a tf.LayersModel or layer, but received undefined.',
      ],
      [() => setFrozen(model, 'first', 'yes' as never), "setFrozen: frozen must be a boolean, but received 'yes'."],
    ];
    for (const [f, message] of cases) {
      expect(f, message).toThrow(PhalanxConfigError);
      expect(f).toThrow(message);
    }
    expect(model.getLayer('first').trainable).toBe(true);
  });

  it('refuses fields used only later (functions, lists, progress) by name, not as a TypeError in fit', () => {
    const model = smallModel();
    const cases: [Partial<TrainerConfig<Batch>>, string][] = [
      [{ trainingModel: null as never }, "Trainer: trainingModel must be a tf.LayersModel built from the model's own"],
      [{ inputs: 5 as never }, 'Trainer: inputs must be a function, but received 5.'],
      [{ batchSize: 8 as never }, 'Trainer: batchSize must be a function, but received 8.'],
      [{ disposeBatch: true as never }, 'Trainer: disposeBatch must be a function, but received true.'],
      // One layer name instead of a list would be iterated letter by letter and freeze nothing.
      [
        { freeze: 'first' as never },
        "Trainer: freeze must be a list of layer patterns (RegExps, layer names or predicates), but received 'first'.",
      ],
      [{ freeze: /first/ as never }, 'Trainer: freeze must be a list of layer patterns'],
      [{ callbacks: {} as never }, 'Trainer: callbacks must be a list of TrainerCallbacks objects, but received {}.'],
      [
        { callbacks: [{}, null as never] },
        'Trainer: callbacks[1] must be a TrainerCallbacks object, but received null.',
      ],
      [{ progress: 5 as never }, 'Trainer: progress must be false or a ProgressDisplayOptions object, but received 5.'],
      [{ progress: true as never }, 'Trainer: progress must be false or a ProgressDisplayOptions object'],
    ];
    for (const [extra, message] of cases) {
      const make = () => trainer(model, extra);
      expect(make, message).toThrow(PhalanxConfigError);
      expect(make).toThrow(message);
    }
    expect(model.getLayer('first').trainable).toBe(true);
    // A failure after the optimizers (or the average) were made frees them, and a bad pattern freezes nothing.
    const before = tf.memory().numTensors;
    const late: [Partial<TrainerConfig<Batch>>, string][] = [
      [{ ema: { decay: 2 } }, 'ExponentialMovingAverage: decay must be a number in [0, 1), but received 2.'],
      [
        {
          ema: {},
          parameterGroups: [
            { name: 'a', match: /^first/, lr: 1e-3 },
            { name: 'b', lr: 1e-3, clipNorm: -1 },
          ],
        },
        'Trainer: parameterGroups[1].clipNorm must be a finite number > 0, but received -1.',
      ],
      [
        { parameterGroups: [{ name: 'a', match: /^first/, lr: 1e-3 }] },
        'Trainer: parameterGroups must be groups that cover every trainable variable',
      ],
      [
        { freeze: ['first', 5 as never] },
        'Trainer: freeze[1] must be a RegExp, a layer name or a predicate, but received 5.',
      ],
      [
        { ema: {}, reduceGradients: 'mean' as never },
        "Trainer: reduceGradients must be an async function (grads, context) → grads, but received 'mean'.",
      ],
    ];
    for (const [extra, message] of late) {
      expect(() => trainer(model, extra), message).toThrow(message);
      expect(tf.memory().numTensors, message).toBe(before);
    }
    expect(model.getLayer('first').trainable).toBe(true);
    const frozen = trainer(model, { freeze: ['first'], callbacks: [], progress: false, inputs: undefined });
    expect(model.getLayer('first').trainable).toBe(false);
    frozen.unfreeze('first');
  });
});

describe('Trainer: parameter groups', () => {
  it('gives each group its own learning rate (SGD update size ∝ lr)', async () => {
    const model = smallModel();
    const groups: ParameterGroupConfig[] = [
      { name: 'first', match: /^first\//, lr: 1e-1, optimizerFactory: (lr) => tf.train.sgd(lr) },
      { name: 'rest', lr: 1e-3, optimizerFactory: (lr) => tf.train.sgd(lr) },
    ];
    const t = trainer(model, { parameterGroups: groups });
    expect(t.describeGroups().map((g) => g.variables)).toEqual([
      ['first/kernel', 'first/bias'],
      ['bn/gamma', 'bn/beta', 'second/kernel', 'second/bias'],
    ]);
    const batch = makeBatch(0, [2]);
    // Gradients at the starting point, for the expected update.
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const { grads } = tf.variableGrads(
      () => mse([model.apply(batch.xs, { training: true }) as tf.Tensor], batch),
      vars,
    );
    // Reset BN moving stats changed by the probe forward: irrelevant to the trainable weights' update.
    const before = weightsOf(model);
    const result = await t.trainStep(batch);
    const after = weightsOf(model);
    expect(result.learningRates).toEqual({ first: 1e-1, rest: 1e-3 });
    for (const v of model.trainableWeights) {
      const g = grads[(v.read() as tf.Variable).name].dataSync();
      const lr = v.originalName.startsWith('first/') ? 1e-1 : 1e-3;
      const delta = after[v.originalName].map((a, i) => a - before[v.originalName][i]);
      const expected = Float32Array.from(g, (x) => -lr * x);
      expect(maxDiff(delta, expected), v.originalName).toBeLessThan(1e-6 + 1e-4 * Math.max(...expected.map(Math.abs)));
    }
    tf.dispose([batch.xs, batch.ys, ...Object.values(grads)]);
  });

  it('changes Adam learning rates with the schedule (update size follows lr)', async () => {
    const model = smallModel();
    // Adam's first step moves every weight by ≈ lr (m̂/√v̂ = ±1): the update size shows the rate.
    const t = trainer(model, {
      parameterGroups: [{ name: 'all', lr: stepLr({ initial: 1e-2, gamma: 0.1, every: 1 }) }],
    });
    const b0 = makeBatch(0, [2]);
    const w0 = weightsOf(model)['second/bias'];
    const r0 = await t.trainStep(b0);
    const w1 = weightsOf(model)['second/bias'];
    expect(r0.learningRates.all).toBeCloseTo(1e-2, 12);
    expect(maxDiff(w0, w1)).toBeCloseTo(1e-2, 4);
    const r1 = await t.trainStep(b0);
    expect(r1.learningRates.all).toBeCloseTo(1e-3, 12);
    expect(maxDiff(w1, weightsOf(model)['second/bias'])).toBeLessThan(2e-3);
    tf.dispose([b0.xs, b0.ys]);
  });

  it('rejects groups that leave variables out, duplicate names, bad lr', () => {
    const model = smallModel();
    expect(() => trainer(model, { parameterGroups: [{ name: 'a', match: /^first\// }] })).toThrow(
      /Trainer: parameterGroups must be groups that cover every trainable variable .*4 unmatched, e\.g\. bn\/gamma/,
    );
    expect(() => trainer(model, { parameterGroups: [{ name: 'a', match: /x/ }, { name: 'a' }] })).toThrow(
      "Trainer: parameterGroups[1].name must be a unique non-empty string, but received 'a'.",
    );
    expect(() => trainer(model, { parameterGroups: [{ name: 'a', lr: -1 }] })).toThrow(
      'Trainer: parameterGroups[0].lr must be a finite number ≥ 0, but received -1.',
    );
    expect(() => trainer(model, { clipNorm: 0 })).toThrow(
      'Trainer: clipNorm must be a finite number > 0, but received 0.',
    );
    // A misspelt option is named, not dropped: this run would otherwise train without clipping.
    expect(() => trainer(model, { clipnorm: 1 } as never)).toThrow(
      /^Trainer: config.clipnorm must be an option \(one of model, trainingModel, loss, .*, progress\), but received 1\.$/,
    );
  });
});

describe('Trainer: RegExp patterns with the g or y flag', () => {
  it('match every name as without the flag (a stateful lastIndex skipped the name after a match)', () => {
    for (const flags of ['g', 'y', 'gi']) {
      const model = smallModel();
      const t = trainer(model, {
        parameterGroups: [
          { name: 'dense', match: new RegExp('^(first|second)/(kernel|bias)$', flags) },
          { name: 'rest', lr: 1e-3 },
        ],
        freeze: [new RegExp('^(first|bn)$', flags)],
      });
      const [dense, rest] = t.describeGroups();
      expect(dense.variables, flags).toEqual(['first/kernel', 'first/bias', 'second/kernel', 'second/bias']);
      expect(rest.variables, flags).toEqual(['bn/gamma', 'bn/beta']);
      expect(
        ['first', 'bn', 'second'].map((n) => model.getLayer(n).trainable),
        flags,
      ).toEqual([false, false, true]);
      expect(t.unfreeze(new RegExp('^(first|bn)$', flags)), flags).toEqual(['first', 'bn']);
    }
  });
});

describe('Trainer: one optimizer per group', () => {
  it('refuses an optimizer given to two groups: its slots are positional, the groups would share moments', () => {
    const model = smallModel();
    const shared = tf.train.adam(1e-2);
    const numTensors = tf.memory().numTensors;
    const message =
      "Trainer: parameterGroups[1].optimizer must be an optimizer of its own (group 'first' has this one: " +
      'optimizers keep their state by position, so a shared one would mix the groups’ moments), ' +
      "but received 'Adam'.";
    expect(() =>
      trainer(model, {
        parameterGroups: [
          { name: 'first', match: /^first\//, optimizer: shared },
          { name: 'rest', optimizer: shared },
        ],
      }),
    ).toThrow(message);
    // The same from a factory that hands out one instance (a FlatAdam, the default class).
    const flat = new FlatAdamOptimizer(1e-2);
    expect(() =>
      trainer(model, {
        parameterGroups: [
          { name: 'first', match: /^first\//, optimizerFactory: () => flat },
          { name: 'rest', optimizerFactory: () => flat },
        ],
      }),
    ).toThrow(PhalanxConfigError);
    flat.dispose();
    shared.dispose();
    expect(tf.memory().numTensors).toBe(numTensors - 2); // shared's two scalars freed, nothing else made or leaked
  });
});

describe('Trainer: freezing and clipping', () => {
  it('frozen layers keep their weights and batch-norm statistics; unfreezing resumes training', async () => {
    const model = smallModel();
    const t = trainer(model, { freeze: [/^(first|bn)$/], parameterGroups: [{ name: 'all', lr: 1e-2 }] });
    expect(model.getLayer('first').trainable).toBe(false);
    const before = weightsOf(model);
    const b = makeBatch(0, [2]);
    for (let i = 0; i < 3; i++) await t.trainStep(b);
    const after = weightsOf(model);
    for (const name of ['first/kernel', 'first/bias', 'bn/gamma', 'bn/beta', 'bn/moving_mean', 'bn/moving_variance']) {
      expect(maxDiff(before[name], after[name]), name).toBe(0);
    }
    expect(maxDiff(before['second/kernel'], after['second/kernel'])).toBeGreaterThan(1e-3);
    expect(t.describeGroups()[0].frozen).toEqual(['first/kernel', 'first/bias', 'bn/gamma', 'bn/beta']);

    t.unfreeze(/^(first|bn)$/);
    await t.trainStep(b);
    const again = weightsOf(model);
    for (const name of ['first/kernel', 'bn/gamma', 'bn/moving_mean']) {
      expect(maxDiff(after[name], again[name]), name).toBeGreaterThan(1e-5);
    }
    tf.dispose([b.xs, b.ys]);
  });

  it('a nested model frozen by name keeps the statistics of its batch norms too; unfreezing trains them', async () => {
    const backbone = tfl.sequential({
      name: 'backbone',
      layers: [
        tfl.layers.dense({ units: 4, inputShape: [4], name: 'bb', kernelInitializer: tfl.initializers.ones() }),
        tfl.layers.batchNormalization({ name: 'bbn' }),
      ],
    });
    const x = tfl.input({ shape: [4], name: 'x' });
    const head = tfl.layers.dense({ units: 2, name: 'head', kernelInitializer: tfl.initializers.ones() });
    const model = tfl.model({ inputs: x, outputs: head.apply(backbone.apply(x)) as tfl.SymbolicTensor });
    const t = trainer(model, { freeze: ['backbone'] });
    const before = weightsOf(model);
    const b = makeBatch(0, [2]);
    for (let i = 0; i < 2; i++) await t.trainStep(b);
    const after = weightsOf(model);
    for (const name of ['bb/kernel', 'bbn/gamma', 'bbn/moving_mean', 'bbn/moving_variance']) {
      expect(maxDiff(before[name], after[name]), name).toBe(0);
    }
    expect(maxDiff(before['head/kernel'], after['head/kernel'])).toBeGreaterThan(1e-3);
    t.unfreeze('backbone');
    await t.trainStep(b);
    const again = weightsOf(model);
    for (const name of ['bb/kernel', 'bbn/moving_mean'])
      expect(maxDiff(after[name], again[name]), name).toBeGreaterThan(0);
    tf.dispose([b.xs, b.ys]);
  });

  it('a layer frozen before the trainer was made: unfreeze is a named error; setFrozen first trains it', async () => {
    const model = smallModel();
    setFrozen(model, /^(first|bn)$/, true); // as an earlier trainer on the same model leaves it
    const late = trainer(model, { parameterGroups: [{ name: 'all', lr: 1e-2 }] });
    expect(() => late.unfreeze(/^first$/)).toThrow(
      /^Trainer: unfreeze must be layers whose weights the parameter groups hold .*, but received '2 weights outside every group, e\.g\. first\/kernel, first\/bias'\.$/,
    );
    expect(model.getLayer('first').trainable).toBe(false); // the failed call changed nothing
    expect(model.getLayer('bn').trainable).toBe(false);
    expect(late.unfreeze(/^second$/)).toEqual(['second']); // a layer the groups hold is fine

    setFrozen(model, /^(first|bn)$/, false);
    const early = trainer(model, { parameterGroups: [{ name: 'all', lr: 1e-2 }] });
    const before = weightsOf(model);
    const b = makeBatch(0, [2]);
    await early.trainStep(b);
    const after = weightsOf(model);
    for (const name of ['first/kernel', 'bn/gamma', 'second/kernel']) {
      expect(maxDiff(before[name], after[name]), name).toBeGreaterThan(1e-5);
    }
    tf.dispose([b.xs, b.ys]);
  });

  it('clips the global gradient norm (SGD: the update norm is lr · maxNorm)', async () => {
    const model = smallModel();
    const lr = 0.5;
    const maxNorm = 1e-3;
    const t = trainer(model, {
      clipNorm: maxNorm,
      parameterGroups: [{ name: 'all', lr, optimizerFactory: (r) => tf.train.sgd(r) }],
    });
    const b = makeBatch(0, [2]);
    const before = weightsOf(model);
    const r = await t.trainStep(b);
    expect(r.gradNorm).toBeGreaterThan(maxNorm * 10);
    const after = weightsOf(model);
    let sq = 0;
    for (const v of model.trainableWeights) {
      const d = after[v.originalName].map((a, i) => a - before[v.originalName][i]);
      d.forEach((x) => (sq += x * x));
    }
    expect(Math.sqrt(sq)).toBeCloseTo(lr * maxNorm, 6);
    tf.dispose([b.xs, b.ys]);
  });

  it('clips per group', async () => {
    const model = smallModel();
    const t = trainer(model, {
      parameterGroups: [
        { name: 'second', match: /^second\//, lr: 1, clipNorm: 1e-4, optimizerFactory: (r) => tf.train.sgd(r) },
        { name: 'rest', lr: 0, optimizerFactory: (r) => tf.train.sgd(r) },
      ],
    });
    const b = makeBatch(0, [2]);
    const before = weightsOf(model);
    await t.trainStep(b);
    const after = weightsOf(model);
    let sq = 0;
    for (const name of ['second/kernel', 'second/bias'])
      after[name].forEach((a, i) => (sq += (a - before[name][i]) ** 2));
    expect(Math.sqrt(sq)).toBeCloseTo(1e-4, 7);
    expect(maxDiff(after['first/kernel'], before['first/kernel'])).toBe(0);
    tf.dispose([b.xs, b.ys]);
  });
});

describe('Trainer: memory', () => {
  it('keeps the tensor count constant from step to step (groups, clipping, BN, selector, parts)', async () => {
    const model = selectorModel();
    const t = new Trainer<Batch>({
      model,
      progress: false,
      loss: (outputs, batch) => {
        const l1 = tf.mean(tf.abs(tf.sub(outputs[0], batch.ys))) as tf.Scalar;
        const l2 = tf.mean(tf.square(tf.sub(outputs[0], batch.ys))) as tf.Scalar;
        return { total: tf.add(l1, l2) as tf.Scalar, parts: { l1, l2 } };
      },
      parameterGroups: [
        { name: 'selector', match: /^meta_S\//, lr: 1e-1, clipNorm: 1 },
        { name: 'rest', lr: 1e-3 },
      ],
      clipNorm: 5,
      temperature: stepTemperature({ every: 2 }),
    });
    const b = makeBatch(0, [5, 2]);
    await t.trainStep(b);
    await t.trainStep(b);
    const counts: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await t.trainStep(b);
      expect(Object.keys(r.parts!)).toEqual(['l1', 'l2']);
      counts.push(tf.memory().numTensors);
    }
    expect(counts[1]).toBe(counts[0]);
    expect(counts[2]).toBe(counts[0]);
    tf.dispose([b.xs, b.ys]);
  });
});

describe('Trainer.fit: memory', () => {
  it('keeps the tensor count constant when `inputs` builds tensors from the batch', async () => {
    const model = selectorModel();
    const counts: number[] = [];
    const t = new Trainer<Batch>({
      model,
      progress: false,
      inputs: (b) => tf.mul(b.xs, 1),
      loss: (outputs, batch) => tf.mean(tf.abs(tf.sub(outputs[0], batch.ys))) as tf.Scalar,
      callbacks: [{ onStepEnd: () => void counts.push(tf.memory().numTensors) }],
    });
    // Batches are made as they are consumed (and the trainer disposes each one), as a data stream would.
    async function* stream(): AsyncGenerator<Batch> {
      for (let i = 0; i < 6; i++) yield makeBatch(i, [5, 2]);
    }
    await t.fit({ data: stream(), steps: 6 });
    expect(counts.slice(3)).toEqual([counts[2], counts[2], counts[2]]);
  });
});

describe('Trainer.fit: checkpoints, logs, resume', () => {
  async function run(
    steps: number,
    checkpointDir: string,
    options: { stopAt?: number; resume?: boolean } = {},
  ): Promise<{ model: tfl.LayersModel; losses: number[]; trainer: Trainer<Batch> }> {
    const model = selectorModel();
    const t: Trainer<Batch> = new Trainer<Batch>({
      model,
      progress: false,
      loss: (outputs, batch) => tf.mean(tf.abs(tf.sub(outputs[0], batch.ys))) as tf.Scalar,
      parameterGroups: [
        { name: 'selector', match: /^meta_S\//, lr: 1e-1 },
        { name: 'rest', lr: stepLr({ initial: 1e-2, gamma: 0.5, every: 3 }) },
      ],
      temperature: stepTemperature({ initial: 5, decrement: 0.5, every: 2, minimum: 0.5 }),
      callbacks: [{ onStepEnd: (r): void => (r.step === options.stopAt ? t.stop() : undefined) }],
    });
    const result = await t.fit({
      data: ({ batchesSeen }) => batchesFrom(batchesSeen, [5, 2]),
      steps,
      checkpointDir,
      checkpointEvery: 4,
      resume: options.resume ?? false,
      evaluate: async ({ step }) => ({ step }),
      evaluateEvery: 3,
    });
    return { model, losses: result.losses, trainer: t };
  }

  it('interrupt + resume reproduces the uninterrupted run on wasm too', async () => {
    await useBackend('wasm');
    try {
      const straight = await run(6, join(dir, 'wasm-straight'));
      await run(6, join(dir, 'wasm-resumed'), { stopAt: 3 });
      const second = await run(6, join(dir, 'wasm-resumed'), { resume: true });
      expect(second.losses).toEqual(straight.losses.slice(3));
      const a = weightsOf(straight.model);
      const b = weightsOf(second.model);
      for (const name of Object.keys(a)) expect(maxDiff(a[name], b[name]), name).toBe(0);
    } finally {
      await useBackend('cpu');
    }
  });

  it('interrupt + resume reproduces the uninterrupted run (weights, losses, Adam state, selector noise)', async () => {
    const straight = await run(10, join(dir, 'straight'));
    const first = await run(10, join(dir, 'resumed'), { stopAt: 5 });
    expect(first.losses).toHaveLength(5);
    expect(existsSync(join(dir, 'resumed', 'step-00000005', 'trainer-state.json'))).toBe(true);
    const second = await run(10, join(dir, 'resumed'), { resume: true });
    expect(second.losses).toHaveLength(5);
    const losses = [...first.losses, ...second.losses];
    losses.forEach((l, i) =>
      expect(Math.abs(l - straight.losses[i]), `loss ${i}`).toBeLessThanOrEqual(1e-6 * Math.abs(l)),
    );
    const a = weightsOf(straight.model);
    const b = weightsOf(second.model);
    for (const name of Object.keys(a)) expect(maxDiff(a[name], b[name]), name).toBeLessThanOrEqual(1e-6);
    // In fact bitwise on cpu:
    expect(losses).toEqual(straight.losses);
  });

  it('writes standard tfjs checkpoints, trainer state, keeps the newest, and a JSONL log', async () => {
    const root = join(dir, 'straight');
    const state = JSON.parse(readFileSync(join(root, 'step-00000010', 'trainer-state.json'), 'utf8'));
    expect(state).toMatchObject({ version: 1, step: 10, batchesSeen: 10, samplesSeen: 80, temperature: 3 });
    expect(state.selectorNoiseCalls).toEqual({ meta_S: 10 });
    expect(state.learningRates.rest).toBeCloseTo(1e-2 * 0.5 ** 3, 12);
    expect(existsSync(join(root, 'step-00000004'))).toBe(false); // keepCheckpoints 2: 8 and 10 remain
    expect(existsSync(join(root, 'step-00000008', 'model.json'))).toBe(true);
    const loaded = await tfl.loadLayersModel(fileSystem(join(root, 'step-00000010')));
    const x = tf.randomNormal([2, 4], 0, 1, 'float32', 5);
    const fresh = await run(10, join(dir, 'straight-copy'));
    const y1 = loaded.predict(x) as tf.Tensor;
    const y2 = fresh.model.predict(x) as tf.Tensor;
    expect(maxDiff(y1.dataSync() as Float32Array, y2.dataSync() as Float32Array)).toBe(0);
    tf.dispose([x, y1, y2]);
    loaded.dispose();

    const events = readFileSync(join(root, 'log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(events[0]).toMatchObject({ event: 'start', step: 0, totalSteps: 10, resumedFrom: null });
    const steps = events.filter((e) => e.event === 'step');
    expect(steps.map((e) => e.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(steps[0]).toMatchObject({ batchSize: 8, learningRates: { selector: 0.1, rest: 0.01 }, temperature: 5 });
    for (const e of steps) {
      expect(Number.isFinite(e.loss) && e.gradNorm > 0 && e.stepMs > 0 && e.samplesPerSecond > 0).toBe(true);
      expect(typeof e.time).toBe('string');
    }
    expect(events.filter((e) => e.event === 'eval').map((e) => e.step)).toEqual([3, 6, 9, 10]);
    expect(events.filter((e) => e.event === 'eval')[0].metrics).toEqual({ step: 3 });
    expect(events.filter((e) => e.event === 'checkpoint').map((e) => [e.step, e.reason])).toEqual([
      [4, 'periodic'],
      [8, 'periodic'],
      [10, 'end'],
    ]);
    expect(events[events.length - 1]).toMatchObject({ event: 'end', step: 10, interrupted: false });
    const resumedLog = readFileSync(join(dir, 'resumed', 'log.jsonl'), 'utf8');
    expect(resumedLog).toContain('"reason":"interrupt"');
    expect(resumedLog).toMatch(/"event":"start","step":5,.*"resumedFrom":".*step-00000005"/);
  });

  it('skips consumed batches of a plain iterable on resume and tracks the best metric', async () => {
    const root = join(dir, 'plain');
    const make = () => {
      const model = smallModel();
      return {
        model,
        t: trainer(model, { parameterGroups: [{ name: 'all', lr: constantLr(1e-2) }] }),
      };
    };
    const seen: number[] = [];
    const data = function* () {
      for (let i = 0; i < 100; i++) {
        seen.push(i);
        yield makeBatch(i, [2]);
      }
    };
    const a = make();
    let k = 0;
    const evaluate = async () => ({ score: [3, 1, 2][k++ % 3] });
    await a.t.fit({
      data: data(),
      steps: 3,
      checkpointDir: root,
      evaluate,
      evaluateEvery: 1,
      bestMetric: { name: 'score', mode: 'min' },
    });
    expect(a.t.describeGroups()).toHaveLength(1);
    const state = JSON.parse(readFileSync(join(root, 'best', 'trainer-state.json'), 'utf8'));
    expect(state.best).toEqual({ name: 'score', mode: 'min', value: 1, step: 2 });
    seen.length = 0;
    const b = make();
    const r = await b.t.fit({ data: data(), steps: 5, checkpointDir: root, resume: true });
    expect(r.losses).toHaveLength(2);
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    expect(r.best?.value).toBe(1);
  });
});

/** A model with seeded dropout: attention dropout (`attn`) and a `SeededDropout` (`drop`), seeds given. */
function dropoutModel(seeds: { attn: number; drop: number } = { attn: 5, drop: 6 }): tfl.LayersModel {
  const x = tfl.input({ shape: [4], name: 'x' });
  let h = tfl.layers
    .dense({ units: 12, name: 'in', kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }) })
    .apply(x) as tfl.SymbolicTensor;
  h = tfl.layers.reshape({ targetShape: [3, 4], name: 'tokens' }).apply(h) as tfl.SymbolicTensor;
  const attention = multiHeadAttention({
    numHeads: 2,
    units: 4,
    attentionDropout: 0.4,
    dropoutSeed: seeds.attn,
    kernelInitializer: { className: 'GlorotUniform', config: { seed: 4 } },
    name: 'attn',
  });
  h = attention.apply(h) as tfl.SymbolicTensor;
  h = seededDropout({ rate: 0.4, seed: seeds.drop, name: 'drop' }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.flatten({ name: 'flat' }).apply(h) as tfl.SymbolicTensor;
  const y = tfl.layers
    .dense({ units: 2, name: 'out', kernelInitializer: tfl.initializers.glorotUniform({ seed: 5 }) })
    .apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: y, name: 'drop' });
}

describe('Trainer.fit: what it would write, it can read back', () => {
  it('refuses bad data, a null batch, non-record metrics and non-integer batch sizes by name, before a checkpoint', async () => {
    const root = join(dir, 'refusals');
    for (const data of [undefined, 5, null, { next: () => 1 }])
      await expect(
        trainer(smallModel()).fit({ data: data as unknown as Batch[], steps: 2, handleSigint: false }),
      ).rejects.toThrow(/Trainer.fit: data must be an iterable, an async iterable or a function/);
    const misspelt = { data: () => batchesFrom(0, [2]), steps: 2, handleSigint: false, checkpointdir: root };
    await expect(trainer(smallModel()).fit(misspelt as never)).rejects.toThrow(
      /^Trainer.fit: options.checkpointdir must be an option \(one of data, steps, .*\), but received '.*refusals'\.$/,
    );
    const withNull = function* (): Generator<Batch | null> {
      yield makeBatch(0, [2]);
      yield null;
    };
    await expect(
      trainer(smallModel()).fit({ data: withNull() as Iterable<Batch>, steps: 3, handleSigint: false }),
    ).rejects.toThrow(/data must be to yield batches, not null or undefined/);
    for (const metrics of [5, 'x', [1], { a: 'x' }, null]) {
      const result = trainer(smallModel()).fit({
        data: () => batchesFrom(0, [2]),
        steps: 2,
        checkpointDir: join(root, 'metrics'),
        checkpointEvery: 1,
        evaluate: async () => metrics as unknown as Record<string, number>,
        evaluateEvery: 1,
        handleSigint: false,
      });
      await expect(result).rejects.toThrow(/PeriodicEvaluation: evaluate must be to resolve to a record of numbers/);
    }
    await expect(
      trainer(smallModel(), { batchSize: () => Number.NaN }).fit({
        data: () => batchesFrom(0, [2]),
        steps: 2,
        checkpointDir: join(root, 'sizes'),
        handleSigint: false,
      }),
    ).rejects.toThrow(/Trainer.trainStep: batchSize\(batches\[0\]\) must be an integer ≥ 0, but received NaN/);
    // A checkpoint root that is a file: a named error before the first step, for any log setting.
    const file = join(root, 'a-file');
    mkdirSync(root, { recursive: true });
    writeFileSync(file, 'not a folder');
    for (const logFile of [undefined, null]) {
      let steps = 0;
      const t = trainer(smallModel(), { callbacks: [{ onStepEnd: (): void => void (steps += 1) }] });
      await expect(
        t.fit({
          data: () => batchesFrom(0, [2]),
          steps: 2,
          checkpointDir: file,
          checkpointEvery: 1,
          logFile,
          handleSigint: false,
        }),
      ).rejects.toThrow(/a-file: checkpoint folder is a file, not a folder/);
      expect(steps).toBe(0);
    }
    await expect(
      trainer(smallModel()).fit({
        data: () => batchesFrom(0, [2]),
        steps: 1,
        checkpointDir: join(file, 'run'),
        handleSigint: false,
      }),
    ).rejects.toThrow(/run: checkpoint folder cannot be made: .*a-file is a file/);
    // A file with a checkpoint's name inside the root is not replaced.
    mkdirSync(join(root, 'files'), { recursive: true });
    writeFileSync(join(root, 'files', 'step-00000001'), 'mine');
    await expect(
      trainer(smallModel()).fit({
        data: () => batchesFrom(0, [2]),
        steps: 1,
        checkpointDir: join(root, 'files'),
        checkpointEvery: 1,
        handleSigint: false,
      }),
    ).rejects.toThrow(/step-00000001: checkpoint folder is a file, not a folder/);
    expect(readFileSync(join(root, 'files', 'step-00000001'), 'utf8')).toBe('mine');
    // Nothing unreadable was left: every checkpoint written before a refusal resumes.
    const resumed = await trainer(smallModel()).fit({
      data: () => batchesFrom(0, [2]),
      steps: 2,
      checkpointDir: join(root, 'metrics'),
      resume: true,
      handleSigint: false,
    });
    expect(resumed.step).toBe(2);
  });

  it('a bestMetric that evaluate does not return is a named error at the first evaluation', async () => {
    const evaluated: number[] = [];
    const result = trainer(smallModel()).fit({
      data: () => batchesFrom(0, [2]),
      steps: 4,
      evaluate: async ({ step }) => (evaluated.push(step), { epe: 1, auc: 0.5 }),
      evaluateEvery: 2,
      bestMetric: { name: 'epe3d', mode: 'min' },
      handleSigint: false,
    });
    await expect(result).rejects.toThrow(PhalanxConfigError);
    await expect(result).rejects.toThrow(
      "PeriodicEvaluation: bestMetric.name must be a metric that evaluate returns (at step 2 it returned 'epe', 'auc'), but received 'epe3d'.",
    );
    expect(evaluated).toEqual([2]);
  });

  it('bestMetric or evaluateEvery without evaluate is a named error before the first step', async () => {
    const model = smallModel();
    const before = model.getWeights().map((w) => Array.from(w.dataSync()));
    for (const extra of [{ bestMetric: { name: 'epe', mode: 'min' as const } }, { evaluateEvery: 2 }]) {
      const result = trainer(model).fit({ data: () => batchesFrom(0, [2]), steps: 2, handleSigint: false, ...extra });
      await expect(result).rejects.toThrow(PhalanxConfigError);
      await expect(result).rejects.toThrow(/evaluate must be given with (bestMetric|evaluateEvery)/);
    }
    expect(model.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(before);
    const nameless = { name: 7 as unknown as string, mode: 'min' as const };
    await expect(
      trainer(model).fit({
        data: () => batchesFrom(0, [2]),
        steps: 1,
        handleSigint: false,
        evaluate: async () => ({}),
        bestMetric: nameless,
      }),
    ).rejects.toThrow(/bestMetric.name must be a string/);
  });
});

describe('Trainer.fit: optimizers whose state cannot be saved', () => {
  it("tfjs' Adamax with checkpoints is a named error before the first step, not after training", async () => {
    const model = smallModel();
    const before = model.getWeights().map((w) => Array.from(w.dataSync()));
    const root = join(dir, 'adamax');
    const t = trainer(model, {
      parameterGroups: [
        { name: 'first', match: /^first\//, lr: 1e-2 },
        { name: 'rest', lr: 1e-2, optimizerFactory: (lr) => tf.train.adamax(lr) },
      ],
    });
    const run = (options: { checkpointDir?: string; resume?: string }) =>
      t.fit({ data: () => batchesFrom(0, [2]), steps: 2, handleSigint: false, ...options });
    for (const options of [{ checkpointDir: root }, { resume: join(dir, 'adamax-nowhere') }]) {
      await expect(run(options)).rejects.toThrow(PhalanxConfigError);
      await expect(run(options)).rejects.toThrow(
        "Trainer.fit: optimizer of group 'rest' must be an optimizer whose state can be saved and restored " +
          '(getWeights / setWeights), for checkpoints and resume, but received ',
      );
    }
    expect(t.step).toBe(0);
    expect(model.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(before);
    expect(existsSync(join(root, 'step-00000002'))).toBe(false);
    // Without checkpoints it trains.
    expect((await run({})).step).toBe(2);
  });

  it('a model with two weights of one name (nested models) is a named error before the first step', async () => {
    // Checkpoints hold weights by name: every checkpoint of the run would be refused as damaged when read.
    const branch = (name: string, seed: number) =>
      tfl.sequential({
        name,
        layers: [
          tfl.layers.dense({
            units: 2,
            inputShape: [4],
            name: 'fc',
            kernelInitializer: tfl.initializers.glorotUniform({ seed }),
          }),
        ],
      });
    const x = tfl.input({ shape: [4], name: 'x' });
    const sum = tfl.layers
      .add()
      .apply([branch('left', 1).apply(x), branch('right', 2).apply(x)] as tfl.SymbolicTensor[]);
    const model = tfl.model({ inputs: x, outputs: sum as tfl.SymbolicTensor });
    const root = join(dir, 'same-names');
    const t = trainer(model);
    const fit = (options: { checkpointDir?: string }) =>
      t.fit({ data: () => batchesFrom(0, [2]), steps: 1, handleSigint: false, ...options });
    await expect(fit({ checkpointDir: root })).rejects.toThrow(
      "Trainer.fit: model must be weights with distinct names, for checkpoints (name the layers of nested models apart), but received two weights named 'fc/kernel'.",
    );
    expect(t.step).toBe(0);
    expect(existsSync(join(root, 'step-00000001'))).toBe(false);
    expect((await fit({})).step).toBe(1); // without checkpoints it trains
  });
});

describe('Trainer.fit: noise streams of seeded dropout in checkpoints', () => {
  async function run(
    model: tfl.LayersModel,
    checkpointDir: string,
    options: { stopAt?: number; resume?: boolean; outShape?: number[] } = {},
  ): Promise<{ weights: Record<string, Float32Array>; losses: number[] }> {
    const t: Trainer<Batch> = trainer(model, {
      callbacks: [{ onStepEnd: (r): void => (r.step === options.stopAt ? t.stop() : undefined) }],
    });
    const result = await t.fit({
      data: ({ batchesSeen }) => batchesFrom(batchesSeen, options.outShape ?? [2]),
      steps: 6,
      checkpointDir,
      checkpointEvery: 2,
      resume: options.resume ?? false,
    });
    const weights = weightsOf(model);
    model.dispose();
    return { weights, losses: result.losses };
  }
  const same = (a: Record<string, Float32Array>, b: Record<string, Float32Array>): boolean =>
    Object.keys(a).every((name) => a[name].every((v, i) => Object.is(v, b[name][i])));
  /** Deletes `key` from the trainer state of checkpoint `folder`, as an older writer would have left it. */
  const dropStateKey = (folder: string, key: string): void => {
    const file = join(folder, 'trainer-state.json');
    const state = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    delete state[key];
    writeFileSync(file, JSON.stringify(state));
  };

  it('saves every stream position (noiseCalls) and a resume continues the masks bit for bit', async () => {
    const straight = await run(dropoutModel(), join(dir, 'drop-straight'));
    const again = await run(dropoutModel(), join(dir, 'drop-again'));
    expect(same(again.weights, straight.weights)).toBe(true);
    const other = await run(dropoutModel({ attn: 7, drop: 8 }), join(dir, 'drop-other'));
    expect(same(other.weights, straight.weights)).toBe(false);

    await run(dropoutModel(), join(dir, 'drop-resumed'), { stopAt: 3 });
    const state = JSON.parse(readFileSync(join(dir, 'drop-resumed', 'step-00000003', 'trainer-state.json'), 'utf8'));
    expect(state.noiseCalls).toEqual({ attn: 3, drop: 3 });
    expect(state.selectorNoiseCalls).toEqual({});
    const resumed = await run(dropoutModel(), join(dir, 'drop-resumed'), { resume: true });
    expect(resumed.losses).toEqual(straight.losses.slice(3));
    expect(same(resumed.weights, straight.weights)).toBe(true);
  });

  it('without the saved positions the resumed masks differ (the test can fail)', async () => {
    const straight = await run(dropoutModel(), join(dir, 'drop-straight-2'));
    await run(dropoutModel(), join(dir, 'drop-lost'), { stopAt: 3 });
    dropStateKey(join(dir, 'drop-lost', 'step-00000003'), 'noiseCalls');
    const resumed = await run(dropoutModel(), join(dir, 'drop-lost'), { resume: true });
    expect(same(resumed.weights, straight.weights)).toBe(false);
  });

  it('reads older checkpoints that only have selectorNoiseCalls', async () => {
    const straight = await run(selectorModel(), join(dir, 'sel-straight'), { outShape: [5, 2] });
    await run(selectorModel(), join(dir, 'sel-old'), { stopAt: 3, outShape: [5, 2] });
    const folder = join(dir, 'sel-old', 'step-00000003');
    expect(JSON.parse(readFileSync(join(folder, 'trainer-state.json'), 'utf8')).noiseCalls).toEqual({ meta_S: 3 });
    dropStateKey(folder, 'noiseCalls');
    const resumed = await run(selectorModel(), join(dir, 'sel-old'), { resume: true, outShape: [5, 2] });
    expect(same(resumed.weights, straight.weights)).toBe(true);
  });
});

describe('ProgressDisplay', () => {
  it('refuses options that are not an object, unknown keys and values of the wrong type by name', () => {
    const stream = new MemoryStream(false);
    const cases: [unknown, string][] = [
      [null, 'ProgressDisplay: options must be an object, but received null.'],
      [
        { stream, evry: 2 },
        'ProgressDisplay: options.evry must be an option (one of stream, tty, every, everySeconds, redrawMs, windowSeconds, now)',
      ],
      [{ stream, tty: 'yes' }, "ProgressDisplay: tty must be a boolean, but received 'yes'."],
      [{ stream, redrawMs: Number.NaN }, 'ProgressDisplay: redrawMs must be a finite number, but received NaN.'],
      [{ stream, now: 5 }, 'ProgressDisplay: now must be a function () → ms, but received 5.'],
    ];
    for (const [options, message] of cases) {
      const make = () => new ProgressDisplay(10, options as ProgressDisplayOptions);
      expect(make, message).toThrow(PhalanxConfigError);
      expect(make).toThrow(message);
    }
  });

  it('TTY: rewrites one line with bar, loss, speed, ETA', () => {
    const stream = new MemoryStream(true, 200);
    let now = 0;
    const p = new ProgressDisplay(10, { stream, now: () => now, redrawMs: 0 });
    expect(p.isTTY).toBe(true);
    p.start(0);
    for (let s = 1; s <= 4; s++) {
      now += 500;
      p.update({ step: s, loss: 1 / s, batchSize: 16 });
    }
    p.message('eval @ 4: epe 3.2');
    p.done();
    const frames = stream.text.split('\r\x1b[K');
    expect(frames.length).toBeGreaterThan(4);
    expect(stream.text).not.toMatch(/\n.*\n.*\n.*\n/); // not one line per step
    expect(frames[frames.length - 1]).toMatch(
      /^eval @ 4: epe 3\.2\n 4\/10 \[████████·+\] {2}40% loss 0\.2500 · 2\.00 step\/s 32\.0 samples\/s · ETA 3s\n$/,
    );
  });

  it('non-TTY: plain periodic lines', () => {
    const stream = new MemoryStream(false);
    let now = 0;
    const p = new ProgressDisplay(100, { stream, now: () => now });
    expect(p.isTTY).toBe(false);
    p.start(0);
    for (let s = 1; s <= 100; s++) {
      now += 100;
      p.update({ step: s, loss: 0.5, batchSize: 4, extra: { τ: 4.9 } });
    }
    p.done();
    const lines = stream.text.trim().split('\n');
    expect(stream.text).not.toContain('\r');
    expect(lines).toHaveLength(21); // first step, then every 5 steps
    expect(lines[2]).toBe('step  10/100 (10%) loss 0.5000 τ 4.900 · 10.00 step/s 40.0 samples/s · elapsed 1s · ETA 9s');
    expect(lines[20]).toMatch(/^step 100\/100 \(100%\) .* ETA 0s$/);
  });

  it('speed and ETA follow a change of load over the window, not the average since the start', () => {
    const stream = new MemoryStream(false);
    let now = 0;
    const p = new ProgressDisplay(1000, { stream, now: () => now, windowSeconds: 10, every: 1000 });
    p.start(0);
    for (let s = 1; s <= 200; s++) {
      now += 100; // 10 steps/s for 20 s
      p.update({ step: s, loss: 1, batchSize: 4 });
    }
    expect(p.speed(200).stepsPerSecond).toBeCloseTo(10, 6);
    for (let s = 201; s <= 300; s++) {
      now += 500; // then 2 steps/s for 50 s
      p.update({ step: s, loss: 1, batchSize: 4 });
    }
    const speed = p.speed(300);
    expect(speed.stepsPerSecond).toBeCloseTo(2, 6); // the average since the start would be 300 / 70 s
    expect(speed.samplesPerSecond).toBeCloseTo(8, 6);
    expect(speed.elapsedSeconds).toBe(70);
    expect(() => new ProgressDisplay(10, { stream, windowSeconds: 0 })).toThrow(/windowSeconds/);
  });

  it('fit prints lines through the injected stream', async () => {
    const stream = new MemoryStream(false);
    const model = smallModel();
    const t = trainer(model, { progress: { stream, every: 2 } });
    await t.fit({ data: () => batchesFrom(0, [2]), steps: 4, evaluate: async () => ({ epe: 1.5 }) });
    expect(stream.text).toMatch(/^step 1\/4 \(25%\) loss/);
    expect(
      stream.text
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('step')),
    ).toHaveLength(3);
    expect(stream.text).toContain('eval @ 4: epe 1.5000');
  });
});
