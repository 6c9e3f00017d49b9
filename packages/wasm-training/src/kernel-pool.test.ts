import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { useBackend } from '@phalanx/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { cut, gemmParts } from './kernel-pool';
import { WASM } from './kernel-scope';
import { backendMemory, pointer, simdKernelModule, simdKernels, simdKernelThreads, type SimdKernels } from './simd';
import { sameBits, seeded } from './test-utils';
import './register';

/** The pool the test project runs wasm on: 2 in the `wasm-training-threads` project, else stock (1). */
const PROJECT_THREADS = Number(process.env.PHALANX_WASM_THREADS ?? '1');

beforeAll(async () => {
  await useBackend(WASM);
});

/** A float32 tensor of `n` seeded values on the wasm backend, and its byte offset in the wasm memory. */
function buffer(n: number, seed: number): [tf.Tensor, number] {
  const t = seed === 0 ? tf.zeros([n]) : tf.tensor1d(seeded(n, seed));
  return [t, pointer(tf.backend(), t)];
}

/** A batched product C_t = A_t·B_t (A as [batch, m, k] or its transpose) run by `gemm`; C's values. */
function product(
  gemm: SimdKernels['gemm'],
  shape: { batch: number; m: number; n: number; k: number; transposedA: boolean },
  split?: number,
): Float32Array {
  const { batch, m, n, k, transposedA } = shape;
  const [a, pa] = buffer(batch * m * k, 1);
  const [b, pb] = buffer(batch * k * n, 2);
  const [c, pc] = buffer(batch * m * n, 0);
  const [ars, acs] = transposedA ? [4, 4 * m] : [4 * k, 4];
  const args: Parameters<SimdKernels['gemm']> = [
    batch,
    pa,
    4 * m * k,
    ars,
    acs,
    pb,
    4 * k * n,
    4 * n,
    pc,
    4 * m * n,
    4 * n,
    m,
    n,
    k,
    0,
  ];
  const parts = split === undefined ? null : gemmParts(args, split);
  if (split !== undefined) expect(parts, 'the shape is split').not.toBeNull();
  for (const part of parts ?? [args]) gemm(...(part as Parameters<SimdKernels['gemm']>));
  const out = c.dataSync() as Float32Array;
  tf.dispose([a, b, c]);
  return out;
}

/** Asserts that two float32 arrays hold the same bits (a byte comparison: fast on millions of values). */
function expectSameBits(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).toBe(expected.length);
  expect(sameBits(actual, expected), 'the same bits').toBe(true);
}

/**
 * Both Winograd transforms of one input (n 3, 3 × 5 tiles of F(2×2, 3×3) or 3 × 2 of F(4×4, 3×3), 8 channels;
 * bias and ReLU on the output; the last tile row and column partly outside the output) run over the tile-row
 * `ranges` (of the n·th = 9 rows): the transformed input and the output, concatenated.
 */
function winogradTransforms(kernels: SimdKernels, tile: 2 | 4, ranges: number[][]): Float32Array {
  const [n, th, tw, c] = tile === 2 ? [3, 3, 5, 8] : [3, 3, 2, 8];
  const [hp, wp] = [tile * th + 2, tile * tw + 2];
  const [ho, wo] = [tile * th - 1, tile * tw - tile / 2];
  const planes = (tile + 2) ** 2;
  const [x, px] = buffer(n * hp * wp * c, 5);
  const [v, pv] = buffer(planes * n * th * tw * c, 0);
  const [bias, pb] = buffer(c, 6);
  const [y, py] = buffer(n * ho * wo * c, 0);
  const input = tile === 2 ? kernels.winogradInput : kernels.winograd4Input;
  const output = tile === 2 ? kernels.winogradOutput : kernels.winograd4Output;
  for (const [r0, r1] of ranges) input(px, n, hp, wp, c, th, tw, pv, r0, r1);
  for (const [r0, r1] of ranges) output(pv, n, th, tw, c, ho, wo, py, pb, 1, r0, r1);
  const out = new Float32Array([...(v.dataSync() as Float32Array), ...(y.dataSync() as Float32Array)]);
  tf.dispose([x, v, bias, y]);
  return out;
}

const SHAPES = [
  { batch: 16, m: 32, n: 48, k: 700, transposedA: true }, // Winograd's 16 filter-gradient products
  { batch: 1, m: 203, n: 64, k: 400, transposedA: false }, // one product: row blocks
  { batch: 1, m: 9, n: 1030, k: 500, transposedA: true }, // few rows: column blocks
];

