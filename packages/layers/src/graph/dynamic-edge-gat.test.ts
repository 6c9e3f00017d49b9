import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  expectClose,
  expectConfigRoundTrip,
  expectLayerMatchesGolden,
  expectNoLeakInPredictAndTrain,
  expectNumericGradient,
  expectSaveLoadIdentical,
  forEachBackend,
  modelAround,
  readJson,
  type GoldenLayerCase,
  useBackend,
} from '@phalanx/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { adjacencyFromEdges, handAdjacency, hopNeighborhood } from './adjacency';
import {
  DynamicEdgeGAT,
  dynamicEdgeGATCore,
  dynamicEdgeGAT,
  type DynamicEdgeGATArgs,
  knnNeighborhoodMask,
} from './dynamic-edge-gat';

const golden = (name: string): GoldenLayerCase =>
  readJson<GoldenLayerCase>(new URL(`../../test/fixtures/${name}`, import.meta.url));

/** Deterministic pseudo-random values in [-1, 1) (no dependence on tf's RNG). */
function values(count: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: count }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  });
}
const rand = (shape: number[], seed: number): tf.Tensor =>
  tf.tensor(
    values(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
    shape,
  );

/** Replaces a built layer's weights with deterministic pseudo-random values (tests must not depend on init). */
function seedWeights(layer: tfl.layers.Layer, seed: number): void {
  const ws = layer.weights.map((w, i) => rand(w.shape as number[], seed + i));
  layer.setWeights(ws);
  tf.dispose(ws);
}

/**
 * Joint features whose first three entries are well-separated 3D points (so that k-NN sets do not
 * change under small perturbations): joint j of sample b sits at (p, 0.3·p², 0.1·p) with
 * p = perms[b][j]; the other features are pseudo-random.
 */
function knnInput(perms: number[][], features: number, seed: number): tf.Tensor {
  const extra = values(perms.length * perms[0].length * (features - 3), seed);
  let e = 0;
  const data = perms.map((perm) =>
    perm.map((p) => [p, 0.3 * p * p, 0.1 * p, ...Array.from({ length: features - 3 }, () => extra[e++])]),
  );
  return tf.tensor3d(data);
}

/** Brute-force k-NN mask on the host: j = i or j among the k closest to i. */
function hostKnn(points: number[][], k: number): number[][] {
  return points.map((pi, i) => {
    const order = points
      .map((pj, j) => ({ j, d: pj.reduce((s, v, c) => s + (v - pi[c]) ** 2, 0) }))
      .filter(({ j }) => j !== i)
      .sort((a, b) => a.d - b.d)
      .slice(0, k)
      .map(({ j }) => j);
    return points.map((_, j) => (j === i || order.includes(j) ? 1 : 0));
  });
}

/** Naive loop implementation of the dot-product variant (heads concatenated, no bias), on the host. */
function naiveDotProduct(
  x: number[][][],
  kernel: number[][],
  qk: number[][],
  kk: number[][],
  heads: number,
  mask: number[][],
) {
  const units = kernel[0].length / heads;
  const proj = (w: number[][]) =>
    x.map((sample) => sample.map((row) => w[0].map((_, c) => row.reduce((s, v, f) => s + v * w[f][c], 0))));
  const wh = proj(kernel);
  const q = proj(qk);
  const kt = proj(kk);
  const J = x[0].length;
  return x.map((_, b) =>
    Array.from({ length: J }, (_, i) => {
      const out: number[] = [];
      for (let h = 0; h < heads; h++) {
        const cols = Array.from({ length: units }, (_, u) => h * units + u);
        const e = Array.from(
          { length: J },
          (_, j) => cols.reduce((s, c) => s + q[b][i][c] * kt[b][j][c], 0) / Math.sqrt(units),
        );
        const max = Math.max(...e.filter((_, j) => mask[i][j] === 1));
        const w = e.map((v, j) => (mask[i][j] === 1 ? Math.exp(v - max) : 0));
        const z = w.reduce((s, v) => s + v, 0);
        for (const c of cols) out.push(w.reduce((s, a, j) => s + (a / z) * wh[b][j][c], 0));
      }
      return out;
    }),
  );
}

function expectAttentionInNeighborhood(alpha: tf.Tensor, masks: number[][][] | number[][]): void {
  const a = alpha.arraySync() as number[][][][];
  a.forEach((sample, b) => {
    const mask = (Array.isArray(masks[0][0]) ? (masks as number[][][])[b] : masks) as number[][];
    sample.forEach((head, k) =>
      head.forEach((row, i) => {
        row.forEach((v, j) => {
          if (mask[i][j] === 0) expect(v, `α[${b},${k},${i},${j}] outside N(i)`).toBe(0);
          else expect(v, `α[${b},${k},${i},${j}] inside N(i)`).toBeGreaterThan(0);
        });
        expect(Math.abs(row.reduce((s, v) => s + v, 0) - 1), `row sum b${b} k${k} i${i}`).toBeLessThan(1e-5);
      }),
    );
  });
}

describe('DynamicEdgeGAT (backend independent): weights and defaults', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('creates weights in the documented order with the documented shapes', () => {
    const additive = dynamicEdgeGAT({ units: 4, heads: 3 });
    additive.build([null, 21, 5]);
    expect(additive.weights.map((w) => [w.originalName.split('/').pop(), w.shape, w.trainable])).toEqual([
      ['kernel', [5, 12], true],
      ['attentionSelf', [3, 4], true],
      ['attentionNeighbor', [3, 4], true],
      ['bias', [12], true],
    ]);
    const dot = dynamicEdgeGAT({ units: 4, heads: 3, attention: 'dotProduct', concatHeads: false });
    dot.build([null, 21, 5]);
    expect(dot.weights.map((w) => [w.originalName.split('/').pop(), w.shape])).toEqual([
      ['kernel', [5, 12]],
      ['queryKernel', [5, 12]],
      ['keyKernel', [5, 12]],
      ['bias', [4]],
    ]);
    const noBias = dynamicEdgeGAT({ units: 2, heads: 2, useBias: false });
    noBias.build([null, 21, 5]);
    expect(noBias.weights.map((w) => w.originalName.split('/').pop())).toEqual([
      'kernel',
      'attentionSelf',
      'attentionNeighbor',
    ]);
  });

  it('has the documented defaults and output shapes', () => {
    const layer = dynamicEdgeGAT({ units: 4 });
    const config = layer.getConfig();
    expect(config).toMatchObject({
      heads: 8,
      hops: 1,
      attention: 'additive',
      concatHeads: true,
      negativeSlope: 0.2,
      attentionDropout: 0,
      useBias: true,
      activation: 'linear',
      returnAttention: false,
      neighborhood: 'skeleton',
      k: 8,
    });
    expect(config.adjacency).toEqual(handAdjacency());
    expect(layer.computeOutputShape([null, 21, 7])).toEqual([null, 21, 32]);
    const mean = dynamicEdgeGAT({ units: 4, heads: 2, concatHeads: false, returnAttention: true });
    expect(mean.computeOutputShape([3, 21, 7])).toEqual([
      [3, 21, 4],
      [3, 2, 21, 21],
    ]);
  });
});

