import * as tf from '@tensorflow/tfjs-core';
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
  type GoldenLayerCase,
} from '@phalanx/testing';
import { describe, expect, it } from 'vitest';
import { PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import {
  latentSoftArgmax25D,
  SoftArgmax25D,
  softArgmax25D,
  volumetricSoftArgmax25D,
  type SoftArgmax25DArgs,
} from './soft-argmax-25d';

const fixture = (name: string): GoldenLayerCase =>
  readJson<GoldenLayerCase>(new URL(`../../test/fixtures/${name}`, import.meta.url));
const volumetricGolden = fixture('soft_argmax_25d.volumetric.json');
const latentGolden = fixture('soft_argmax_25d.latent.json');

forEachBackend(() => {
  describe('SoftArgmax25D golden', () => {
    it('volumetric: outputs and input gradients match PyTorch', () => {
      const layer = softArgmax25D(volumetricGolden.config as unknown as SoftArgmax25DArgs);
      expectLayerMatchesGolden(layer, volumetricGolden);
    });

    it('latent with trainable per-joint beta: outputs, input and beta gradients match PyTorch', () => {
      const layer = softArgmax25D(latentGolden.config as unknown as SoftArgmax25DArgs);
      expectLayerMatchesGolden(layer, latentGolden);
      expect(layer.weights.map((w) => w.name.split('/').pop())).toEqual(['beta']);
      expect(layer.trainableWeights).toHaveLength(1);
    });
  });

  describe('volumetricSoftArgmax25D', () => {
    it("equals EHPE's logsumexp-marginal soft-argmax at β = 1", () => {
      const [B, H, W, J, D] = [2, 5, 4, 3, 4];
      const volume = tf.randomNormal([B, H, W, J * D], 0, 2, 'float32', 7);
      const { keypoints } = volumetricSoftArgmax25D(volume, J, D);
      const expected = tf.tidy(() => {
        const v = tf.transpose(tf.reshape(volume, [B, H, W, J, D]), [0, 3, 1, 2, 4]); // [B,J,H,W,D]
        const heat2d = tf.reshape(tf.logSumExp(v, 4), [B, J, H * W]);
        const pxy = tf.softmax(heat2d);
        const xs = tf.tile(tf.range(0, W), [H]);
        const ys = tf.reshape(tf.tile(tf.reshape(tf.range(0, H), [H, 1]), [1, W]), [-1]);
        const x = tf.sum(tf.mul(pxy, xs), 2);
        const y = tf.sum(tf.mul(pxy, ys), 2);
        const pz = tf.softmax(tf.logSumExp(v, [2, 3])); // [B,J,D]
        const z = tf.sum(tf.mul(pz, tf.range(0, D)), 2);
        return tf.stack([x, y, z], 2);
      });
      expectClose(keypoints, expected, { rtol: 1e-4, atol: 1e-5 }, 'keypoints');
      tf.dispose([volume, keypoints, expected]);
    });

    it('finds a sharp peak at its (x, y, d) and normalises by W−1, H−1, D−1', () => {
      const [H, W, J, D] = [6, 5, 2, 4];
      const peaks = [
        [3, 1, 2], // joint 0 at x=3, y=1, d=2
        [0, 5, 3],
      ];
      const data = new Float32Array(H * W * J * D);
      peaks.forEach(([x, y, d], j) => {
        data[(y * W + x) * J * D + j * D + d] = 60;
      });
      const volume = tf.tensor4d(data, [1, H, W, J * D]);
      const pixel = volumetricSoftArgmax25D(volume, J, D, { returnProbabilities: true });
      expectClose(pixel.keypoints, { shape: [1, J, 3], data: peaks.flat() }, { rtol: 0, atol: 1e-4 }, 'pixel');
      const normalized = volumetricSoftArgmax25D(volume, J, D, { coordinates: 'normalized' });
      const scaled = peaks.flatMap(([x, y, d]) => [x / (W - 1), y / (H - 1), d / (D - 1)]);
      expectClose(normalized.keypoints, { shape: [1, J, 3], data: scaled }, { rtol: 0, atol: 1e-4 }, 'normalized');
      // The 2D probability maps sum to one per joint and peak at the right pixel.
      const probs = pixel.probabilities as tf.Tensor4D;
      expect(probs.shape).toEqual([1, H, W, J]);
      expectClose(tf.sum(probs, [0, 1, 2]), [1, 1], { rtol: 0, atol: 1e-5 }, 'probability mass');
      const p = probs.arraySync()[0];
      expect(p[1][3][0]).toBeGreaterThan(0.999);
      expect(p[5][0][1]).toBeGreaterThan(0.999);
      tf.dispose([volume, pixel.keypoints, probs, normalized.keypoints]);
    });

    it('is stable for huge logits (max subtracted)', () => {
      const volume = tf.mul(tf.randomUniform([1, 4, 4, 2 * 3], 0, 1, 'float32', 3), 1e5);
      const { keypoints } = volumetricSoftArgmax25D(volume, 2, 3);
      const values = keypoints.dataSync();
      expect(values.every((v) => Number.isFinite(v))).toBe(true);
      tf.dispose([volume, keypoints]);
    });

    it('has numerically correct gradients (with a per-joint β tensor)', () => {
      const volume = tf.randomNormal([1, 3, 4, 2 * 3], 0, 1, 'float32', 11);
      const beta = tf.tensor1d([0.7, 1.6]);
      const up = tf.randomNormal([1, 2, 3], 0, 1, 'float32', 12);
      const upMaps = tf.randomNormal([1, 3, 4, 2], 0, 1, 'float32', 13);
      const f = (v: tf.Tensor, b: tf.Tensor): tf.Scalar => {
        const r = volumetricSoftArgmax25D(v, 2, 3, { beta: b, coordinates: 'normalized', returnProbabilities: true });
        return tf.add(tf.sum(tf.mul(r.keypoints, up)), tf.sum(tf.mul(r.probabilities as tf.Tensor, upMaps)));
      };
      expectNumericGradient(f, [volume, beta], { samples: 10 });
      const g = (v: tf.Tensor): tf.Scalar => tf.sum(tf.mul(volumetricSoftArgmax25D(v, 2, 3).keypoints, up));
      expectNumericGradient(g, [volume], { samples: 10 });
      tf.dispose([volume, beta, up, upMaps]);
    });
  });

  describe('latentSoftArgmax25D', () => {
    it('has numerically correct gradients in heatmaps, depth maps and β', () => {
      const heat = tf.randomNormal([1, 4, 3, 2], 0, 1, 'float32', 21);
      const depth = tf.randomNormal([1, 4, 3, 2], 0, 1, 'float32', 22);
      const beta = tf.tensor1d([1.3, 0.6]);
      const up = tf.randomNormal([1, 2, 3], 0, 1, 'float32', 23);
      const f = (h: tf.Tensor, d: tf.Tensor, b: tf.Tensor): tf.Scalar =>
        tf.sum(tf.mul(latentSoftArgmax25D(h, d, { beta: b }).keypoints, up));
      expectNumericGradient(f, [heat, depth, beta], { samples: 8 });
      tf.dispose([heat, depth, beta, up]);
    });

    it('rejects depth maps whose shape differs from the heatmaps', () => {
      const h = tf.zeros([1, 4, 4, 2]);
      const d = tf.zeros([1, 4, 3, 2]);
      expect(() => latentSoftArgmax25D(h, d)).toThrow(PhalanxShapeError);
      tf.dispose([h, d]);
    });
  });

  describe('SoftArgmax25D layer', () => {
    it('round-trips its config in both modes', () => {
      expectConfigRoundTrip(softArgmax25D({ numJoints: 4, depthBins: 3, coordinates: 'normalized', beta: 2 }));
      expectConfigRoundTrip(
        softArgmax25D({ mode: 'latent', numJoints: 4, trainableBeta: true, returnProbabilities: true }),
      );
    });

    it('volumetric with probabilities: saved and reloaded model gives identical outputs, no leaks', async () => {
      const layer = softArgmax25D({
        numJoints: 2,
        depthBins: 3,
        returnProbabilities: true,
        trainableBeta: true,
        beta: 0.5,
      });
      const model = modelAround(layer, [[5, 4, 6]]);
      expect(model.outputs.map((o) => o.shape)).toEqual([
        [null, 2, 3],
        [null, 5, 4, 2],
      ]);
      const x = tf.randomNormal([2, 5, 4, 6], 0, 1, 'float32', 5);
      const loaded = await expectSaveLoadIdentical(model, [x]);
      expect(loaded.layers.some((l) => l instanceof SoftArgmax25D)).toBe(true);
      await expectNoLeakInPredictAndTrain(model, [x]);
      x.dispose();
    });

    it('latent: saved and reloaded model gives identical outputs, no leaks', async () => {
      const layer = softArgmax25D({ mode: 'latent', numJoints: 3, trainableBeta: true, coordinates: 'normalized' });
      const model = modelAround(layer, [
        [4, 5, 3],
        [4, 5, 3],
      ]);
      const h = tf.randomNormal([2, 4, 5, 3], 0, 1, 'float32', 8);
      const d = tf.randomNormal([2, 4, 5, 3], 0, 1, 'float32', 9);
      await expectSaveLoadIdentical(model, [h, d]);
      await expectNoLeakInPredictAndTrain(model, [h, d]);
      tf.dispose([h, d]);
    });
  });
});

describe('SoftArgmax25D validation', () => {
  const config = (over: Partial<SoftArgmax25DArgs>): SoftArgmax25DArgs => ({ numJoints: 3, depthBins: 4, ...over });

  it.each([
    [{ depthBins: 1 }, 'SoftArgmax25D: depthBins must be an integer ≥ 2, but received 1.'],
    [{ depthBins: undefined }, 'SoftArgmax25D: depthBins must be an integer ≥ 2, but received undefined.'],
    [{ depthBins: 2.5 }, 'SoftArgmax25D: depthBins must be an integer ≥ 2, but received 2.5.'],
    [{ numJoints: 0 }, 'SoftArgmax25D: numJoints must be an integer ≥ 1, but received 0.'],
    [{ mode: 'cube' as never }, "SoftArgmax25D: mode must be one of 'volumetric', 'latent', but received 'cube'."],
    [{ beta: Number.NaN }, 'SoftArgmax25D: beta must be a finite number, but received NaN.'],
    [
      { coordinates: 'uv' as never },
      "SoftArgmax25D: coordinates must be one of 'pixel', 'normalized', but received 'uv'.",
    ],
    [{ trainableBeta: 1 as never }, 'SoftArgmax25D: trainableBeta must be a boolean, but received 1.'],
  ])('rejects config %j', (over, message) => {
    expect(() => softArgmax25D(config(over))).toThrow(PhalanxConfigError);
    expect(() => softArgmax25D(config(over))).toThrow(message);
  });

  it('rejects a channel count other than numJoints·depthBins', () => {
    const layer = softArgmax25D(config({}));
    expect(() => layer.build([null, 8, 8, 11])).toThrow(PhalanxShapeError);
    expect(() => layer.build([null, 8, 8, 11])).toThrow(
      'SoftArgmax25D: input shape must be [B, H, W, numJoints·depthBins = 12], but received [null, 8, 8, 11].',
    );
  });

  it('rejects a second input in volumetric mode and a single input in latent mode', () => {
    expect(() =>
      softArgmax25D(config({})).build([
        [null, 8, 8, 12],
        [null, 8, 8, 12],
      ]),
    ).toThrow("SoftArgmax25D: inputs must be one tensor [B, H, W, J·D] in volumetric mode, but received '2 input(s)'.");
    expect(() => softArgmax25D({ mode: 'latent', numJoints: 3 }).build([null, 8, 8, 3])).toThrow(
      "SoftArgmax25D: inputs must be a list [heatmaps, depthMaps] of two tensors in latent mode, but received '1 input(s)'.",
    );
  });

  it('rejects latent maps with the wrong joint count or mismatched shapes', () => {
    const layer = softArgmax25D({ mode: 'latent', numJoints: 3 });
    expect(() =>
      layer.build([
        [null, 8, 8, 4],
        [null, 8, 8, 4],
      ]),
    ).toThrow('SoftArgmax25D: heatmaps shape must be [B, H, W, numJoints = 3], but received [null, 8, 8, 4].');
    expect(() =>
      layer.build([
        [null, 8, 8, 3],
        [null, 8, 6, 3],
      ]),
    ).toThrow('SoftArgmax25D: depthMaps shape must be');
  });

  it('rejects maps with H = 0 or W = 0 (no pixel: the keypoints would be NaN)', () => {
    const message = (component: string, argument: string, shape: (number | null)[]) =>
      `${component}: ${argument} must be a map of at least 1×1 pixels (H, W ≥ 1), but received [${shape.map(String).join(', ')}].`;
    for (const shape of [
      [1, 0, 4, 6],
      [1, 4, 0, 6],
    ]) {
      const volume = tf.zeros(shape);
      expect(() => volumetricSoftArgmax25D(volume, 3, 2)).toThrow(PhalanxShapeError);
      expect(() => volumetricSoftArgmax25D(volume, 3, 2)).toThrow(message('volumetricSoftArgmax25D', 'volume', shape));
      expect(() => softArgmax25D({ numJoints: 3, depthBins: 2 }).apply(volume)).toThrow(
        message('SoftArgmax25D', 'input shape', shape),
      );
      const maps = tf.zeros([...shape.slice(0, 3), 2]);
      expect(() => latentSoftArgmax25D(maps, maps)).toThrow(PhalanxShapeError);
      expect(() => latentSoftArgmax25D(maps, maps)).toThrow(
        message('latentSoftArgmax25D', 'heatmaps', maps.shape as number[]),
      );
      expect(() => softArgmax25D({ mode: 'latent', numJoints: 2 }).apply([maps, maps])).toThrow(
        message('SoftArgmax25D', 'heatmaps shape', maps.shape as number[]),
      );
      tf.dispose([volume, maps]);
    }
    // Symbolic shapes: refused at build; unknown sizes still pass.
    expect(() => softArgmax25D(config({})).build([null, 0, 8, 12])).toThrow(
      message('SoftArgmax25D', 'input shape', [null, 0, 8, 12]),
    );
    expect(() => softArgmax25D(config({})).build([null, null, null, 12])).not.toThrow();
  });

  it('rejects a one-pixel-wide map with normalized coordinates', () => {
    const layer = softArgmax25D(config({ coordinates: 'normalized' }));
    expect(() => layer.build([null, 8, 1, 12])).toThrow(
      'SoftArgmax25D: input shape must be at least 2×2 pixels for normalized coordinates, but received [null, 8, 1, 12].',
    );
  });
});