describe('SIMD kernel pool: cutting calls into parts', () => {
  it('cut: contiguous parts that cover the range, each a multiple of the unit but the last', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 1, max: 9 }),
        fc.constantFrom(1, 4, 8),
        (total, parts, unit) => {
          const runs = cut(total, parts, unit);
          expect(runs.length).toBeGreaterThan(0);
          expect(runs.length).toBeLessThanOrEqual(parts);
          let next = 0;
          runs.forEach(([first, size], i) => {
            expect(first).toBe(next);
            expect(size).toBeGreaterThan(0);
            if (i < runs.length - 1) expect(size % unit).toBe(0);
            next += size;
          });
          expect(next).toBe(total);
        },
      ),
    );
  });

  it('gemm parts run one after another give the whole call bit for bit (batch, row and column cuts)', () => {
    const kernels = simdKernels(tf.backend())!;
    for (const shape of SHAPES) {
      const whole = product(kernels.gemm, shape);
      for (const threads of [2, 3]) expectSameBits(product(kernels.gemm, shape, threads), whole);
    }
  });

  it('Winograd transforms over row ranges, one after another, give the whole call bit for bit', () => {
    const kernels = simdKernels(tf.backend())!;
    for (const tile of [2, 4] as const) {
      const whole = winogradTransforms(kernels, tile, [[0, 9]]);
      const cuts = [
        [
          [0, 4],
          [4, 9],
        ],
        [
          [0, 1],
          [1, 5],
          [5, 9],
        ],
      ];
      for (const ranges of cuts) expectSameBits(winogradTransforms(kernels, tile, ranges), whole);
    }
  });

  it('small products and products writing one C (cStride 0) stay whole', () => {
    expect(gemmParts([4, 0, 0, 16, 4, 0, 0, 16, 0, 64, 16, 4, 4, 4, 0], 2)).toBeNull();
    expect(gemmParts([16, 0, 4096, 4, 128, 0, 4096, 128, 0, 0, 128, 32, 32, 1024, 1], 2)).toBeNull();
  });
});

describe(`SIMD kernel pool on the project's wasm backend (${PROJECT_THREADS} thread(s))`, () => {
  it('the package kernels run on as many threads as the backend pool', () => {
    expect(simdKernelThreads(tf.backend())).toBe(PROJECT_THREADS);
  });

  it.runIf(PROJECT_THREADS > 1)('pooled kernels equal one thread bit for bit (gemm, transpose, sumRows)', () => {
    const memory = backendMemory(tf.backend())!;
    const module = simdKernelModule(true)!;
    const single = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as SimdKernels;
    const pooled = simdKernels(tf.backend())!;
    expect(pooled.gemm).not.toBe(single.gemm);
    for (const shape of SHAPES) expectSameBits(product(pooled.gemm, shape), product(single.gemm, shape));
    for (const kernel of ['transpose', 'sumRows'] as const) {
      const run = (k: SimdKernels) => {
        const [src, ps] = buffer(8 * 300 * 500, 3);
        const [dst, pd] = buffer(8 * 300 * 500, 0);
        k[kernel](8, ps, 300, 500, pd);
        const out = dst.dataSync() as Float32Array;
        tf.dispose([src, dst]);
        return out;
      };
      expectSameBits(run(pooled), run(single));
    }
  });

  it.runIf(PROJECT_THREADS > 1)('pooled Winograd transforms equal one thread bit for bit', () => {
    const memory = backendMemory(tf.backend())!;
    const single = new WebAssembly.Instance(simdKernelModule(true)!, { env: { memory } })
      .exports as unknown as SimdKernels;
    const pooled = simdKernels(tf.backend())!;
    const run = (k: SimdKernels) => {
      // [2, 66, 66, 64] → 2 · 32 tile rows of 32 tiles (F(2×2, 3×3)) or 2 · 16 of 16 (F(4×4, 3×3)), split.
      const [n, c] = [2, 64];
      const [x, px] = buffer(n * 66 * 66 * c, 8);
      const [v, pv] = buffer(16 * n * 32 * 32 * c, 0); // F(2×2, 3×3) needs the larger V
      const [y, py] = buffer(n * 64 * 64 * c, 0);
      k.winogradInput(px, n, 66, 66, c, 32, 32, pv, 0, n * 32);
      k.winogradOutput(pv, n, 32, 32, c, 64, 64, py, 0, 0, 0, n * 32);
      const two = new Float32Array([...(v.dataSync() as Float32Array), ...(y.dataSync() as Float32Array)]);
      k.winograd4Input(px, n, 66, 66, c, 16, 16, pv, 0, n * 16);
      k.winograd4Output(pv, n, 16, 16, c, 64, 64, py, 0, 0, 0, n * 16);
      const four = new Float32Array([...(v.dataSync() as Float32Array), ...(y.dataSync() as Float32Array)]);
      tf.dispose([x, v, y]);
      return new Float32Array([...two, ...four]);
    };
    expect(pooled.winogradInput).not.toBe(single.winogradInput);
    expectSameBits(run(pooled), run(single));
  });
});
