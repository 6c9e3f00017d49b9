import * as tf from '@tensorflow/tfjs-core';
import '@phalanx/testing';
import { useBackend } from '@phalanx/testing';
import { FUSED_MOVING_AVERAGES_KERNEL, updatedMovingAverages } from '@phalanx/layers';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { MOVING_AVERAGES_KERNEL } from './batch-norm-training';
import { WASM } from './kernel-scope';
import { registerWasmTrainingKernels, unregisterWasmTrainingKernels } from './register';

/** Float32 values from tiny to large magnitudes, both signs (no NaN/∞: moving statistics are finite). */
const float32 = fc.float({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 });

/** The bits of a tensor's values. */
function bits(t: tf.Tensor): number[] {
  return Array.from(new Uint32Array(Float32Array.from(t.dataSync() as Float32Array).buffer));
}

/** What tfjs-layers runs: `m − (m − μ)·decay` as three wasm kernels. */
function stockUpdate(m: tf.Tensor, value: tf.Tensor, decay: number): tf.Tensor {
  return tf.tidy(() => tf.sub(m, tf.mul(tf.sub(m, value), decay)));
}

describe('the fused moving-average kernel on wasm', () => {
  beforeAll(async () => {
    await useBackend(WASM);
  });

  it('is the name @phalanx/layers looks for, and is registered', () => {
    expect(MOVING_AVERAGES_KERNEL).toBe(FUSED_MOVING_AVERAGES_KERNEL);
    expect(tf.getKernel(MOVING_AVERAGES_KERNEL, WASM)).toBeDefined();
  });

  it('is bitwise the Sub, Multiply, Sub kernels it replaces, and leaves nothing behind', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 70 }).chain((c) =>
          fc.record({
            values: fc.array(fc.tuple(float32, float32, float32, float32), { minLength: c, maxLength: c }),
            decay: fc.double({ min: 1e-4, max: 1, noNaN: true }),
          }),
        ),
        ({ values, decay }) => {
          const [m, v, mu, sigma2] = [0, 1, 2, 3].map((k) => tf.tensor1d(values.map((row) => row[k])));
          const before = tf.memory().numTensors;
          const [m2, v2] = updatedMovingAverages(m, v, mu, sigma2, decay);
          expect(tf.memory().numTensors).toBe(before + 2);
          const expected = [stockUpdate(m, mu, decay), stockUpdate(v, sigma2, decay)];
          expect(bits(m2)).toEqual(bits(expected[0]));
          expect(bits(v2)).toEqual(bits(expected[1]));
          tf.dispose([m, v, mu, sigma2, m2, v2, ...expected]);
        },
      ),
      { numRuns: 200, seed: 3 },
    );
  });

  it('is what updatedMovingAverages runs on wasm (unregistered, the composed ops give the same bits)', () => {
    const inputs = [tf.tensor1d([0.1, -3, 7]), tf.tensor1d([1, 2, 3]), tf.tensor1d([5, 5, -5]), tf.tensor1d([9, 0, 4])];
    const fused = updatedMovingAverages(inputs[0], inputs[1], inputs[2], inputs[3], 0.1);
    unregisterWasmTrainingKernels();
    try {
      expect(tf.getKernel(FUSED_MOVING_AVERAGES_KERNEL, WASM)).toBeUndefined();
      const composed = updatedMovingAverages(inputs[0], inputs[1], inputs[2], inputs[3], 0.1);
      expect(composed.map(bits)).toEqual(fused.map(bits));
      tf.dispose(composed);
    } finally {
      registerWasmTrainingKernels();
    }
    tf.dispose([...inputs, ...fused]);
  });

  it('rejects statistics of different lengths with a named error', () => {
    const [a, b] = [tf.zeros([3]), tf.zeros([4])];
    expect(() =>
      tf
        .engine()
        .runKernel(MOVING_AVERAGES_KERNEL, { movingMean: a, movingVariance: a, mean: b, variance: a }, { decay: 0.1 }),
    ).toThrow(/PhalanxMovingAverages.*mean/);
    tf.dispose([a, b]);
  });
});