describe('DynamicEdgeGAT (backend independent): validation', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('rejects bad configurations with named errors', () => {
    const bad = (args: Partial<DynamicEdgeGATArgs>, message: string) =>
      expect(() => dynamicEdgeGAT({ units: 4, ...args } as DynamicEdgeGATArgs)).toThrow(message);
    bad({ units: 0 }, 'DynamicEdgeGAT: units must be an integer ≥ 1, but received 0.');
    bad({ heads: 1.5 }, 'DynamicEdgeGAT: heads must be an integer ≥ 1, but received 1.5.');
    bad({ hops: 3 as 1 }, 'DynamicEdgeGAT: hops must be 1 or 2, but received 3.');
    bad(
      { attention: 'mul' as 'additive' },
      "DynamicEdgeGAT: attention must be one of 'additive', 'dotProduct', but received 'mul'.",
    );
    bad(
      { concatHeads: 'yes' as unknown as boolean },
      "DynamicEdgeGAT: concatHeads must be a boolean, but received 'yes'.",
    );
    bad({ negativeSlope: Number.NaN }, 'DynamicEdgeGAT: negativeSlope must be a finite number, but received NaN.');
    bad({ attentionDropout: 1 }, 'DynamicEdgeGAT: attentionDropout must be a number in [0, 1), but received 1.');
    bad({ activation: 'swishy' as 'relu' }, "DynamicEdgeGAT: activation must be one of 'elu'");
    bad(
      { neighborhood: 'radius' as 'knn' },
      "DynamicEdgeGAT: neighborhood must be one of 'skeleton', 'knn', but received 'radius'.",
    );
    bad({ k: 0 }, 'DynamicEdgeGAT: k must be an integer ≥ 1, but received 0.');
    bad(
      {
        adjacency: [
          [0, 1],
          [0, 0],
        ],
      },
      "DynamicEdgeGAT: adjacency must be symmetric, but received '[0, 1] = 1 but [1, 0] = 0'.",
    );
    bad(
      {
        adjacency: [
          [0, 1, 0],
          [1, 0],
        ],
      },
      'DynamicEdgeGAT: adjacency must be square',
    );
    bad(
      {
        adjacency: [
          [0, 2],
          [2, 0],
        ],
      },
      "DynamicEdgeGAT: adjacency must be a matrix of 0s and 1s, but received '2 at [0, 1]'.",
    );
    expect(() => dynamicEdgeGAT({ units: 4, hops: 0 as 1 })).toThrow(PhalanxConfigError);
  });

  it('rejects bad input shapes at build with named errors', () => {
    expect(() => dynamicEdgeGAT({ units: 2, heads: 2 }).build([null, 21])).toThrow(
      'DynamicEdgeGAT: input must be of rank 3 [B, J, F], but received [null, 21].',
    );
    expect(() => dynamicEdgeGAT({ units: 2, heads: 2 }).build([null, 20, 4])).toThrow(
      "DynamicEdgeGAT: input must be [B, J, F] with J = 21 joints (the adjacency's size), but received 'J = 20'.",
    );
    expect(() => dynamicEdgeGAT({ units: 2, heads: 2, neighborhood: 'knn', k: 6 }).build([null, 6, 4])).toThrow(
      'DynamicEdgeGAT: k must be an integer in [1, J − 1] = [1, 5] for J = 6, but received 6.',
    );
    expect(() => dynamicEdgeGAT({ units: 2, heads: 2, neighborhood: 'knn', k: 2 }).build([null, 6, 2])).toThrow(
      PhalanxShapeError,
    );
    // knn mode ignores the adjacency's size.
    expect(() => dynamicEdgeGAT({ units: 2, heads: 2, neighborhood: 'knn', k: 2 }).build([null, 6, 4])).not.toThrow();
  });

  it('dynamicEdgeGATCore rejects the options the layer rejects, and misshapen weights, with named errors', () => {
    const neighborhood = hopNeighborhood(handAdjacency(), 1);
    const x = rand([1, 21, 4], 1);
    const kernel = rand([4, 8], 2); // K = 2 heads of U = 4 units
    const a = rand([2, 4], 3);
    const additive = { kernel, attentionSelf: a, attentionNeighbor: a };
    const before = tf.memory().numTensors;
    type Weights = Parameters<typeof dynamicEdgeGATCore>[1];
    type Options = Parameters<typeof dynamicEdgeGATCore>[2];
    const call = (weights: Weights, options: Partial<Options>) => () =>
      dynamicEdgeGATCore(x, weights, { heads: 2, neighborhood, ...options } as Options);
    const bad = (
      weights: Weights,
      options: Partial<Options>,
      error: typeof PhalanxConfigError | typeof PhalanxShapeError,
      message: string,
    ) => {
      expect(call(weights, options), message).toThrow(error);
      expect(call(weights, options), message).toThrow(`dynamicEdgeGATCore: ${message}`);
    };
    const config = PhalanxConfigError;
    const shape = PhalanxShapeError;
    const activations = "activation must be one of 'elu', 'hardSigmoid', 'linear', 'relu'";
    // The option checks of the layer, under the core's name.
    bad(additive, { negativeSlope: Number.NaN }, config, 'negativeSlope must be a finite number, but received NaN.');
    bad(additive, { attentionDropout: 1, training: true }, config, 'attentionDropout must be a number in [0, 1)');
    bad(additive, { attention: 'Additive' as 'additive' }, config, "attention must be one of 'additive', 'dotProduct'");
    bad(
      additive,
      { concatHeads: 'yes' as unknown as boolean },
      config,
      "concatHeads must be a boolean, but received 'yes'.",
    );
    bad(additive, { training: 1 as unknown as boolean }, config, 'training must be a boolean, but received 1.');
    bad(additive, { dropoutSeed: Number.NaN }, config, 'dropoutSeed must be a finite number or a string');
    // Registered tfjs classes that are not activations, prototype keys and unknown names.
    for (const activation of ['L1L2', 'Zeros', 'Ones', 'toString', '__proto__', 'nope']) {
      bad(additive, { activation: activation as 'relu' }, config, `${activations}`);
    }
    // Weights: missing or misshapen.
    bad({} as Weights, {}, config, 'kernel must be a tensor of shape [4, K·U], but received undefined.');
    bad({ ...additive, attentionSelf: rand([3, 3], 4) }, {}, shape, 'attentionSelf must be of shape [K, U] = [2, 4]');
    bad({ ...additive, attentionNeighbor: rand([1, 2, 4], 5) }, {}, shape, 'attentionNeighbor must be of shape [K, U]');
    bad({ ...additive, bias: rand([5], 6) }, {}, shape, 'bias must be of shape [K·U] = [8] (heads concatenated)');
    bad({ ...additive, bias: rand([8], 7) }, { concatHeads: false }, shape, 'bias must be of shape [U] = [4]');
    const dot = { kernel, queryKernel: rand([4, 8], 8), keyKernel: rand([4, 6], 9) };
    bad(dot, { attention: 'dotProduct' }, shape, 'keyKernel must be of shape [F, K·U] = [4, 8], but received [4, 6].');
    bad({ ...dot, queryKernel: rand([8, 4], 10) }, { attention: 'dotProduct' }, shape, 'queryKernel must be of shape');
    bad({ kernel: [[1]] as unknown as tf.Tensor }, {}, config, 'kernel must be a tensor of shape [4, K·U]');
    // Nothing is left behind by a refused call (the rand() tensors above are the test's own).
    expect(tf.memory().numTensors - before).toBe(7);
    // The options the layer accepts still work, 'geluNew' included.
    const { output, attention } = dynamicEdgeGATCore(
      x,
      { ...additive, bias: tf.zeros([8]) },
      { heads: 2, neighborhood, activation: 'geluNew' as 'gelu_new', negativeSlope: 0.1 },
    );
    expect(output.shape).toEqual([1, 21, 8]);
    tf.dispose([x, kernel, a, output, attention]);
  });
});

