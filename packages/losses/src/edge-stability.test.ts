import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { forEachBackend } from '@phalanx/testing';
import { edgeStabilityLoss } from './index';

const EDGES = [
  [0, 1, 0],
  [1, 0, 1],
  [0, 1, 0],
];

forEachBackend(() => {
  describe('edgeStabilityLoss off the edges', () => {
    it('a huge, infinite or NaN attention off the edges does not reach the loss (no Inf·0)', () => {
      // On the edges α = 0.5 (each pair contributes 0.25); off them (diagonal included) anything.
      const values = [NaN, 0.5, Infinity, 0.5, -Infinity, 0.5, 1e30, 0.5, 3e38];
      const attention = tf.tensor4d(values, [1, 1, 3, 3]);
      const adjacency = tf.tensor2d(EDGES);
      for (const [edges, reduction, expected] of [
        [EDGES, 'sum', 1],
        [EDGES, 'mean', 0.25],
        [adjacency, 'sum', 1],
        [adjacency, 'mean', 0.25],
      ] as const) {
        const loss = edgeStabilityLoss(attention, edges, { reduction });
        expect(loss.dataSync()[0], `${reduction}, ${edges instanceof tf.Tensor ? 'tensor' : 'array'}`).toBe(expected);
        loss.dispose();
      }
      // A finite but overflowing entry: the loss and its gradient stay finite.
      const finite = tf.tensor4d([0, 0.5, 1e30, 0.5, 0, 0.5, -1e30, 0.5, 0], [1, 1, 3, 3]);
      const grad = tf.grad((a: tf.Tensor) => edgeStabilityLoss(a, EDGES))(finite);
      expect(Array.from(grad.dataSync()).every(Number.isFinite)).toBe(true);
      tf.dispose([attention, adjacency, finite, grad]);
    });

    it('gives bitwise what the masked product gave for finite attention, value and gradient', () => {
      const attention = tf.softmax(tf.randomNormal([2, 3, 21, 21], 0, 2, 'float32', 7));
      const adjacency = Array.from({ length: 21 }, (_, i) =>
        Array.from({ length: 21 }, (_, j) => (i !== j && (i * j + i + j) % 3 === 0 ? 1 : 0)),
      );
      const mask = tf.tensor2d(adjacency);
      const pairs = adjacency.flat().filter(Boolean).length;
      const masked = (a: tf.Tensor) => tf.div(tf.mean(tf.sum(tf.mul(tf.square(tf.sub(a, 1)), mask), [-2, -1])), pairs);
      const ours = (a: tf.Tensor) => edgeStabilityLoss(a, adjacency);
      const [v0, v1] = [masked(attention), ours(attention)];
      const [g0, g1] = [tf.grad(masked)(attention), tf.grad(ours)(attention)];
      expect(v1.dataSync()[0]).toBe(v0.dataSync()[0]);
      expect(Buffer.from(g1.dataSync().buffer).equals(Buffer.from(g0.dataSync().buffer))).toBe(true);
      tf.dispose([attention, mask, v0, v1, g0, g1]);
    });
  });
});
