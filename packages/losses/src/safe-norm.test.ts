/**
 * `safeNorm` at the ends of float32: where `Σ x²` overflows (|x| beyond ~1.8e19) or underflows (|x| below
 * ~1e-19) the norm and its gradient are still right, and everywhere else they are bit for bit the plain
 * `√(Σ x²)` and `dy / ‖x‖ · x` they always were (the training path does not change by a rounding).
 */
import * as tf from '@tensorflow/tfjs-core';
import { forEachBackend } from '@phalanx/testing';
import { describe, expect, it } from 'vitest';
import { mpjpeLoss } from './mpjpe';
import { safeNorm } from './safe-norm';

/** The float32 nearest to `x`. */
const f32 = (x: number): number => Math.fround(x);

/** Rows [k·3, k·4, 0] and [k·1, k·2, k·2]: norms 5k and 3k, gradients [0.6, 0.8, 0] and [1/3, 2/3, 2/3]. */
function rowsAt(k: number): number[][] {
  return [
    [3 * k, 4 * k, 0],
    [k, 2 * k, 2 * k],
  ];
}

/** The plain formula safeNorm had before it was made scale-safe. */
function plainNorm(x: tf.Tensor): tf.Tensor {
  return tf.sqrt(tf.sum(tf.square(x), -1));
}

/** Ordinary float32 rows from 1e-15 to 1e15 (and exact zeros), seeded. */
function ordinaryRows(): tf.Tensor2D {
  const exponents = tf.randomUniform([400, 1], -15, 15, 'float32', 7);
  const signs = tf.randomUniform([400, 3], -1, 1, 'float32', 8);
  const rows = tf.mul(signs, tf.pow(tf.scalar(10), exponents));
  const zeros = tf.zeros([4, 3]);
  const out = tf.concat([rows, zeros]) as tf.Tensor2D;
  tf.dispose([exponents, signs, rows, zeros]);
  return out;
}

forEachBackend(() => {
  describe('safeNorm', () => {
    it('gives the norm and a finite gradient where Σ x² overflows or underflows float32', () => {
      for (const k of [1e20, 1e25, 1e30, 1e37, 1e-20, 1e-25, 1e-30, 1e-35]) {
        const x = tf.tensor2d(rowsAt(k));
        const norm = Array.from(safeNorm(x).dataSync());
        expect(Math.abs(norm[0] / f32(5 * k) - 1), `‖[3, 4, 0]·${k}‖ = ${norm[0]}`).toBeLessThan(1e-6);
        expect(Math.abs(norm[1] / f32(3 * k) - 1), `‖[1, 2, 2]·${k}‖ = ${norm[1]}`).toBeLessThan(1e-6);
        const grad = Array.from(
          tf
            .grad((t: tf.Tensor) => tf.sum(safeNorm(t)))(x)
            .dataSync(),
        );
        const expected = [0.6, 0.8, 0, 1 / 3, 2 / 3, 2 / 3];
        grad.forEach((g, i) => expect(Math.abs(g - expected[i]), `∂/∂x[${i}] at ${k}: ${g}`).toBeLessThan(1e-6));
        x.dispose();
      }
    });

    it('reaches the largest float32, is Infinity only beyond it, and keeps a zero row at 0 with gradient 0', () => {
      const x = tf.tensor2d([
        [3e38, 0, 0],
        [-2e38, 2e38, 0],
        [3e38, 3e38, 0],
        [0, 0, 0],
      ]);
      const norm = Array.from(safeNorm(x).dataSync());
      expect(norm[0]).toBe(f32(3e38));
      expect(Math.abs(norm[1] / (Math.SQRT2 * f32(2e38)) - 1)).toBeLessThan(1e-6);
      expect(norm[2]).toBe(Infinity); // 4.2e38: beyond float32
      expect(norm[3]).toBe(0);
      const grad = Array.from(
        tf
          .grad((t: tf.Tensor) => tf.sum(safeNorm(t)))(x)
          .dataSync(),
      );
      expect(grad.slice(0, 3)).toEqual([1, 0, 0]);
      expect(Math.abs(grad[3] + Math.SQRT1_2)).toBeLessThan(1e-6);
      expect(Math.abs(grad[4] - Math.SQRT1_2)).toBeLessThan(1e-6);
      expect(grad.slice(9)).toEqual([0, 0, 0]);
      x.dispose();
    });

    it('is bit for bit the plain √(Σ x²) and dy / ‖x‖ · x for ordinary values (1e-15 to 1e15, zeros)', () => {
      const x = ordinaryRows();
      const dy = tf.randomUniform([x.shape[0]], 0.5, 2, 'float32', 9);
      expect(Array.from(safeNorm(x).dataSync())).toEqual(Array.from(plainNorm(x).dataSync()));
      const grad = tf.grad((t: tf.Tensor) => safeNorm(t))(x, dy);
      const n = plainNorm(x);
      const plainGrad = tf.mul(tf.expandDims(tf.div(dy, tf.where(tf.greater(n, 0), n, tf.onesLike(n))), -1), x);
      expect(Array.from(grad.dataSync())).toEqual(Array.from(plainGrad.dataSync()));
      tf.dispose([x, dy, grad, n, plainGrad]);
    });

    it('mpjpeLoss of points 1e20 apart is finite, with a finite gradient, and leaks nothing', () => {
      const target = tf.zeros([1, 2, 3]);
      const prediction = tf.tensor3d([rowsAt(1e20)]);
      const before = tf.memory().numTensors;
      const loss = mpjpeLoss(target, prediction);
      expect(Math.abs(loss.dataSync()[0] / 4e20 - 1)).toBeLessThan(1e-6);
      const grad = tf.grad((p: tf.Tensor) => mpjpeLoss(target, p))(prediction);
      expect(Array.from(grad.dataSync()).every(Number.isFinite)).toBe(true);
      tf.dispose([loss, grad]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([target, prediction]);
    });
  });
});
