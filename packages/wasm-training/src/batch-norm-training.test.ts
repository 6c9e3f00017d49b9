import * as tf from '@tensorflow/tfjs-core';
import '@phalanx/testing';
import { expectClose, useBackend } from '@phalanx/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { PhalanxConfigError } from '@phalanx/errors';
import {
  BATCH_NORM_TRAINING_GRAD_KERNEL,
  BATCH_NORM_TRAINING_KERNEL,
  BATCH_NORM_TRAINING_KERNELS,
  MOVING_AVERAGES_KERNEL,
} from './batch-norm-training';
import { WASM } from './kernel-scope';
import { setSimdKernelsEnabled } from './simd';
import { seeded } from './test-utils';
import './register';

const EPSILON = 1e-3;

interface Case {
  shape: number[];
  x: Float32Array;
  gamma: Float32Array;
  beta: Float32Array;
  dy: Float32Array;
}

/** Inputs for `shape` (channels last): x with a per-channel offset so the centring matters. */
function makeCase(shape: number[], seed: number): Case {
  const channels = shape[shape.length - 1];
  const size = shape.reduce((a, b) => a * b, 1);
  const x = seeded(size, seed).map((v, i) => 3 * v + (i % channels) - channels / 2);
  const gamma = seeded(channels, seed + 1).map((v) => 1 + 0.5 * v);
  return { shape, x, gamma, beta: seeded(channels, seed + 2), dy: seeded(size, seed + 3) };
}

/** The fused kernels on wasm: y, mean, variance, dx, dGamma, dBeta as host arrays; checks for leaks. */
function fused(c: Case): Float32Array[] {
  const tensorsBefore = tf.memory().numTensors;
  const idsBefore = tf.backend().numDataIds();
  const channels = c.shape[c.shape.length - 1];
  const x = tf.tensor(c.x, c.shape);
  const gamma = tf.tensor(c.gamma, [channels]);
  const beta = tf.tensor(c.beta, [channels]);
  const dy = tf.tensor(c.dy, c.shape);
  const engine = tf.engine();
  const forward = engine.runKernel(BATCH_NORM_TRAINING_KERNEL, { x, gamma, beta }, { epsilon: EPSILON }) as tf.Tensor[];
  const [, mean, variance] = forward;
  const backward = engine.runKernel(
    BATCH_NORM_TRAINING_GRAD_KERNEL,
    { dy, x, mean, variance, gamma },
    { epsilon: EPSILON },
  ) as tf.Tensor[];
  expect(forward.map((t) => t.shape)).toEqual([c.shape, [channels], [channels]]);
  expect(backward.map((t) => t.shape)).toEqual([c.shape, [channels], [channels]]);
  const out = [...forward, ...backward].map((t) => Float32Array.from(t.dataSync()));
  tf.dispose([x, gamma, beta, dy, ...forward, ...backward]);
  expect(tf.memory().numTensors, 'engine tensors left').toBe(tensorsBefore);
  expect(tf.backend().numDataIds(), 'wasm buffers left').toBe(idsBefore);
  return out;
}

/** The same six values from tfjs ops on cpu: tf.moments + tf.batchNorm, gradients by tfjs's tape. */
function composed(c: Case): Float32Array[] {
  const channels = c.shape[c.shape.length - 1];
  const axes = c.shape.slice(0, -1).map((_, i) => i);
  return tf.tidy(() => {
    const x = tf.tensor(c.x, c.shape);
    const gamma = tf.tensor(c.gamma, [channels]);
    const beta = tf.tensor(c.beta, [channels]);
    const dy = tf.tensor(c.dy, c.shape);
    const forward = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const { mean, variance } = tf.moments(a, axes);
      return { y: tf.batchNorm(a, mean, variance, b, g, EPSILON), mean, variance };
    };
    const { y, mean, variance } = forward(x, gamma, beta);
    const grads = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(forward(a, g, b).y, dy)))([
      x,
      gamma,
      beta,
    ]);
    return [y, mean, variance, ...grads].map((t) => Float32Array.from(t.dataSync()));
  });
}

