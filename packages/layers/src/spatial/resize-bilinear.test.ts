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
  readJson,
  type GoldenLayerCase,
} from '@phalanx/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PhalanxConfigError } from '@phalanx/errors';
import { interpolationMatrix, ResizeBilinear, resizeBilinear, resizeBilinearTorch } from './resize-bilinear';

const fixture = (name: string) =>
  readJson<GoldenLayerCase>(new URL(`../../test/fixtures/resize_bilinear.${name}.json`, import.meta.url));
const cases = ['up', 'down', 'corners'].map((n) => [n, fixture(n)] as const);

forEachBackend((backend) => {
  describe('ResizeBilinear', () => {
    for (const [name, golden] of cases) {
      it(`matches PyTorch F.interpolate (${name}: outputs and input gradient)`, () => {
        expectLayerMatchesGolden(resizeBilinear(golden.config as never), golden);
      });
    }

    it('equals tf.image.resizeBilinear(halfPixelCenters) in the forward pass, up and down', () => {
      const x = tf.randomNormal([2, 8, 6, 3], 0, 1, 'float32', 3);
      for (const size of [
        [64, 48],
        [3, 5],
        [8, 6],
      ] as [number, number][]) {
        const ours = resizeBilinearTorch(x, size);
        const theirs = tf.image.resizeBilinear(x as tf.Tensor4D, size, false, true);
        expectClose(ours, theirs, { rtol: 1e-5, atol: 1e-5 }, `${backend} ${size}`);
        tf.dispose([ours, theirs]);
      }
      x.dispose();
    });

    it('has numerically correct gradients', () => {
      const x = tf.randomNormal([1, 3, 4, 2], 0, 1, 'float32', 4);
      const up = tf.randomNormal([1, 5, 2, 2], 0, 1, 'float32', 5);
      expectNumericGradient((t: tf.Tensor) => tf.sum(tf.mul(resizeBilinearTorch(t, [5, 2]), up)) as tf.Scalar, [x], {
        samples: 10,
        epsilon: 1e-2,
      });
      tf.dispose([x, up]);
    });

    it('round-trips its config; save → load identical; trains without leaks', async () => {
      expectConfigRoundTrip(resizeBilinear({ height: 7, width: 5, alignCorners: true, name: 'r' }));
      const input = tfl.input({ shape: [4, 4, 3] });
      const conv = tfl.layers.conv2d({ filters: 2, kernelSize: 1 }).apply(input) as tfl.SymbolicTensor;
      const out = resizeBilinear({ height: 9, width: 6 }).apply(conv) as tfl.SymbolicTensor;
      expect(out.shape).toEqual([null, 9, 6, 2]);
      const model = tfl.model({ inputs: input, outputs: out });
      const x = tf.randomNormal([2, 4, 4, 3], 0, 1, 'float32', 6);
      const loaded = await expectSaveLoadIdentical(model, [x]);
      expect(loaded.layers.some((l) => l instanceof ResizeBilinear)).toBe(true);
      // wasm lacks Conv2DBackpropFilter unless @phalanx/wasm-training is loaded.
      if (backend === 'cpu') await expectNoLeakInPredictAndTrain(model, [x]);
      x.dispose();
    });
  });
});

describe('ResizeBilinear validation', () => {
  it('interpolation weights are PyTorch’s (half-pixel, clamped)', () => {
    expect(Array.from(interpolationMatrix(2, 4, false))).toEqual([1, 0, 0.75, 0.25, 0.25, 0.75, 0, 1]);
    expect(Array.from(interpolationMatrix(4, 2, false))).toEqual([0.5, 0.5, 0, 0, 0, 0, 0.5, 0.5]);
    expect(Array.from(interpolationMatrix(3, 2, true))).toEqual([1, 0, 0, 0, 0, 1]);
  });

  it('resizeBilinearTorch refuses sizes that are not integers ≥ 1 or exceed MAX_ELEMENTS, before allocating', () => {
    const x = tf.zeros([1, 2, 2, 1]);
    const tall = tf.zeros([1, 16384, 1, 1]);
    const wide = tf.zeros([1, 2, 32768, 1]);
    const before = tf.memory().numTensors;
    expect(() => resizeBilinearTorch(x, [1e9, 2])).toThrow(
      "resizeBilinearTorch: output [B, height, width, C] must be of at most 268435456 (2^28) elements, but received '[1, 1000000000, 2, 1]: 2000000000 elements'.",
    );
    for (const bad of [NaN, -1, 0, 2.5, Infinity]) {
      expect(() => resizeBilinearTorch(x, [bad, 2]), String(bad)).toThrow(PhalanxConfigError);
      expect(() => resizeBilinearTorch(x, [2, bad]), String(bad)).toThrow(PhalanxConfigError);
    }
    // Small output, huge interpolation matrix [16385, 16384] or row-pass intermediate [1, 16384, 32768, 1].
    expect(() => resizeBilinearTorch(tall, [16385, 1])).toThrow(
      'resizeBilinearTorch: row interpolation matrix [height, H] must be of at most 268435456 (2^28) elements',
    );
    expect(() => resizeBilinearTorch(wide, [16384, 1])).toThrow(
      'resizeBilinearTorch: intermediate [B, height, W, C] must be of at most 268435456 (2^28) elements',
    );
    fc.assert(
      fc.property(fc.integer({ min: 2 ** 27 + 1, max: Number.MAX_SAFE_INTEGER }), fc.boolean(), (size, rows) => {
        const out: [number, number] = rows ? [size, 2] : [2, size];
        expect(() => resizeBilinearTorch(x, out)).toThrow(PhalanxConfigError);
      }),
    );
    expect(tf.memory().numTensors).toBe(before);
    expect(resizeBilinearTorch(x, [3, 5]).shape).toEqual([1, 3, 5, 1]);
    tf.dispose([x, tall, wide]);
    expect(() => interpolationMatrix(1e9, 1e9, false)).toThrow(
      'interpolationMatrix: matrix [outSize, inSize] must be of at most 268435456 (2^28) elements',
    );
    expect(() => interpolationMatrix(2, 2.5, false)).toThrow(
      'interpolationMatrix: outSize must be an integer ≥ 0, but received 2.5.',
    );
  });

  it('rejects bad configs and shapes with named errors', () => {
    expect(() => resizeBilinear({ height: 0, width: 4 })).toThrow(
      'ResizeBilinear: height must be an integer ≥ 1, but received 0.',
    );
    expect(() => resizeBilinear({ height: 4, width: 4, alignCorners: 1 as unknown as boolean })).toThrow(
      'ResizeBilinear: alignCorners must be a boolean',
    );
    expect(() => resizeBilinear({ height: 4, width: 4 }).build([null, 4, 4])).toThrow(
      'ResizeBilinear: input shape must be [B, H, W, C] with known H and W, but received [null, 4, 4].',
    );
  });
});