forEachBackend(() => {
  it('matches the golden additive case (1 hop, heads concatenated, α output)', () => {
    const g = golden('dynamic_edge_gat.additive.json');
    expectLayerMatchesGolden(dynamicEdgeGAT(g.config as unknown as DynamicEdgeGATArgs), g);
  });

  it('matches the golden 2-hop case with heads averaged', () => {
    const g = golden('dynamic_edge_gat.mean2hop.json');
    expectLayerMatchesGolden(dynamicEdgeGAT(g.config as unknown as DynamicEdgeGATArgs), g);
  });

  it('gives attention exactly 0 outside N(i) and rows summing to 1 (1 and 2 hops, both attentions)', () => {
    for (const hops of [1, 2] as const) {
      for (const attention of ['additive', 'dotProduct'] as const) {
        const layer = dynamicEdgeGAT({ units: 3, heads: 2, hops, attention, returnAttention: true });
        tf.tidy(() => {
          const [, alpha] = layer.apply(tf.mul(rand([2, 21, 5], 7 + hops), 3)) as tf.Tensor[];
          expectAttentionInNeighborhood(alpha, hopNeighborhood(handAdjacency(), hops));
        });
      }
    }
  });

  it('uses a custom adjacency (any J)', () => {
    const path = adjacencyFromEdges(5, [
      [0, 1],
      [1, 2],
      [2, 3],
      [3, 4],
    ]);
    const layer = dynamicEdgeGAT({ units: 2, heads: 2, adjacency: path, hops: 2, returnAttention: true });
    tf.tidy(() => {
      const [out, alpha] = layer.apply(rand([3, 5, 4], 3)) as tf.Tensor[];
      expect(out.shape).toEqual([3, 5, 4]);
      expectAttentionInNeighborhood(alpha, hopNeighborhood(path, 2));
    });
  });

  it('dotProduct mode equals a naive loop implementation', () => {
    tf.tidy(() => {
      const x = rand([2, 6, 4], 11);
      const kernel = rand([4, 6], 12);
      const queryKernel = rand([4, 6], 13);
      const keyKernel = rand([4, 6], 14);
      const adjacency = adjacencyFromEdges(6, [
        [0, 1],
        [1, 2],
        [0, 3],
        [3, 4],
        [4, 5],
      ]);
      const mask = hopNeighborhood(adjacency, 1);
      const { output } = dynamicEdgeGATCore(
        x,
        { kernel, queryKernel, keyKernel },
        { heads: 2, attention: 'dotProduct', neighborhood: mask },
      );
      const expected = naiveDotProduct(
        x.arraySync() as number[][][],
        kernel.arraySync() as number[][],
        queryKernel.arraySync() as number[][],
        keyKernel.arraySync() as number[][],
        2,
        mask,
      );
      expectClose(output, expected.flat(2), { rtol: 1e-4, atol: 1e-5 }, 'dotProduct output');
    });
  });

  it('applies bias then the activation', () => {
    const linear = dynamicEdgeGAT({ units: 2, heads: 2 });
    const relu = dynamicEdgeGAT({ units: 2, heads: 2, activation: 'relu' });
    tf.tidy(() => {
      const x = rand([2, 21, 3], 5);
      linear.apply(x);
      relu.apply(x);
      seedWeights(linear, 6);
      const weights = linear.getWeights().map((w, i) => (i === 3 ? tf.fill(w.shape, 0.1) : w));
      linear.setWeights(weights);
      relu.setWeights(weights);
      const a = linear.apply(x) as tf.Tensor;
      expect(tf.min(a).dataSync()[0]).toBeLessThan(0);
      expectClose(relu.apply(x) as tf.Tensor, tf.relu(a), { rtol: 0, atol: 0 }, 'relu output');
    });
  });

  it('passes a numeric gradient check (additive, all inputs)', () => {
    const mask = hopNeighborhood(handAdjacency(), 2);
    const up = rand([1, 21, 4], 21);
    const upAlpha = rand([1, 2, 21, 21], 22);
    const f = (x: tf.Tensor, kernel: tf.Tensor, aSelf: tf.Tensor, aNeighbor: tf.Tensor, bias: tf.Tensor) => {
      const { output, attention } = dynamicEdgeGATCore(
        x,
        { kernel, attentionSelf: aSelf, attentionNeighbor: aNeighbor, bias },
        { heads: 2, neighborhood: mask, negativeSlope: 0.2, activation: 'tanh' },
      );
      return tf.add(tf.sum(tf.mul(output, up)), tf.sum(tf.mul(attention, upAlpha))) as tf.Scalar;
    };
    const xs = [rand([1, 21, 3], 23), rand([3, 4], 24), rand([2, 2], 25), rand([2, 2], 26), rand([4], 27)];
    expectNumericGradient(f, xs, { epsilon: 1e-2, samples: 10 });
    tf.dispose([up, upAlpha, ...xs]);
  });

  it('passes a numeric gradient check (dotProduct, all inputs, heads averaged)', () => {
    const mask = hopNeighborhood(handAdjacency(), 1);
    const up = rand([2, 21, 3], 31);
    const upAlpha = rand([2, 2, 21, 21], 32);
    const f = (x: tf.Tensor, kernel: tf.Tensor, qk: tf.Tensor, kk: tf.Tensor, bias: tf.Tensor) => {
      const { output, attention } = dynamicEdgeGATCore(
        x,
        { kernel, queryKernel: qk, keyKernel: kk, bias },
        { heads: 2, attention: 'dotProduct', neighborhood: mask, concatHeads: false },
      );
      return tf.add(tf.sum(tf.mul(output, up)), tf.sum(tf.mul(attention, upAlpha))) as tf.Scalar;
    };
    const xs = [tf.mul(rand([2, 21, 4], 33), 2), rand([4, 6], 34), rand([4, 6], 35), rand([4, 6], 36), rand([3], 37)];
    expectNumericGradient(f, xs, { epsilon: 1e-2, samples: 10 });
    tf.dispose([up, upAlpha, ...xs]);
  });
});

