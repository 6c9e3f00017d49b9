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

    it('a tensor adjacency has edges where it is > 0.5: −1, NaN and 0.3 are none, as in the array path', () => {
      const attention = tf.tensor4d(
        Array.from({ length: 18 }, (_, i) => i * 0.37 - 2),
        [2, 1, 3, 3],
      );
      const before = tf.memory().numTensors;
      const adjacencies = [
        // Edges at the 1s and the 2 only; the diagonal is never an edge.
        tf.tensor2d([0, 1, -1, 1, NaN, 1, 0.3, 2, -Infinity], [3, 3]),
        tf.tensor2d([0, 1, -1, 1, 0, 1, -7, 1, 1], [3, 3], 'int32'),
        // 0/1 tensors of each dtype: bitwise the array path, value and gradient.
        tf.tensor2d(EDGES),
        tf.tensor2d(EDGES, [3, 3], 'int32'),
        tf.tensor2d(EDGES.flat().map(Boolean), [3, 3], 'bool'),
      ];
      const bits = (t: tf.Tensor) => Array.from(new Uint32Array(t.dataSync().buffer));
      for (const reduction of ['sum', 'mean'] as const) {
        const loss = (adjacency: tf.Tensor | number[][]) => (a: tf.Tensor) =>
          edgeStabilityLoss(a, adjacency, { reduction });
        const value = loss(EDGES)(attention);
        const grad = tf.grad(loss(EDGES))(attention);
        for (const [k, adjacency] of adjacencies.entries()) {
          const v = loss(adjacency)(attention);
          const g = tf.grad(loss(adjacency))(attention);
          expect(bits(v), `${reduction}, adjacency ${k}`).toEqual(bits(value));
          expect(bits(g), `${reduction}, adjacency ${k}`).toEqual(bits(grad));
          tf.dispose([v, g]);
        }
        tf.dispose([value, grad]);
      }
      expect(() => edgeStabilityLoss(attention, [[0, 1, -1], ...EDGES.slice(1)])).toThrow(
        'edgeStabilityLoss: adjacency[0][2] must be 0, 1, true or false, but received -1.',
      );
      tf.dispose(adjacencies);
      expect(tf.memory().numTensors).toBe(before);
      attention.dispose();
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
