import * as tf from '@tensorflow/tfjs-core';
import '@phalanx/testing';
import { expectClose, expectNoTensorLeak } from '@phalanx/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchMatMulConfig, fusedMatMulConfig, matMulRoute, type MatMulRoute } from './batch-matmul';
import { registerWasmTrainingKernels, unregisterWasmTrainingKernels, wasmTrainingKernelNames } from './register';
import { host, runKernelOn, seeded, type HostTensor } from './test-utils';

const TOL = { rtol: 1e-5, atol: 1e-5 };

// Odd sizes (M=33, K=64, N=31) so a swapped axis cannot go unnoticed; large enough to be rewritten.
const M = 33;
const K = 64;
const N = 31;

/** `[batch…, rows, cols]`, with the two inner axes swapped when `transposed`. */
function operand(batch: number[], rows: number, cols: number, transposed: boolean): number[] {
  return transposed ? [...batch, cols, rows] : [...batch, rows, cols];
}

/** Batch shapes of a and b over ranks 2/3/4, broadcasting as tfjs's kernels do (trailing batch axes). */
const BATCHES: Array<[number[], number[]]> = [
  [[], []],
  [[3], []],
  [[], [3]],
  [[3], [3]],
  [[1], [3]],
  [[3], [1]],
  [[2, 3], []],
  [[], [2, 3]],
  [[2, 3], [3]],
  [[3], [2, 3]],
  [
    [2, 3],
    [1, 1],
  ],
  [
    [1, 1],
    [2, 3],
  ],
  [
    [2, 3],
    [2, 3],
  ],
];
const FLAGS: Array<[boolean, boolean]> = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
];

interface ProductCase {
  a: number[];
  b: number[];
  transposeA: boolean;
  transposeB: boolean;
}

const PRODUCTS: ProductCase[] = [];
for (const [ba, bb] of BATCHES) {
  for (const [transposeA, transposeB] of FLAGS) {
    PRODUCTS.push({ a: operand(ba, M, K, transposeA), b: operand(bb, K, N, transposeB), transposeA, transposeB });
  }
}
// Tiny (kept on the stock kernel), vector-like and thin shapes.
for (const [transposeA, transposeB] of FLAGS) {
  for (const [m, k, n] of [
    [3, 4, 5],
    [1, 64, 300],
    [300, 64, 1],
    [1, 300, 1],
    [40, 1, 50],
    [20, 512, 24],
  ]) {
    PRODUCTS.push({ a: operand([], m, k, transposeA), b: operand([], k, n, transposeB), transposeA, transposeB });
  }
}

const label = (c: ProductCase, extra = '') =>
  `[${c.a}]${c.transposeA ? 'ᵀ' : ''}·[${c.b}]${c.transposeB ? 'ᵀ' : ''} (${matMulRoute(c.a, c.b, c.transposeA, c.transposeB)})${extra}`;

async function compareKernel(
  name: string,
  inputs: Record<string, HostTensor>,
  attrs: Record<string, unknown>,
  what: string,
  tolerance = TOL,
) {
  const expected = await runKernelOn('cpu', name, inputs, attrs);
  const actual = await runKernelOn('wasm', name, inputs, attrs);
  expect(actual.shape, `${what}: shape`).toEqual(expected.shape);
  expectClose(actual.data, expected.data, tolerance, what);
}

beforeAll(async () => {
  tf.env().set('IS_TEST', true);
  registerWasmTrainingKernels();
  await tf.setBackend('wasm');
});

