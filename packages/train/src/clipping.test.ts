import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectNoTensorLeak, forEachBackend } from '@phalanx/testing';
import { clipByGlobalNorm, globalNorm } from './clipping';

const SHAPES = [[3, 4], [5], [], [2, 3, 2], [1], [7, 1]];

/** Seeded gradients of `shapes`, element scale growing with the index (norms of different sizes). */
const gradients = (shapes: number[][], seed = 1) =>
  shapes.map((shape, k) => tf.randomNormal(shape, 0, 1 + k, 'float32', seed * 100 + k + 1));

/** `√(Σ g²)` over all elements, in float64 on the host: the independent reference. */
function hostNorm(gs: tf.Tensor[]): number {
  let sum = 0;
  for (const g of gs) for (const x of g.dataSync()) sum += x * x;
  return Math.sqrt(sum);
}

const bits = (t: tf.Tensor) => Array.from(new Uint32Array(Float32Array.from(t.dataSync()).buffer));

forEachBackend(() => {
  describe('globalNorm', () => {
    it('is √(Σ g²) over every element of every gradient, to float rounding', () => {
      const gs = gradients(SHAPES);
      const norm = globalNorm(gs);
      expect(norm.shape).toEqual([]);
      expect(Math.abs(norm.dataSync()[0] - hostNorm(gs)) / hostNorm(gs)).toBeLessThan(1e-6);
      expect(globalNorm([]).dataSync()[0]).toBe(0);
      expect(globalNorm([tf.tensor1d([3, 4])]).dataSync()[0]).toBe(5);
      tf.dispose([...gs, norm]);
    });

    it('runs the same kernels for 6 gradients as for 60 (besides copy-free reshapes), leaks nothing', async () => {
      const count = async (n: number) => {
        const gs = gradients(Array.from({ length: n }, (_, k) => SHAPES[k % SHAPES.length]));
        const info = await tf.profile(() => globalNorm(gs));
        tf.dispose([...gs, info.result as tf.Tensor]);
        return info.kernels.filter((k) => k.name !== 'Reshape').map((k) => k.name);
      };
      expect(await count(60)).toEqual(await count(6));
      const gs = gradients(SHAPES);
      await expectNoTensorLeak(() => globalNorm(gs).dispose(), 'globalNorm');
      tf.dispose(gs);
    });
  });

  describe('clipByGlobalNorm', () => {
    it('scales every gradient by maxNorm / max(‖g‖, maxNorm), bit for bit as a per-tensor product', () => {
      const gs = gradients(SHAPES, 2);
      for (const maxNorm of [1, 1e6]) {
        const { clipped, norm } = clipByGlobalNorm(gs, maxNorm);
        const n = norm.dataSync()[0];
        expect(Math.abs(n - hostNorm(gs)) / hostNorm(gs)).toBeLessThan(1e-6);
        const factor = tf.div(maxNorm, tf.maximum(norm, maxNorm));
        clipped.forEach((c, k) => {
          expect(c.shape).toEqual(gs[k].shape);
          const expected = tf.mul(gs[k], factor);
          expect(bits(c), `gradient ${k}, maxNorm ${maxNorm}`).toEqual(bits(expected));
          expected.dispose();
        });
        const after = hostNorm(clipped);
        if (maxNorm === 1) expect(after).toBeCloseTo(1, 5);
        else clipped.forEach((c, k) => expect(bits(c)).toEqual(bits(gs[k]))); // under the limit: unchanged
        tf.dispose([...clipped, norm, factor]);
      }
      tf.dispose(gs);
    });

    it('keeps the inputs, leaks nothing, and handles no gradients', async () => {
      const gs = gradients(SHAPES, 3);
      await expectNoTensorLeak(() => {
        const { clipped, norm } = clipByGlobalNorm(gs, 0.5);
        tf.dispose([...clipped, norm]);
      }, 'clipByGlobalNorm');
      expect(gs.every((g) => !g.isDisposed)).toBe(true);
      const none = clipByGlobalNorm([], 1);
      expect(none.clipped).toEqual([]);
      expect(none.norm.dataSync()[0]).toBe(0);
      none.norm.dispose();
      tf.dispose(gs);
    });
  });
});
