import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { forEachBackend, thrownBy } from '@phalanx/testing';
import { PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { gaussianHeatmaps, gaussianHeatmapsArray, type HeatmapOptions } from './geometry';

const UV = [
  [
    [2, 3],
    [5, 1],
  ],
  [
    [4, 4],
    [1, 6],
  ],
];
const BASE = { height: 8, width: 8, sigma: 1, normalize: 'peak' } as const;

/** The maps of `gaussianHeatmaps` for `options` as a flat host array, tensors disposed; or what it threw. */
function maps(uv: tf.Tensor | number[][][], options: HeatmapOptions): number[] | unknown {
  const before = tf.memory().numTensors;
  const error = thrownBy(() => {
    const m = gaussianHeatmaps(uv, options);
    const values = Array.from(m.dataSync());
    m.dispose();
    throw values;
  });
  expect(tf.memory().numTensors).toBe(before);
  return error;
}

forEachBackend(() => {
  describe('gaussianHeatmaps visible', () => {
    it('0/1 arrays, booleans and 0/1 tensors give the same maps, on both functions', () => {
      const flags = [
        [1, 0],
        [0, 1],
      ];
      const expected = Array.from(gaussianHeatmapsArray(UV, { ...BASE, visible: flags }));
      const uvT = tf.tensor3d(UV);
      const tensors = [
        tf.tensor2d(flags),
        tf.tensor2d(flags, undefined, 'int32'),
        tf.tensor2d(flags, undefined, 'bool'),
      ];
      const variants: HeatmapOptions['visible'][] = [flags, flags.map((r) => r.map(Boolean)), ...tensors];
      for (const visible of variants) {
        for (const uv of [UV, uvT]) {
          const got = maps(uv, { ...BASE, visible }) as number[];
          got.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 6));
        }
        expect(Array.from(gaussianHeatmapsArray(UV, { ...BASE, visible }))).toEqual(expected);
      }
      // Invisible joints are all zero, visible ones peak at 1.
      expect(Math.max(...expected.filter((_, i) => i % 2 === 1).slice(0, 64))).toBe(0);
      expect(Math.max(...expected.filter((_, i) => i % 2 === 0).slice(0, 64))).toBe(1);
      tf.dispose([uvT, ...tensors]);
    });

    it('array flags other than 0/1 or booleans are named, on both functions', () => {
      for (const [flag, shown] of [
        [2, '2'],
        [Number.NaN, 'NaN'],
        [-1, '-1'],
        [0.5, '0.5'],
        ['1', "'1'"],
      ] as const) {
        const visible = [
          [1, 1],
          [1, flag],
        ] as number[][];
        for (const [component, run] of [
          ['gaussianHeatmaps', () => gaussianHeatmaps(UV, { ...BASE, visible })],
          ['gaussianHeatmapsArray', () => gaussianHeatmapsArray(UV, { ...BASE, visible })],
        ] as const) {
          const error = thrownBy(run);
          expect(error, `${component} ${shown}`).toBeInstanceOf(
            typeof flag === 'string' ? PhalanxShapeError : PhalanxConfigError,
          );
          if (typeof flag !== 'string') {
            expect((error as Error).message).toBe(
              `${component}: visible[1][1] must be 0, 1, true or false, but received ${shown}.`,
            );
          }
        }
      }
      // A tensor is read by the array function, so its values are checked there too.
      const bad = tf.tensor2d([1, 1, 1, 2], [2, 2]);
      expect(() => gaussianHeatmapsArray(UV, { ...BASE, visible: bad })).toThrow(
        'gaussianHeatmapsArray: visible[1][1] must be 0, 1, true or false, but received 2.',
      );
      bad.dispose();
    });

    it("a tensor's values are not read but thresholded on the device: 2 is 1, NaN and −1 are 0 (no doubled or NaN maps)", () => {
      const ones = maps(UV, {
        ...BASE,
        visible: [
          [1, 1],
          [1, 1],
        ],
      }) as number[];
      const zeroLast = maps(UV, {
        ...BASE,
        visible: [
          [1, 1],
          [1, 0],
        ],
      }) as number[];
      for (const [value, expected] of [
        [2, ones],
        [Number.NaN, zeroLast],
        [-1, zeroLast],
      ] as const) {
        const [uv, visible] = [tf.tensor3d(UV), tf.tensor2d([1, 1, 1, value], [2, 2])];
        expect(maps(uv, { ...BASE, visible }), String(value)).toEqual(expected);
        tf.dispose([uv, visible]);
      }
    });

    it('visible must have exactly the shape of the batch, not just its size', () => {
      const transposed = tf.tensor1d([1, 0, 0, 1]);
      const flat = [1, 0, 0, 1];
      const extraAxis = tf.ones([2, 2, 1]);
      for (const visible of [transposed, flat, [[1, 0, 0, 1]], extraAxis]) {
        for (const run of [
          () => gaussianHeatmaps(UV, { ...BASE, visible: visible as never }),
          () => gaussianHeatmapsArray(UV, { ...BASE, visible: visible as never }),
        ]) {
          const error = thrownBy(run);
          expect(error).toBeInstanceOf(PhalanxShapeError);
          expect((error as Error).message).toMatch(/visible must be \[2, 2\] \(one flag per sample and joint\)/);
        }
      }
      const string = tf.tensor2d(['a', 'b', 'c', 'd'], [2, 2]);
      expect(() => gaussianHeatmaps(UV, { ...BASE, visible: string })).toThrow(
        "gaussianHeatmaps: visible must be a bool, float32 or int32 tensor, but received 'string'.",
      );
      tf.dispose([transposed, extraAxis, string]);
    });
  });
});
