import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { PhalanxConfigError } from '@phalanx/errors';
import { leanBatchNormalization } from '@phalanx/layers';
import { expectClose, expectSaveLoadIdentical, forEachBackend, useBackend } from '@phalanx/testing';
import { foldBatchNorm, hourglass, preActResidual, resnetBackbone, type FoldBatchNormOptions } from './index';

type Sym = tfl.SymbolicTensor;

/**
 * Seeded weights for every layer: kernels N(0, 1/fanIn), batch norms away from their initial values
 * (γ ∈ [0.5, 1.5), β, moving mean ∈ [−1, 1), moving variance ∈ [0.5, 2)), biases ∈ [−1, 1).
 */
function seedWeights(model: tfl.LayersModel, seed: number): void {
  model.layers.forEach((layer, i) => {
    if (layer.weights.length === 0) return;
    const values = layer.weights.map((w, j) => {
      const shape = w.shape as number[];
      const s = seed * 10_000 + i * 10 + j + 1;
      switch (w.originalName.split('/').pop()) {
        case 'kernel':
          return tf.randomNormal(shape, 0, 1 / Math.sqrt(shape.slice(0, -1).reduce((a, b) => a * b, 1)), 'float32', s);
        case 'gamma':
          return tf.randomUniform(shape, 0.5, 1.5, 'float32', s);
        case 'moving_variance':
          return tf.randomUniform(shape, 0.5, 2, 'float32', s);
        default:
          return tf.randomUniform(shape, -1, 1, 'float32', s);
      }
    });
    layer.setWeights(values);
    tf.dispose(values);
  });
}

const BATCH_NORMS = ['BatchNormalization', 'LeanBatchNormalization'];
const RELUS = ['ReLU', 'Activation'];
const count = (model: tfl.LayersModel, classes: string[]) =>
  model.layers.filter((l) => classes.includes(l.getClassName())).length;
/** Names of the layers of one class, sorted (a fold may change the order of `model.layers`). */
const namesOf = (model: tfl.LayersModel, className: string) =>
  model.layers
    .filter((l) => l.getClassName() === className)
    .map((l) => l.name)
    .sort();

/** Asserts that `folded` gives `model`'s outputs on `x` within 1e-4 relative to each output's scale. */
function expectSameOutputs(folded: tfl.LayersModel, model: tfl.LayersModel, x: tf.Tensor, label: string): void {
  const list = (y: tf.Tensor | tf.Tensor[]) => (Array.isArray(y) ? y : [y]);
  const expected = list(model.predict(x));
  const actual = list(folded.predict(x));
  expect(actual).toHaveLength(expected.length);
  expected.forEach((e, i) => {
    const scale = Math.max(1, ...Array.from(e.dataSync(), Math.abs));
    expectClose(actual[i], e, { rtol: 1e-4, atol: 1e-4 * scale }, `${label} output ${i}`);
  });
  tf.dispose([...expected, ...actual]);
}

/** Builds, seeds and folds; checks the outputs; returns both models (the caller disposes them). */
function foldAndCompare(
  input: number[],
  build: (x: Sym) => Sym | Sym[],
  seed: number,
  label: string,
  options?: FoldBatchNormOptions,
) {
  const x = tfl.input({ shape: input });
  const model = tfl.model({ inputs: x, outputs: build(x) });
  seedWeights(model, seed);
  const folded = foldBatchNorm(model, options);
  const data = tf.randomNormal([2, ...input], 0, 1, 'float32', seed);
  expectSameOutputs(folded, model, data, label);
  data.dispose();
  return { model, folded };
}

