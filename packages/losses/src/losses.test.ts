import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  expectClose,
  expectNoTensorLeak,
  expectNumericGradient,
  forEachBackend,
  readJson,
  toTensor,
  type TensorJson,
} from '@phalanx/testing';
import { describe, expect, it } from 'vitest';
import {
  edgeStabilityLoss,
  heatmapMSE,
  l1Penalty,
  mpjpeLoss,
  squaredDistanceLoss,
  xyzL1Loss,
  xyzL1LossFn,
} from './index';

interface LossesGolden {
  target3: TensorJson;
  pred3: TensorJson;
  targetHeat: TensorJson;
  predHeat: TensorJson;
  attention: TensorJson;
  edges: [number, number][];
  weights: TensorJson[];
  zWeight: number;
  expected: Record<string, number>;
}

const golden = readJson<LossesGolden>(new URL('../test/fixtures/losses.json', import.meta.url));
// Float32 evaluation of float64 golden values.
const TOL = { rtol: 1e-5, atol: 1e-6 };

/** Symmetric J × J adjacency with both orders of every listed edge. */
function adjacencyFromEdges(edges: [number, number][], size: number): number[][] {
  const adj = Array.from({ length: size }, () => new Array<number>(size).fill(0));
  for (const [i, j] of edges) {
    adj[i][j] = 1;
    adj[j][i] = 1;
  }
  return adj;
}
const adjacency = adjacencyFromEdges(golden.edges, golden.attention.shape[2]);

/** Random points and a prediction offset from them by ±(0.3…1.3) per coordinate (away from kinks). */
function pointsPair(shape: number[], seed: number): [tf.Tensor, tf.Tensor] {
  const target = tf.randomNormal(shape, 0, 1, 'float32', seed);
  const magnitude = tf.randomUniform(shape, 0.3, 1.3, 'float32', seed + 1);
  const sign = tf.sign(tf.randomUniform(shape, -1, 1, 'float32', seed + 2));
  return [target, tf.add(target, tf.mul(magnitude, sign))];
}

function value(x: tf.Scalar): number {
  const v = x.dataSync()[0];
  x.dispose();
  return v;
}

