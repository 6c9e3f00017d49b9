import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  expectClose,
  expectConfigRoundTrip,
  expectNoLeakInPredictAndTrain,
  expectNumericGradient,
  expectSaveLoadIdentical,
  forEachBackend,
} from '@phalanx/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { affineChannels, ChannelAffine, channelAffine } from './channel-affine';

/** A batch norm's inference map as `s`, `t`, and the batch norm itself (tf.batchNorm) as the truth. */
function batchNormCase(channels: number, seed: number) {
  const mean = tf.randomNormal([channels], 0, 1, 'float32', seed);
  const variance = tf.randomUniform([channels], 0.2, 3, 'float32', seed + 1);
  const gamma = tf.randomNormal([channels], 1, 0.5, 'float32', seed + 2);
  const beta = tf.randomNormal([channels], 0, 1, 'float32', seed + 3);
  const scale = tf.tidy(() => tf.mul(gamma, tf.rsqrt(tf.add(variance, 1e-3))));
  const offset = tf.tidy(() => tf.sub(beta, tf.mul(mean, scale)));
  const truth = (x: tf.Tensor) => tf.batchNorm(x, mean, variance, beta, gamma, 1e-3);
  return { scale, offset, truth, dispose: () => tf.dispose([mean, variance, gamma, beta, scale, offset]) };
}

forEachBackend((backend) => {
  describe('affineChannels', () => {
    it('equals an inference batch norm (and its ReLU) for ranks 2 to 5', () => {
      const bn = batchNormCase(6, 10);
      for (const shape of [
        [3, 6],
        [2, 5, 6],
        [2, 7, 5, 6],
        [1, 2, 3, 4, 6],
      ]) {
        const x = tf.randomNormal(shape, 0, 2, 'float32', 20);
        for (const activation of ['linear', 'relu'] as const) {
          const ours = affineChannels(x, bn.scale, bn.offset, activation);
          const truth = tf.tidy(() => (activation === 'relu' ? tf.relu(bn.truth(x)) : bn.truth(x)));
          expect(ours.shape).toEqual(shape);
          expectClose(ours, truth, { rtol: 1e-5, atol: 1e-5 }, `${backend} ${shape} ${activation}`);
          tf.dispose([ours, truth]);
        }
        x.dispose();
      }
      bn.dispose();
    });

    it('property: any [B, H, W, C] equals x·s + t (then ReLU)', () => {
      fc.assert(
        fc.property(
          fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 9 })),
          fc.integer({ min: 1, max: 17 }),
          fc.boolean(),
          fc.integer({ min: 0, max: 1000 }),
          ([b, h, w], c, relu, seed) => {
            const x = tf.randomNormal([b, h, w, c], 0, 1, 'float32', seed);
            const s = tf.randomNormal([c], 0, 1, 'float32', seed + 1);
            const t = tf.randomNormal([c], 0, 1, 'float32', seed + 2);
            const ours = affineChannels(x, s, t, relu ? 'relu' : 'linear');
            const truth = tf.tidy(() => {
              const y = tf.add(tf.mul(x, s), t);
              return relu ? tf.relu(y) : y;
            });
            expectClose(ours, truth, { rtol: 1e-5, atol: 1e-5 });
            tf.dispose([x, s, t, ours, truth]);
          },
        ),
        { numRuns: 25, seed: 7 },
      );
    });

    it('rejects scale and offset of the wrong shape and other activations, with named errors', () => {
      const x = tf.zeros([1, 2, 2, 3]);
      const three = tf.ones([3]);
      const four = tf.ones([4]);
      expect(() => affineChannels(x, four, three)).toThrow(PhalanxShapeError);
      expect(() => affineChannels(x, three, tf.ones([3, 1]))).toThrow(/affineChannels: offset/);
      expect(() => affineChannels(x, three, three, 'sigmoid' as never)).toThrow(PhalanxConfigError);
      expect(() => affineChannels(tf.scalar(1), three, three)).toThrow(PhalanxShapeError);
      tf.dispose([x, three, four]);
    });
  });

  describe('ChannelAffine', () => {
    it('has numerically correct gradients (input, scale and offset); with the ReLU, those of x·s + t masked', () => {
      // The rank-4 path is a depthwise convolution: its gradients on wasm come from @phalanx/wasm-training.
      const shape = backend === 'wasm' ? [2, 3, 4] : [2, 3, 4, 4];
      const x = tf.randomNormal(shape, 0, 1, 'float32', 4);
      const s = tf.randomNormal([4], 1, 0.5, 'float32', 5);
      const t = tf.randomNormal([4], 0, 0.5, 'float32', 6);
      const up = tf.randomNormal(shape, 0, 1, 'float32', 7);
      const loss = (relu: boolean) => (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
        tf.sum(tf.mul(affineChannels(a, b, c, relu ? 'relu' : 'linear'), up)) as tf.Scalar;
      expectNumericGradient(loss(false), [x, s, t], { samples: 10, epsilon: 1e-2 });
      // A ReLU's kink defeats finite differences; tfjs' own gradients of relu(x·s + t) are the truth.
      const ours = tf.grads(loss(true))([x, s, t]);
      const truth = tf.grads(
        (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(tf.relu(tf.add(tf.mul(a, b), c)), up)) as tf.Scalar,
      )([x, s, t]);
      ours.forEach((g, i) => expectClose(g, truth[i], { rtol: 1e-4, atol: 1e-5 }, `relu gradient ${i}`));
      tf.dispose([x, s, t, up, ...ours, ...truth]);
    });

    it('round-trips its config; save → load identical; trains without leaks', async () => {
      expectConfigRoundTrip(channelAffine({ activation: 'relu', name: 'a' }));
      const input = tfl.input({ shape: [4, 4, 3] });
      const conv = tfl.layers.conv2d({ filters: 2, kernelSize: 1 }).apply(input) as tfl.SymbolicTensor;
      const layer = channelAffine({ activation: 'relu' });
      const out = layer.apply(conv) as tfl.SymbolicTensor;
      expect(out.shape).toEqual([null, 4, 4, 2]);
      const model = tfl.model({ inputs: input, outputs: out });
      layer.setWeights([tf.tensor1d([2, -1]), tf.tensor1d([0.5, 0.25])]);
      const x = tf.randomNormal([2, 4, 4, 3], 0, 1, 'float32', 6);
      const loaded = await expectSaveLoadIdentical(model, [x]);
      expect(loaded.layers.some((l) => l instanceof ChannelAffine)).toBe(true);
      // wasm lacks the convolution gradients unless @phalanx/wasm-training is loaded.
      if (backend === 'cpu') await expectNoLeakInPredictAndTrain(model, [x]);
      x.dispose();
    });
  });
});