/** The fold of the blocks' conv → batch norm (→ ReLU) chains, on one backend. */
function describeChainFolds(backend: string): void {
  describe('folds conv → batch norm (→ ReLU) chains with the same outputs', () => {
    it(`preActResidual: bn1, relu1, bn2, relu2 go into conv1, conv2; the pre-activation bn stays (${backend})`, () => {
      const build = (x: Sym) => preActResidual(x, { outChannels: 8, name: 'r' });
      const { model, folded } = foldAndCompare([8, 8, 6], build, 1, 'preActResidual');
      expect([count(model, BATCH_NORMS), count(folded, BATCH_NORMS)]).toEqual([3, 1]);
      expect([count(model, RELUS), count(folded, RELUS)]).toEqual([3, 1]);
      expect(namesOf(folded, 'LeanBatchNormalization')).toEqual(['r.bn']);
      expect(namesOf(folded, 'ReLU')).toEqual(['r.relu']);
      expect(namesOf(folded, 'Conv2D')).toEqual(namesOf(model, 'Conv2D'));
      for (const [name, activation] of [
        ['r.conv1', 'relu'],
        ['r.conv2', 'relu'],
        ['r.conv3', 'linear'],
      ]) {
        expect(folded.getLayer(name).getConfig()).toMatchObject({ activation, useBias: true });
      }
      expect(folded.name).toBe(model.name);
      expect(folded.outputNames).toEqual(model.outputNames);
      model.dispose();
      folded.dispose();
    });

    it(`hourglass of depth 2: 2 of every 3 batch norms and ReLUs fold (${backend})`, () => {
      const build = (x: Sym) => hourglass(x, { depth: 2, numModules: 1, name: 'hg' });
      const { model, folded } = foldAndCompare([8, 8, 4], build, 2, 'hourglass');
      const modules = count(model, BATCH_NORMS) / 3;
      expect(modules).toBe(7); // up1, low1, low3 per level and low2 at the bottom
      expect(count(folded, BATCH_NORMS)).toBe(modules);
      expect(count(folded, RELUS)).toBe(modules);
      model.dispose();
      folded.dispose();
    });

    for (const block of ['basic', 'bottleneck'] as const) {
      it(`ResNet (${block}): every batch norm folds, the ReLUs after the additions stay (${backend})`, () => {
        const build = (x: Sym) =>
          resnetBackbone(x, { block, layers: [1, 2], widths: [4, 6], stemChannels: 4, name: 'backbone' });
        const { model, folded } = foldAndCompare([32, 32, 3], build, 3, `resnet ${block}`);
        expect(count(model, BATCH_NORMS)).toBeGreaterThan(0);
        expect(count(folded, BATCH_NORMS)).toBe(0);
        expect(namesOf(folded, 'ReLU')).toEqual([
          'backbone.layer1.0.relu',
          'backbone.layer2.0.relu',
          'backbone.layer2.1.relu',
        ]);
        expect(namesOf(folded, 'Conv2D')).toEqual(namesOf(model, 'Conv2D'));
        expect(folded.getLayer('backbone.conv1').getConfig()).toMatchObject({ activation: 'relu', useBias: true });
        model.dispose();
        folded.dispose();
      });
    }

    it(`leaves alone what must not fold, with the same outputs (${backend})`, () => {
      const conv = (x: Sym, name: string) =>
        tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name }).apply(x) as Sym;
      const bn = (x: Sym, name: string, axis = -1) => tfl.layers.batchNormalization({ axis, name }).apply(x) as Sym;
      const build = (x: Sym): Sym[] => {
        // The conv's output has a second consumer: no fold.
        const shared = conv(x, 'shared.conv');
        const sharedOut = tfl.layers.add({ name: 'shared.add' }).apply([bn(shared, 'shared.bn'), shared]) as Sym;
        // The batch norm's output is a model output: no fold.
        const exposed = bn(conv(x, 'exposed.conv'), 'exposed.bn');
        // ReLU6: the batch norm folds, the ReLU stays.
        const capped = tfl.layers
          .reLU({ maxValue: 6, name: 'capped.relu' })
          .apply(bn(conv(x, 'capped.conv'), 'capped.bn')) as Sym;
        // A ReLU whose output is a model output: the batch norm folds, the ReLU stays.
        const last = tfl.layers.reLU({ name: 'last.relu' }).apply(bn(conv(x, 'last.conv'), 'last.bn')) as Sym;
        // The batch norm's output also goes elsewhere: the batch norm folds, the ReLU stays.
        const forked = bn(conv(x, 'forked.conv'), 'forked.bn');
        const forkedOut = tfl.layers
          .add({ name: 'forked.add' })
          .apply([tfl.layers.reLU({ name: 'forked.relu' }).apply(forked) as Sym, forked]) as Sym;
        // A batch norm over the rows, not the channels: no fold.
        const rows = bn(conv(x, 'rows.conv'), 'rows.bn', 1);
        const rest = tfl.layers.add({ name: 'rest' }).apply([sharedOut, capped, forkedOut, rows]) as Sym;
        return [exposed, last, rest];
      };
      const { model, folded } = foldAndCompare([6, 6, 3], build, 4, 'not folded');
      expect(namesOf(folded, 'BatchNormalization')).toEqual(['exposed.bn', 'rows.bn', 'shared.bn']);
      expect(namesOf(folded, 'ReLU')).toEqual(['capped.relu', 'forked.relu', 'last.relu']);
      expect(namesOf(folded, 'Conv2D')).toEqual(namesOf(model, 'Conv2D'));
      expect(folded.getLayer('capped.conv').getConfig().activation).toBe('linear');
      expect(folded.outputNames).toEqual(model.outputNames);
      model.dispose();
      folded.dispose();
    });
  });
}