forEachBackend(() => {
  describe('golden values (losses.json)', () => {
    const t3 = () => toTensor(golden.target3);
    const p3 = () => toTensor(golden.pred3);
    it('heatmapMSE', () => {
      expectClose(
        value(heatmapMSE(toTensor(golden.targetHeat), toTensor(golden.predHeat))),
        golden.expected.heatmapMSE,
        TOL,
      );
    });
    it('mpjpeLoss', () => {
      expectClose(value(mpjpeLoss(t3(), p3())), golden.expected.mpjpeLoss, TOL);
    });
    it('squaredDistanceLoss', () => {
      expectClose(value(squaredDistanceLoss(t3(), p3())), golden.expected.squaredDistanceLoss, TOL);
    });
    it('xyzL1Loss and xyzL1LossFn', () => {
      expectClose(value(xyzL1Loss(t3(), p3(), { zWeight: golden.zWeight })), golden.expected.xyzL1Loss, TOL);
      expectClose(value(xyzL1LossFn({ zWeight: golden.zWeight })(t3(), p3())), golden.expected.xyzL1Loss, TOL);
    });
    it('edgeStabilityLoss, mean and sum, array and tensor adjacency', () => {
      const att = toTensor(golden.attention);
      expectClose(value(edgeStabilityLoss(att, adjacency)), golden.expected.edgeStabilityLoss, TOL);
      expectClose(
        value(edgeStabilityLoss(att, adjacency, { reduction: 'sum' })),
        golden.expected.edgeStabilityLossSum,
        TOL,
      );
      const adjTensor = tf.tensor2d(adjacency);
      expectClose(
        value(edgeStabilityLoss(att, adjTensor, { reduction: 'mean' })),
        golden.expected.edgeStabilityLoss,
        TOL,
      );
      expectClose(
        value(edgeStabilityLoss(att, adjTensor, { reduction: 'sum' })),
        golden.expected.edgeStabilityLossSum,
        TOL,
      );
      // A self-loop in the adjacency is ignored (pairs are i ≠ j only).
      const withLoop = adjacency.map((row, i) => row.map((v, j) => (i === j && i === 0 ? 1 : v)));
      expectClose(value(edgeStabilityLoss(att, withLoop)), golden.expected.edgeStabilityLoss, TOL);
      expectClose(value(edgeStabilityLoss(att, tf.tensor2d(withLoop))), golden.expected.edgeStabilityLoss, TOL);
    });
    it('l1Penalty of tensors, of a single tensor, and of LayerVariables', () => {
      const ws = golden.weights.map(toTensor);
      expectClose(value(l1Penalty(ws)), golden.expected.l1Penalty, TOL);
      const single = value(l1Penalty(ws[0]));
      expectClose(
        single,
        golden.weights[0].data.reduce((s, v) => s + Math.abs(v), 0),
        TOL,
      );
      expect(value(l1Penalty([]))).toBe(0);
      const dense = tfl.layers.dense({ units: 2, kernelInitializer: 'ones', biasInitializer: 'ones' });
      dense.apply(tf.zeros([1, 3]));
      expectClose(value(l1Penalty(dense.trainableWeights)), 8, TOL); // 3·2 kernel + 2 bias
      // int32 and float32 weights together, as float32; other dtypes by name.
      expect(value(l1Penalty([tf.tensor1d([-2, 3], 'int32'), tf.tensor1d([0.5])]))).toBe(5.5);
      expect(() => l1Penalty([tf.tensor1d([true], 'bool')])).toThrow(
        /l1Penalty: weights\[0\] must be a float32 or int32 tensor, but received 'bool'/,
      );
    });
  });

  describe('documented examples', () => {
    it('give the numbers their TSDoc states', () => {
      expectClose(value(heatmapMSE(tf.zeros([1, 2, 2, 1]), tf.tensor4d([1, 0, 0, 1], [1, 2, 2, 1]))), 0.5, TOL);
      const t = tf.tensor3d([
        [
          [0, 0, 0],
          [1, 1, 1],
        ],
      ]);
      const p = tf.tensor3d([
        [
          [3, 4, 0],
          [1, 1, 1],
        ],
      ]);
      expectClose(value(mpjpeLoss(t, p)), 2.5, TOL);
      expectClose(value(squaredDistanceLoss(t, p)), 12.5, TOL);
      expectClose(value(xyzL1Loss(tf.zeros([1, 1, 3]), tf.tensor3d([[[1, -2, 4]]]), { zWeight: 0.5 })), 5, TOL);
      const adj = [
        [0, 1, 0],
        [1, 0, 1],
        [0, 1, 0],
      ];
      expectClose(value(edgeStabilityLoss(tf.ones([1, 1, 3, 3]), adj)), 0, TOL);
      expectClose(value(edgeStabilityLoss(tf.zeros([1, 1, 3, 3]), adj, { reduction: 'sum' })), 4, TOL);
      expectClose(value(l1Penalty([tf.tensor1d([1, -2]), tf.tensor2d([[-3]])])), 6, TOL);
    });
    it('target and prediction order: zWeight applies to the last coordinate only', () => {
      const t = tf.zeros([2, 3, 3]);
      const p = tf.tensor3d([0, 0, 2, 0, 0, 2, 0, 0, 2, 0, 0, 2, 0, 0, 2, 0, 0, 2], [2, 3, 3]);
      expectClose(value(xyzL1Loss(t, p, { zWeight: 0.25 })), 0.5, TOL);
      expectClose(value(xyzL1Loss(t, p)), 2, TOL);
    });
  });
});

