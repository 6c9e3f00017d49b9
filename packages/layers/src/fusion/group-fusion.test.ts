import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  expectClose,
  expectConfigRoundTrip,
  expectLayerMatchesGolden,
  expectNoLeakInPredictAndTrain,
  expectNumericGradient,
  expectSaveLoadIdentical,
  forEachBackend,
  modelAround,
  readJson,
  toTensor,
  type GoldenLayerCase,
  type TensorJson,
} from '@phalanx/testing';
import { describe, expect, it } from 'vitest';
import { fuseGroups, GroupFusion, groupFusion, nddrKernel, type GroupFusionArgs } from './group-fusion';

// Whole relative URLs: vite (browser suite) rewrites `new URL('dir/', import.meta.url)` without its slash.
const GOLDEN = readJson<GoldenLayerCase>(new URL('../../test/fixtures/group_fusion.json', import.meta.url));
/** Its own format: the initial weights of a layer built on `inputShape`. */
const INIT = readJson<{ config: GroupFusionArgs; inputShape: number[][]; initialWeights: TensorJson[] }>(
  new URL('../../test/fixtures/group_fusion.init.json', import.meta.url),
);

/** Independent formulation: y_i = Σ_j x_j · K[block j rows, block i cols] + b_i, group by group. */
function fuseByLoops(xs: tf.Tensor[], kernel: tf.Tensor, bias: tf.Tensor, units: number): tf.Tensor[] {
  const c = xs[0].shape[3]!;
  return xs.map((_, i) =>
    tf.add(
      tf.addN(
        xs.map((x, j) => {
          const block = tf.slice(kernel, [j * c, i * units], [c, units]);
          return tf.reshape(tf.matMul(tf.reshape(x, [-1, c]), block), [...x.shape.slice(0, 3), units]);
        }),
      ),
      tf.slice(bias, [i * units], [units]),
    ),
  );
}

const randomInputs = (n: number, shape: number[], seed: number): tf.Tensor[] =>
  Array.from({ length: n }, (_, k) => tf.randomNormal(shape, 0, 1, 'float32', seed + k));

