import * as tf from '@tensorflow/tfjs-core';
import '@phalanx/testing';
import { expectClose } from '@phalanx/testing';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { setSimdKernelsEnabled } from './simd';
import { runKernelOn, seeded, type HostTensor } from './test-utils';
import './register';

/** A max pool's geometry and an input whose values repeat often (ties) and go below zero. */
const poolCase = fc
  .record({
    n: fc.integer({ min: 1, max: 3 }),
    h: fc.integer({ min: 1, max: 9 }),
    w: fc.integer({ min: 1, max: 9 }),
    c: fc.integer({ min: 1, max: 7 }),
    fh: fc.integer({ min: 1, max: 3 }),
    fw: fc.integer({ min: 1, max: 3 }),
    sh: fc.integer({ min: 1, max: 3 }),
    sw: fc.integer({ min: 1, max: 3 }),
    pad: fc.constantFrom<'same' | 'valid' | number>('same', 'valid', 0, 1),
    levels: fc.constantFrom(3, 1000), // 3: many ties; 1000: almost none
    seed: fc.integer({ min: 1, max: 10_000 }),
  })
  .filter((p) => (p.pad === 'valid' || p.pad === 0 ? p.h >= p.fh && p.w >= p.fw : true))
  .filter((p) => (typeof p.pad === 'number' ? p.pad < Math.min(p.fh, p.fw) : true));

type PoolCase = typeof poolCase extends fc.Arbitrary<infer T> ? T : never;

/** `x` (values −1 … 1 in `levels` steps, so ties happen) and a `dy` of the pool's output shape. */
function inputsOf(p: PoolCase): { x: HostTensor; dy: HostTensor; attrs: Record<string, unknown> } {
  const shape = [p.n, p.h, p.w, p.c] as [number, number, number, number];
  const info = tf.backend_util.computePool2DInfo(shape, [p.fh, p.fw], [p.sh, p.sw], 1, p.pad);
  const size = shape.reduce((a, b) => a * b, 1);
  const x = seeded(size, p.seed).map((v) => Math.round(v * p.levels) / p.levels);
  const dyShape = [p.n, info.outHeight, info.outWidth, p.c];
  const dy = seeded(
    dyShape.reduce((a, b) => a * b, 1),
    p.seed + 7,
  );
  return {
    x: { shape, data: x, dtype: 'float32' },
    dy: { shape: dyShape, data: dy, dtype: 'float32' },
    attrs: { filterSize: [p.fh, p.fw], strides: [p.sh, p.sw], pad: p.pad },
  };
}

async function gradientOn(backend: 'cpu' | 'wasm', p: PoolCase): Promise<HostTensor> {
  const { x, dy, attrs } = inputsOf(p);
  return runKernelOn(backend, tf.MaxPoolGrad, { dy, input: x, output: { ...x } }, attrs);
}