forEachBackend(() => {
  describe('gradients', () => {
    it('match central differences', () => {
      const [t, p] = pointsPair([2, 4, 3], 11);
      const opts = { epsilon: 1e-2, samples: 10, rtol: 2e-2, atol: 2e-3 };
      expectNumericGradient((a, b) => mpjpeLoss(a, b), [t, p], opts);
      expectNumericGradient((a, b) => squaredDistanceLoss(a, b), [t, p], opts);
      expectNumericGradient((a, b) => xyzL1Loss(a, b, { zWeight: 0.5 }), [t, p], opts);
      const h1 = tf.randomNormal([1, 3, 3, 2], 0, 1, 'float32', 5);
      const h2 = tf.randomNormal([1, 3, 3, 2], 0, 1, 'float32', 6);
      expectNumericGradient((a, b) => heatmapMSE(a, b), [h1, h2], opts);
      const att = tf.randomUniform([2, 2, 4, 4], 0, 2, 'float32', 7);
      const adj = [
        [0, 1, 0, 0],
        [1, 0, 1, 1],
        [0, 1, 0, 0],
        [0, 1, 0, 0],
      ];
      expectNumericGradient((a) => edgeStabilityLoss(a, adj), [att], opts);
      expectNumericGradient((a) => edgeStabilityLoss(a, tf.tensor2d(adj), { reduction: 'sum' }), [att], opts);
      expectNumericGradient((a, b) => l1Penalty([a, b]), [p, h2], opts);
    });

    it('mpjpeLoss: exact zero gradient, not NaN, where prediction equals target', () => {
      const t = tf.tensor3d([
        [
          [1, 2, 3],
          [0, 0, 0],
          [4, 0, -1],
        ],
      ]);
      const p = tf.tensor3d([
        [
          [1, 2, 3],
          [3, 4, 0],
          [4, 0, -1],
        ],
      ]);
      const [gt, gp] = tf.grads((a: tf.Tensor, b: tf.Tensor) => mpjpeLoss(a, b))([t, p]);
      // Joint 1 is at distance 5: ∂L/∂p = (p − t)/(5·J) with J = 3; joints 0 and 2 coincide: 0.
      expectClose(gp, [0, 0, 0, 3 / 15, 4 / 15, 0, 0, 0, 0], { rtol: 1e-6, atol: 1e-7 }, 'dL/dprediction');
      expectClose(gt, [0, 0, 0, -3 / 15, -4 / 15, 0, 0, 0, 0], { rtol: 1e-6, atol: 1e-7 }, 'dL/dtarget');
      const [gAll] = tf.grads((b: tf.Tensor) => mpjpeLoss(t, b))([t]);
      expectClose(gAll, new Array(9).fill(0), { rtol: 0, atol: 0 }, 'gradient at prediction = target');
      expect(value(mpjpeLoss(t, t))).toBe(0);
    });

    it('edgeStabilityLoss: gradient 2(α − 1)/|E| on edges and 0 elsewhere', () => {
      const att = tf.fill([1, 1, 3, 3], 3);
      const adj = [
        [0, 1, 0],
        [1, 0, 0],
        [0, 0, 0],
      ];
      const [g] = tf.grads((a: tf.Tensor) => edgeStabilityLoss(a, adj))([att]);
      expectClose(g, [0, 2, 0, 2, 0, 0, 0, 0, 0], { rtol: 1e-6, atol: 1e-7 }, 'dL/dα');
    });
  });

  describe('memory', () => {
    it('no tensor leaks in values and gradients', async () => {
      const [t, p] = pointsPair([2, 5, 3], 3);
      const h = tf.randomNormal([1, 4, 4, 5], 0, 1, 'float32', 4);
      const att = tf.randomUniform([2, 2, 5, 5], 0, 2, 'float32', 8);
      const adjT = tf.tensor2d(
        adjacencyFromEdges(
          [
            [0, 1],
            [1, 2],
            [2, 3],
            [3, 4],
          ],
          5,
        ),
      );
      await expectNoTensorLeak(() => {
        const all = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
          tf.addN([
            mpjpeLoss(a, b),
            squaredDistanceLoss(a, b),
            xyzL1Loss(a, b, { zWeight: 0.3 }),
            xyzL1LossFn()(a, b),
            heatmapMSE(h, tf.mul(h, 0.5)),
            edgeStabilityLoss(c, adjT),
            edgeStabilityLoss(c, adjacencyFromEdges([[0, 4]], 5), { reduction: 'sum' }),
            l1Penalty([a, c]),
          ]) as tf.Scalar;
        const { value: v, grads } = tf.valueAndGrads(all)([t, p, att]);
        tf.dispose([v, ...grads]);
      }, 'losses and gradients');
    });
  });
});