describe('routes', () => {
  it('rewrites the slow transposed and batch-against-matrix products, keeps tiny and already-fast ones', () => {
    expect(matMulRoute([672, 512], [672, 512], true, false)).toBe('flip'); // xᵀ·dy of a large dense layer
    expect(matMulRoute([672, 512], [672, 16], true, false)).toBe('fold'); // too small for the flip
    expect(matMulRoute([32768, 96], [32768, 96], true, false)).toBe('fold'); // too few MACs per moved element
    expect(matMulRoute([16384, 512], [16384, 512], true, false)).toBe('fold'); // K too large for the flip
    expect(matMulRoute([2, 672, 512], [672, 512], true, false)).toBe('fold'); // a batched
    expect(matMulRoute([672, 512], [512, 512], false, true)).toBe('fold');
    expect(matMulRoute([672, 512], [512, 672], true, true)).toBe('fold');
    expect(matMulRoute([32, 21, 512], [512, 512], false, false)).toBe('fold');
    expect(matMulRoute([672, 512], [512, 512], false, false)).toBe('stock'); // XNNPACK already
    expect(matMulRoute([8, 8], [8, 8], true, false)).toBe('stock'); // too small to pay for a transpose
    expect(matMulRoute([1, 512], [512, 512], false, true)).toBe('stock'); // the transpose would cost more
    expect(matMulRoute([256, 21, 64], [256, 21, 64], false, true)).toBe('stock'); // both batched
  });

  it('the grid below exercises every route', () => {
    const seen = new Set<MatMulRoute>(PRODUCTS.map((c) => matMulRoute(c.a, c.b, c.transposeA, c.transposeB)));
    expect([...seen].sort()).toEqual(['fold', 'stock', 'swap']);
  });

  it('registers both kernels and restores the stock ones', async () => {
    expect(tf.getKernel(tf.BatchMatMul, 'wasm')).toBe(batchMatMulConfig);
    expect(tf.getKernel(tf._FusedMatMul, 'wasm')).toBe(fusedMatMulConfig);
    expect(wasmTrainingKernelNames()).toEqual(expect.arrayContaining([tf.BatchMatMul, tf._FusedMatMul]));
    unregisterWasmTrainingKernels();
    try {
      expect(tf.getKernel(tf.BatchMatMul, 'wasm')).not.toBe(batchMatMulConfig);
      expect(tf.getKernel(tf._FusedMatMul, 'wasm')).not.toBe(fusedMatMulConfig);
      const c = PRODUCTS[5]; // [3, K, M]ᵀ·[K, N]: the stock scalar loop
      await compareKernel(
        tf.BatchMatMul,
        { a: host(c.a, 1), b: host(c.b, 2) },
        { transposeA: c.transposeA, transposeB: c.transposeB },
        `stock ${label(c)}`,
      );
    } finally {
      registerWasmTrainingKernels();
    }
    expect(tf.getKernel(tf.BatchMatMul, 'wasm')).toBe(batchMatMulConfig);
  });
});

describe('BatchMatMul on wasm equals cpu', () => {
  it('for all four flag combinations over ranks 2/3/4 with broadcast batch axes, and thin shapes', async () => {
    for (const [i, c] of PRODUCTS.entries()) {
      const attrs = { transposeA: c.transposeA, transposeB: c.transposeB };
      await compareKernel(tf.BatchMatMul, { a: host(c.a, i), b: host(c.b, i + 500) }, attrs, label(c));
    }
  });

  it("on the 'flip' route (a large Aᵀ·B, odd sizes), plain and fused with a bias and relu", async () => {
    const c = { a: [1, 700, 301], b: [700, 290], transposeA: true, transposeB: false };
    expect(matMulRoute(c.a, c.b, true, false)).toBe('flip');
    const attrs = { transposeA: true, transposeB: false };
    // Sums of 700 products of values in [−1, 1) (magnitude ≈ 9): float32 summation order differs.
    const tol = { rtol: 1e-4, atol: 1e-4 };
    await compareKernel(tf.BatchMatMul, { a: host(c.a, 1), b: host(c.b, 2) }, attrs, label(c), tol);
    await compareKernel(
      tf._FusedMatMul,
      { a: host(c.a, 3), b: host(c.b, 4), bias: host([290], 5) },
      { ...attrs, activation: 'relu', leakyreluAlpha: 0 },
      label(c, ' relu + bias'),
      tol,
    );
  });
});

const ACTIVATIONS = ['linear', 'relu', 'elu', 'relu6', 'prelu', 'leakyrelu', 'sigmoid'] as const;