forEachBackend(() => {
  it('knn mode: mask is i plus its k nearest joints, per sample, and the forward pass respects it', () => {
    const perms = [
      [0, 1, 2, 3, 4, 5],
      [3, 0, 5, 1, 4, 2],
    ];
    const x = knnInput(perms, 5, 41);
    const points = (x.arraySync() as number[][][]).map((s) => s.map((row) => row.slice(0, 3)));
    const expected = points.map((p) => hostKnn(p, 2));
    expect(expected[0]).not.toEqual(expected[1]);
    const mask = knnNeighborhoodMask(x, 2);
    expect(mask.arraySync()).toEqual(expected);
    const layer = dynamicEdgeGAT({ units: 2, heads: 2, neighborhood: 'knn', k: 2, returnAttention: true });
    tf.tidy(() => {
      const [out, alpha] = layer.apply(x) as tf.Tensor[];
      expect(out.shape).toEqual([2, 6, 4]);
      expectAttentionInNeighborhood(alpha, expected);
    });
    tf.dispose([x, mask]);
  });

  it('knn mode: the mask has zero gradient and the layer gradient matches finite differences', () => {
    const x = knnInput(
      [
        [0, 1, 2, 3, 4, 5],
        [3, 0, 5, 1, 4, 2],
      ],
      5,
      51,
    );
    const maskGrad = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(knnNeighborhoodMask(input, 2), 3)))(x);
    expect(Array.from(maskGrad.dataSync()).every((v) => v === 0)).toBe(true);
    for (const attention of ['additive', 'dotProduct'] as const) {
      const layer = dynamicEdgeGAT({ units: 2, heads: 2, neighborhood: 'knn', k: 2, attention, returnAttention: true });
      tf.tidy(() => {
        layer.apply(x);
      });
      seedWeights(layer, attention === 'additive' ? 53 : 54);
      const up = rand([2, 6, 4], 52);
      const f = (input: tf.Tensor) =>
        tf.tidy(() => {
          const [out, alpha] = layer.apply(input) as tf.Tensor[];
          return tf.add(tf.sum(tf.mul(out, up)), tf.sum(tf.square(alpha))) as tf.Scalar;
        });
      const g = tf.grad(f)(x);
      expect(Array.from(g.dataSync()).every(Number.isFinite)).toBe(true);
      expect(tf.max(tf.abs(g)).dataSync()[0]).toBeGreaterThan(0);
      expectNumericGradient(f, [x], { epsilon: 1e-2, samples: 16 });
      tf.dispose([up, g]);
    }
    tf.dispose([x, maskGrad]);
  });

  it('attention dropout acts in training only', () => {
    const layer = dynamicEdgeGAT({ units: 2, heads: 2, attentionDropout: 0.5, returnAttention: true });
    tf.tidy(() => {
      const x = rand([2, 21, 3], 61);
      const [inference, alpha] = layer.apply(x) as tf.Tensor[];
      const [again] = layer.apply(x, { training: false }) as tf.Tensor[];
      expectClose(again, inference, { rtol: 0, atol: 0 }, 'inference is deterministic');
      const [trained, alphaTrained] = layer.apply(x, { training: true }) as tf.Tensor[];
      expect(tf.max(tf.abs(tf.sub(trained, inference))).dataSync()[0]).toBeGreaterThan(1e-4);
      // The returned α is the one before dropout.
      expectClose(alphaTrained, alpha, { rtol: 1e-6, atol: 1e-7 }, 'α before dropout');
    });
  });

  it('survives a getConfig round trip', () => {
    expectConfigRoundTrip(dynamicEdgeGAT({ units: 4 }));
    expectConfigRoundTrip(
      dynamicEdgeGAT({
        units: 3,
        heads: 2,
        adjacency: adjacencyFromEdges(4, [
          [0, 1],
          [1, 2],
        ]),
        hops: 2,
        attention: 'dotProduct',
        concatHeads: false,
        negativeSlope: 0.1,
        attentionDropout: 0.25,
        useBias: false,
        activation: 'relu',
        returnAttention: true,
        neighborhood: 'knn',
        k: 3,
        name: 'gat_custom',
      }),
    );
  });

  it('saves to disk and reloads with identical outputs', async () => {
    const skeleton = modelAround(
      dynamicEdgeGAT({ units: 3, heads: 2, hops: 2, activation: 'elu', returnAttention: true }),
      [[21, 4]],
    );
    const x = rand([2, 21, 4], 71);
    const loaded = await expectSaveLoadIdentical(skeleton, [x]);
    expect(loaded.layers[1]).toBeInstanceOf(DynamicEdgeGAT);
    expect(loaded.layers[1].getConfig()).toEqual(skeleton.layers[1].getConfig());
    const knn = modelAround(
      dynamicEdgeGAT({ units: 2, heads: 2, attention: 'dotProduct', neighborhood: 'knn', k: 3 }),
      [[6, 5]],
    );
    const xk = knnInput([[0, 1, 2, 3, 4, 5]], 5, 72);
    await expectSaveLoadIdentical(knn, [xk]);
    tf.dispose([x, xk]);
  });

  it('does not leak tensors in predict or training steps', async () => {
    const x = rand([2, 21, 4], 81);
    await expectNoLeakInPredictAndTrain(
      modelAround(dynamicEdgeGAT({ units: 2, heads: 2, attentionDropout: 0.2, returnAttention: true }), [[21, 4]]),
      [x],
    );
    const xk = knnInput([[0, 1, 2, 3, 4, 5]], 5, 82);
    await expectNoLeakInPredictAndTrain(
      modelAround(dynamicEdgeGAT({ units: 2, heads: 2, attention: 'dotProduct', neighborhood: 'knn', k: 2 }), [[6, 5]]),
      [xk],
    );
    tf.dispose([x, xk]);
  });

  it('trains inside a functional model (fit runs and lowers the loss)', async () => {
    const model = tfl.sequential({
      layers: [dynamicEdgeGAT({ inputShape: [21, 3], units: 2, heads: 2 })],
    });
    model.compile({ optimizer: tf.train.adam(0.05), loss: 'meanSquaredError' });
    const x = rand([4, 21, 3], 91);
    const y = tf.tidy(() => tf.tanh(tf.tile(tf.slice(x, [0, 0, 0], [4, 21, 1]), [1, 1, 4])));
    const history = await model.fit(x, y, { epochs: 15, verbose: 0, batchSize: 4 });
    const loss = history.history.loss as number[];
    expect(loss[loss.length - 1]).toBeLessThan(loss[0]);
    tf.dispose([x, y]);
  });
});

