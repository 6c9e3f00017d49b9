import * as tf from '@tensorflow/tfjs-core';
import '@phalanx/testing';
import { expectClose, useBackend } from '@phalanx/testing';
import fc from 'fast-check';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WASM } from './kernel-scope';
import { setSimdKernelsEnabled } from './simd';
import { requireStockKernel } from './stock-kernels';
import { mean, sum, TRANSPOSE_SUM_KERNELS } from './transpose-sum';
import { seeded } from './test-utils';
import './register';

type Reduction = typeof sum;

/**
 * Runs our wrapper and the backend's own kernel `name` on the same wasm input; returns both outputs as
 * host values and checks that neither leaves a buffer behind.
 */
async function oursAndStock(
  name: string,
  ours: Reduction,
  x: tf.Tensor,
  attrs: { axis: number[]; keepDims: boolean },
): Promise<{ ours: tf.Tensor; stock: tf.Tensor }> {
  const backend = tf.backend();
  const ids = backend.numDataIds();
  const run = (fn: (args: Parameters<Reduction>[0]) => tf.TensorInfo) => {
    const out = fn({ inputs: { x }, backend, attrs: attrs as unknown as tf.NamedAttrMap });
    const host = tf.tensor(backend.readSync(out.dataId) as Float32Array, out.shape, out.dtype);
    backend.disposeData(out.dataId);
    return host;
  };
  const result = {
    ours: run(ours),
    stock: run((args) => requireStockKernel(name).kernelFunc(args as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo),
  };
  expect(backend.numDataIds(), `${name}: wasm buffers left behind`).toBe(ids + 2);
  return result;
}

/** Random NHWC-like shapes (rank 2–4, some axes of size 1, any channel count) and axes to reduce. */
const reductionCase = fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 3 }).chain((leading) =>
  fc.record({
    shape: fc.constant(leading),
    channels: fc.integer({ min: 1, max: 70 }),
    keepDims: fc.boolean(),
    seed: fc.integer({ min: 1, max: 1000 }),
  }),
);