/** With `standalone: 'affine'`, the batch norms no conv takes become ChannelAffine layers, on one backend. */
function describeAffineFolds(backend: string): void {
  const AFFINE = { standalone: 'affine' } as const;
  describe("standalone: 'affine' turns the other batch norms (→ ReLU) into ChannelAffine layers", () => {
    it(`preActResidual: the pre-activation bn and its ReLU become one ChannelAffine (${backend})`, () => {
      const build = (x: Sym) => preActResidual(x, { outChannels: 8, name: 'r' });
      const { model, folded } = foldAndCompare([8, 8, 6], build, 1, 'preActResidual affine', AFFINE);
      expect([count(folded, BATCH_NORMS), count(folded, RELUS)]).toEqual([0, 0]);
      expect(namesOf(folded, 'ChannelAffine')).toEqual(['r.bn']);
      expect(folded.getLayer('r.bn').getConfig().activation).toBe('relu');
      expect(folded.outputNames).toEqual(model.outputNames);
      model.dispose();
      folded.dispose();
    });

    it(`hourglass of depth 2: no batch norm or ReLU is left (${backend})`, () => {
      const build = (x: Sym) => hourglass(x, { depth: 2, numModules: 1, name: 'hg' });
      const { model, folded } = foldAndCompare([8, 8, 4], build, 2, 'hourglass affine', AFFINE);
      expect([count(folded, BATCH_NORMS), count(folded, RELUS)]).toEqual([0, 0]);
      expect(count(folded, ['ChannelAffine'])).toBe(count(model, BATCH_NORMS) / 3);
      model.dispose();
      folded.dispose();
    });

    it(`rank 2 and 3 inputs, model outputs and other axes (${backend})`, () => {
      const bn = (x: Sym, name: string, axis = -1) => tfl.layers.batchNormalization({ axis, name }).apply(x) as Sym;
      const relu = (x: Sym, name: string) => tfl.layers.reLU({ name }).apply(x) as Sym;
      const build = (x: Sym): Sym[] => {
        const flat = tfl.layers.reshape({ targetShape: [30], name: 'flat' }).apply(x) as Sym;
        const vector = tfl.layers // [B, 30]: the batch norm and ReLU become one ChannelAffine
          .dense({ units: 4, name: 'vector.dense' })
          .apply(relu(bn(flat, 'vector.bn'), 'vector.relu')) as Sym;
        const tokens = tfl.layers.reshape({ targetShape: [10, 3], name: 'tokens' }).apply(x) as Sym;
        const sequence = bn(tokens, 'sequence.bn', 2); // [B, 10, 3] over its last axis
        const rows = bn(x, 'rows.bn', 1); // not the last axis: stays
        const exposed = bn(x, 'exposed.bn'); // a model output: a ChannelAffine that keeps its name, no ReLU
        const after = relu(exposed, 'after.relu');
        return [vector, sequence, rows, exposed, after];
      };
      const { model, folded } = foldAndCompare([5, 2, 3], build, 7, 'ranks affine', AFFINE);
      expect(namesOf(folded, 'ChannelAffine')).toEqual(['exposed.bn', 'sequence.bn', 'vector.bn']);
      expect(namesOf(folded, 'BatchNormalization')).toEqual(['rows.bn']);
      expect(namesOf(folded, 'ReLU')).toEqual(['after.relu']);
      expect(folded.getLayer('exposed.bn').getConfig().activation).toBe('linear');
      expect(folded.getLayer('vector.bn').getConfig().activation).toBe('relu');
      expect(folded.outputNames).toEqual(model.outputNames);
      model.dispose();
      folded.dispose();
    });
  });
}