describe('_FusedMatMul on wasm equals cpu', () => {
  // The fused op hands the kernel 3-D operands.
  const FUSED_BATCHES: Array<[number, number]> = [
    [1, 1],
    [3, 1],
    [1, 3],
    [3, 3],
  ];

  it('with a bias of size N and every activation', async () => {
    let seed = 0;
    for (const activation of ACTIVATIONS) {
      for (const [ba, bb] of FUSED_BATCHES) {
        for (const [transposeA, transposeB] of FLAGS) {
          const c = { a: operand([ba], M, K, transposeA), b: operand([bb], K, N, transposeB), transposeA, transposeB };
          const inputs: Record<string, HostTensor> = {
            a: host(c.a, seed++),
            b: host(c.b, seed++),
            bias: host([N], seed++),
          };
          if (activation === 'prelu') inputs.preluActivationWeights = host([N], seed++);
          const attrs = { transposeA, transposeB, activation, leakyreluAlpha: 0.3 };
          await compareKernel(tf._FusedMatMul, inputs, attrs, label(c, ` ${activation} + bias`));
        }
      }
    }
  });

  it('without a bias, with a bias of size 1, and with a 2-D bias', async () => {
    let seed = 7;
    for (const [ba, bb] of FUSED_BATCHES) {
      for (const [transposeA, transposeB] of FLAGS) {
        const c = { a: operand([ba], M, K, transposeA), b: operand([bb], K, N, transposeB), transposeA, transposeB };
        for (const bias of [null, [1], [M, N]]) {
          const inputs: Record<string, HostTensor> = { a: host(c.a, seed++), b: host(c.b, seed++) };
          if (bias != null) inputs.bias = host(bias, seed++);
          const attrs = { transposeA, transposeB, activation: 'relu', leakyreluAlpha: 0.2 };
          await compareKernel(tf._FusedMatMul, inputs, attrs, label(c, ` relu, bias ${JSON.stringify(bias)}`));
        }
      }
    }
  });
});

type Fn = (...xs: tf.Tensor[]) => tf.Tensor;
interface GradCase {
  name: string;
  shapes: number[][];
  f: Fn;
}

const GRAD_CASES: GradCase[] = [];
for (const [transposeA, transposeB] of FLAGS) {
  const flags = `${transposeA ? 'ᵀ' : ''}·${transposeB ? 'ᵀ' : ''}`;
  GRAD_CASES.push(
    {
      name: `matMul 2-D ${flags}`,
      shapes: [operand([], M, K, transposeA), operand([], K, N, transposeB)],
      f: (a, b) => tf.matMul(a, b, transposeA, transposeB),
    },
    {
      name: `matMul 3-D ${flags}`,
      shapes: [operand([3], M, K, transposeA), operand([3], K, N, transposeB)],
      f: (a, b) => tf.matMul(a, b, transposeA, transposeB),
    },
    {
      name: `matMul 4-D ${flags}`,
      shapes: [operand([2, 2], M, K, transposeA), operand([2, 2], K, N, transposeB)],
      f: (a, b) => tf.matMul(a, b, transposeA, transposeB),
    },
  );
  for (const activation of ['linear', 'relu', 'elu', 'sigmoid'] as const) {
    GRAD_CASES.push({
      name: `fused matMul ${flags} + bias + ${activation}`,
      shapes: [operand([], M, K, transposeA), operand([], K, N, transposeB), [N]],
      f: (a, b, bias) => tf.fused.matMul({ a, b, transposeA, transposeB, bias, activation }),
    });
  }
}
GRAD_CASES.push({
  name: 'dense layer (x·W + b, relu) on 3-D input',
  shapes: [[4, 21, K], [K, N], [N]],
  f: (x, w, b) =>
    tf.reshape(tf.fused.matMul({ a: tf.reshape(x, [-1, K]), b: w, bias: b, activation: 'relu' }), [4, 21, N]),
});

/** Gradients of Σ f(xs) ⊙ dy on the current backend, as host arrays. */
function gradsOnBackend(c: GradCase, seed: number): Float32Array[] {
  return tf.tidy(() => {
    const xs = c.shapes.map((s, i) => tf.tensor(seeded(tf.util.sizeFromShape(s), seed * 10 + i), s));
    const y = c.f(...xs);
    const dy = tf.tensor(seeded(y.size, seed + 999), y.shape);
    return tf
      .grads(c.f)(xs, dy)
      .map((g) => Float32Array.from(g.dataSync()));
  });
}

