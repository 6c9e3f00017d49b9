import * as tf from '@tensorflow/tfjs-core';
import '@phalanx/testing';
import { expectClose, useBackend } from '@phalanx/testing';
import fc from 'fast-check';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { usesSimdProduct } from './batch-matmul';
import { WASM } from './kernel-scope';
import { SIMD_PLAIN, SIMD_SHARED } from './generated/simd-binary';
import { setSimdKernelsEnabled, simdKernels } from './simd';
import { collapseTranspose, TRANSPOSE_SUM_KERNELS, transposePlan } from './transpose-sum';
import { seeded } from './test-utils';
import './register';

/** Runs `fn` on cpu and on wasm with the same seeded inputs; asserts no backend buffer is left on wasm. */
async function cpuAndWasm(shapes: number[][], fn: (...xs: tf.Tensor[]) => tf.Tensor): Promise<[tf.Tensor, tf.Tensor]> {
  const out: tf.Tensor[] = [];
  for (const backend of ['cpu', WASM]) {
    await useBackend(backend);
    const ids = tf.backend().numDataIds();
    const xs = shapes.map((s, i) =>
      tf.tensor(
        seeded(
          s.reduce((a, b) => a * b, 1),
          i + 1,
        ),
        s,
      ),
    );
    const y = tf.tidy(() => fn(...xs));
    out.push(tf.tensor(await y.data(), y.shape, y.dtype)); // a copy on the active backend
    tf.dispose([...xs, y]);
    if (backend === WASM) expect(tf.backend().numDataIds(), 'wasm buffers left behind').toBe(ids + 1);
  }
  return [out[0], out[1]];
}

describe('SIMD kernels on the wasm backend memory: instances and products', () => {
  beforeAll(async () => {
    await useBackend(WASM);
  });
  afterEach(() => setSimdKernelsEnabled(true));

  it('instantiate on the backend memory, and can be turned off', () => {
    expect(simdKernels(tf.backend())).not.toBeNull();
    setSimdKernelsEnabled(false);
    expect(simdKernels(tf.backend())).toBeNull();
  });

  it('the binaries import only the memory and write nothing when instantiated (no data, start or globals)', () => {
    for (const base64 of [SIMD_PLAIN, SIMD_SHARED]) {
      const bytes = Uint8Array.from(Buffer.from(base64, 'base64'));
      const module = new WebAssembly.Module(bytes);
      expect(WebAssembly.Module.imports(module)).toEqual([{ module: 'env', name: 'memory', kind: 'memory' }]);
      expect(WebAssembly.Module.exports(module).map((e) => e.name)).toEqual([
        'gemm',
        'transpose',
        'transposeBlocks',
        'copyRows',
        'sumRows',
        'winogradInput',
        'winogradOutput',
        'winogradOutputGrad',
        'winograd4Input',
        'winograd4Output',
        'batchNormForward',
        'batchNormBackward',
        'maxPoolGrad',
        'memory',
      ]);
      const sections: number[] = [];
      for (let at = 8; at < bytes.length;) {
        sections.push(bytes[at++]);
        let size = 0;
        for (let shift = 0; ; shift += 7) {
          const byte = bytes[at++];
          size |= (byte & 127) << shift;
          if (byte < 128) break;
        }
        at += size;
      }
      expect(sections).toEqual([1, 2, 3, 7, 10]); // type, import, function, export, code
    }
  });

  it('both-batched products equal cpu: tile remainders, K beyond one 256-block, all four flags', async () => {
    const dims: Array<[number, number, number, number]> = [
      [5, 21, 32, 256], // attention scores
      [3, 13, 300, 9], // K > 256: two K-blocks, N = 8 + 1
      [2, 3, 7, 12], // M < 4, N = 8 + 4
      [4, 9, 1, 5], // K = 1
    ];
    for (const [batch, m, k, n] of dims) {
      for (const [tA, tB] of [
        [false, false],
        [true, false],
        [false, true],
        [true, true],
      ] as const) {
        const a = tA ? [batch, k, m] : [batch, m, k];
        const b = tB ? [batch, n, k] : [batch, k, n];
        expect(usesSimdProduct(a, b, tA, tB) || batch * m * n * k < 4096).toBe(true);
        const [cpu, wasm] = await cpuAndWasm([a, b], (x, y) => tf.matMul(x, y, tA, tB));
        expectClose(wasm, cpu, { rtol: 1e-5, atol: 1e-5 });
      }
    }
  });

  it('the gradients of a batched attention product equal cpu', async () => {
    const f = (q: tf.Tensor, k: tf.Tensor) =>
      tf.sum(tf.mul(tf.matMul(q, k, false, true), tf.reshape(tf.range(0, 24 * 9), [2, 12, 9])));
    for (const which of [0, 1]) {
      const [cpu, wasm] = await cpuAndWasm(
        [
          [2, 12, 16],
          [2, 9, 16],
        ],
        (q, k) => tf.grads(f)([q, k])[which],
      );
      expectClose(wasm, cpu, { rtol: 1e-5, atol: 1e-4 });
    }
  });
});