forEachBackend((backend) => {
  describeChainFolds(backend);
  describeAffineFolds(backend);

  it(`the input model keeps its weights and keeps working; either model can go first; no tensor leaks (${backend})`, () => {
    const before = tf.memory().numTensors;
    const x = tfl.input({ shape: [8, 8, 4] });
    const model = tfl.model({ inputs: x, outputs: preActResidual(x, { outChannels: 4, name: 'r' }) });
    seedWeights(model, 5);
    const data = tf.randomNormal([1, 8, 8, 4], 0, 1, 'float32', 5);
    const variables = model.weights.map((w) => w.read());
    const values = model.getWeights().map((w) => w.arraySync());
    const reference = model.predict(data) as tf.Tensor;
    const withModel = tf.memory().numTensors;

    foldBatchNorm(model).dispose();
    expect(tf.memory().numTensors).toBe(withModel);
    const folded = foldBatchNorm(model);
    expect(model.weights.map((w) => w.read())).toEqual(variables);
    expect(model.getWeights().map((w) => w.arraySync())).toEqual(values);
    const again = model.predict(data) as tf.Tensor;
    expectClose(again, reference, { rtol: 0, atol: 0 }, 'input model after folding');
    model.dispose(); // the folded model still holds the weights it shares
    const y = folded.predict(data) as tf.Tensor;
    expectClose(y, reference, { rtol: 1e-4, atol: 1e-4 }, 'folded model after the input model is disposed');
    folded.dispose();
    tf.dispose([data, reference, again, y]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it(`property: random conv (→ batch norm (→ ReLU)) chains fold to one conv (or a ChannelAffine), same output (${backend})`, () => {
    const chain = fc
      .record({
        kernelSize: fc.integer({ min: 1, max: 3 }),
        stride: fc.integer({ min: 1, max: 2 }),
        dilation: fc.integer({ min: 1, max: 2 }),
        padding: fc.constantFrom('same', 'valid'),
        inChannels: fc.integer({ min: 1, max: 3 }),
        filters: fc.integer({ min: 1, max: 4 }),
        useBias: fc.boolean(),
        center: fc.boolean(),
        scale: fc.boolean(),
        epsilon: fc.constantFrom(1e-5, 1e-3, 0.1),
        lean: fc.boolean(),
        relu: fc.constantFrom('none', 'ReLU', 'Activation'),
        withBatchNorm: fc.boolean(),
        // The batch norm reads the conv through a Rescaling (so it cannot fold); 'affine' converts it.
        detached: fc.boolean(),
        standalone: fc.constantFrom('keep', 'affine'),
        seed: fc.integer({ min: 1, max: 1000 }),
      })
      .filter((c) => c.stride === 1 || c.dilation === 1); // tfjs: strides > 1 need dilation 1
    fc.assert(
      fc.property(chain, (c) => {
        const x = tfl.input({ shape: [7, 6, c.inChannels] });
        let y = tfl.layers
          .conv2d({
            filters: c.filters,
            kernelSize: c.kernelSize,
            strides: c.stride,
            dilationRate: c.dilation,
            padding: c.padding,
            useBias: c.useBias,
          })
          .apply(x) as Sym;
        if (c.detached) y = tfl.layers.rescaling({ scale: 0.5, offset: 0.25 }).apply(y) as Sym;
        if (c.withBatchNorm) {
          const args = { axis: -1, center: c.center, scale: c.scale, epsilon: c.epsilon };
          y = (c.lean ? leanBatchNormalization(args) : tfl.layers.batchNormalization(args)).apply(y) as Sym;
        }
        if (c.relu === 'ReLU') y = tfl.layers.reLU().apply(y) as Sym;
        if (c.relu === 'Activation') y = tfl.layers.activation({ activation: 'relu' }).apply(y) as Sym;
        // One more layer after the chain, so that its last tensor is not the model output.
        y = tfl.layers.rescaling({ scale: 2, offset: 0 }).apply(y) as Sym;
        const model = tfl.model({ inputs: x, outputs: y });
        seedWeights(model, c.seed);
        const folded = foldBatchNorm(model, { standalone: c.standalone });
        // input, conv, rescaling (+ the detaching rescaling) (+ ReLU) (+ batch norm or ChannelAffine)
        const relu = c.relu === 'none' ? 0 : 1;
        const kept = !c.withBatchNorm ? relu : c.detached ? (c.standalone === 'affine' ? 1 : 1 + relu) : 0;
        expect(folded.layers).toHaveLength(3 + (c.detached ? 1 : 0) + kept);
        const affines = folded.layers.filter((l) => l.getClassName() === 'ChannelAffine').length;
        expect(affines).toBe(c.withBatchNorm && c.detached && c.standalone === 'affine' ? 1 : 0);
        const data = tf.randomNormal([2, 7, 6, c.inChannels], 0, 1, 'float32', c.seed);
        expectSameOutputs(folded, model, data, JSON.stringify(c));
        tf.dispose(data);
        model.dispose();
        folded.dispose();
      }),
      { numRuns: 25, seed: 20_251_201 },
    );
  });
});

describe('foldBatchNorm on a sequential model, metadata', () => {
  beforeAll(() => useBackend('cpu'));

  it('folds a tfl.sequential into a functional model that saves and reloads, with the user-defined metadata', async () => {
    const model = tfl.sequential({
      layers: [
        tfl.layers.conv2d({ inputShape: [5, 5, 2], filters: 3, kernelSize: 3, useBias: false, name: 'c' }),
        tfl.layers.batchNormalization({ name: 'b' }),
        tfl.layers.activation({ activation: 'relu', name: 'a' }),
        tfl.layers.flatten({ name: 'f' }),
      ],
    });
    seedWeights(model, 6);
    model.setUserDefinedMetadata({ card: { depth: 8 } });
    const folded = foldBatchNorm(model);
    expect(folded.layers.map((l) => l.getClassName())).toEqual(['InputLayer', 'Conv2D', 'Flatten']);
    const data = tf.randomNormal([3, 5, 5, 2], 0, 1, 'float32', 6);
    expectSameOutputs(folded, model, data, 'sequential');
    expect(folded.getUserDefinedMetadata()).toEqual({ card: { depth: 8 } });
    expect(folded.getUserDefinedMetadata()).not.toBe(model.getUserDefinedMetadata());
    const loaded = await expectSaveLoadIdentical(folded, [data]);
    expect(loaded.getUserDefinedMetadata()).toEqual({ card: { depth: 8 } });
    loaded.dispose();
    tf.dispose(data);
    model.dispose();
    folded.dispose();
  });
});

describe("standalone: 'affine' on a saved model", () => {
  beforeAll(() => useBackend('cpu'));

  it('saves and reloads the ChannelAffine layers with the same outputs', async () => {
    const model = tfl.sequential({
      layers: [
        tfl.layers.batchNormalization({ inputShape: [4, 4, 3], name: 'pre' }),
        tfl.layers.activation({ activation: 'relu', name: 'pre.relu' }),
        tfl.layers.conv2d({ filters: 2, kernelSize: 3, name: 'c' }),
        tfl.layers.flatten({ name: 'f' }),
        tfl.layers.batchNormalization({ name: 'post', center: false }),
      ],
    });
    seedWeights(model, 8);
    const folded = foldBatchNorm(model, { standalone: 'affine' });
    expect(folded.layers.map((l) => l.getClassName())).toEqual([
      'InputLayer',
      'ChannelAffine',
      'Conv2D',
      'Flatten',
      'ChannelAffine',
    ]);
    const data = tf.randomNormal([3, 4, 4, 3], 0, 1, 'float32', 8);
    expectSameOutputs(folded, model, data, 'sequential affine');
    const loaded = await expectSaveLoadIdentical(folded, [data]);
    loaded.dispose();
    tf.dispose(data);
    model.dispose();
    folded.dispose();
  });
});

describe('errors', () => {
  beforeAll(() => useBackend('cpu'));

  it('rejects anything but a built, undisposed tf.LayersModel with a named error', () => {
    expect(() => foldBatchNorm(null as unknown as tfl.LayersModel)).toThrow(
      'foldBatchNorm: model must be a tf.LayersModel (tfl.model, tfl.sequential or loaded), but received null.',
    );
    const layer = tfl.layers.dense({ units: 2 });
    expect(() => foldBatchNorm(layer as unknown as tfl.LayersModel)).toThrow(PhalanxConfigError);
    expect(() => foldBatchNorm(tfl.sequential())).toThrow(/model must be a built model/);
    const x = tfl.input({ shape: [4, 4, 1] });
    const model = tfl.model({ inputs: x, outputs: tfl.layers.conv2d({ filters: 1, kernelSize: 1 }).apply(x) as Sym });
    expect(() => foldBatchNorm(model, null as never)).toThrow(/foldBatchNorm: options must be an object/);
    // An array is not an options object either (it was accepted, its keys being none).
    expect(() => foldBatchNorm(model, [] as never)).toThrow(/foldBatchNorm: options must be an object .*received \[\]/);
    expect(() => foldBatchNorm(model, { standalone: 'fold' as never })).toThrow(
      /foldBatchNorm: options.standalone must be one of/,
    );
    // A misspelt option was silently ignored (the batch norms kept).
    expect(() => foldBatchNorm(model, { standAlone: 'affine' } as never)).toThrow(
      "foldBatchNorm: options.standAlone must be an option (one of standalone), but received 'affine'.",
    );
    model.dispose();
    expect(() => foldBatchNorm(model)).toThrow(/model must be a model that is not disposed/);
  });
});
