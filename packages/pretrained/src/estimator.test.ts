import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderSyntheticHand } from '@phalanx/data';
import { PhalanxConfigError, PhalanxFileError, PhalanxShapeError } from '@phalanx/errors';
import {
  isBatchNormalization,
  latentSoftArgmax25D,
  volumetricSoftArgmax25D,
  type ConcreteJointSelector,
} from '@phalanx/layers';
import { createLearnableGroups } from '@phalanx/learnable-groups';
import { JOINT_NAMES } from '@phalanx/skeleton';
import { expectClose, expectNoTensorLeak, useBackend } from '@phalanx/testing';
import { PhalanxDisposedError, PhalanxModelOutputError } from './errors';
import type { EstimationConfig, Hand, HandPoseEstimator } from './estimator';
import { peakMass } from './heads';
import { letterboxGeometry, modelToImage } from './letterbox';
import { liftToMetres } from './lift';
import { estimatorFromModel, loadHandPoseEstimator, loadHandPoseModel } from './load';
import { shippedModelUrl } from './package-files';

let lg: HandPoseEstimator;
let ehpe: HandPoseEstimator;

/** A synthetic hand as the estimator's input: `[size, size, 3]` int32, 0–255. */
function handImage(seed: number, size: number): tf.Tensor3D {
  return tf.tensor3d(Int32Array.from(renderSyntheticHand(seed, { size }).image), [size, size, 3], 'int32');
}

const xy = (hand: Hand) => hand.keypoints.map((k) => [k.x, k.y]);
const maxDiff = (a: number[][], b: number[][]) =>
  Math.max(...a.flatMap((p, j) => p.map((v, c) => Math.abs(v - b[j][c]))));

beforeAll(async () => {
  await useBackend('wasm');
  // No options: the weights shipped in this package, read from its own files.
  lg = await loadHandPoseEstimator('learnable-groups');
  ehpe = await loadHandPoseEstimator('ehpe');
});

afterAll(() => {
  lg?.dispose();
  ehpe?.dispose();
});