/** ∂/∂x of L = Σ y·dy in float64 by central differences of the batch-norm formula (independent truth). */
function numericDx(c: Case): Float64Array {
  const channels = c.shape[c.shape.length - 1];
  const rows = c.x.length / channels;
  const loss = (x: Float64Array): number => {
    let total = 0;
    for (let ch = 0; ch < channels; ch++) {
      let m = 0;
      for (let r = 0; r < rows; r++) m += x[r * channels + ch];
      m /= rows;
      let v = 0;
      for (let r = 0; r < rows; r++) v += (x[r * channels + ch] - m) ** 2;
      v /= rows;
      const scale = c.gamma[ch] / Math.sqrt(v + EPSILON);
      for (let r = 0; r < rows; r++) {
        const i = r * channels + ch;
        total += ((x[i] - m) * scale + c.beta[ch]) * c.dy[i];
      }
    }
    return total;
  };
  const x = Float64Array.from(c.x);
  const dx = new Float64Array(x.length);
  const h = 1e-4;
  for (let i = 0; i < x.length; i++) {
    const keep = x[i];
    x[i] = keep + h;
    const up = loss(x);
    x[i] = keep - h;
    const down = loss(x);
    x[i] = keep;
    dx[i] = (up - down) / (2 * h);
  }
  return dx;
}

const LABELS = ['y', 'mean', 'variance', 'dx', 'dGamma', 'dBeta'];
const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);

/** Fused (wasm) against composed (cpu) for one shape. */
async function expectParity(shape: number[], seed: number): Promise<void> {
  const c = makeCase(shape, seed);
  await useBackend('cpu');
  const expected = composed(c);
  await useBackend(WASM);
  const actual = fused(c);
  actual.forEach((values, i) => {
    const scale = Math.max(1, maxAbs(expected[i]));
    expectClose(values, expected[i], { rtol: 1e-4, atol: 2e-5 * scale }, `${LABELS[i]} of [${shape}]`);
  });
}

const SHAPES: number[][] = [
  [2, 4, 4, 8],
  [3, 5, 7, 13], // C not a multiple of 4, odd
  [1, 1, 1, 6], // N·H·W = 1: variance 0
  [2, 3, 3, 3],
  [16, 5, 6, 128],
  [40, 1],
  [7, 9, 21], // rank 3
];

