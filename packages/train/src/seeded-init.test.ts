import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { PhalanxConfigError } from '@phalanx/errors';
import { concreteJointSelector, groupFusion } from '@phalanx/layers';
import { useBackend } from '@phalanx/testing';
import { initializerSeed, seedInitialWeights, seedTopology } from './seeded-init';

/** Unseeded random initializers of several kinds, Phalanx layers and a layer with its own noise seed. */
function build(): tfl.LayersModel {
  const x = tfl.input({ shape: [8, 8, 4], name: 'x' });
  const a = tfl.layers
    .conv2d({ filters: 6, kernelSize: 3, padding: 'same', name: 'a', kernelInitializer: 'glorotUniform' })
    .apply(x) as tfl.SymbolicTensor;
  const b = tfl.layers
    .conv2d({ filters: 6, kernelSize: 3, padding: 'same', name: 'b', kernelInitializer: 'heNormal' })
    .apply(x) as tfl.SymbolicTensor;
  const c = tfl.layers
    .conv2d({
      filters: 6,
      kernelSize: 1,
      name: 'c',
      kernelInitializer: 'truncatedNormal',
      biasInitializer: tfl.initializers.randomUniform({ minval: -0.5, maxval: 0.5 }),
    })
    .apply(x) as tfl.SymbolicTensor;
  const fused = groupFusion({ numGroups: 3, name: 'fuse' }).apply([a, b, c]) as tfl.SymbolicTensor[];
  const joints = tfl.layers
    .reshape({ targetShape: [3, 64, 2] })
    .apply(
      tfl.layers
        .concatenate({ axis: 1 })
        .apply(
          fused.map((f) => tfl.layers.reshape({ targetShape: [1, 8, 8, 6] }).apply(f) as tfl.SymbolicTensor),
        ) as tfl.SymbolicTensor,
    ) as tfl.SymbolicTensor;
  const picked = concreteJointSelector({ numJoints: 64, numGroups: 3, seed: 17, name: 'select' }).apply(
    joints,
  ) as tfl.SymbolicTensor;
  const bn = tfl.layers.batchNormalization({ name: 'bn' }).apply(picked) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 5, name: 'head' }).apply(bn) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: out });
}

function values(model: tfl.LayersModel): Map<string, Float32Array> {
  return new Map(model.weights.map((w) => [w.originalName, w.read().dataSync() as Float32Array]));
}

