import * as tf from '@tensorflow/tfjs-core';
import '@phalanx/testing';
import { expectClose, expectNoTensorLeak } from '@phalanx/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels, unregisterWasmTrainingKernels } from './register';
import { seeded } from './test-utils';

/**
 * One differentiable op of a training step: `f` maps tensors of `shapes` to one output; the check
 * compares tf.grads(Σ f(xs) ⊙ dy) on wasm with cpu. `positive` inputs are drawn from [0.5, 1.5).
 */
interface GradCase {
  name: string;
  shapes: number[][];
  f: (...xs: tf.Tensor[]) => tf.Tensor;
  positive?: boolean;
}

type T4 = tf.Tensor4D;
const CASES: GradCase[] = [
  {
    name: 'conv2d same s1',
    shapes: [
      [2, 6, 6, 3],
      [3, 3, 3, 4],
    ],
    f: (x, w) => tf.conv2d(x as T4, w as T4, 1, 'same'),
  },
  {
    name: 'conv2d valid s2',
    shapes: [
      [2, 7, 7, 3],
      [3, 3, 3, 2],
    ],
    f: (x, w) => tf.conv2d(x as T4, w as T4, 2, 'valid'),
  },
  {
    name: 'conv2d explicit pad',
    shapes: [
      [1, 5, 6, 2],
      [2, 3, 2, 3],
    ],
    f: (x, w) =>
      tf.conv2d(
        x as T4,
        w as T4,
        [2, 1],
        [
          [0, 0],
          [1, 0],
          [2, 1],
          [0, 0],
        ],
      ),
  },
  {
    name: 'conv1d',
    shapes: [
      [2, 9, 3],
      [3, 3, 4],
    ],
    f: (x, w) => tf.conv1d(x as tf.Tensor3D, w as tf.Tensor3D, 2, 'same'),
  },
  {
    name: 'fused conv2d + bias + relu',
    shapes: [[2, 6, 6, 3], [3, 3, 3, 4], [4]],
    f: (x, w, b) =>
      tf.fused.conv2d({ x: x as T4, filter: w as T4, strides: 1, pad: 'same', bias: b, activation: 'relu' }),
  },
  {
    name: 'conv2dTranspose s2',
    shapes: [
      [2, 4, 4, 3],
      [3, 3, 2, 3],
    ],
    f: (x, w) => tf.conv2dTranspose(x as T4, w as T4, [2, 8, 8, 2], 2, 'same'),
  },
  {
    name: 'depthwiseConv2d ×2 s2',
    shapes: [
      [2, 7, 7, 3],
      [3, 3, 3, 2],
    ],
    f: (x, w) => tf.depthwiseConv2d(x as T4, w as T4, 2, 'same'),
  },
  {
    name: 'fused depthwiseConv2d + bias + relu6',
    shapes: [[2, 6, 6, 3], [3, 3, 3, 1], [3]],
    f: (x, w, b) =>
      tf.fused.depthwiseConv2d({ x: x as T4, filter: w as T4, strides: 1, pad: 'valid', bias: b, activation: 'relu6' }),
  },
  {
    name: 'separableConv2d',
    shapes: [
      [2, 6, 6, 3],
      [3, 3, 3, 2],
      [1, 1, 6, 4],
    ],
    f: (x, d, p) => tf.separableConv2d(x as T4, d as T4, p as T4, 1, 'same'),
  },
  { name: 'maxPool 2×2 s2', shapes: [[2, 6, 6, 3]], f: (x) => tf.maxPool(x as T4, 2, 2, 'valid') },
  { name: 'maxPool 3×3 s2 same', shapes: [[2, 7, 7, 2]], f: (x) => tf.maxPool(x as T4, 3, 2, 'same') },
  {
    name: 'maxPool of negatives, ties after relu',
    shapes: [[2, 6, 6, 3]],
    f: (x) =>
      tf.add(tf.maxPool(tf.sub(x, 2) as T4, 3, 1, 'same'), tf.mean(tf.maxPool(tf.relu(x) as T4, 2, 2, 'valid'))),
  },
  { name: 'avgPool 3×3 s1 same', shapes: [[2, 5, 5, 3]], f: (x) => tf.avgPool(x as T4, 3, 1, 'same') },
  { name: 'avgPool 2×2 s2', shapes: [[2, 6, 6, 3]], f: (x) => tf.avgPool(x as T4, 2, 2, 'valid') },
  // Square inputs only: the cpu backend's ResizeBilinearGrad/ResizeNearestNeighborGrad swap H and W when they differ (see below).
  { name: 'resizeBilinear ×2', shapes: [[2, 4, 4, 3]], f: (x) => tf.image.resizeBilinear(x as T4, [8, 8]) },
  {
    name: 'resizeBilinear alignCorners',
    shapes: [[1, 4, 4, 2]],
    f: (x) => tf.image.resizeBilinear(x as T4, [7, 6], true),
  },
  // (halfPixelCenters is checked below: tfjs's cpu and stock wasm ResizeBilinearGrad ignore it.)
  // Batch 1: tfjs's cpu (and stock wasm) ResizeNearestNeighborGrad is wrong for N > 1 (adjoint test below).
  {
    name: 'resizeNearestNeighbor ×2',
    shapes: [[1, 4, 4, 3]],
    f: (x) => tf.image.resizeNearestNeighbor(x as T4, [8, 8]),
  },
  {
    name: 'batchNorm (all args)',
    shapes: [[2, 3, 3, 4], [4], [4], [4], [4]],
    f: (x, m, v, o, s) => tf.batchNorm(x, m, tf.add(tf.abs(v), 0.5), o, s, 1e-3),
  },
  {
    name: 'moments-based normalisation',
    shapes: [[4, 3, 3, 2]],
    f: (x) => {
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      return tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-3)));
    },
  },
  {
    name: 'localResponseNormalization',
    shapes: [[1, 3, 3, 6]],
    f: (x) => tf.localResponseNormalization(x as T4, 2, 1, 1, 0.5),
  },
  {
    name: 'matMul',
    shapes: [
      [5, 4],
      [4, 3],
    ],
    f: (a, b) => tf.matMul(a, b),
  },
  {
    name: 'matMul transposed, batched',
    shapes: [
      [2, 4, 5],
      [2, 3, 4],
    ],
    f: (a, b) => tf.matMul(a, b, true, true),
  },
  {
    name: 'fused matMul + bias + relu',
    shapes: [[5, 4], [4, 3], [3]],
    f: (a, b, c) => tf.fused.matMul({ a, b, bias: c, activation: 'relu' }),
  },
  { name: 'gather axis 0', shapes: [[6, 3]], f: (x) => tf.gather(x, tf.tensor1d([0, 2, 2, 5, 1], 'int32'), 0) },
  // (batchDims > 0 is left out: tfjs-core's GatherV2 gradient then calls the chained x.split.)
  {
    name: 'gather axis 1, 2-D indices',
    shapes: [[2, 5, 3]],
    f: (x) =>
      tf.gather(
        x,
        tf.tensor2d(
          [
            [4, 0],
            [1, 1],
          ],
          [2, 2],
          'int32',
        ),
        1,
      ),
  },
  {
    name: 'unsortedSegmentSum',
    shapes: [[5, 3]],
    f: (x) => tf.unsortedSegmentSum(x, tf.tensor1d([1, 0, 1, 3, 0], 'int32'), 4),
  },
  // (tfjs has no gradient for stridedSlice or gatherND on any backend.)
  { name: 'slice', shapes: [[4, 6, 3]], f: (x) => tf.slice(x, [1, 2, 0], [3, 3, 2]) },
  {
    name: 'pad',
    shapes: [[2, 3, 3]],
    f: (x) =>
      tf.pad(x, [
        [0, 1],
        [2, 0],
        [1, 1],
      ]),
  },
  {
    name: 'mirrorPad reflect',
    shapes: [[2, 4, 4, 2]],
    f: (x) =>
      tf.mirrorPad(
        x,
        [
          [0, 0],
          [1, 2],
          [2, 1],
          [0, 0],
        ],
        'reflect',
      ),
  },
  {
    name: 'mirrorPad symmetric',
    shapes: [[2, 4, 4, 2]],
    f: (x) =>
      tf.mirrorPad(
        x,
        [
          [0, 0],
          [2, 1],
          [1, 2],
          [0, 0],
        ],
        'symmetric',
      ),
  },
  { name: 'tile', shapes: [[2, 3]], f: (x) => tf.tile(x, [2, 3]) },
  {
    name: 'concat + split',
    shapes: [
      [2, 3],
      [2, 2],
    ],
    f: (a, b) => tf.mul(tf.split(tf.concat([a, b], 1), [1, 4], 1)[1], 2),
  },
  {
    name: 'stack + unstack',
    shapes: [
      [2, 3],
      [2, 3],
    ],
    f: (a, b) => tf.unstack(tf.stack([a, b], 1), 2)[1],
  },
  { name: 'reverse + transpose', shapes: [[2, 3, 4]], f: (x) => tf.transpose(tf.reverse(x, [1, 2]), [2, 0, 1]) },
  {
    name: 'relu, relu6, leakyRelu',
    shapes: [[4, 5]],
    f: (x) => tf.add(tf.add(tf.relu(x), tf.relu6(tf.mul(x, 8))), tf.leakyRelu(x, 0.1)),
  },
  {
    name: 'elu, selu, prelu',
    shapes: [[4, 5], [5]],
    f: (x, a) => tf.add(tf.add(tf.elu(x), tf.selu(x)), tf.prelu(x, a)),
  },
  {
    name: 'sigmoid, tanh, softplus',
    shapes: [[4, 5]],
    f: (x) => tf.add(tf.add(tf.sigmoid(x), tf.tanh(x)), tf.softplus(x)),
  },
  { name: 'softmax, logSoftmax', shapes: [[4, 5]], f: (x) => tf.add(tf.softmax(x), tf.logSoftmax(x)) },
  // (prod is left out: tfjs-core's Prod gradient calls chained ops, absent without @tensorflow/tfjs.)
  { name: 'sum, mean, max, min', shapes: [[3, 4]], f: (x) => tf.stack([tf.sum(x), tf.mean(x), tf.max(x), tf.min(x)]) },
  { name: 'cumsum', shapes: [[3, 4]], f: (x) => tf.cumsum(x, 1) },
  {
    name: 'clipByValue, maximum, minimum',
    shapes: [
      [3, 4],
      [3, 4],
    ],
    f: (a, b) => tf.add(tf.clipByValue(a, -0.5, 0.5), tf.sub(tf.maximum(a, b), tf.minimum(a, b))),
  },
  {
    name: 'pow, sqrt, rsqrt, log, log1p, exp',
    shapes: [
      [3, 4],
      [3, 4],
    ],
    positive: true,
    f: (a, b) => tf.addN([tf.pow(a, b), tf.sqrt(a), tf.rsqrt(b), tf.log(a), tf.log1p(b), tf.exp(a)]),
  },
  {
    name: 'square, abs, div, squaredDifference',
    shapes: [
      [3, 4],
      [3, 4],
    ],
    f: (a, b) => tf.addN([tf.square(a), tf.abs(b), tf.div(a, tf.add(tf.abs(b), 1)), tf.squaredDifference(a, b)]),
  },
  {
    name: 'where',
    shapes: [
      [3, 4],
      [3, 4],
    ],
    f: (a, b) => tf.where(tf.tensor2d([1, 0, 0, 1, 1, 0, 1, 0, 0, 0, 1, 1], [3, 4], 'bool'), a, tf.mul(b, 3)),
  },
  {
    name: 'dropout-like mask, broadcasting',
    shapes: [[3, 4], [4]],
    f: (a, b) => tf.mul(tf.mul(a, tf.tensor2d([[1, 0, 1, 1]], [1, 4])), b),
  },
];