describe('SIMD kernels on the wasm backend memory: Transpose and Sum', () => {
  beforeAll(async () => {
    await useBackend(WASM);
  });
  afterEach(() => setSimdKernelsEnabled(true));

  it('collapses transposes to matrix or batched-matrix swaps', () => {
    expect(collapseTranspose([8192, 256], [1, 0])).toEqual({ shape: [8192, 256], perm: [1, 0] });
    expect(collapseTranspose([32, 8, 21, 64], [0, 1, 3, 2])).toEqual({ shape: [256, 21, 64], perm: [0, 2, 1] });
    expect(collapseTranspose([2, 1, 3, 4], [3, 0, 1, 2])).toEqual({ shape: [6, 4], perm: [1, 0] });
    expect(collapseTranspose([2, 3, 4], [1, 0, 2])).toEqual({ shape: [2, 3, 4], perm: [1, 0, 2] });
  });

  it('plans matrix transposes and transposes of whole innermost rows', () => {
    expect(transposePlan([37, 45], [1, 0])).toEqual({ kind: 'matrix', batch: 1, rows: 37, cols: 45, inner: 1 });
    expect(transposePlan([3, 32768, 32], [1, 0, 2])).toEqual({
      kind: 'blocks',
      batch: 1,
      rows: 3,
      cols: 32768,
      inner: 32,
    });
    expect(transposePlan([32, 21, 8, 64], [0, 2, 1, 3])).toEqual({
      kind: 'blocks',
      batch: 32,
      rows: 21,
      cols: 8,
      inner: 64,
    });
    expect(transposePlan([2, 3, 4, 5], [2, 0, 1, 3])).toEqual({ kind: 'blocks', batch: 1, rows: 6, cols: 4, inner: 5 });
    expect(transposePlan([2, 3, 4, 5], [1, 0, 3, 2])).toBeNull(); // both: the stock kernel
  });

  it('Transpose equals cpu bit for bit for any shape and permutation (fast-check)', async () => {
    const shapeAndPerm = fc
      .array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 5 })
      .chain((shape) =>
        fc.tuple(fc.constant(shape), fc.shuffledSubarray([...shape.keys()], { minLength: shape.length })),
      );
    await fc.assert(
      fc.asyncProperty(shapeAndPerm, fc.boolean(), async ([shape, perm], integer) => {
        const [cpu, wasm] = await cpuAndWasm([shape], (x) =>
          tf.transpose(integer ? tf.cast(tf.mul(x, 1000), 'int32') : x, perm),
        );
        expect(wasm.dtype).toBe(cpu.dtype);
        expect(wasm.shape).toEqual(cpu.shape);
        expect(Array.from(wasm.dataSync())).toEqual(Array.from(cpu.dataSync()));
      }),
      { numRuns: 150, seed: 7 },
    );
  });

  it('Transpose and Sum equal cpu (SIMD and stock routes) and are the registered kernels', async () => {
    for (const config of TRANSPOSE_SUM_KERNELS) expect(tf.getKernel(config.kernelName, WASM)).toBe(config);
    const transposes: Array<[number[], number[]]> = [
      [
        [37, 45],
        [1, 0],
      ],
      [
        [3, 5, 9, 6],
        [0, 1, 3, 2],
      ],
      [
        [2, 1, 3, 4],
        [3, 0, 1, 2],
      ],
      [
        [2, 3, 4],
        [1, 0, 2],
      ],
    ];
    for (const [shape, perm] of transposes) {
      const [cpu, wasm] = await cpuAndWasm([shape], (x) => tf.transpose(x, perm));
      expect(Array.from(wasm.dataSync())).toEqual(Array.from(cpu.dataSync()));
      expect(wasm.shape).toEqual(cpu.shape);
    }
    const sums: Array<[number[], number[], boolean]> = [
      [[300, 37], [0], false],
      [[4, 50, 19], [1], true],
      [[4, 50, 19], [0, 1], false],
      [[4, 5, 6], [2], false],
      [[4, 5, 6], [0, 2], false],
    ];
    for (const [shape, axes, keepDims] of sums) {
      const [cpu, wasm] = await cpuAndWasm([shape], (x) => tf.sum(x, axes, keepDims));
      expectClose(wasm, cpu, { rtol: 1e-5, atol: 1e-5 });
      expect(wasm.shape).toEqual(cpu.shape);
    }
    const [cpuInt, wasmInt] = await cpuAndWasm([[6, 10]], (x) => tf.transpose(tf.cast(tf.mul(x, 100), 'int32')));
    expect(Array.from(wasmInt.dataSync())).toEqual(Array.from(cpuInt.dataSync()));
  });
});
