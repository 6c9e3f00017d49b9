import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { useBackend } from '@phalanx/testing';
import fc from 'fast-check';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WASM } from './kernel-scope';
import { setSimdKernelsEnabled, simdKernelThreads } from './simd';
import { sameBits, seeded } from './test-utils';
import {
  disableWinogradConvolution,
  enableWinogradConvolution,
  isWinogradConvolutionEnabled,
  WINOGRAD_MIN_FORWARD_MACS_THREADED,
} from './winograd-convolution';
import './register';

beforeAll(async () => {
  await useBackend(WASM);
});

afterEach(() => {
  disableWinogradConvolution();
  setSimdKernelsEnabled(true);
});

/** One fused convolution: geometry, channels, bias, activation and seeds. */
interface ConvCase {
  n: number;
  h: number;
  w: number;
  c: number;
  k: number;
  pad: 'same' | 'valid' | tf.backend_util.ExplicitPadding;
  stride: number;
  bias: boolean;
  activation: 'linear' | 'relu' | 'elu';
  seed: number;
}

const convCase: fc.Arbitrary<ConvCase> = fc
  .record({
    n: fc.integer({ min: 1, max: 3 }),
    h: fc.integer({ min: 1, max: 11 }),
    w: fc.integer({ min: 1, max: 11 }),
    c: fc.constantFrom(3, 8, 17, 32, 33, 48),
    k: fc.constantFrom(4, 21, 32, 36, 64),
    pad: fc.oneof(
      fc.constantFrom<'same' | 'valid'>('same', 'valid'),
      fc.tuple(fc.nat(2), fc.nat(2), fc.nat(2), fc.nat(2)).map(([t, b, l, r]): tf.backend_util.ExplicitPadding => [
        [0, 0],
        [t, b],
        [l, r],
        [0, 0],
      ]),
    ),
    stride: fc.constantFrom(1, 1, 1, 2),
    bias: fc.boolean(),
    activation: fc.constantFrom<'linear' | 'relu' | 'elu'>('linear', 'relu', 'relu', 'elu'),
    seed: fc.integer({ min: 1, max: 10_000 }),
  })
  .filter(({ h, w, pad }) => {
    const [top, bottom, left, right] =
      pad === 'valid' ? [0, 0, 0, 0] : pad === 'same' ? [1, 1, 1, 1] : pad.flat().slice(2, 6);
    return h + top + bottom >= 3 && w + left + right >= 3;
  });

/** The fused convolution of a case on the current backend, as host values. */
function fusedConv(p: ConvCase): { shape: number[]; values: Float32Array } {
  return tf.tidy(() => {
    const x = tf.tensor4d(seeded(p.n * p.h * p.w * p.c, p.seed), [p.n, p.h, p.w, p.c]);
    const filter = tf.tensor4d(seeded(9 * p.c * p.k, p.seed + 1), [3, 3, p.c, p.k]);
    const bias = p.bias ? tf.tensor1d(seeded(p.k, p.seed + 2)) : undefined;
    const y = tf.fused.conv2d({ x, filter, bias, strides: p.stride, pad: p.pad, activation: p.activation });
    return { shape: y.shape, values: y.dataSync() as Float32Array };
  });
}

/** The same case on the cpu backend (the independent reference). */
async function onCpu(p: ConvCase): Promise<{ shape: number[]; values: Float32Array }> {
  await tf.setBackend('cpu');
  try {
    return fusedConv(p);
  } finally {
    await tf.setBackend(WASM);
  }
}

/** Largest |a − b| relative to the largest |b| (1 when b is all zero). */
function relativeError(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / Math.max(scale, 1);
}