forEachBackend(() => {
  describe('GroupFusion golden', () => {
    it('matches the golden forward and gradients', () => {
      expectLayerMatchesGolden(groupFusion(GOLDEN.config as unknown as GroupFusionArgs), GOLDEN);
    });

    it('starts from the official nddr_layer initialisation', () => {
      const layer = groupFusion(INIT.config);
      layer.build(INIT.inputShape);
      const weights = layer.getWeights();
      expect(weights.length).toBe(INIT.initialWeights.length);
      weights.forEach((w, k) => expectClose(w, INIT.initialWeights[k], { rtol: 0, atol: 1e-7 }, `initial weight ${k}`));
    });
  });

  describe('GroupFusion behaviour', () => {
    it('equals a per-group sum of 1×1 convolutions, with U ≠ C', () => {
      tf.tidy(() => {
        const layer = groupFusion({ numGroups: 3, units: 5 });
        const xs = randomInputs(3, [2, 3, 4, 2], 10);
        const ys = layer.apply(xs) as tf.Tensor[];
        expect(ys.map((y) => y.shape)).toEqual([
          [2, 3, 4, 5],
          [2, 3, 4, 5],
          [2, 3, 4, 5],
        ]);
        expect(layer.computeOutputShape(xs.map((x) => x.shape))).toEqual(ys.map((y) => y.shape));
        const bias = tf.randomNormal([15], 0, 1, 'float32', 1);
        layer.setWeights([layer.getWeights()[0], bias]);
        const expected = fuseByLoops(xs, layer.getWeights()[0], bias, 5);
        (layer.apply(xs) as tf.Tensor[]).forEach((y, i) => expectClose(y, expected[i], { rtol: 1e-5, atol: 1e-5 }));
      });
    });

    it('initialises with Glorot uniform when U ≠ C and no initializer is given', () => {
      tf.tidy(() => {
        const layer = groupFusion({ numGroups: 3, units: 8 });
        layer.build([
          [null, 4, 4, 6],
          [null, 4, 4, 6],
          [null, 4, 4, 6],
        ]);
        const kernel = layer.getWeights()[0];
        expect(kernel.shape).toEqual([18, 24]);
        const values = Array.from(kernel.dataSync());
        const limit = Math.sqrt(6 / (18 + 24));
        expect(values.every((v) => Math.abs(v) <= limit)).toBe(true);
        // Not the NDDR pattern: most entries are non-zero.
        expect(values.filter((v) => v !== 0).length).toBeGreaterThan(values.length * 0.9);
      });
    });

    it('uses a given kernel initializer, in any of its serialisable forms', () => {
      tf.tidy(() => {
        const shapes = [
          [null, 2, 2, 3],
          [null, 2, 2, 3],
        ];
        const zeros = groupFusion({ numGroups: 2, kernelInitializer: 'zeros' });
        zeros.build(shapes);
        expectClose(zeros.getWeights()[0], new Array(36).fill(0), { rtol: 0, atol: 0 });
        const ones = groupFusion({ numGroups: 2, kernelInitializer: tfl.initializers.ones() });
        ones.build(shapes);
        expectClose(ones.getWeights()[0], new Array(36).fill(1), { rtol: 0, atol: 0 });
        const custom = groupFusion({
          numGroups: 2,
          kernelInitializer: nddrKernel({ numGroups: 2, selfWeight: 0.6, otherWeight: 0.4 }),
        });
        custom.build(shapes);
        const k = custom.getWeights()[0];
        expectClose(tf.slice(k, [0, 0], [3, 3]), tf.mul(tf.eye(3), 0.6), { rtol: 0, atol: 1e-7 });
        expectClose(tf.slice(k, [0, 3], [3, 3]), tf.mul(tf.eye(3), 0.4), { rtol: 0, atol: 1e-7 });
        const fromConfig = groupFusion({
          numGroups: 2,
          kernelInitializer: { className: 'Constant', config: { value: 0.25 } },
        });
        fromConfig.build(shapes);
        expectClose(fromConfig.getWeights()[0], new Array(36).fill(0.25), { rtol: 0, atol: 0 });
      });
    });

    it('passes the numeric gradient check (inputs, kernel, bias)', () => {
      const xs = randomInputs(3, [1, 2, 2, 2], 30);
      const kernel = tf.randomNormal([6, 9], 0, 0.5, 'float32', 40);
      const bias = tf.randomNormal([9], 0, 0.5, 'float32', 41);
      const up = randomInputs(3, [1, 2, 2, 3], 50);
      expectNumericGradient(
        (a, b, c, k, bb) => tf.addN(fuseGroups([a, b, c], k, bb).map((y, i) => tf.sum(tf.mul(y, up[i])))) as tf.Scalar,
        [...xs, kernel, bias],
        { samples: 8 },
      );
      tf.dispose([...xs, kernel, bias, ...up]);
    });

    it('round-trips its config', () => {
      expectConfigRoundTrip(groupFusion({ numGroups: 3 }));
      expectConfigRoundTrip(groupFusion({ numGroups: 4, units: 7, selfWeight: 0.8, otherWeight: 0.3, useBias: false }));
      expectConfigRoundTrip(groupFusion({ numGroups: 2, kernelInitializer: 'heNormal' }));
      expectConfigRoundTrip(
        groupFusion({ numGroups: 2, kernelInitializer: nddrKernel({ numGroups: 2, selfWeight: 0.5 }) }),
      );
    });

    it('saves and loads a model with identical outputs', async () => {
      for (const args of [
        { numGroups: 3 },
        { numGroups: 3, units: 2, useBias: false, kernelInitializer: 'glorotNormal' as const },
      ]) {
        const layer = groupFusion(args);
        const model = modelAround(layer, [
          [3, 3, 4],
          [3, 3, 4],
          [3, 3, 4],
        ]);
        layer.setWeights(layer.getWeights().map((w, k) => tf.randomNormal(w.shape, 0, 1, 'float32', 60 + k)));
        const xs = randomInputs(3, [2, 3, 3, 4], 70);
        const loaded = await expectSaveLoadIdentical(model, xs);
        const again = loaded.layers.find((l) => l instanceof GroupFusion) as GroupFusion;
        const { name: _a, kernelInitializer: k1, ...rest } = again.getConfig();
        const { name: _b, kernelInitializer: k2, ...expected } = layer.getConfig();
        expect(rest).toEqual(expected);
        // tfjs itself turns an unset initializer seed into null on load.
        const dropNullSeed = (k: unknown) =>
          JSON.stringify(k, (key, v: unknown) => (key === 'seed' && v == null ? undefined : v));
        expect(dropNullSeed(k1)).toBe(dropNullSeed(k2));
        tf.dispose(xs);
      }
    });

    it('leaks no tensors in predict and training steps', async () => {
      const model = modelAround(groupFusion({ numGroups: 3 }), [
        [2, 2, 4],
        [2, 2, 4],
        [2, 2, 4],
      ]);
      const xs = randomInputs(3, [2, 2, 2, 4], 80);
      await expectNoLeakInPredictAndTrain(model, xs);
      tf.dispose(xs);
    });
  });
});

