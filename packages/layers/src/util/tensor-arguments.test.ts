/**
 * The functional cores with hostile tensor arguments and extreme accepted settings:
 *
 * - a non-tensor (`null`, a number, an array) or a disposed tensor is a `PhalanxShapeError` naming the function and
 *   the argument, not a `TypeError` from reading `.rank`;
 * - a large accepted β (soft-argmax) or a small accepted τ (Concrete selection) gives the limit of the softmax —
 *   the argmax — and no NaN, while settings that do not overflow give exactly the plain formula's values;
 * - integer inputs are computed as float32, or refused by name where a silent integer result would be wrong;
 * - the batch-norm cores check their per-channel tensors, ε and the decay.
 */
import * as tf from '@tensorflow/tfjs-core';
import { forEachBackend, thrownBy } from '@phalanx/testing';
import { describe, expect, it } from 'vitest';
import { FLOAT32_MIN_NORMAL, PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { dualBranchFusionCore } from '../fusion/dual-branch-fusion';
import { fuseGroups } from '../fusion/group-fusion';
import { dynamicEdgeGATCore, knnNeighborhoodMask } from '../graph/dynamic-edge-gat';
import { sampleJointFeatures } from '../keypoints/joint-feature-sampler';
import { latentSoftArgmax25D, SoftArgmax25D, volumetricSoftArgmax25D } from '../keypoints/soft-argmax-25d';
import { affineChannels } from '../normalization/channel-affine';
import {
  batchNormInference,
  batchNormTraining,
  LeanBatchNormalization,
  updatedMovingAverages,
} from '../normalization/lean-batch-norm';
import { SeededDropout, seededDropoutCore } from '../regularization/seeded-dropout';
import {
  concreteSelection,
  ConcreteJointSelector,
  hardSelection,
  selectJoints,
} from '../selector/concrete-joint-selector';
import { exponentialTemperature, stepTemperature } from '../selector/temperature';
import { resizeBilinearTorch } from '../spatial/resize-bilinear';
import { leanLogSumExp } from './log-sum-exp';

const HOSTILE: readonly [string, unknown][] = [
  ['null', null],
  ['undefined', undefined],
  ['a number', 3],
  ['an array', [[1, 2]]],
];

/** Each public core with one tensor argument replaced by `value`; the rest are valid. */
/** The error `call` throws, with every tensor it (and its argument list) created disposed. */
function errorOf(call: () => unknown): Error {
  let error: unknown;
  tf.tidy(() => {
    error = thrownBy(call);
  });
  return error as Error;
}

function callsWith(value: unknown): [string, string, () => unknown][] {
  const v = value as tf.Tensor;
  const x4 = (): tf.Tensor => tf.zeros([1, 4, 4, 2]);
  return [
    ['volumetricSoftArgmax25D', 'volume', () => volumetricSoftArgmax25D(v, 1, 2)],
    ['latentSoftArgmax25D', 'heatmaps', () => latentSoftArgmax25D(v, x4())],
    ['latentSoftArgmax25D', 'depthMaps', () => latentSoftArgmax25D(x4(), v)],
    ['knnNeighborhoodMask', 'x', () => knnNeighborhoodMask(v, 1)],
    ['dynamicEdgeGATCore', 'x', () => dynamicEdgeGATCore(v, { kernel: tf.zeros([3, 2]) }, { heads: 1 })],
    ['dualBranchFusionCore', 'structural', () => dualBranchFusionCore(v, tf.zeros([1, 2, 3]), tf.eye(2), tf.eye(2))],
    ['sampleJointFeatures', 'points', () => sampleJointFeatures(x4(), v)],
    ['selectJoints', 'selection', () => selectJoints(tf.zeros([1, 2, 3, 2]), v)],
    ['hardSelection', 'logits', () => hardSelection(v)],
    ['concreteSelection', 'logits', () => concreteSelection(v, 1)],
    ['affineChannels', 'scale', () => affineChannels(x4(), v, tf.zeros([2]))],
    ['resizeBilinearTorch', 'x', () => resizeBilinearTorch(v, [2, 2])],
    ['leanLogSumExp', 'x', () => leanLogSumExp(v)],
    ['fuseGroups', 'kernel', () => fuseGroups([x4(), x4()], v)],
    ['batchNormTraining', 'gamma', () => batchNormTraining(x4(), v, tf.zeros([2]), 1e-3)],
    [
      'batchNormInference',
      'x',
      () => batchNormInference(v, tf.ones([2]), tf.zeros([2]), tf.zeros([2]), tf.ones([2]), 1e-3),
    ],
    ['updatedMovingAverages', 'mean', () => updatedMovingAverages(tf.zeros([2]), tf.ones([2]), v, tf.ones([2]), 0.1)],
    ['seededDropoutCore', 'x', () => seededDropoutCore(v, { rate: 0.5 })],
  ];
}

function nonTensorArguments(): void {
  describe('a tensor argument that is not a live tensor', () => {
    for (const [label, value] of HOSTILE) {
      it(`${label} is a PhalanxShapeError naming the function and the argument, leaking nothing`, () => {
        for (const [component, argument, call] of callsWith(value)) {
          const before = tf.memory().numTensors;
          const error = errorOf(call);
          expect(error, `${component}(${argument} = ${label})`).toBeInstanceOf(PhalanxShapeError);
          expect(error.message).toContain(`${component}: ${argument} must be a tf.Tensor`);
          expect(tf.memory().numTensors).toBe(before);
        }
      });
    }

    it('a disposed tensor is refused by name', () => {
      const disposed = tf.zeros([1, 4, 4, 2]);
      disposed.dispose();
      for (const [component, argument, call] of callsWith(disposed)) {
        const error = errorOf(call);
        expect(error, component).toBeInstanceOf(PhalanxShapeError);
        expect(error.message).toContain(
          `${component}: ${argument} must be a tensor that is not disposed, but received 'a disposed tensor'.`,
        );
      }
    });

    it('fuseGroups refuses a list that is not an array, and names the bad entry', () => {
      expect(() => fuseGroups(null as unknown as tf.Tensor[], tf.eye(4))).toThrow(PhalanxShapeError);
      expect(() => fuseGroups([tf.zeros([1, 2, 2, 2]), 7] as unknown as tf.Tensor[], tf.eye(4))).toThrow(
        'fuseGroups: xs[1] must be a tf.Tensor',
      );
    });
  });
}

function extremeAcceptedSettings(): void {
  describe('soft-argmax with a large accepted β', () => {
    it('converges to the argmax instead of NaN (volumetric and latent, β a number)', () => {
      // One joint, 2×2 pixels, 2 depth bins: the largest logit (8) sits at h = 1, w = 1, d = 1.
      const volume = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 2, 2]);
      for (const beta of [1e38, 3.4e38]) {
        const { keypoints } = volumetricSoftArgmax25D(volume, 1, 2, { beta });
        expect(Array.from(keypoints.dataSync())).toEqual([1, 1, 1]);
        const layer = new SoftArgmax25D({ numJoints: 1, depthBins: 2, beta });
        expect(Array.from((layer.apply(volume) as tf.Tensor).dataSync())).toEqual([1, 1, 1]);
      }
      const heatmaps = tf.tensor4d([1, 2, 4, 3], [1, 2, 2, 1]); // max at h = 1, w = 0
      const { keypoints } = latentSoftArgmax25D(heatmaps, tf.fill([1, 2, 2, 1], 5), { beta: 1e38 });
      expect(Array.from(keypoints.dataSync())).toEqual([0, 1, 5]);
    });

    it('gives the plain formula softmax(β·x)·grid where β·x does not overflow', () => {
      const values = [0.3, -1.2, 2.5, 0.7];
      const beta = 2.75;
      const heatmaps = tf.tensor4d(values, [1, 2, 2, 1]);
      const { keypoints } = latentSoftArgmax25D(heatmaps, tf.zeros([1, 2, 2, 1]), { beta });
      const weights = values.map((v) => Math.exp(beta * v));
      const total = weights.reduce((a, b) => a + b, 0);
      const x = (weights[1] + weights[3]) / total; // pixels (h, w) = (0, 1), (1, 1)
      const y = (weights[2] + weights[3]) / total;
      const [px, py] = keypoints.dataSync();
      expect(px).toBeCloseTo(x, 6);
      expect(py).toBeCloseTo(y, 6);
    });
  });

  describe('Concrete selection with a small accepted τ', () => {
    it('is the one-hot of each row argmax instead of NaN', () => {
      const logits = tf.tensor2d([
        [3e36, -3e36, 0],
        [1, 2, 0.5],
      ]);
      const s = concreteSelection(logits, 1e-3);
      expect(Array.from(s.dataSync())).toEqual([1, 0, 0, 0, 1, 0]);
      const tiny = concreteSelection(tf.tensor2d([[0.5, 2, 1]]), FLOAT32_MIN_NORMAL);
      expect(Array.from(tiny.dataSync())).toEqual([0, 1, 0]);
    });

    it('leaves rows that do not overflow exactly softmax(x / τ), values and gradients', () => {
      const logits = tf.tensor2d([
        [0.1, -0.4, 1.3],
        [2, 2.5, -1],
      ]);
      const tau = 0.7;
      const plain = (l: tf.Tensor): tf.Tensor => tf.softmax(tf.div(l, tf.scalar(tau)), -1);
      const weights = tf.tensor2d([
        [1, 2, 3],
        [-1, 0.5, 4],
      ]);
      const loss = (f: (l: tf.Tensor) => tf.Tensor) => (l: tf.Tensor) => tf.sum(tf.mul(f(l), weights));
      expect(Array.from(concreteSelection(logits, tau).dataSync())).toEqual(Array.from(plain(logits).dataSync()));
      const ours = tf.grad(loss((l) => concreteSelection(l, tau)))(logits);
      const reference = tf.grad(loss(plain))(logits);
      expect(Array.from(ours.dataSync())).toEqual(Array.from(reference.dataSync()));
    });

    it('trains a ConcreteJointSelector at the smallest accepted temperature without NaN', () => {
      const layer = new ConcreteJointSelector({
        numJoints: 4,
        numGroups: 3,
        initialTemperature: FLOAT32_MIN_NORMAL,
        seed: 1,
      });
      const y = layer.apply(tf.randomNormal([2, 3, 4, 2], 0, 1, 'float32', 3), { training: true }) as tf.Tensor;
      expect(y.shape).toEqual([2, 4, 2]);
      expect(Array.from(y.dataSync()).every(Number.isFinite)).toBe(true);
    });
  });
}