function makeInputs(c: GradCase, seed: number): tf.Tensor[] {
  return c.shapes.map((shape, i) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const v = seeded(size, seed * 10 + i);
    if (c.positive) for (let k = 0; k < size; k++) v[k] = 1 + 0.5 * v[k];
    return tf.tensor(v, shape);
  });
}

/** Gradients of Σ f(xs) ⊙ dy on the current backend, as host arrays. */
function gradsOnBackend(c: GradCase, seed: number): Float32Array[] {
  return tf.tidy(() => {
    const xs = makeInputs(c, seed);
    const y = c.f(...xs);
    const dy = tf.tensor(seeded(y.size, seed + 999), y.shape);
    const gs = tf.grads((...args: tf.Tensor[]) => c.f(...args))(xs, dy);
    return gs.map((g) => Float32Array.from(g.dataSync()));
  });
}

const TOL = { rtol: 1e-4, atol: 1e-4 };

describe('every gradient a conv training step needs runs on wasm and equals cpu', () => {
  const expected = new Map<string, Float32Array[]>();
  beforeAll(async () => {
    registerWasmTrainingKernels();
    await tf.setBackend('cpu');
    CASES.forEach((c, i) => expected.set(c.name, gradsOnBackend(c, i)));
    await tf.setBackend('wasm');
  });

  it('all cases (the failures are listed together)', () => {
    const failures: string[] = [];
    CASES.forEach((c, i) => {
      try {
        const actual = gradsOnBackend(c, i);
        const want = expected.get(c.name)!;
        actual.forEach((g, k) => expectClose(g, want[k], TOL, `${c.name} ∂input${k}`));
      } catch (error) {
        failures.push(`${c.name}: ${(error as Error).message.split('\n')[0]}`);
      }
    });
    expect(failures).toEqual([]);
  });

  it('leaves no tensor behind (conv, depthwise, gather gradients)', async () => {
    for (const name of ['conv2d valid s2', 'depthwiseConv2d ×2 s2', 'separableConv2d', 'gather axis 0']) {
      const c = CASES.find((k) => k.name === name)!;
      await expectNoTensorLeak(() => gradsOnBackend(c, 1), name);
    }
  });
});

