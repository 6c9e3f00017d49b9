import * as tf from '@tensorflow/tfjs-core';
import '@phalanx/testing';
import { useBackend } from '@phalanx/testing';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { WASM } from './kernel-scope';
import { evenRuns, SLICE_KERNELS } from './slice';
import './register';

/** Runs `fn` on cpu and on wasm with the same input values and returns both results as nested arrays. */
async function onBoth(
  shape: number[],
  dtype: 'float32' | 'int32' | 'bool',
  fn: (x: tf.Tensor) => tf.Tensor | tf.Tensor[],
) {
  const size = shape.reduce((a, b) => a * b, 1);
  const values = Array.from({ length: size }, (_, i) => (dtype === 'bool' ? i % 3 === 0 : i * 7 - 11));
  const results: unknown[] = [];
  for (const backend of ['cpu', WASM]) {
    await useBackend(backend);
    const ids = tf.backend().numDataIds();
    const x = tf.tensor(values as number[], shape, dtype);
    const out = fn(x);
    const list = Array.isArray(out) ? out : [out];
    results.push(await Promise.all(list.map(async (t) => [t.shape, t.dtype, await t.array()])));
    tf.dispose([x, ...list]);
    expect(tf.backend().numDataIds(), `${backend}: backend buffers`).toBe(ids);
  }
  return results;
}

/** A deterministic shape of rank 1–5 and a box inside it, case `i` of a seeded sequence. */
function box(i: number): { shape: number[]; begin: number[]; size: number[] } {
  let state = (i + 1) * 2654435761;
  const next = (n: number) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state % n;
  };
  const shape = Array.from({ length: 1 + next(5) }, () => 1 + next(5));
  const begin = shape.map((d) => next(d));
  const size = shape.map((d, k) => next(d - begin[k] + 1));
  return { shape, begin, size };
}