describe('enableWinogradConvolution (wasm)', () => {
  it('matches the cpu backend on random convolutions: pads, strides, odd channels, bias, activations', async () => {
    enableWinogradConvolution();
    await fc.assert(
      fc.asyncProperty(convCase, async (p) => {
        const expected = await onCpu(p);
        const tensorsBefore = tf.memory().numTensors;
        const buffersBefore = tf.backend().numDataIds();
        const actual = fusedConv(p);
        expect(actual.shape).toEqual(expected.shape);
        expect(relativeError(actual.values, expected.values)).toBeLessThan(5e-5);
        expect(tf.memory().numTensors).toBe(tensorsBefore);
        expect(tf.backend().numDataIds()).toBe(buffersBefore);
      }),
      { numRuns: 60 },
    );
  });

  it('takes the Winograd route: last-bit differences from XNNPACK, within 5e-5 of the cpu backend', async () => {
    // On a threaded pool only convolutions of ≥ WINOGRAD_MIN_FORWARD_MACS_THREADED multiply-adds take it.
    const threaded = simdKernelThreads(tf.backend()) > 1;
    const side = threaded ? Math.ceil(Math.sqrt(WINOGRAD_MIN_FORWARD_MACS_THREADED / (9 * 64 * 64))) : 12;
    const p: ConvCase = {
      n: 1,
      h: side,
      w: side,
      c: 64,
      k: 64,
      pad: 'same',
      stride: 1,
      bias: true,
      activation: 'relu',
      seed: 3,
    };
    const stock = fusedConv(p);
    enableWinogradConvolution();
    const winograd = fusedConv(p);
    expect(sameBits(winograd.values, stock.values), 'a different summation order').toBe(false);
    expect(relativeError(winograd.values, (await onCpu(p)).values)).toBeLessThan(5e-5);
  });

  it('leaves what it does not handle to XNNPACK bit for bit: stride 2, 3 channels, ELU, no SIMD module', () => {
    const base: ConvCase = {
      n: 2,
      h: 9,
      w: 9,
      c: 32,
      k: 32,
      pad: 'same',
      stride: 1,
      bias: true,
      activation: 'relu',
      seed: 9,
    };
    const cases: ConvCase[] = [
      { ...base, stride: 2 },
      { ...base, c: 3 },
      { ...base, activation: 'elu' },
    ];
    const stock = cases.map(fusedConv);
    setSimdKernelsEnabled(false);
    const stockNoSimd = fusedConv(base);
    enableWinogradConvolution();
    cases.forEach((p, i) => expect(sameBits(fusedConv(p).values, stock[i].values), JSON.stringify(p)).toBe(true));
    expect(sameBits(fusedConv(base).values, stockNoSimd.values), 'without the SIMD module').toBe(true);
  });

  it('plain conv2d takes it too; gradients are the unchanged kernels', async () => {
    const x = tf.tensor4d(seeded(2 * 10 * 10 * 32, 4), [2, 10, 10, 32]);
    const filter = tf.tensor4d(seeded(9 * 32 * 32, 5), [3, 3, 32, 32]);
    const f = (input: tf.Tensor, kernel: tf.Tensor) =>
      tf.sum(tf.square(tf.conv2d(input as tf.Tensor4D, kernel as tf.Tensor4D, 1, 'same')));
    const grads = () =>
      tf
        .grads(f)([x, filter])
        .map((g) => g.dataSync() as Float32Array);
    const stock = grads();
    enableWinogradConvolution();
    const winograd = grads();
    for (let i = 0; i < 2; i++) expect(relativeError(winograd[i], stock[i])).toBeLessThan(5e-5);
    tf.dispose([x, filter]);
  });

  it('is an explicit opt-in that disable undoes; enabling twice is harmless', () => {
    const stockConv = tf.getKernel(tf.Conv2D, WASM);
    const stockFused = tf.getKernel(tf.FusedConv2D, WASM);
    expect(isWinogradConvolutionEnabled()).toBe(false);
    enableWinogradConvolution();
    enableWinogradConvolution();
    expect(isWinogradConvolutionEnabled()).toBe(true);
    expect(tf.getKernel(tf.Conv2D, WASM)).not.toBe(stockConv);
    disableWinogradConvolution();
    expect(isWinogradConvolutionEnabled()).toBe(false);
    expect(tf.getKernel(tf.Conv2D, WASM)).toBe(stockConv);
    expect(tf.getKernel(tf.FusedConv2D, WASM)).toBe(stockFused);
    const p: ConvCase = {
      n: 1,
      h: 6,
      w: 6,
      c: 16,
      k: 16,
      pad: 'same',
      stride: 1,
      bias: false,
      activation: 'linear',
      seed: 2,
    };
    const before = fusedConv(p);
    enableWinogradConvolution();
    disableWinogradConvolution();
    expect(sameBits(fusedConv(p).values, before.values)).toBe(true);
  });
});
