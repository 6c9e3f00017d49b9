import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { forEachBackend, thrownBy } from '@phalanx/testing';
import { PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { uvdToXyz, type PerSample } from './geometry';

const K = [
  [500, 0, 128],
  [0, 500, 128],
  [0, 0, 1],
];
const UVD = [0, 1].map((b) => Array.from({ length: 4 }, (_, j) => [100 + 10 * j, 90 - b * 5, j / 10]));
const EXPECTED = 'a number, 2 numbers or a tensor [], [2] or [2, 1] (one per sample)';

/** What uvdToXyz throws on the array path and the tensor path for `options`, and the tensors it leaves behind. */
function refusals(options: { rootDepth: unknown; scale?: unknown }): {
  array: unknown;
  tensor: unknown;
  leaked: number;
} {
  const uvd = tf.tensor3d(UVD);
  const before = tf.memory().numTensors;
  const opts = options as { rootDepth: PerSample; scale?: PerSample };
  const tensor = thrownBy(() => uvdToXyz(uvd, K, opts));
  const leaked = tf.memory().numTensors - before;
  uvd.dispose();
  return { array: thrownBy(() => uvdToXyz(UVD, K, opts)), tensor, leaked };
}

forEachBackend(() => {
  describe('uvdToXyz per-sample values', () => {
    it('a rootDepth or scale of the wrong length or shape is a named shape error on both paths', () => {
      const three = tf.tensor1d([1, 2, 3]);
      const square = tf.ones([2, 2]);
      for (const [options, shown] of [
        [{ rootDepth: [1, 2, 3] }, '[3]'],
        [{ rootDepth: three }, '[3]'],
        [{ rootDepth: 1, scale: square }, '[2, 2]'],
        [{ rootDepth: [[1], [2]] }, '[2, 1]'],
      ] as const) {
        const argument = 'scale' in options ? 'scale' : 'rootDepth';
        const { array, tensor, leaked } = refusals(options);
        for (const error of [array, tensor]) {
          expect(error, shown).toBeInstanceOf(PhalanxShapeError);
          expect((error as Error).message).toBe(`uvdToXyz: ${argument} must be ${EXPECTED}, but received ${shown}.`);
        }
        expect(leaked).toBe(0);
      }
      tf.dispose([three, square]);
    });

    it('a NaN or null rootDepth or scale is a named error on both paths, not a NaN result or a TypeError', () => {
      for (const [options, message] of [
        [{ rootDepth: NaN }, 'rootDepth must be a finite number, but received NaN.'],
        [{ rootDepth: [1, NaN] }, 'rootDepth[1] must be a finite number, but received NaN.'],
        [{ rootDepth: 1, scale: [Infinity] }, 'scale must be a finite number, but received Infinity.'],
        [{ rootDepth: null }, `rootDepth must be ${EXPECTED}, but received null.`],
        [{ rootDepth: 1, scale: 'big' }, `scale must be ${EXPECTED}, but received 'big'.`],
      ] as const) {
        const { array, tensor, leaked } = refusals(options);
        for (const error of [array, tensor]) {
          expect(error, message).toBeInstanceOf(PhalanxConfigError);
          expect((error as Error).message).toBe(`uvdToXyz: ${message}`);
        }
        expect(leaked).toBe(0);
      }
    });

    it('accepts one value, B values and tensors [], [B], [B, 1], int32 included, with the same result', () => {
      const uvd = tf.tensor3d(UVD);
      const reference = uvdToXyz(UVD, K, { rootDepth: [500, 600], scale: 2 });
      const variants: [PerSample, PerSample][] = [
        [[500, 600], 2],
        [tf.tensor1d([500, 600]), tf.scalar(2)],
        [tf.tensor2d([[500], [600]]), tf.tensor1d([2])],
        [tf.tensor1d([500, 600], 'int32'), tf.tensor2d([[2]], undefined, 'int32')],
      ];
      for (const [rootDepth, scale] of variants) {
        const xyz = uvdToXyz(uvd, K, { rootDepth, scale });
        const values = xyz.arraySync() as number[][][];
        values.forEach((hand, b) =>
          hand.forEach((p, j) => p.forEach((v, c) => expect(v).toBeCloseTo(reference[b][j][c], 3))),
        );
        tf.dispose([xyz, ...[rootDepth, scale].filter((v): v is tf.Tensor => v instanceof tf.Tensor)]);
      }
      uvd.dispose();
    });
  });
});