describe('fused batch-norm training kernels on wasm', () => {
  afterEach(() => setSimdKernelsEnabled(true));

  it('are registered for wasm', () => {
    for (const config of BATCH_NORM_TRAINING_KERNELS) expect(tf.getKernel(config.kernelName, WASM)).toBe(config);
  });

  it("equal tf.moments + tf.batchNorm and tfjs's gradients on cpu (SIMD)", async () => {
    for (const [i, shape] of SHAPES.entries()) await expectParity(shape, 10 * i + 1);
  });

  it('equal them with the SIMD kernels turned off (plain JavaScript route)', async () => {
    setSimdKernelsEnabled(false);
    for (const [i, shape] of SHAPES.entries()) await expectParity(shape, 10 * i + 5);
  });

  it('give cpu’s zeros for the statistics and weight gradients of an empty batch (SIMD and JavaScript)', async () => {
    // The kernels returned the [C] outputs unwritten when x had no rows: whatever the memory held.
    for (const simd of [true, false]) {
      setSimdKernelsEnabled(simd);
      for (const [i, shape] of [
        [0, 5],
        [2, 0, 3, 6],
        [0, 4, 4, 9],
      ].entries()) {
        const c = makeCase(shape, 90 + i);
        const channels = shape[shape.length - 1];
        await useBackend('cpu');
        const stats = tf.tidy(() => {
          const { mean, variance } = tf.moments(tf.tensor(c.x, shape), [...shape.keys()].slice(0, -1));
          return [mean, variance].map((t) => Array.from(t.dataSync()));
        });
        await useBackend(WASM);
        tf.dispose(tf.fill([64], 7)); // a freed buffer of 7s, so that unwritten outputs show
        const [y, mean, variance, dx, dGamma, dBeta] = fused(c).map((t) => Array.from(t));
        expect([y, dx], `[${shape}] simd ${simd}`).toEqual([[], []]);
        expect([mean, variance], `[${shape}] simd ${simd}`).toEqual(stats);
        const zeros = new Array<number>(channels).fill(0);
        expect([mean, variance, dGamma, dBeta], `[${shape}] simd ${simd}`).toEqual([zeros, zeros, zeros, zeros]);
      }
    }
  });

  it('give the numeric gradient ∂x of Σ y·dy (float64 central differences)', async () => {
    await useBackend(WASM);
    for (const shape of [
      [2, 3, 3, 5],
      [4, 2, 8],
    ]) {
      const c = makeCase(shape, 77);
      const expected = numericDx(c);
      const dx = fused(c)[3];
      expectClose(dx, expected, { rtol: 1e-3, atol: 1e-4 * Math.max(1, maxAbs(expected)) }, `∂x of [${shape}]`);
    }
  });

  it('reject mismatched shapes and dtypes with a named error', async () => {
    await useBackend(WASM);
    const x = tf.zeros([2, 3, 4]);
    const run = (gamma: tf.Tensor, beta: tf.Tensor) => () =>
      tf.engine().runKernel(BATCH_NORM_TRAINING_KERNEL, { x, gamma, beta }, { epsilon: EPSILON });
    const g3 = tf.ones([3]);
    const g4 = tf.ones([4]);
    const gi = tf.ones([4], 'int32');
    expect(run(g3, g4)).toThrow(/gamma must be of shape \[4\]/);
    expect(run(g4, gi)).toThrow(/beta must be float32/);
    tf.dispose([x, g3, g4, gi]);
  });

  it('name an epsilon or a decay they cannot use instead of returning NaN', async () => {
    await useBackend(WASM);
    const x = tf.ones([2, 3]);
    const c = tf.ones([3]);
    const engine = tf.engine();
    const calls: Array<[string, () => unknown, RegExp]> = [];
    for (const epsilon of ['x', Number.NaN, -1, Infinity]) {
      calls.push([
        `forward epsilon ${String(epsilon)}`,
        () => engine.runKernel(BATCH_NORM_TRAINING_KERNEL, { x, gamma: c, beta: c }, { epsilon } as tf.NamedAttrMap),
        /PhalanxBatchNormTraining: epsilon must be a finite number ≥ 0/,
      ]);
      calls.push([
        `backward epsilon ${String(epsilon)}`,
        () =>
          engine.runKernel(BATCH_NORM_TRAINING_GRAD_KERNEL, { dy: x, x, mean: c, variance: c, gamma: c }, {
            epsilon,
          } as tf.NamedAttrMap),
        /PhalanxBatchNormTrainingGrad: epsilon must be a finite number ≥ 0/,
      ]);
    }
    for (const decay of [undefined, Number.NaN, -0.5, 2, '0.1']) {
      calls.push([
        `decay ${String(decay)}`,
        () =>
          engine.runKernel(MOVING_AVERAGES_KERNEL, { movingMean: c, movingVariance: c, mean: c, variance: c }, {
            decay,
          } as tf.NamedAttrMap),
        /PhalanxMovingAverages: decay must be a number in \[0, 1\]/,
      ]);
    }
    for (const [what, call, message] of calls) {
      const tensors = tf.memory().numTensors;
      const buffers = tf.backend().numDataIds();
      let caught: unknown;
      try {
        call();
      } catch (error) {
        caught = error;
      }
      expect(caught, what).toBeInstanceOf(PhalanxConfigError);
      expect((caught as Error).message, what).toMatch(message);
      expect(tf.memory().numTensors, what).toBe(tensors);
      expect(tf.backend().numDataIds(), what).toBe(buffers);
    }
    tf.dispose([x, c]);
  });
});