describe('loadHandPoseEstimator (Node, from the package files)', () => {
  it("loads both shipped models with their cards and the package's files beside them", async () => {
    expect(shippedModelUrl('ehpe').href).toMatch(/\/models\/ehpe\/$/);
    expect(lg.card.model).toBe('learnable-groups');
    expect(lg.card.depth).toEqual({ unit: 'bone', boneMetres: 0.045 });
    expect(ehpe.card.model).toBe('ehpe');
    expect(ehpe.card.depth.unit).toBe('bins');
    for (const e of [lg, ehpe]) {
      expect(e.card.evaluation?.count).toBeGreaterThan(0);
      expect(e.card.evaluation?.ratioToHandCentre).toBeCloseTo(
        e.card.evaluation!.epe2dPx / e.card.evaluation!.handCentrePx,
        9,
      );
    }
    const { readdir, readFile } = await import('node:fs/promises');
    const { gunzipSync } = await import('node:zlib');
    const { fileURLToPath } = await import('node:url');
    for (const name of ['learnable-groups', 'ehpe'] as const) {
      const files = await readdir(fileURLToPath(shippedModelUrl(name)));
      expect(files).toEqual(
        expect.arrayContaining(['model.json', 'weights.bin', 'metrics.json', 'card.json', 'training-curve.svg']),
      );
      const logs = files.filter((f) => /^log.*\.jsonl\.gz$/.test(f));
      expect(logs.length).toBeGreaterThan(0);
      for (const log of logs) {
        const text = gunzipSync(await readFile(new URL(log, shippedModelUrl(name)))).toString('utf8');
        const events = text.split('\n').filter(Boolean);
        expect(JSON.parse(events[0]) as { event?: string }).toHaveProperty('event');
        expect(events.some((l) => (JSON.parse(l) as { event?: string }).event === 'eval')).toBe(true);
      }
    }
  });

  it('runs the shipped network with its batch norms folded or made ChannelAffine: same outputs, no leak', async () => {
    const convs = (m: tfl.LayersModel) =>
      m.layers
        .filter((l) => l.getClassName() === 'Conv2D')
        .map((l) => l.name)
        .sort();
    const batchNorms = (m: tfl.LayersModel) => m.layers.filter(isBatchNormalization).length;
    for (const [name, estimator] of [
      ['learnable-groups', lg],
      ['ehpe', ehpe],
    ] as const) {
      const loaded = await loadHandPoseModel(name);
      // Learnable Groups' pre-activation batch norms become ChannelAffine layers; EHPE's ResNet folds all.
      expect(batchNorms(loaded)).toBeGreaterThan(0);
      expect(batchNorms(estimator.model)).toBe(0);
      const affines = estimator.model.layers.filter((l) => l.getClassName() === 'ChannelAffine').length;
      expect(affines > 0).toBe(name === 'learnable-groups');
      expect(convs(estimator.model)).toEqual(convs(loaded));
      expect(estimator.model.getUserDefinedMetadata()).toEqual(loaded.getUserDefinedMetadata());
      const size = estimator.inputSize;
      const input = tf.randomUniform([1, size, size, 3], 0, 1, 'float32', 7);
      const expected = loaded.predict(input) as tf.Tensor[];
      const actual = estimator.model.predict(input) as tf.Tensor[];
      expected.forEach((e, i) => {
        const scale = Math.max(1, ...Array.from(e.dataSync(), Math.abs));
        expectClose(actual[i], e, { rtol: 1e-4, atol: 1e-4 * scale }, `${name} output ${i}`);
      });
      tf.dispose([input, ...expected, ...actual]);
      loaded.dispose();
    }
    const before = tf.memory().numTensors;
    const model = await loadHandPoseModel('ehpe');
    estimatorFromModel('ehpe', model).dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects an unknown model name and the files of the other model (named errors)', async () => {
    await expect(loadHandPoseEstimator('mediapipe' as 'ehpe')).rejects.toThrow(PhalanxConfigError);
    await expect(loadHandPoseEstimator('learnable-groups', { url: shippedModelUrl('ehpe').href })).rejects.toThrow(
      /model must be the files of a 'learnable-groups' model, but received 'ehpe'/,
    );
  });

  it('estimatorFromModel: named errors for an unknown name, a non-model and a model of other than 21 joints', () => {
    const small = {
      inputSize: 64,
      planes: [8, 8] as [number, number],
      hourglassFeatures: 16,
      stemChannels: [8, 16] as [number, number],
      neckChannels: 8,
    };
    const model = createLearnableGroups(small);
    const before = tf.memory().numTensors;
    expect(() => estimatorFromModel('foo' as 'ehpe', model)).toThrow(
      /estimatorFromModel: name must be one of 'learnable-groups', 'ehpe'/,
    );
    for (const notModel of [null, undefined, {}, 'model'])
      expect(() => estimatorFromModel('learnable-groups', notModel as unknown as tfl.LayersModel)).toThrow(
        /estimatorFromModel: model must be a tf.LayersModel/,
      );
    const fourteen = createLearnableGroups({ ...small, numJoints: 14 });
    expect(() => estimatorFromModel('learnable-groups', fourteen)).toThrow(/a model of the 21 hand joints/);
    // A refused model is left as it was: usable, and nothing leaked.
    expect(fourteen.weights[0].read().isDisposed).toBe(false);
    fourteen.dispose();
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('loadHandPoseModel: the network as its files hold it, from the package or a url; named errors', async () => {
    const shipped = await loadHandPoseModel('ehpe');
    const viaUrl = await loadHandPoseModel('learnable-groups', { url: shippedModelUrl('ehpe').href });
    // The files decide what is loaded (the card check belongs to the estimator); nothing is folded.
    expect(viaUrl.layers.map((l) => l.name)).toEqual(shipped.layers.map((l) => l.name));
    expect(shipped.layers.filter(isBatchNormalization).length).toBeGreaterThan(0);
    expect(shipped.inputs[0].shape).toEqual([null, 96, 96, 3]);
    const input = tf.randomUniform([1, 96, 96, 3], 0, 1, 'float32', 3);
    const [a, b] = [shipped, viaUrl].map((m) => (m.predict(input) as tf.Tensor[])[0]);
    expectClose(a, b, { rtol: 0, atol: 0 }, 'same weights');
    tf.dispose([input, a, b]);
    shipped.dispose();
    viaUrl.dispose();
    await expect(loadHandPoseModel('mediapipe' as 'ehpe')).rejects.toThrow(/^loadHandPoseModel: name must be one of/);
    await expect(loadHandPoseModel('ehpe', null as unknown as object)).rejects.toThrow(PhalanxConfigError);
  });
});

describe('loadHandPoseEstimator / loadHandPoseModel options', () => {
  it('refuses a url that is not a string and a handler without load() by name, before loading anything', async () => {
    const cases: [object, RegExp][] = [
      [{ url: 5 }, /options.url must be a string \(a URL\), but received 5/],
      [{ url: null }, /options.url must be a string/],
      [{ handler: {} }, /options.handler must be a tf.io.IOHandler with a load\(\) method, but received \{\}/],
      [{ handler: null }, /options.handler must be a tf.io.IOHandler/],
      [{ handler: 'model.json' }, /options.handler must be a tf.io.IOHandler/],
      [
        { URL: 'x' },
        /^load\w+: options.URL must be an option \(one of url, handler, loadOptions\), but received 'x'\.$/,
      ],
      [{ backend: 'webgl' }, /options.backend must be an option/],
      [{ loadOptions: null }, /options.loadOptions must be a tf.io.LoadOptions object, but received null/],
      [{ loadOptions: 'no-cache' }, /options.loadOptions must be a tf.io.LoadOptions object/],
      // An array is not an options object (it was accepted, its keys being none).
      [[], /^load\w+: options must be an object \{url\?, handler\?, loadOptions\?\}, but received \[\]\.$/],
    ];
    for (const [options, message] of cases) {
      for (const load of [loadHandPoseEstimator, loadHandPoseModel]) {
        await expect(load('ehpe', options)).rejects.toThrow(PhalanxConfigError);
        await expect(load('ehpe', options)).rejects.toThrow(message);
      }
    }
  });

  it('names the location and the reason when files cannot be loaded', async () => {
    const cases: [object, RegExp][] = [
      [
        { handler: { load: () => Promise.reject(new Error('disk gone')) } },
        /^options.handler: model cannot be loaded: disk gone/,
      ],
      [{ handler: { load: async () => ({}) } }, /^options.handler: model cannot be loaded: /],
      [{ url: 'models/ehpe/model.json' }, /^models\/ehpe\/model.json: model cannot be loaded: /],
    ];
    const before = tf.memory().numTensors;
    for (const [options, message] of cases) {
      for (const load of [loadHandPoseEstimator, loadHandPoseModel]) {
        await expect(load('ehpe', options)).rejects.toThrow(PhalanxFileError);
        await expect(load('ehpe', options)).rejects.toThrow(message);
      }
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('estimateHands: output, input geometry, Learnable Groups by hand', () => {
  it('returns one hand: 21 named keypoints in the input pixels, 21 root-relative 3D keypoints in metres, a score', async () => {
    const image = handImage(5, 64);
    const hands = await lg.estimateHands(image);
    image.dispose();
    expect(hands).toHaveLength(1);
    const [hand] = hands;
    expect(hand.keypoints.map((k) => k.name)).toEqual(JOINT_NAMES);
    expect(hand.keypoints3D.map((k) => k.name)).toEqual(JOINT_NAMES);
    expect(hand.keypoints.every((k) => Number.isFinite(k.x) && Number.isFinite(k.y))).toBe(true);
    expect(hand.keypoints3D[0]).toEqual({ x: 0, y: 0, z: 0, name: 'wrist' });
    // A hand: every joint within 0.25 m of the wrist.
    expect(hand.keypoints3D.every((k) => Math.hypot(k.x, k.y, k.z) < 0.25)).toBe(true);
    expect(hand.score).toBeGreaterThan(0);
    expect(hand.score).toBeLessThanOrEqual(1);
  });

  it('keypoints follow the input exactly: padding a crop back and a 2× larger image give the same model input', async () => {
    for (const estimator of [lg, ehpe]) {
      const S = estimator.inputSize;
      // The S-px hand with its 12 leftmost and rightmost columns blackened, and the same image cropped to
      // S − 24 columns: the estimator pads the crop back (12 columns each side), so keypoints shift by 12.
      const full = tf.tidy(() => {
        const mask = tf.concat([tf.zeros([S, 12, 3]), tf.ones([S, S - 24, 3]), tf.zeros([S, 12, 3])], 1);
        return tf.cast(tf.mul(handImage(9, S), mask), 'int32') as tf.Tensor3D;
      });
      const crop = tf.slice(full, [0, 12, 0], [S, S - 24, 3]);
      // Each pixel repeated 2 × 2: pooled by 2 it is the S-px image again; keypoints map to 2x + 0.5.
      const double = tf.tidy(() => {
        const rows = tf.reshape(tf.tile(tf.reshape(full, [S, 1, S, 3]), [1, 2, 1, 1]), [2 * S, S, 3]);
        return tf.reshape(tf.tile(tf.reshape(rows, [2 * S, S, 1, 3]), [1, 1, 2, 1]), [2 * S, 2 * S, 3]) as tf.Tensor3D;
      });
      const [a] = await estimator.estimateHands(full);
      const [b] = await estimator.estimateHands(crop);
      const [c] = await estimator.estimateHands(double);
      tf.dispose([full, crop, double]);
      expect(
        maxDiff(
          xy(b),
          xy(a).map(([x, y]) => [x - 12, y]),
        ),
      ).toBeLessThan(1e-4);
      expect(
        maxDiff(
          xy(c),
          xy(a).map(([x, y]) => [2 * x + 0.5, 2 * y + 0.5]),
        ),
      ).toBeLessThan(1e-4);
      const xyz = (h: Hand) => h.keypoints3D.map((k) => [k.x, k.y, k.z]);
      expect(maxDiff(xyz(b), xyz(a))).toBeLessThan(1e-6);
      expect(maxDiff(xyz(c), xyz(a))).toBeLessThan(1e-6);
      expect(c.score).toBeCloseTo(a.score, 6);
    }
  });

  it('Learnable Groups: equals the model run by hand (letterbox, predict, map back, depth × 45 mm, lift)', async () => {
    const image = tf.tidy(() => tf.image.resizeBilinear(handImage(12, 128), [100, 70]) as tf.Tensor3D); // float32, not square
    const [hand] = await lg.estimateHands(image);
    // By hand: pad 15 columns each side to 100 × 100, resize to 64 with aligned corners, predict.
    const box = letterboxGeometry(100, 70, 64);
    const [uv, depth] = tf.tidy(() => {
      const padded = tf.pad(image, [
        [0, 0],
        [15, 15],
        [0, 0],
      ]);
      const input = tf.div(tf.image.resizeBilinear(tf.expandDims(padded) as tf.Tensor4D, [64, 64], true), 255);
      return lg.model.predict(input) as tf.Tensor[];
    });
    const uvModel = ((await uv.array()) as number[][][])[0];
    const z = ((await depth.array()) as number[][])[0].map((d) => d * 0.045);
    tf.dispose([image, uv, depth]);
    const expected = uvModel.map(([x, y]) => [(x * 99) / 63 - 15, (y * 99) / 63]);
    expect(maxDiff(xy(hand), expected)).toBeLessThan(1e-3);
    expect(maxDiff(xy(hand), modelToImage(uvModel, box))).toBeLessThan(1e-3);
    const lifted = liftToMetres(expected, z);
    expect(
      maxDiff(
        hand.keypoints3D.map((k) => [k.x, k.y, k.z]),
        lifted,
      ),
    ).toBeLessThan(1e-5);
  });
});

describe('estimateHands: scores, EHPE by hand, flipHorizontal', () => {
  it("Learnable Groups: the score is the peak mass of each joint's soft-argmax map in its selected group", async () => {
    const image = handImage(3, 64);
    const [hand] = await lg.estimateHands(image);
    const model = lg.model;
    const groups = (
      model.layers.find((l) => l.getClassName() === 'ConcreteJointSelector') as ConcreteJointSelector
    ).groups();
    const names = groups.flatMap((_, g) => [`b_htmaps_conv.${g}.2`, `b_depth_conv.${g}.2`]);
    const view = tfl.model({
      inputs: model.inputs,
      outputs: [model.outputs[0], ...names.map((n) => model.getLayer(n).output as tfl.SymbolicTensor)],
    });
    const [uvError, score] = tf.tidy(() => {
      const [uv, ...maps] = view.predict(tf.div(tf.expandDims(image), 255)) as tf.Tensor[];
      const perGroup = groups.map((_, g) =>
        latentSoftArgmax25D(maps[2 * g], maps[2 * g + 1], {
          beta: model.getLayer(`b_get_uv.${g}`).weights[0].read(),
          returnProbabilities: true,
        }),
      );
      const jointGroup = JOINT_NAMES.map((_, j) => groups.findIndex((members) => members.includes(j)));
      // The selected group's soft-argmax, ×4 (heatmap → input pixels), is the model's own uv output.
      const selectedUv = tf.stack(
        jointGroup.map((g, j) => tf.reshape(tf.mul(tf.slice(perGroup[g].keypoints, [0, j, 0], [1, 1, 2]), 4), [2])),
      );
      const probabilities = tf.concat(
        jointGroup.map((g, j) => tf.slice(perGroup[g].probabilities!, [0, 0, 0, j], [-1, -1, -1, 1])),
        3,
      );
      return [tf.max(tf.abs(tf.sub(selectedUv, tf.squeeze(uv, [0])))), peakMass(probabilities as tf.Tensor4D)];
    });
    expect((await uvError.data())[0]).toBeLessThan(1e-4);
    expect(hand.score).toBeCloseTo((await score.data())[0], 5);
    tf.dispose([image, uvError, score]);
  });

  it('EHPE: equals the model run by hand (PG joints, bins → metres over its depth range) and scores the TW volume', async () => {
    const size = ehpe.inputSize;
    const image = handImage(21, size);
    const [hand] = await ehpe.estimateHands(image);
    const { bins, rangeMetres } = ehpe.card.depth as { bins: number; rangeMetres: number };
    const view = tfl.model({
      inputs: ehpe.model.inputs,
      outputs: [...ehpe.model.outputs.slice(1, 3), ehpe.model.getLayer('tw.to_25d').output as tfl.SymbolicTensor],
    });
    const [tw, joints, volume] = view.predict(tf.div(tf.expandDims(image), 255)) as tf.Tensor[];
    const j = ((await joints.array()) as number[][][])[0];
    const { keypoints, probabilities } = volumetricSoftArgmax25D(volume, tw.shape[1] as number, bins, {
      returnProbabilities: true,
    });
    // The TW-stage volume the score reads is the one behind the model's own TW coordinates.
    expect((await tf.max(tf.abs(tf.sub(keypoints, tw))).data())[0]).toBeLessThan(1e-4);
    const score = peakMass(probabilities as tf.Tensor4D);
    expect(hand.score).toBeCloseTo((await score.data())[0], 5);
    tf.dispose([image, tw, joints, volume, keypoints, probabilities!, score]);
    expect(
      maxDiff(
        xy(hand),
        j.map(([x, y]) => [x, y]),
      ),
    ).toBeLessThan(1e-3);
    const z = j.map(([, , b]) => (b / (bins - 1) - 0.5) * rangeMetres);
    expect(
      maxDiff(
        hand.keypoints3D.map((k) => [k.x, k.y, k.z]),
        liftToMetres(xy(hand), z),
      ),
    ).toBeLessThan(1e-5);
  });

  it('flipHorizontal mirrors x in the image (W − 1 − x) and in 3D (−x)', async () => {
    const image = handImage(4, 64);
    const [a] = await lg.estimateHands(image);
    const [b] = await lg.estimateHands(image, { flipHorizontal: true });
    image.dispose();
    expect(
      maxDiff(
        xy(b),
        xy(a).map(([x, y]) => [63 - x, y]),
      ),
    ).toBeLessThan(1e-9);
    expect(
      maxDiff(
        b.keypoints3D.map((k) => [k.x, k.y, k.z]),
        a.keypoints3D.map((k) => [-k.x, k.y, k.z]),
      ),
    ).toBeLessThan(1e-9);
  });
});

/** Both estimators refuse every image with a `PhalanxConfigError` matching `message`, leaking no tensor. */
async function expectRefusedByBoth(images: tf.Tensor3D[], message: RegExp): Promise<void> {
  for (const image of images) {
    for (const estimator of [lg, ehpe]) {
      const before = tf.memory().numTensors;
      await expect(estimator.estimateHands(image)).rejects.toThrow(PhalanxConfigError);
      await expect(estimator.estimateHands(image)).rejects.toThrow(message);
      expect(tf.memory().numTensors).toBe(before);
    }
  }
}

describe('estimateHands: memory, errors and image sizes', () => {
  it('leaks no tensors (int32 and float32 inputs, both models), and dispose() frees every tensor it loaded', async () => {
    const int = handImage(6, 80);
    const float = tf.cast(int, 'float32') as tf.Tensor3D;
    await expectNoTensorLeak(() => lg.estimateHands(int), 'learnable-groups');
    await expectNoTensorLeak(() => ehpe.estimateHands(float), 'ehpe');
    tf.dispose([int, float]);
    const before = tf.memory().numTensors;
    const estimator = await loadHandPoseEstimator('learnable-groups');
    expect(tf.memory().numTensors).toBeGreaterThan(before);
    estimator.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects bad input with named errors', async () => {
    const cases: [tf.Tensor, RegExp][] = [
      [tf.zeros([64, 64]), /image must be a tensor of rank 3 \[H, W, 3\], but received \[64, 64\]/],
      [tf.zeros([1, 64, 64, 3]), /rank 3/],
      [tf.zeros([64, 64, 4]), /3 channels, RGB/],
      [tf.zeros([0, 64, 3]), /non-empty image/],
      [tf.zeros([64, 0, 3]), /non-empty image/],
    ];
    for (const [image, message] of cases) {
      await expect(lg.estimateHands(image as tf.Tensor3D)).rejects.toThrow(PhalanxShapeError);
      await expect(lg.estimateHands(image as tf.Tensor3D)).rejects.toThrow(message);
      image.dispose();
    }
    const bool = tf.zeros([8, 8, 3], 'bool') as tf.Tensor3D;
    await expect(lg.estimateHands(bool)).rejects.toThrow(/dtype int32 or float32, but received 'bool'/);
    await expect(lg.estimateHands(bool)).rejects.toThrow(PhalanxConfigError);
    await expect(lg.estimateHands(bool)).rejects.toThrow(PhalanxConfigError);
    await expect(lg.estimateHands(null as unknown as tf.Tensor3D)).rejects.toThrow(PhalanxConfigError);
    await expect(lg.estimateHands({ width: 0, height: 5, data: new Uint8Array(0) })).rejects.toThrow(PhalanxShapeError);
    bool.dispose();
    await expect(lg.estimateHands(bool)).rejects.toThrow(/not disposed/);
    const estimator = await loadHandPoseEstimator('learnable-groups');
    estimator.dispose();
    const image = tf.zeros([8, 8, 3], 'int32') as tf.Tensor3D;
    await expect(estimator.estimateHands(image)).rejects.toThrow(PhalanxDisposedError);
    await expect(estimator.estimateHands(image)).rejects.toThrow(/disposed; load a new one/);
    image.dispose();
  });

  it('rejects NaN and ±Infinity pixels by name instead of returning keypoints of them, leaking nothing', async () => {
    const images = [
      tf.fill([64, 64, 3], NaN),
      tf.fill([50, 70, 3], Infinity),
      // One bad value among ordinary pixels, and in a large image that is pooled before the network.
      tf.tidy(() =>
        tf.reshape(tf.where(tf.equal(tf.range(0, 64 * 64 * 3), 100), tf.scalar(NaN), tf.scalar(90)), [64, 64, 3]),
      ),
      tf.tidy(() =>
        tf.pad(tf.fill([1, 1, 3], -Infinity), [
          [300, 100],
          [7, 500],
          [0, 0],
        ]),
      ),
    ] as tf.Tensor3D[];
    await expectRefusedByBoth(
      images,
      /^estimateHands: image must be finite pixel values \(RGB 0–255\), but received 'NaN or ±Infinity values'\.$/,
    );
    tf.dispose(images);
  });

  it('rejects pixel values outside 0–255 by name instead of keypoints far outside the image, leaking nothing', async () => {
    const images = [
      tf.fill([32, 32, 3], 1e6), // EHPE put the wrist at x ≈ 152 in this 32-pixel image
      tf.fill([32, 32, 3], -1),
      tf.fill([8, 8, 3], 256, 'int32'),
      // One bad value among ordinary pixels, in a large image that is pooled before the network.
      tf.tidy(() =>
        tf.pad(tf.fill([1, 1, 3], 300), [
          [300, 100],
          [7, 500],
          [0, 0],
        ]),
      ),
    ] as tf.Tensor3D[];
    await expectRefusedByBoth(
      images,
      /^estimateHands: image must be pixel values in 0–255 \(RGB\), but received 'values from -?\d+ to -?\d+'\.$/,
    );
    await expect(lg.estimateHands(images[0])).rejects.toThrow("received 'values from 1000000 to 1000000'");
    tf.dispose(images);
    // The ends of the range are pixels like any other.
    const ends = tf.tidy(() => tf.concat([tf.zeros([4, 8, 3]), tf.fill([4, 8, 3], 255)])) as tf.Tensor3D;
    for (const estimator of [lg, ehpe]) expect(await estimator.estimateHands(ends)).toHaveLength(1);
    ends.dispose();
  });

  it('takes any size: 1 × 1, thin strips (1 × 20000, 20000 × 1) and 3000 × 4000, keypoints finite in the image frame', async () => {
    for (const [height, width] of [
      [1, 1],
      [1, 500],
      [1, 20000],
      [20000, 1],
      [3000, 4000],
    ]) {
      const image = tf.fill([height, width, 3], 128, 'int32') as tf.Tensor3D;
      for (const estimator of [lg, ehpe]) {
        const before = tf.memory().numTensors;
        const [hand] = await estimator.estimateHands(image);
        expect(tf.memory().numTensors).toBe(before);
        const side = Math.max(height, width);
        // Within the padded square the image sits in, centred.
        for (const { x, y } of hand.keypoints) {
          expect(Number.isFinite(x) && Number.isFinite(y), `${height} × ${width}`).toBe(true);
          expect(Math.abs(x - (width - 1) / 2)).toBeLessThanOrEqual(side);
          expect(Math.abs(y - (height - 1) / 2)).toBeLessThanOrEqual(side);
        }
        expect(hand.keypoints3D.every((k) => Number.isFinite(k.x + k.y + k.z))).toBe(true);
        expect(Number.isFinite(hand.score)).toBe(true);
      }
      image.dispose();
    }
  });
});

describe('estimateHands: a model that outputs NaN or ±Infinity', () => {
  it('is a PhalanxModelOutputError naming the output, not an error of liftToMetres; nothing leaks', async () => {
    for (const name of ['learnable-groups', 'ehpe'] as const) {
      // Every kernel 1e30 (activations overflow) or NaN, as a weights.bin of such values gives. (The selector's
      // temperature, checked when the model is built, stays.)
      for (const value of [1e30, NaN]) {
        const model = await loadHandPoseModel(name);
        const broken = model
          .getWeights()
          .map((w, i) =>
            model.weights[i].originalName.endsWith('kernel') ? tf.fill(w.shape, value, w.dtype) : tf.clone(w),
          );
        model.setWeights(broken);
        tf.dispose(broken);
        const estimator = estimatorFromModel(name, model);
        const image = handImage(4, estimator.inputSize);
        const before = tf.memory().numTensors;
        const error = await estimator.estimateHands(image).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error, `${name}, weights ${value}`).toBeInstanceOf(PhalanxModelOutputError);
        expect((error as Error).name).toBe('PhalanxModelOutputError');
        expect((error as Error).message).toMatch(
          /^estimateHands: the model produced non-finite (keypoints \(\w+ (x|y|depth): (NaN|-?Infinity)\)|score \((NaN|-?Infinity)\)) for a valid image; its weights are broken\.$/,
        );
        expect(tf.memory().numTensors).toBe(before);
        image.dispose();
        estimator.dispose();
      }
    }
  });
});

describe('estimateHands: pixel data and config', () => {
  it('rejects pixel data that does not match its size, and objects that are not images, by name', async () => {
    const cases: [unknown, RegExp, typeof PhalanxConfigError | typeof PhalanxShapeError][] = [
      [
        { data: new Uint8Array(4), width: 8, height: 8 },
        /image.data must be 8 × 8 × 4 = 256 RGBA bytes, but received 4/,
        PhalanxShapeError,
      ],
      [{ data: new Uint8Array(400), width: 2.5, height: 8 }, /width and height integers ≥ 1/, PhalanxShapeError],
      [{ data: new Uint8Array(4), width: 1e6, height: 1e6 }, /RGBA bytes, but received 4/, PhalanxShapeError],
      [{ width: 4, height: 4 }, /image must be a tf.Tensor3D/, PhalanxConfigError],
      [{ data: [1, 2, 3, 4], width: 1, height: 1 }, /image must be a tf.Tensor3D/, PhalanxConfigError],
      [{ data: new Uint8Array(4), width: '1', height: 1 }, /image must be a tf.Tensor3D/, PhalanxConfigError],
    ];
    for (const [image, message, type] of cases) {
      const before = tf.memory().numTensors;
      await expect(lg.estimateHands(image as tf.Tensor3D)).rejects.toThrow(type);
      await expect(lg.estimateHands(image as tf.Tensor3D)).rejects.toThrow(message);
      expect(tf.memory().numTensors).toBe(before);
    }
  });

  it('refuses a config that is not an object or a flipHorizontal that is not a boolean, by name', async () => {
    const image = tf.zeros([8, 8, 3], 'int32') as tf.Tensor3D;
    const before = tf.memory().numTensors;
    const cases: [unknown, RegExp][] = [
      [null, /^estimateHands: config must be an object \{flipHorizontal\?, rotations\?\}, but received null\.$/],
      ['flip', /config must be an object/],
      [{ flipHorizontal: 'yes' }, /^estimateHands: config.flipHorizontal must be a boolean, but received 'yes'\.$/],
      [{ flipHorizontal: 1 }, /flipHorizontal must be a boolean/],
      [
        { flip: true },
        /^estimateHands: config.flip must be an option \(one of flipHorizontal, rotations\), but received true\.$/,
      ],
    ];
    for (const [config, message] of cases) {
      await expect(lg.estimateHands(image, config as EstimationConfig)).rejects.toThrow(PhalanxConfigError);
      await expect(lg.estimateHands(image, config as EstimationConfig)).rejects.toThrow(message);
    }
    expect(tf.memory().numTensors).toBe(before);
    image.dispose();
  });

  it('reads pixel data ({data: RGBA, width, height}) like a browser image', async () => {
    const sample = renderSyntheticHand(8, { size: 64 });
    const rgba = new Uint8Array(64 * 64 * 4);
    for (let i = 0; i < 64 * 64; i++) {
      rgba.set(sample.image.subarray(3 * i, 3 * i + 3), 4 * i);
      rgba[4 * i + 3] = 255;
    }
    const tensor = tf.tensor3d(Int32Array.from(sample.image), [64, 64, 3], 'int32');
    const [a] = await lg.estimateHands({ data: rgba, width: 64, height: 64 });
    const [b] = await lg.estimateHands(tensor);
    tensor.dispose();
    expect(maxDiff(xy(a), xy(b))).toBe(0);
  });
});

describe('the README example', () => {
  it('runs as written, with a synthetic hand as `image`', async () => {
    const { readFile } = await import('node:fs/promises');
    const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Estimate a hand pose'));
    const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
    expect(code).toMatch(/^import \{ loadHandPoseEstimator \} from '@phalanx\/pretrained';\n/);
    // The import line is what the body is given; the rest is plain JavaScript, run as it stands.
    const body = code.replace(/^import .*\n/, '');
    expect(body.trim().split('\n')).toHaveLength(4);
    const logged: unknown[][] = [];
    const run = new Function('loadHandPoseEstimator', 'image', 'console', `return (async () => {\n${body}\n})();`) as (
      load: typeof loadHandPoseEstimator,
      image: tf.Tensor3D,
      console: { log: (...args: unknown[]) => void },
    ) => Promise<void>;
    const image = handImage(2, 96);
    const before = tf.memory().numTensors;
    await run(loadHandPoseEstimator, image, { log: (...args) => logged.push(args) });
    expect(tf.memory().numTensors).toBe(before);
    image.dispose();
    const [keypoint, keypoint3D, score] = logged[0] as [{ name: string }, { name: string; z: number }, number];
    expect(keypoint.name).toBe('index_tip');
    expect(keypoint3D.name).toBe('index_tip');
    expect(score).toBeGreaterThan(0);
  });
});
