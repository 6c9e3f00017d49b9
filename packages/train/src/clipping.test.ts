import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectNoTensorLeak, forEachBackend } from '@phalanx/testing';
import { PhalanxShapeError } from '@phalanx/errors';
import { clipByGlobalNorm, globalNorm } from './clipping';
import { concatFlat, splitFlat } from './flat-tensors';

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

describe('tensor-list arguments', () => {
  it('globalNorm, clipByGlobalNorm, concatFlat and splitFlat name a list they cannot read, not a TypeError', () => {
    const t = tf.tensor1d([3, 4]);
    const cases: [() => unknown, string][] = [
      [() => globalNorm(null as never), 'globalNorm: gradients must be an array of tensors, but received null.'],
      [() => globalNorm([t, null] as never), 'globalNorm: gradients[1] must be a tensor, but received null.'],
      [() => globalNorm([[3, 4]] as never), "globalNorm: gradients[0] must be a tensor, but received 'object'."],
      [() => clipByGlobalNorm(undefined as never, 1), 'clipByGlobalNorm: gradients must be an array of tensors'],
      [() => concatFlat([]), 'concatFlat: tensors must be an array of at least 1 tensor, but received [].'],
      [
        () => concatFlat(null as never),
        'concatFlat: tensors must be an array of at least 1 tensor, but received null.',
      ],
      [
        () => splitFlat(null as never, [[2]]),
        'splitFlat: flat must be a vector (a tensor of rank 1), but received null.',
      ],
      [
        () => splitFlat(tf.zeros([2, 1]) as never, [[2]]),
        'splitFlat: flat must be a vector (a tensor of rank 1), but received [2,1].',
      ],
      [
        () => splitFlat(t, null as never),
        'splitFlat: shapes must be a non-empty array of shapes (arrays of integers ≥ 0), but received null.',
      ],
      [() => splitFlat(t, [[2], null] as never), 'splitFlat: shapes must be a non-empty array of shapes'],
      [
        () => splitFlat(t, [[3]]),
        'splitFlat: shapes must be shapes whose sizes add up to the length of flat (2), but received 3.',
      ],
    ];
    for (const [f, message] of cases) {
      expect(f, message).toThrow(PhalanxShapeError);
      expect(f).toThrow(message);
    }
    // Valid lists are unchanged: [3, 4] has norm 5 and splits back to itself.
    expect(globalNorm([t]).dataSync()[0]).toBe(5);
    expect(Array.from(splitFlat(t, [[1], [1]]).flatMap((p) => Array.from(p.dataSync())))).toEqual([3, 4]);
  });
});