describe('per-channel Sum and Mean on wasm (SIMD column sums)', () => {
  beforeAll(async () => {
    await useBackend(WASM);
  });
  afterEach(() => setSimdKernelsEnabled(true));

  it('are the registered kernels', () => {
    const names = TRANSPOSE_SUM_KERNELS.map((k) => k.kernelName);
    expect(names).toEqual(expect.arrayContaining([tf.Sum, tf.Mean]));
    for (const config of TRANSPOSE_SUM_KERNELS) expect(tf.getKernel(config.kernelName, WASM)).toBe(config);
  });

  it('over every axis but the last equal the stock kernels (random shapes, odd C, N·H·W = 1, keepDims)', async () => {
    await fc.assert(
      fc.asyncProperty(reductionCase, async ({ shape: leading, channels, keepDims, seed }) => {
        const shape = [...leading, channels];
        const size = shape.reduce((a, b) => a * b, 1);
        const x = tf.tensor(seeded(size, seed), shape);
        const axis = leading.map((_, i) => i);
        for (const [name, ours] of [
          [tf.Sum, sum],
          [tf.Mean, mean],
        ] as const) {
          const r = await oursAndStock(name, ours, x, { axis, keepDims });
          expect(r.ours.shape, `${name} ${shape} shape`).toEqual(r.stock.shape);
          expect(r.ours.dtype).toBe('float32');
          expectClose(r.ours, r.stock, { rtol: 1e-5, atol: 1e-6 }, `${name} over ${axis} of [${shape}]`);
          tf.dispose([r.ours, r.stock]);
        }
        x.dispose();
      }),
      { numRuns: 25, seed: 7 },
    );
  });

  it('equal tf.sum / tf.mean on cpu through the engine, and other reductions fall through', async () => {
    const cases: Array<[number[], number[], boolean]> = [
      [[16, 16, 16, 128], [0, 1, 2], false],
      [[2, 3, 5, 7], [0, 1, 2], true],
      [[1, 1, 1, 6], [0, 1, 2], false], // N·H·W = 1
      [[4, 5, 6], [1], false], // [B, R, C] → [B, C]
      [[4, 5, 6], [2], true], // innermost: stock
      [[4, 5, 6], [0, 2], false], // not a leading run: stock
    ];
    for (const [shape, axes, keepDims] of cases) {
      const size = shape.reduce((a, b) => a * b, 1);
      const values = seeded(size, size);
      const results: Record<string, Float32Array[]> = {};
      for (const backend of ['cpu', WASM]) {
        await useBackend(backend);
        const before = tf.memory().numTensors;
        const x = tf.tensor(values, shape);
        const outs = [tf.sum(x, axes, keepDims), tf.mean(x, axes, keepDims)];
        expect(outs.map((t) => t.shape)).toEqual([0, 1].map(() => outs[0].shape));
        results[backend] = outs.map((t) => t.dataSync() as Float32Array);
        tf.dispose([x, ...outs]);
        expect(tf.memory().numTensors).toBe(before);
      }
      expectClose(results[WASM][0], results.cpu[0], { rtol: 1e-5, atol: 1e-4 }, `sum [${shape}] ${axes}`);
      expectClose(results[WASM][1], results.cpu[1], { rtol: 1e-5, atol: 1e-6 }, `mean [${shape}] ${axes}`);
    }
  });

  it('over no values are zeros, as on cpu, on every route and dtype (the stock kernels left memory unwritten)', async () => {
    const cases: Array<[number[], number[], boolean]> = [
      [[0, 3], [0], false], // column sums of no rows
      [[2, 0, 3], [0, 1], true],
      [[3, 0], [1], false], // innermost: stock
      [[3, 0, 2], [1, 2], false],
      [[0], [0], true],
      [[2, 0, 4], [1], false], // [B, R, C] → [B, C]
    ];
    for (const simd of [true, false]) {
      setSimdKernelsEnabled(simd);
      for (const dtype of ['float32', 'int32'] as const) {
        for (const [shape, axes, keepDims] of cases) {
          const results: Record<string, Array<{ shape: number[]; dtype: string; data: number[] }>> = {};
          for (const backend of ['cpu', WASM]) {
            await useBackend(backend);
            // A freed buffer of 7s, so that an unwritten output shows.
            tf.dispose(tf.fill([64], 7));
            const before = tf.memory().numTensors;
            const x = tf.zeros(shape, dtype);
            const outs = [tf.sum(x, axes, keepDims), tf.mean(x, axes, keepDims)];
            results[backend] = outs.map((t) => ({ shape: t.shape, dtype: t.dtype, data: Array.from(t.dataSync()) }));
            tf.dispose([x, ...outs]);
            expect(tf.memory().numTensors).toBe(before);
          }
          expect(results[WASM], `${dtype} [${shape}] over ${axes} (simd ${simd})`).toEqual(results.cpu);
        }
      }
    }
  });

  it('int32 and SIMD turned off fall through to the stock kernels', async () => {
    await useBackend(WASM);
    const x = tf.tensor(
      Int32Array.from({ length: 60 }, (_, i) => (i * 7) % 11),
      [3, 4, 5],
      'int32',
    );
    const r = await oursAndStock(tf.Mean, mean, x, { axis: [0, 1], keepDims: false });
    expect(Array.from(r.ours.dataSync())).toEqual(Array.from(r.stock.dataSync()));
    const s = await oursAndStock(tf.Sum, sum, x, { axis: [0, 1], keepDims: true });
    expect(s.ours.dtype).toBe('int32');
    expect(Array.from(s.ours.dataSync())).toEqual(Array.from(s.stock.dataSync()));
    setSimdKernelsEnabled(false);
    const f = tf.tensor(seeded(60, 3), [3, 4, 5]);
    const off = await oursAndStock(tf.Mean, mean, f, { axis: [0, 1], keepDims: false });
    expect(Array.from(off.ours.dataSync())).toEqual(Array.from(off.stock.dataSync()));
    tf.dispose([x, f, r.ours, r.stock, s.ours, s.stock, off.ours, off.stock]);
  });
});
