import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { forEachBackend, thrownBy } from '@phalanx/testing';
import { PhalanxShapeError } from '@phalanx/errors';
import { normalizeHand, projectPoints, recoverRootDepth, uvdToXyz, xyzToUvd } from './geometry';

const K = [
  [100, 0, 0],
  [0, 100, 0],
  [0, 0, 1],
];

/** An integer-valued hand `[J][3]` in front of the camera, no two joints at one place. */
const HAND = Array.from({ length: 21 }, (_, j) => [j - 10, (3 * j) % 7, 40 + j]);

/** The values of `f` on the float32 and the int32 tensor of `values`, as host arrays (tensors disposed). */
function both(values: number[][], f: (x: tf.Tensor) => tf.Tensor): [unknown, unknown] {
  const [float, int] = [tf.tensor2d(values), tf.tensor2d(values, undefined, 'int32')];
  const [a, b] = [f(float), f(int)];
  expect(b.dtype).toBe('float32');
  const out: [unknown, unknown] = [a.arraySync(), b.arraySync()];
  tf.dispose([float, int, a, b]);
  return out;
}

forEachBackend(() => {
  describe('geometry on int32 tensors', () => {
    it('projectPoints divides as floats: [1, 1, 2] with f = 100 is [50, 50], not [0, 0]', () => {
      const xyz = tf.tensor2d([[1, 1, 2]], undefined, 'int32');
      const uv = projectPoints(xyz, K);
      expect(uv.dtype).toBe('float32');
      expect(uv.arraySync()).toEqual([[50, 50]]);
      tf.dispose([xyz, uv]);
      const [float, int] = both(HAND, (x) => projectPoints(x, K));
      expect(int).toEqual(float);
    });

    it('normalizeHand, xyzToUvd, uvdToXyz and recoverRootDepth give the float32 values', () => {
      const norm = both(HAND, (x) => normalizeHand(x).normalized);
      expect(norm[1]).toEqual(norm[0]);
      const scale = both(HAND, (x) => normalizeHand(x).scale);
      expect(scale[1]).toEqual(scale[0]);
      const uvd = both(HAND, (x) => {
        const r = xyzToUvd(x, K);
        tf.dispose([r.rootDepth, r.scale]);
        return r.uvd;
      });
      expect(uvd[1]).toEqual(uvd[0]);
      const lifted = both(HAND, (x) => uvdToXyz(x, K, { rootDepth: 50, scale: 3 }));
      expect(lifted[1]).toEqual(lifted[0]);
      const depth = both(HAND, (x) => recoverRootDepth(x, K));
      expect(depth[1]).toEqual(depth[0]);
    });

    it('refuses other dtypes and disposed tensors by name', () => {
      const bool = tf.zeros([21, 3], 'bool');
      expect(() => projectPoints(bool, K)).toThrow(
        "projectPoints: points must be a float32 or int32 tensor, but received 'bool'.",
      );
      expect(() => normalizeHand(bool)).toThrow(
        "normalizeHand: xyz must be a float32 or int32 tensor, but received 'bool'.",
      );
      const disposed = tf.zeros([21, 3]);
      disposed.dispose();
      expect(thrownBy(() => xyzToUvd(disposed, K))).toBeInstanceOf(PhalanxShapeError);
      expect(thrownBy(() => normalizeHand(disposed))).toBeInstanceOf(PhalanxShapeError);
      bool.dispose();
    });
  });
});