describe('seedInitialWeights', () => {
  it('refuses a model that is not one by name (a TypeError before)', async () => {
    for (const model of [null, {}]) {
      const seeding = seedInitialWeights(model as never, 7);
      await expect(seeding).rejects.toThrow(PhalanxConfigError);
      await expect(seedInitialWeights(model as never, 7)).rejects.toThrow(
        /^seedInitialWeights: model must be a tf.LayersModel, but received/,
      );
    }
  });

  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('gives two separately built models the same weights for the same seed, other weights for another', async () => {
    const [first, second, third] = [build(), build(), build()];
    expect(values(first).get('a/kernel')).not.toEqual(values(second).get('a/kernel')); // unseeded: apart
    const seeded = await seedInitialWeights(first, 7);
    await seedInitialWeights(second, 7);
    await seedInitialWeights(third, 8);
    expect(seeded).toBe(5); // kernels a, b, c, head and c's randomUniform bias; the rest are constants
    const [v1, v2, v3] = [values(first), values(second), values(third)];
    for (const [name, value] of v1) expect(v2.get(name), name).toEqual(value);
    for (const name of ['a/kernel', 'b/kernel', 'c/kernel', 'c/bias', 'head/kernel']) {
      expect(v3.get(name), name).not.toEqual(v1.get(name));
    }
    [first, second, third].forEach((m) => m.dispose());
  });

  it("keeps each initializer's distribution, constants and a layer's own noise seed", async () => {
    const model = build();
    const before = values(model);
    await seedInitialWeights(model, 3);
    const after = values(model);
    // Constants are untouched: biases of zeros, batch-norm γ = 1, the selector's logits and τ, NDDR kernel.
    for (const name of [
      'a/bias',
      'bn/gamma',
      'bn/moving_variance',
      'select/logits',
      'select/temperature',
      'fuse/kernel',
    ]) {
      expect(after.get(name), name).toEqual(before.get(name));
    }
    // Glorot uniform (tfjs' default kernel): |w| ≤ √(6 / (fanIn + fanOut)), fanIn = 3·3·4, fanOut = 3·3·6.
    const limit = Math.sqrt(6 / (36 + 54));
    const a = after.get('a/kernel') as Float32Array;
    expect(Math.max(...a.map(Math.abs))).toBeLessThanOrEqual(limit);
    expect(Math.max(...a.map(Math.abs))).toBeGreaterThan(0.8 * limit);
    const bias = after.get('c/bias') as Float32Array;
    expect(Math.max(...bias.map(Math.abs))).toBeLessThanOrEqual(0.5);
    // Different initializers of equal shape get different streams.
    expect(after.get('a/kernel')).not.toEqual(after.get('b/kernel'));
    expect((model.getLayer('select').getConfig() as { seed: number }).seed).toBe(17);
    model.dispose();
  });

  it('gives frozen parts the weights of the unfrozen model: a frozen nested backbone, a frozen model', async () => {
    // A frozen layer's weights come after the trainable ones in `model.weights`, and the topology does not record
    // a nested model's `trainable`: copied by position, the backbone's and the head's weights (same shapes) swapped.
    const withBackbone = (frozen: 'backbone' | 'model' | null) => {
      const backbone = tfl.sequential({
        name: 'backbone',
        layers: [tfl.layers.dense({ units: 4, inputShape: [4], name: 'bb', biasInitializer: 'randomNormal' })],
      });
      if (frozen === 'backbone') backbone.trainable = false;
      const x = tfl.input({ shape: [4], name: 'x' });
      const head = tfl.layers.dense({ units: 4, name: 'head', biasInitializer: 'randomNormal' });
      const model = tfl.model({ inputs: x, outputs: head.apply(backbone.apply(x)) as tfl.SymbolicTensor });
      if (frozen === 'model') model.trainable = false;
      return model;
    };
    const reference = withBackbone(null);
    await seedInitialWeights(reference, 5);
    for (const frozen of ['backbone', 'model'] as const) {
      const model = withBackbone(frozen);
      await seedInitialWeights(model, 5);
      const [got, expected] = [values(model), values(reference)];
      expect([...got.keys()].sort(), frozen).toEqual([...expected.keys()].sort());
      for (const [name, value] of expected) expect(got.get(name), `${frozen}: ${name}`).toEqual(value);
      model.dispose();
    }
    reference.dispose();
  });

  it('works on a sequential model too', async () => {
    const build = () => tfl.sequential({ layers: [tfl.layers.dense({ units: 4, inputShape: [3] })] });
    const [a, b] = [build(), build()];
    await seedInitialWeights(a, 7);
    await seedInitialWeights(b, 7);
    expect(a.getWeights()[0].dataSync()).toEqual(b.getWeights()[0].dataSync());
    [a, b].forEach((m) => m.dispose());
  });

  it('leaks no tensors and rejects a seed that is not an integer', async () => {
    const model = build();
    const count = tf.memory().numTensors;
    await seedInitialWeights(model, -4);
    expect(tf.memory().numTensors).toBe(count);
    for (const bad of [1.5, Number.NaN, Infinity, 2 ** 60]) {
      await expect(seedInitialWeights(model, bad)).rejects.toBeInstanceOf(PhalanxConfigError);
    }
    model.dispose();
  });

  it('seeds only initializer objects, each with a non-zero 31-bit seed', () => {
    fc.assert(
      fc.property(fc.integer(), fc.nat(10_000), (seed, index) => {
        const s = initializerSeed(seed, index);
        return Number.isInteger(s) && s >= 1 && s < 2 ** 31;
      }),
    );
    const topology = {
      layers: [
        { class_name: 'ConcreteJointSelector', config: { seed: 17 } },
        {
          class_name: 'Dense',
          config: { kernel_initializer: { class_name: 'VarianceScaling', config: { seed: null } } },
        },
      ],
    };
    expect(seedTopology(topology, 5)).toBe(1);
    expect(topology.layers[0].config.seed).toBe(17);
    expect(topology.layers[1].config.kernel_initializer?.config.seed).toBe(initializerSeed(5, 0));
  });
});