function integersAndBatchNorm(): void {
  describe('integer inputs', () => {
    it('SoftArgmax25D, SeededDropout and LeanBatchNormalization compute int32 as float32', () => {
      const values = [0, 3, 1, 2, 5, 4, 2, 1, 0, 1, 2, 3];
      const float = tf.tensor4d(values, [1, 2, 3, 2]);
      const int = tf.tensor4d(values, [1, 2, 3, 2], 'int32');
      const softArgmax = new SoftArgmax25D({ numJoints: 1, depthBins: 2 });
      expect(Array.from((softArgmax.apply(int) as tf.Tensor).dataSync())).toEqual(
        Array.from((softArgmax.apply(float) as tf.Tensor).dataSync()),
      );
      const dropout = new SeededDropout({ rate: 0.5, seed: 4 });
      const dropped = dropout.apply(tf.ones([4, 4], 'int32'), { training: true }) as tf.Tensor;
      expect(dropped.dtype).toBe('float32');
      expect(new Set(dropped.dataSync())).toEqual(new Set([0, 2]));
      for (const training of [true, false]) {
        const norm = new LeanBatchNormalization({});
        const fromInt = norm.apply(
          tf.tensor2d(
            [
              [1, 5, 9],
              [3, 2, 0],
            ],
            undefined,
            'int32',
          ),
          { training },
        ) as tf.Tensor;
        const fromFloat = new LeanBatchNormalization({}).apply(
          tf.tensor2d([
            [1, 5, 9],
            [3, 2, 0],
          ]),
          {
            training,
          },
        ) as tf.Tensor;
        expect(fromInt.dtype).toBe('float32');
        expect(Array.from(fromInt.dataSync())).toEqual(Array.from(fromFloat.dataSync()));
      }
    });
  });

  describe('batch-norm cores', () => {
    const x = (): tf.Tensor => tf.randomNormal([2, 3], 0, 1, 'float32', 1);
    it('refuse a per-channel tensor of another size, a bad ε, an integer x and a bad decay', () => {
      expect(() => batchNormTraining(x(), tf.ones([5]), tf.zeros([3]), 1e-3)).toThrow(
        'batchNormTraining: gamma must be [C] = [3] (the last dimension of x), but received [5].',
      );
      for (const epsilon of [-1, 0, Number.NaN]) {
        expect(() => batchNormTraining(x(), tf.ones([3]), tf.zeros([3]), epsilon)).toThrow(PhalanxConfigError);
        const stats = [tf.ones([3]), tf.zeros([3]), tf.zeros([3]), tf.ones([3])] as const;
        expect(() => batchNormInference(x(), ...stats, epsilon)).toThrow(/batchNormInference: epsilon/);
      }
      expect(() => batchNormTraining(tf.ones([2, 3], 'int32'), tf.ones([3]), tf.zeros([3]), 1e-3)).toThrow(
        'batchNormTraining: x must be a float32 tensor, but received a int32 tensor.',
      );
      for (const decay of [Number.NaN, -0.1, 1.5]) {
        const call = (): unknown =>
          updatedMovingAverages(tf.zeros([3]), tf.ones([3]), tf.ones([3]), tf.ones([3]), decay);
        expect(call).toThrow(/updatedMovingAverages: decay must be a number in \[0, 1\]/);
      }
    });
  });

  describe('leanLogSumExp', () => {
    it('names an axis out of range, and reduces an empty axis to −∞', () => {
      expect(() => leanLogSumExp(tf.tensor1d([1, 2]), 5)).toThrow(
        /leanLogSumExp: axis must be an integer in \[-1, 0\]/,
      );
      expect(() => leanLogSumExp(tf.tensor1d([1, 2]), 0.5)).toThrow(PhalanxConfigError);
      expect(Array.from(leanLogSumExp(tf.zeros([0])).dataSync())).toEqual([-Infinity]);
      const rows = leanLogSumExp(tf.zeros([3, 0]), 1);
      expect(rows.shape).toEqual([3]);
      expect(Array.from(rows.dataSync())).toEqual([-Infinity, -Infinity, -Infinity]);
      expect(Array.from(leanLogSumExp(tf.tensor2d([[0, Math.log(3)]]), -1).dataSync())[0]).toBeCloseTo(Math.log(4), 6);
    });
  });
}

forEachBackend(() => {
  nonTensorArguments();
  extremeAcceptedSettings();
  integersAndBatchNorm();
});

describe('temperature schedules', () => {
  it('refuse a misspelt option instead of returning the default schedule', () => {
    expect(() => stepTemperature({ decrment: 0.5 } as never)).toThrow(
      /stepTemperature: args\.decrment must be an option \(one of initial, decrement, every, minimum\)/,
    );
    expect(() => exponentialTemperature({ rate: 1e-3, minimun: 0.5 } as never)).toThrow(PhalanxConfigError);
    expect(stepTemperature({ decrement: 0.5, every: 2 })(4)).toBe(4);
  });
});