describe('gradients via tf.grads on wasm equal cpu', () => {
  const expected = new Map<string, Float32Array[]>();
  beforeAll(async () => {
    // tfjs's IS_TEST leak check misfires on the fused op's customGrad under tf.grads (the tensors it
    // saves count as leaked, with the stock kernels too); buffers are counted explicitly below.
    tf.env().set('IS_TEST', false);
    await tf.setBackend('cpu');
    GRAD_CASES.forEach((c, i) => expected.set(c.name, gradsOnBackend(c, i)));
    await tf.setBackend('wasm');
  });
  afterAll(() => {
    tf.env().set('IS_TEST', true);
  });

  it('matMul (ranks 2/3/4, all flags) and fused matMul with bias and activations', () => {
    const failures: string[] = [];
    GRAD_CASES.forEach((c, i) => {
      try {
        const actual = gradsOnBackend(c, i);
        const want = expected.get(c.name)!;
        expect(actual.length).toBe(want.length);
        actual.forEach((g, k) => expectClose(g, want[k], { rtol: 1e-4, atol: 1e-4 }, `${c.name} ∂input${k}`));
      } catch (error) {
        failures.push(`${c.name}: ${(error as Error).message.split('\n')[0]}`);
      }
    });
    expect(failures).toEqual([]);
  });

  it('leaves no tensor and no backend buffer behind', async () => {
    for (const c of GRAD_CASES.filter((g) => /2-D|dense/.test(g.name))) {
      const buffers = tf.backend().numDataIds();
      await expectNoTensorLeak(() => gradsOnBackend(c, 3), c.name);
      expect(tf.backend().numDataIds(), `${c.name}: backend buffers`).toBe(buffers);
    }
  });
});

describe('products with an empty inner size or an empty output', () => {
  beforeAll(async () => {
    registerWasmTrainingKernels();
    await tf.setBackend('wasm');
  });

  it('are zeros (plus bias, through the activation) when K = 0, as on cpu, for every flag and batch', async () => {
    // The stock kernels wrote nothing when K = 0: the output held whatever the memory did.
    for (const [ba, bb] of [
      [[], []],
      [[2], []],
      [[], [3]],
      [[2], [2]],
    ] as Array<[number[], number[]]>) {
      for (const [transposeA, transposeB] of FLAGS) {
        const inputs = {
          a: host(operand(ba, 4, 0, transposeA), 1),
          b: host(operand(bb, 0, 3, transposeB), 2),
        };
        const what = `a [${inputs.a.shape}] b [${inputs.b.shape}] ${transposeA} ${transposeB}`;
        for (const [name, extra, attrs] of [
          [tf.BatchMatMul, {}, { transposeA, transposeB }],
          [tf._FusedMatMul, { bias: host([3], 3) }, { transposeA, transposeB, activation: 'relu' }],
          [tf._FusedMatMul, { bias: host([4, 1], 4) }, { transposeA, transposeB, activation: 'linear' }],
        ] as Array<[string, Record<string, HostTensor>, Record<string, unknown>]>) {
          const all = { ...inputs, ...extra };
          const expected = await runKernelOn('cpu', name, all, attrs);
          tf.dispose(tf.fill([256], 7)); // a freed buffer of 7s, so that an unwritten output shows
          const actual = await runKernelOn('wasm', name, all, attrs);
          expect(actual.shape, `${name} ${what}`).toEqual(expected.shape);
          expectClose(actual.data, expected.data, { rtol: 0, atol: 0 }, `${name} ${what}`);
        }
      }
    }
  });

  it('are empty, not a wasm trap, when a batch, M or N is 0', async () => {
    // An empty batch against an un-batched operand ended in "RuntimeError: remainder by zero".
    for (const [a, b, out] of [
      [
        [0, 2, 6],
        [6, 5],
        [0, 2, 5],
      ],
      [
        [6, 5],
        [0, 5, 2],
        [0, 6, 2],
      ],
      [
        [3, 0, 6],
        [6, 5],
        [3, 0, 5],
      ],
      [
        [3, 2, 6],
        [6, 0],
        [3, 2, 0],
      ],
    ]) {
      for (const name of [tf.BatchMatMul, tf._FusedMatMul]) {
        const attrs = { transposeA: false, transposeB: false, activation: 'relu' };
        const actual = await runKernelOn('wasm', name, { a: host(a, 1), b: host(b, 2) }, attrs);
        expect(actual.shape, `${name} [${a}]·[${b}]`).toEqual(out);
        expect(actual.data.length).toBe(0);
      }
    }
  });
});