forEachBackend(() => {
  describe('validation', () => {
    it('shape mismatch and wrong last axis give named errors', () => {
      expect(() => mpjpeLoss(tf.zeros([2, 21, 3]), tf.zeros([2, 20, 3]))).toThrow(
        'mpjpeLoss: prediction must be the shape of target [2, 21, 3], but received [2, 20, 3].',
      );
      expect(() => squaredDistanceLoss(tf.zeros([2, 21, 2]), tf.zeros([2, 21, 2]))).toThrow(
        'squaredDistanceLoss: target must be of shape [..., 3] (e.g. [B, J, 3]), but received [2, 21, 2].',
      );
      expect(() => xyzL1Loss(tf.zeros([3]), tf.zeros([3]))).toThrow(/xyzL1Loss: target must be of shape \[\.\.\., 3\]/);
      expect(() => heatmapMSE(tf.zeros([1, 8, 8, 21]), tf.zeros([1, 8, 8, 20]))).toThrow(
        'heatmapMSE: prediction must be the shape of target [1, 8, 8, 21], but received [1, 8, 8, 20].',
      );
      expect(() => heatmapMSE([1, 2] as unknown as tf.Tensor, tf.zeros([2]))).toThrow(
        "heatmapMSE: target must be a tf.Tensor, but received 'object'.",
      );
      try {
        mpjpeLoss(tf.zeros([1, 2, 3]), tf.zeros([1, 3, 3]));
      } catch (e) {
        expect((e as Error).name).toBe('PhalanxShapeError');
      }
    });
    it('bad options and adjacency give named errors', () => {
      expect(() => xyzL1Loss(tf.zeros([1, 3]), tf.zeros([1, 3]), { zWeight: -1 })).toThrow(
        'xyzL1Loss: zWeight must be a finite number ≥ 0, but received -1.',
      );
      expect(() => xyzL1LossFn({ zWeight: Number.NaN })).toThrow(
        'xyzL1LossFn: zWeight must be a finite number ≥ 0, but received NaN.',
      );
      const att = tf.zeros([1, 2, 3, 3]);
      const adj = [
        [0, 1, 0],
        [1, 0, 0],
        [0, 0, 0],
      ];
      expect(() => edgeStabilityLoss(att, adj, { reduction: 'max' as 'sum' })).toThrow(
        "edgeStabilityLoss: reduction must be one of 'mean', 'sum', but received 'max'.",
      );
      expect(() => edgeStabilityLoss(tf.zeros([1, 2, 3, 4]), adj)).toThrow(
        'edgeStabilityLoss: attention must be of shape [B, K, J, J] (square in the last two axes), but received [1, 2, 3, 4].',
      );
      expect(() =>
        edgeStabilityLoss(att, [
          [0, 1],
          [1, 0],
        ]),
      ).toThrow(
        'edgeStabilityLoss: adjacency must be a 3 × 3 matrix (the last two axes of attention), but received [2, 2].',
      );
      expect(() => edgeStabilityLoss(att, tf.zeros([3, 2]))).toThrow(
        'edgeStabilityLoss: adjacency must be of shape [3, 3] (the last two axes of attention), but received [3, 2].',
      );
      expect(() =>
        edgeStabilityLoss(att, [
          [0, 2, 0],
          [1, 0, 0],
          [0, 0, 0],
        ]),
      ).toThrow('edgeStabilityLoss: adjacency[0][1] must be 0, 1, true or false, but received 2.');
      expect(() =>
        edgeStabilityLoss(att, [
          [1, 0, 0],
          [0, 0, 0],
          [0, 0, 0],
        ]),
      ).toThrow("edgeStabilityLoss: adjacency must be a matrix with at least one edge i ≠ j, but received 'no edges'.");
      // A tensor adjacency without edges gives 0, not NaN.
      expect(value(edgeStabilityLoss(att, tf.eye(3)))).toBe(0);
      expect(() => l1Penalty([tf.zeros([2]), 3 as unknown as tf.Tensor])).toThrow(
        "l1Penalty: weights[1] must be a tf.Tensor or an object with read(), but received 'number'.",
      );
    });
  });

  describe('as model.compile losses', () => {
    function pointModel(): tfl.LayersModel {
      const input = tfl.input({ shape: [4] });
      const dense = tfl.layers.dense({ units: 5 * 3, kernelInitializer: tfl.initializers.glorotNormal({ seed: 1 }) });
      const out = tfl.layers.reshape({ targetShape: [5, 3] }).apply(dense.apply(input)) as tfl.SymbolicTensor;
      return tfl.model({ inputs: input, outputs: out });
    }
    function heatModel(): tfl.LayersModel {
      const input = tfl.input({ shape: [4] });
      const dense = tfl.layers.dense({
        units: 3 * 3 * 2,
        kernelInitializer: tfl.initializers.glorotNormal({ seed: 2 }),
      });
      const out = tfl.layers.reshape({ targetShape: [3, 3, 2] }).apply(dense.apply(input)) as tfl.SymbolicTensor;
      return tfl.model({ inputs: input, outputs: out });
    }
    const cases: [string, (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor, () => tfl.LayersModel][] = [
      ['heatmapMSE', heatmapMSE, heatModel],
      ['mpjpeLoss', mpjpeLoss, pointModel],
      ['squaredDistanceLoss', squaredDistanceLoss, pointModel],
      ['xyzL1Loss', xyzL1Loss, pointModel],
      ['xyzL1LossFn({zWeight: 0.5})', xyzL1LossFn({ zWeight: 0.5 }), pointModel],
    ];
    for (const [name, loss, build] of cases) {
      it(`${name}: compile + fit trains, evaluate equals the loss on predict`, async () => {
        const model = build();
        model.compile({ optimizer: tf.train.sgd(0.05), loss });
        const x = tf.randomNormal([8, 4], 0, 1, 'float32', 21);
        const y = tf.randomNormal([8, ...(model.outputs[0].shape.slice(1) as number[])], 0, 1, 'float32', 22);
        const history = await model.fit(x, y, { epochs: 5, batchSize: 8, verbose: 0 });
        const losses = history.history.loss as number[];
        expect(losses.every(Number.isFinite)).toBe(true);
        expect(losses[4]).toBeLessThan(losses[0]);
        const evaluated = model.evaluate(x, y, { batchSize: 8 }) as tf.Scalar;
        const direct = tf.tidy(() => loss(y, model.predict(x) as tf.Tensor));
        expectClose(evaluated, direct, { rtol: 1e-5, atol: 1e-6 }, `${name} evaluate vs direct`);
        tf.dispose([evaluated, direct, x, y]);
        model.dispose();
      });
    }
  });
});
