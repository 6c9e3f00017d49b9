import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@phalanx/testing';
import { expectClose, expectNoTensorLeak } from '@phalanx/testing';
import { PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels } from './register';
import { seeded } from './test-utils';

/** A small model with every layer kind whose gradient needed a wasm kernel. */
function buildModel(): tfl.LayersModel {
  const m = tfl.sequential();
  m.add(tfl.layers.conv2d({ inputShape: [12, 12, 3], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }));
  m.add(tfl.layers.batchNormalization());
  m.add(tfl.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'relu' }));
  m.add(tfl.layers.separableConv2d({ filters: 6, kernelSize: 3, padding: 'same' }));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tfl.layers.conv2dTranspose({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }));
  m.add(tfl.layers.averagePooling2d({ poolSize: 2 }));
  m.add(tfl.layers.upSampling2d({ size: [2, 2] }));
  m.add(tfl.layers.conv2d({ filters: 3, kernelSize: 3, strides: 2, padding: 'valid' }));
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: 2 }));
  return m;
}

/** Deterministic weights (the same on every backend); positive variance for batch norm. */
function setWeights(model: tfl.LayersModel): void {
  const values = model.weights.map((w, i) => {
    const shape = w.shape as number[];
    const v = seeded(
      shape.reduce((a, b) => a * b, 1),
      40 + i,
    );
    const positive = /gamma|moving_variance/.test(w.name);
    const scale = /bias|beta|moving_mean/.test(w.name) ? 0.1 : 0.4;
    return tf.tensor(
      v.map((x) => (positive ? 1 + 0.2 * x : scale * x)),
      shape,
    );
  });
  model.setWeights(values);
  tf.dispose(values);
}

async function lossCurve(backend: 'cpu' | 'wasm'): Promise<number[]> {
  await tf.setBackend(backend);
  const model = buildModel();
  setWeights(model);
  model.compile({ optimizer: tf.train.sgd(0.05), loss: 'meanSquaredError' });
  const x = tf.tensor(seeded(4 * 12 * 12 * 3, 7), [4, 12, 12, 3]);
  const y = tf.tensor(seeded(4 * 2, 8), [4, 2]);
  // Batch size 1: tfjs's cpu ResizeNearestNeighborGrad (upSampling2d's gradient) is wrong for
  // N > 1 (see gradient-coverage.test.ts), so larger batches would make the cpu curve the wrong one.
  const history = await model.fit(x, y, { epochs: 4, batchSize: 1, shuffle: false, verbose: 0 });
  // One more step to check that a training step leaves no tensor behind on this backend.
  await expectNoTensorLeak(() => model.trainOnBatch(x, y), `trainOnBatch on ${backend}`);
  tf.dispose([x, y]);
  model.dispose();
  return history.history.loss as number[];
}

describe('a conv model trains with model.fit on wasm exactly as on cpu', () => {
  it('same loss per epoch (conv, batch norm, depthwise, separable, pooling, upsampling, transposed conv, dense)', async () => {
    registerWasmTrainingKernels();
    const cpu = await lossCurve('cpu');
    const wasm = await lossCurve('wasm');
    expect(cpu.length).toBe(4);
    expect(cpu[3]).toBeLessThan(cpu[0]); // it does learn
    expectClose(wasm, cpu, { rtol: 1e-4, atol: 1e-6 }, 'loss per epoch');
  });
});

describe('UnsortedSegmentSum on wasm', () => {
  it('drops negative and out-of-range ids like TensorFlow, float32 and int32', async () => {
    registerWasmTrainingKernels();
    const run = async (backend: 'cpu' | 'wasm') => {
      await tf.setBackend(backend);
      return tf.tidy(() => {
        const x = tf.tensor(seeded(6 * 4, 3), [6, 4]);
        const ids = tf.tensor1d([0, -1, 2, 5, 2, 1], 'int32');
        const xi = tf.tensor1d([1, 2, 3, 4, 5], 'int32');
        const idsi = tf.tensor1d([3, 3, -2, 0, 9], 'int32');
        return [
          Array.from(tf.unsortedSegmentSum(x, ids, 4).dataSync()),
          Array.from(tf.unsortedSegmentSum(xi, idsi, 4).dataSync()),
          tf.unsortedSegmentSum(xi, idsi, 4).dtype,
        ] as const;
      });
    };
    const cpu = await run('cpu');
    const wasm = await run('wasm');
    expectClose(wasm[0], cpu[0], { rtol: 1e-6, atol: 1e-6 }, 'float32 rows');
    expect(wasm[1]).toEqual([4, 0, 0, 3]);
    expect(wasm[1]).toEqual(cpu[1]);
    expect(wasm[2]).toBe('int32');
  });

  it('names a fractional or negative numSegments, ids that do not begin x and ids that are not int32', async () => {
    registerWasmTrainingKernels();
    await tf.setBackend('wasm');
    const x = tf.ones([3, 2]);
    const ids = tf.tensor1d([0, 1, 1], 'int32');
    const cases: Array<[tf.Tensor, number, typeof PhalanxConfigError | typeof PhalanxShapeError, RegExp]> = [
      [ids, 1.5, PhalanxConfigError, /UnsortedSegmentSum: numSegments must be an integer ≥ 0, but received 1.5/],
      [ids, -1, PhalanxConfigError, /numSegments must be an integer ≥ 0, but received -1/],
      [tf.tensor1d([0, 1], 'int32'), 2, PhalanxShapeError, /segmentIds must be of a shape that begins x's \[3, 2\]/],
      [tf.tensor1d([0.5, 1.7, 1]), 2, PhalanxShapeError, /segmentIds must be int32, but received 'float32'/],
    ];
    for (const [segmentIds, numSegments, errorClass, message] of cases) {
      const before = tf.memory().numTensors;
      const buffers = tf.backend().numDataIds();
      let caught: unknown;
      try {
        tf.engine().runKernel(tf.UnsortedSegmentSum, { x, segmentIds }, { numSegments });
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(errorClass);
      expect((caught as Error).message).toMatch(message);
      expect(tf.memory().numTensors).toBe(before);
      expect(tf.backend().numDataIds()).toBe(buffers);
    }
    tf.dispose([x, ids, ...cases.map((c) => c[0])]);
  });
});