forEachBackend(() => {
  describe('GroupFusion errors', () => {
    it.each([
      [{ numGroups: 1 }, 'GroupFusion: numGroups must be an integer ≥ 2, but received 1.'],
      [{ numGroups: 3, units: 0 }, 'GroupFusion: units must be an integer ≥ 1, but received 0.'],
      [{ numGroups: 3, selfWeight: Number.NaN }, 'GroupFusion: selfWeight must be a finite number, but received NaN.'],
      [{ numGroups: 3, otherWeight: '0.1' }, "GroupFusion: otherWeight must be a finite number, but received '0.1'."],
      [{ numGroups: 3, useBias: 1 }, 'GroupFusion: useBias must be a boolean, but received 1.'],
      [
        { numGroups: 3, kernelInitializer: 'notAnInitializer' },
        "GroupFusion: kernelInitializer must be a registered initializer, but received 'notAnInitializer'.",
      ],
      [
        { numGroups: 3, kernelInitializer: 3 },
        'GroupFusion: kernelInitializer must be an initializer, an identifier or {className, config}, but received 3.',
      ],
    ])('rejects config %o', (args, message) => {
      expect(() => groupFusion(args as unknown as GroupFusionArgs)).toThrow(message);
    });

    it('rejects a wrong number of inputs, ranks and unequal shapes', () => {
      const layer = groupFusion({ numGroups: 3 });
      expect(() => layer.apply([tf.zeros([1, 2, 2, 4]), tf.zeros([1, 2, 2, 4])])).toThrow(
        'GroupFusion: inputs must be a list of 3 tensors [B, H, W, C], but received [[1, 2, 2, 4], [1, 2, 2, 4]].',
      );
      expect(() => layer.apply(tf.zeros([1, 2, 2, 4]))).toThrow('GroupFusion: inputs must be a list of 3 tensors');
      expect(() => layer.apply([tf.zeros([1, 2, 4]), tf.zeros([1, 2, 4]), tf.zeros([1, 2, 4])])).toThrow(
        'GroupFusion: inputs must be rank-4 tensors [B, H, W, C], but received [[1, 2, 4], [1, 2, 4], [1, 2, 4]].',
      );
      expect(() => layer.apply([tf.zeros([1, 2, 2, 4]), tf.zeros([1, 2, 2, 4]), tf.zeros([1, 2, 2, 5])])).toThrow(
        'GroupFusion: inputs must be tensors of equal shape, but received [[1, 2, 2, 4], [1, 2, 2, 4], [1, 2, 2, 5]].',
      );
      expect(() =>
        groupFusion({ numGroups: 2, units: 3, kernelInitializer: nddrKernel({ numGroups: 2 }) }).build([
          [null, 2, 2, 4],
          [null, 2, 2, 4],
        ]),
      ).toThrow(
        'NddrKernel: shape must be a square kernel [G·C, G·C] with G = 2 (units equal to the input channels), but received [8, 6].',
      );
      expect(() => nddrKernel({ numGroups: 1 })).toThrow(
        'NddrKernel: numGroups must be an integer ≥ 2, but received 1.',
      );
      expect(() => fuseGroups([tf.zeros([1, 1, 1, 2]), tf.zeros([1, 1, 1, 2])], tf.zeros([3, 4]))).toThrow(
        'fuseGroups: kernel must be of shape [4, G·U] (G = 2), but received [3, 4].',
      );
      expect(() =>
        fuseGroups([tf.zeros([1, 1, 1, 2]), tf.zeros([1, 1, 1, 2])], tf.zeros([4, 4]), tf.zeros([3])),
      ).toThrow('fuseGroups: bias must be of shape [4], but received [3].');
    });
  });
});

describe('group_fusion fixtures', () => {
  it('hold the official init pattern that the layer test compares against', () => {
    // Guards the fixture itself: diagonal 0.9, off-diagonal blocks 0.1 / (G − 1) = 0.05.
    const k = toTensor(INIT.initialWeights[0]).arraySync() as number[][];
    expect(k[0][0]).toBeCloseTo(0.9, 6);
    expect(k[0][4]).toBeCloseTo(0.05, 6);
    expect(k[0][1]).toBe(0);
  });
});