describe('resize gradients on wasm where the cpu reference is wrong (non-square, N > 1, halfPixelCenters)', () => {
  it('satisfies the adjoint identity ⟨∂x, U⟩ = Σ dy ⊙ resize(U)', async () => {
    await tf.setBackend('wasm');
    for (const [alignCorners, halfPixel] of [
      [false, false],
      [true, false],
      [false, true],
    ]) {
      for (const kind of ['bilinear', 'nearest']) {
        const resize = (x: tf.Tensor) =>
          kind === 'bilinear'
            ? tf.image.resizeBilinear(x as T4, [7, 11], alignCorners, halfPixel)
            : tf.image.resizeNearestNeighbor(x as T4, [7, 11], alignCorners, halfPixel);
        const [lhs, rhs] = tf.tidy(() => {
          const x = tf.tensor(seeded(2 * 4 * 5 * 3, 1), [2, 4, 5, 3]);
          const u = tf.tensor(seeded(2 * 4 * 5 * 3, 2), [2, 4, 5, 3]);
          const dy = tf.tensor(seeded(2 * 7 * 11 * 3, 3), [2, 7, 11, 3]);
          const g = tf.grad(resize)(x, dy);
          return [tf.sum(tf.mul(g, u)).dataSync()[0], tf.sum(tf.mul(dy, resize(u))).dataSync()[0]];
        });
        expectClose(lhs, rhs, TOL, `${kind} alignCorners ${alignCorners} halfPixel ${halfPixel}`);
      }
    }
  });
});

describe('without this package', () => {
  afterAll(() => registerWasmTrainingKernels());

  it('the stock wasm backend cannot differentiate conv2d, depthwiseConv2d or gather', async () => {
    await tf.setBackend('wasm');
    unregisterWasmTrainingKernels();
    for (const name of ['conv2d same s1', 'depthwiseConv2d ×2 s2', 'gather axis 0']) {
      const c = CASES.find((k) => k.name === name)!;
      expect(() => gradsOnBackend(c, 0), name).toThrow(/not registered/);
    }
    registerWasmTrainingKernels();
    expect(() => gradsOnBackend(CASES[0], 0)).not.toThrow();
  });
});
