import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { forEachBackend, thrownBy } from '@phalanx/testing';
import { PhalanxShapeError } from '@phalanx/errors';
import { edgeStabilityLoss, heatmapMSE, l1Penalty, mpjpeLoss, squaredDistanceLoss, xyzL1Loss } from './index';

type Loss = (target: tf.Tensor, prediction: tf.Tensor) => tf.Scalar;

/** Every `(target, prediction)` loss, with the shape of its inputs. */
const LOSSES: [string, Loss, number[]][] = [
  ['heatmapMSE', heatmapMSE, [2, 3, 3, 2]],
  ['mpjpeLoss', mpjpeLoss, [2, 4, 3]],
  ['squaredDistanceLoss', squaredDistanceLoss, [2, 4, 3]],
  ['xyzL1Loss', (t, p) => xyzL1Loss(t, p, { zWeight: 0.5 }), [2, 4, 3]],
];

/** Integer-valued inputs of `shape`, the same in int32 and float32. */
function integers(shape: number[], offset: number): number[] {
  const size = shape.reduce((a, b) => a * b, 1);
  return Array.from({ length: size }, (_, i) => ((i * 7 + offset) % 11) - 5);
}

function value(x: tf.Scalar): number {
  const v = x.dataSync()[0];
  x.dispose();
  return v;
}

forEachBackend((backend) => {
  describe('losses and dtypes', () => {
    it('int32 inputs give the float32 value (cast inside the loss), mixed too', () => {
      for (const [name, loss, shape] of LOSSES) {
        const [t, p] = [integers(shape, 0), integers(shape, 3)];
        const float = [tf.tensor(t, shape), tf.tensor(p, shape)];
        const int = [tf.tensor(t, shape, 'int32'), tf.tensor(p, shape, 'int32')];
        const expected = value(loss(float[0], float[1]));
        expect(value(loss(int[0], int[1])), name).toBe(expected);
        expect(value(loss(int[0], float[1])), name).toBe(expected);
        const before = tf.memory().numTensors;
        value(loss(int[0], int[1]));
        expect(tf.memory().numTensors, `${name}: no cast left behind`).toBe(before);
        tf.dispose([...float, ...int]);
      }
      const att = tf.tensor4d([0, 1, 2, 0], [1, 1, 2, 2], 'int32');
      const edges = [
        [0, 1],
        [1, 0],
      ];
      expect(value(edgeStabilityLoss(att, edges))).toBe(value(edgeStabilityLoss(tf.cast(att, 'float32'), edges)));
      const boolEdges = tf.tensor2d([false, true, true, false], [2, 2], 'bool');
      expect(value(edgeStabilityLoss(att, boolEdges))).toBe(value(edgeStabilityLoss(att, edges)));
      tf.dispose([att, boolEdges]);
    });

    it('refuses string, complex64 and bool tensors, and disposed ones, by loss and argument', () => {
      for (const [name, loss, shape] of LOSSES) {
        const size = shape.reduce((a, b) => a * b, 1);
        const good = tf.zeros(shape);
        const bad: [tf.Tensor, string][] = [
          [tf.tensor(new Array<string>(size).fill('a'), shape, 'string'), "'string'"],
          [tf.zeros(shape, 'bool'), "'bool'"],
        ];
        // complex64 tensors exist on cpu only (wasm has no Complex kernel).
        if (backend === 'cpu') bad.push([tf.complex(tf.zeros(shape), tf.zeros(shape)), "'complex64'"]);
        for (const [tensor, shown] of bad) {
          for (const [argument, run] of [
            ['target', () => loss(tensor, good)],
            ['prediction', () => loss(good, tensor)],
          ] as const) {
            const error = thrownBy(run);
            expect(error, `${name} ${argument} ${shown}`).toBeInstanceOf(PhalanxShapeError);
            expect((error as Error).message).toBe(
              `${name}: ${argument} must be a float32 or int32 tensor, but received ${shown}.`,
            );
          }
        }
        const disposed = tf.zeros(shape);
        disposed.dispose();
        const error = thrownBy(() => loss(good, disposed));
        expect(error, name).toBeInstanceOf(PhalanxShapeError);
        expect((error as Error).message).toBe(
          `${name}: prediction must be a tensor that is not disposed, but received 'a disposed tensor'.`,
        );
        tf.dispose([good, ...bad.map(([t]) => t)]);
      }
      const disposedAttention = tf.ones([1, 1, 2, 2]);
      disposedAttention.dispose();
      expect(() =>
        edgeStabilityLoss(disposedAttention, [
          [0, 1],
          [1, 0],
        ]),
      ).toThrow(
        "edgeStabilityLoss: attention must be a tensor that is not disposed, but received 'a disposed tensor'.",
      );
      const stringAttention = tf.tensor4d(['a', 'b', 'c', 'd'], [1, 1, 2, 2], 'string');
      expect(() =>
        edgeStabilityLoss(stringAttention, [
          [0, 1],
          [1, 0],
        ]),
      ).toThrow("edgeStabilityLoss: attention must be a float32 or int32 tensor, but received 'string'.");
      const disposedWeight = tf.ones([2]);
      disposedWeight.dispose();
      expect(thrownBy(() => l1Penalty([disposedWeight]))).toBeInstanceOf(PhalanxShapeError);
      stringAttention.dispose();
    });
  });
});