describe('wasm Slice / Unpack / SplitV / StridedSlice from heap views', () => {
  beforeAll(async () => {
    await useBackend(WASM);
  });

  it('are the registered wasm kernels', () => {
    for (const config of SLICE_KERNELS) expect(tf.getKernel(config.kernelName, WASM)).toBe(config);
  });

  it('slice equals cpu for any box of any rank (float32, int32, bool)', async () => {
    for (let i = 0; i < 60; i++) {
      const { shape, begin, size } = box(i);
      const dtype = (['float32', 'int32', 'bool'] as const)[i % 3];
      const [cpu, wasm] = await onBoth(shape, dtype, (x) => tf.slice(x, begin, size));
      expect(wasm, `slice of [${shape}] at [${begin}] size [${size}] (${dtype})`).toEqual(cpu);
    }
  });

  it('finds evenly spaced runs (one SIMD call) and only those', () => {
    expect(evenRuns([8, 64, 64, 96], [0, 0, 0, 32], [8, 64, 64, 32])).toEqual({
      rows: 32768,
      run: 32,
      stride: 96,
      offset: 32,
    });
    expect(evenRuns([4, 5, 6], [1, 0, 0], [2, 5, 6])).toEqual({ rows: 1, run: 60, stride: 60, offset: 30 });
    expect(evenRuns([4, 5, 6], [1, 2, 0], [2, 3, 6])).toEqual({ rows: 2, run: 18, stride: 30, offset: 42 });
    expect(evenRuns([4, 5, 6, 7], [0, 1, 0, 2], [4, 3, 6, 4])).toBeNull(); // axis 1 cut, then axis 3: uneven
  });

  it('slice and concat equal cpu bit for bit for any shapes, boxes and axes (fast-check)', async () => {
    const shape = fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 4 });
    const sliceCase = shape.chain((s) =>
      fc.tuple(
        fc.constant(s),
        fc.tuple(...s.map((d) => fc.integer({ min: 0, max: d - 1 }))),
        fc.tuple(...s.map((d) => fc.integer({ min: 0, max: d }))),
        fc.constantFrom('float32' as const, 'int32' as const, 'bool' as const),
      ),
    );
    await fc.assert(
      fc.asyncProperty(sliceCase, async ([s, begin, upTo, dtype]) => {
        const size = upTo.map((u, k) => Math.min(u, s[k] - begin[k]));
        const [cpu, wasm] = await onBoth(s, dtype, (x) => tf.slice(x, begin, size));
        expect(wasm).toEqual(cpu);
      }),
      { numRuns: 120, seed: 21 },
    );
    const concatCase = shape.chain((s) =>
      fc.tuple(
        fc.constant(s),
        fc.integer({ min: 0, max: s.length - 1 }),
        fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 2, maxLength: 4 }),
        fc.constantFrom('float32' as const, 'int32' as const, 'bool' as const),
      ),
    );
    await fc.assert(
      fc.asyncProperty(concatCase, async ([s, axis, widths, dtype]) => {
        // Parts of the input with `widths` (some 0) along `axis`, concatenated back in another order.
        const total = widths.reduce((a, b) => a + b, 0);
        const full = s.map((d, k) => (k === axis ? Math.max(total, 1) : d));
        const [cpu, wasm] = await onBoth(full, dtype, (x) => {
          let at = 0;
          const parts = widths.map((w) => {
            const begin = full.map((_, k) => (k === axis ? Math.min(at, full[k]) : 0));
            const size = full.map((d, k) => (k === axis ? Math.min(w, d - begin[k]) : d));
            at += w;
            return tf.slice(x, begin, size);
          });
          const joined = tf.concat([...parts.slice(1), parts[0]], axis);
          tf.dispose(parts);
          return joined;
        });
        expect(wasm).toEqual(cpu);
      }),
      { numRuns: 120, seed: 22 },
    );
  });

  it('unstack, split and strided slices equal cpu on every axis', async () => {
    for (const axis of [0, 1, 2]) {
      const [cpu, wasm] = await onBoth([3, 4, 5], 'float32', (x) => tf.unstack(x, axis));
      expect(wasm).toEqual(cpu);
      const [cpuS, wasmS] = await onBoth([3, 4, 5], 'float32', (x) => tf.split(x, [1, 2, x.shape[axis] - 3], axis));
      expect(wasmS).toEqual(cpuS);
    }
    const strided: Array<[number[], number[], number[], number]> = [
      [[1, 0, 0], [3, 4, 5], [1, 1, 1], 0],
      [[1, 0, 0], [2, 4, 5], [1, 1, 1], 1],
      [[0, 1, 2], [3, 3, 5], [1, 1, 1], 0],
      [[0, 0, 0], [3, 4, 5], [2, 1, 2], 0],
      [[2, 3, 4], [0, 0, 0], [-1, -1, -1], 0],
    ];
    for (const [begin, end, strides, shrink] of strided) {
      const [cpu, wasm] = await onBoth([3, 4, 5], 'int32', (x) =>
        tf.stridedSlice(x, begin, end, strides, 0, 0, 0, 0, shrink),
      );
      expect(wasm).toEqual(cpu);
    }
  });

  it('strided slices of bool tensors equal cpu (the stock kernel copied 4-byte words of 1-byte bools)', async () => {
    const strided: Array<[number[], number[], number[]]> = [
      [
        [0, 0, 0],
        [3, 4, 5],
        [2, 1, 2],
      ],
      [
        [2, 3, 4],
        [0, 0, 0],
        [-1, -1, -1],
      ],
      [
        [0, 1, 0],
        [3, 4, 5],
        [1, 2, 3],
      ],
    ];
    for (const [begin, end, strides] of strided) {
      const [cpu, wasm] = await onBoth([3, 4, 5], 'bool', (x) => tf.stridedSlice(x, begin, end, strides));
      expect(wasm, `${begin} ${end} ${strides}`).toEqual(cpu);
    }
  });

  it('never copies the whole input out of the heap (the stock kernels read it all with readSync)', () => {
    const backend = tf.backend() as unknown as { readSync: (...args: unknown[]) => unknown };
    const big = tf.zeros([256, 256, 8]);
    const original = backend.readSync;
    let reads = 0;
    backend.readSync = (...args: unknown[]) => {
      reads++;
      return original.apply(backend, args);
    };
    try {
      const parts = [
        tf.slice(big, [1, 2, 0], [2, 3, 8]),
        ...tf.unstack(tf.slice(big, [0, 0, 0], [2, 256, 8])),
        ...tf.split(big, 2, 1),
        tf.stridedSlice(big, [1, 0, 0], [3, 256, 8], [1, 1, 1]),
      ];
      expect(reads).toBe(0);
      tf.dispose(parts);
    } finally {
      backend.readSync = original;
      big.dispose();
    }
  });
});