describe('MaxPoolGrad on wasm', () => {
  afterEach(() => setSimdKernelsEnabled(true));

  it('equals the cpu kernel on random pools, ties and negatives (SIMD module and fallback route)', async () => {
    await fc.assert(
      fc.asyncProperty(poolCase, fc.boolean(), async (p, simd) => {
        setSimdKernelsEnabled(simd);
        const expected = await gradientOn('cpu', p);
        const actual = await gradientOn('wasm', p);
        expect(actual.shape).toEqual(expected.shape);
        expectClose(actual.data, expected.data, { rtol: 1e-6, atol: 1e-6 }, `pool ${JSON.stringify(p)}`);
      }),
      { numRuns: 120, seed: 11 },
    );
  });

  it('equals the cpu kernel when inputs hold NaN and ±Infinity (SIMD module and fallback route)', async () => {
    // cpu starts each window's search below every value: a NaN is never the maximum (the window's
    // largest other value is), and a window of NaN and −∞ only sends its gradient nowhere. The former
    // search started at the window's first tap, so a leading NaN or −∞ took the gradient.
    const special = fc.array(fc.tuple(fc.nat(), fc.constantFrom(Number.NaN, -Infinity, Infinity)), {
      minLength: 1,
      maxLength: 12,
    });
    await fc.assert(
      fc.asyncProperty(poolCase, special, fc.boolean(), async (p, values, simd) => {
        setSimdKernelsEnabled(simd);
        const { x, dy, attrs } = inputsOf(p);
        const data = Float32Array.from(x.data);
        for (const [at, v] of values) data[at % data.length] = v;
        const input: HostTensor = { ...x, data };
        const expected = await runKernelOn('cpu', tf.MaxPoolGrad, { dy, input, output: { ...input } }, attrs);
        const actual = await runKernelOn('wasm', tf.MaxPoolGrad, { dy, input, output: { ...input } }, attrs);
        expectClose(actual.data, expected.data, { rtol: 1e-6, atol: 1e-6 }, `pool ${JSON.stringify(p)} ${values}`);
      }),
      { numRuns: 120, seed: 12 },
    );
    // A leading NaN, a window of NaN only and one of −∞ only, on 5 channels (a SIMD group and a tail).
    const x: HostTensor = { shape: [1, 2, 6, 5], data: new Float32Array(60).fill(1), dtype: 'float32' };
    for (let ch = 0; ch < 5; ch++) {
      x.data[ch] = Number.NaN; // window 0: NaN first, then 1, 1, 1
      for (const tap of [2, 3, 8, 9]) x.data[tap * 5 + ch] = Number.NaN; // window 1: all NaN
      for (const tap of [4, 5, 10, 11]) x.data[tap * 5 + ch] = -Infinity; // window 2: all −∞
    }
    const dy: HostTensor = { shape: [1, 1, 3, 5], data: new Float32Array(15).fill(1), dtype: 'float32' };
    const attrs = { filterSize: 2, strides: 2, pad: 'valid' };
    for (const simd of [true, false]) {
      setSimdKernelsEnabled(simd);
      const dx = await runKernelOn('wasm', tf.MaxPoolGrad, { dy, input: x, output: { ...x } }, attrs);
      expect(Array.from(dx.data).filter((v) => v !== 0).length, `simd ${simd}`).toBe(5);
      for (let ch = 0; ch < 5; ch++) expect(dx.data[5 + ch], `simd ${simd}`).toBe(1); // the 1 after the NaN
    }
  });

  it('equals the cpu kernel with every dimRoundingMode (the gradient tf.maxPool records passes it on)', async () => {
    for (const simd of [true, false]) {
      setSimdKernelsEnabled(simd);
      for (const dimRoundingMode of ['floor', 'ceil', 'round'] as const) {
        for (const [shape, filterSize, strides, pad] of [
          [[1, 6, 6, 2], 3, 2, 1],
          [[2, 7, 5, 5], 2, 2, 0],
          [[1, 5, 5, 1], 3, 3, 1],
          [[1, 4, 7, 6], [2, 3], [2, 3], 1],
        ] as Array<[number[], number | [number, number], number | [number, number], number]>) {
          const input: HostTensor = {
            shape,
            data: seeded(
              shape.reduce((a, b) => a * b, 1),
              5,
            ),
            dtype: 'float32',
          };
          const attrs = { filterSize, strides, pad, dimRoundingMode };
          const y = await runKernelOn('cpu', tf.MaxPool, { x: input }, attrs);
          const dy: HostTensor = { shape: y.shape, data: seeded(y.data.length, 6), dtype: 'float32' };
          const inputs = { dy, input, output: y };
          const expected = await runKernelOn('cpu', tf.MaxPoolGrad, inputs, attrs);
          const actual = await runKernelOn('wasm', tf.MaxPoolGrad, inputs, attrs);
          expectClose(actual.data, expected.data, { rtol: 1e-6, atol: 1e-6 }, `${JSON.stringify(attrs)} [${shape}]`);
        }
      }
    }
  });

  it('sends each window’s gradient to its first maximum when all its values are equal', async () => {
    const p: PoolCase = { n: 1, h: 4, w: 4, c: 2, fh: 2, fw: 2, sh: 2, sw: 2, pad: 'valid', levels: 3, seed: 1 };
    const { dy, attrs } = inputsOf(p);
    const x: HostTensor = { shape: [1, 4, 4, 2], data: new Float32Array(32).fill(-5), dtype: 'float32' };
    const out = await runKernelOn('wasm', tf.MaxPoolGrad, { dy, input: x, output: { ...x } }, attrs);
    const dx = Array.from(out.data);
    // window (oy, ox) starts at input (2·oy, 2·ox): that tap gets dy, the other three get 0
    for (let oy = 0; oy < 2; oy++)
      for (let ox = 0; ox < 2; ox++)
        for (let ch = 0; ch < 2; ch++) {
          const first = (2 * oy * 4 + 2 * ox) * 2 + ch;
          expect(dx[first]).toBeCloseTo(dy.data[(oy * 2 + ox) * 2 + ch], 6);
          expect(dx[first + 2]).toBe(0);
          expect(dx[first + 8]).toBe(0);
          expect(dx[first + 10]).toBe(0);
        }
  });

  it('rejects a dy whose shape does not match the pool with a named error', async () => {
    await tf.setBackend('wasm');
    const x = tf.zeros([1, 4, 4, 1]);
    const dy = tf.zeros([1, 3, 3, 1]);
    expect(() =>
      tf.engine().runKernel(tf.MaxPoolGrad, { dy, input: x, output: x }, { filterSize: 2, strides: 2, pad: 'valid' }),
    ).toThrow(/MaxPoolGrad: dy must be of shape \[1, 2, 2, 1\]/);
    let caught: unknown;
    try {
      tf.engine().runKernel(tf.MaxPoolGrad, { dy, input: x, output: x }, { filterSize: 2, strides: 2, pad: 'valid' });
    } catch (error) {
      caught = error;
    }
    expect((caught as Error).name).toBe('PhalanxShapeError');
    tf.dispose([x, dy]);
  });
});