describe('DynamicEdgeGAT seeded attention dropout (dropoutSeed)', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  /** A built layer with deterministic weights. */
  const seededGat = (args: Partial<DynamicEdgeGATArgs>): DynamicEdgeGAT => {
    const layer = dynamicEdgeGAT({ units: 3, heads: 2, attentionDropout: 0.5, ...args });
    layer.build([null, 21, 4]);
    seedWeights(layer, 5);
    return layer;
  };
  /** One call's output on a fixed input, as host values. */
  const draw = (layer: DynamicEdgeGAT, training = true): number[] =>
    tf.tidy(() => Array.from((layer.apply(rand([2, 21, 4], 9), { training }) as tf.Tensor).dataSync()));

  it('same seed ⇒ the same masks in two fresh layers; successive calls and other seeds differ', () => {
    const a = seededGat({ dropoutSeed: 17 });
    const b = seededGat({ dropoutSeed: 17 });
    const [a0, a1] = [draw(a), draw(a)];
    expect([draw(b), draw(b)]).toEqual([a0, a1]);
    expect(a1).not.toEqual(a0);
    expect(draw(seededGat({ dropoutSeed: 18 }))).not.toEqual(a0);
    expect(a.getNoiseState()).toEqual({ seed: 17, calls: 2 });
    // The mask is tf.dropout's with the seed '17:0'.
    const c = seededGat({});
    const x = rand([2, 21, 4], 9);
    const core = tf.tidy(() => {
      const weights = c.getWeights();
      const { output } = dynamicEdgeGATCore(
        x,
        { kernel: weights[0], attentionSelf: weights[1], attentionNeighbor: weights[2], bias: weights[3] },
        {
          heads: 2,
          neighborhood: hopNeighborhood(handAdjacency(), 1),
          attentionDropout: 0.5,
          training: true,
          dropoutSeed: '17:0',
        },
      );
      return Array.from(output.dataSync());
    });
    expect(core).toEqual(a0);
    x.dispose();
  });

  it('save/restore of the noise state continues the stream exactly; inference draws nothing', () => {
    const a = seededGat({ dropoutSeed: 3 });
    const inference = draw(a, false);
    draw(a);
    draw(a);
    expect(a.getNoiseState()).toEqual({ seed: 3, calls: 2 });
    const saved = a.getNoiseState();
    const next = draw(a);
    const b = seededGat({ dropoutSeed: 3 });
    b.setNoiseState(saved);
    expect(draw(b)).toEqual(next);
    // Inference is the plain layer (no dropout), whatever the seed, and does not move the stream.
    expect(draw(seededGat({}), false)).toEqual(inference);
    expect(draw(b, false)).toEqual(inference);
    expect(b.getNoiseState().calls).toBe(3);
    // Without dropout nothing is drawn.
    const none = seededGat({ dropoutSeed: 3, attentionDropout: 0 });
    draw(none);
    expect(none.getNoiseState().calls).toBe(0);
  });

  it('refuses bad seeds and noise states with named errors', () => {
    for (const bad of [1.5, '3', Number.NaN, 2 ** 60]) {
      expect(() => dynamicEdgeGAT({ units: 2, dropoutSeed: bad as number })).toThrow(
        new PhalanxConfigError('DynamicEdgeGAT', 'dropoutSeed', 'an integer or null', bad),
      );
    }
    const layer = dynamicEdgeGAT({ units: 2, dropoutSeed: 4 });
    expect(() => layer.setNoiseState({ calls: -1 })).toThrow(PhalanxConfigError);
    expect(() => layer.setNoiseState({ calls: 0, seed: 5 })).toThrow(
      "DynamicEdgeGAT: noise state seed must be this layer's seed (4), but received 5.",
    );
  });

  it('serialises dropoutSeed only when set, and a saved model keeps it', async () => {
    expect(dynamicEdgeGAT({ units: 2 }).getConfig()).not.toHaveProperty('dropoutSeed');
    expect(dynamicEdgeGAT({ units: 2, dropoutSeed: null }).getConfig()).not.toHaveProperty('dropoutSeed');
    expect(dynamicEdgeGAT({ units: 2, dropoutSeed: 8 }).getConfig()).toMatchObject({ dropoutSeed: 8 });
    expectConfigRoundTrip(dynamicEdgeGAT({ units: 2, attentionDropout: 0.1, dropoutSeed: 8 }));
    const model = modelAround(dynamicEdgeGAT({ units: 2, heads: 2, attentionDropout: 0.3, dropoutSeed: 8 }), [[21, 4]]);
    const x = rand([2, 21, 4], 7);
    const loaded = await expectSaveLoadIdentical(model, [x]);
    expect((loaded.layers[1] as DynamicEdgeGAT).getNoiseState()).toEqual({ seed: 8, calls: 0 });
    x.dispose();
  });

  it('does not leak tensors in seeded training steps', async () => {
    const x = rand([2, 21, 4], 11);
    await expectNoLeakInPredictAndTrain(
      modelAround(dynamicEdgeGAT({ units: 2, heads: 2, attentionDropout: 0.2, dropoutSeed: 1 }), [[21, 4]]),
      [x],
    );
    x.dispose();
  });
});
