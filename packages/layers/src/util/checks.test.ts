import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { useBackend } from '@phalanx/testing';
import { checkWeightShape } from './checks';

beforeAll(async () => {
  await useBackend('cpu');
});

describe('checkWeightShape', () => {
  it('returns the tensor when every fixed size matches, and refuses any other shape by name', () => {
    const shapes = fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 0, maxLength: 4 });
    fc.assert(
      fc.property(shapes, shapes, fc.array(fc.boolean(), { maxLength: 4 }), (actual, expected, wildcards) => {
        const pattern = expected.map((size, i) => (wildcards[i] === true ? null : size));
        const matches =
          actual.length === pattern.length && pattern.every((size, i) => size === null || size === actual[i]);
        const w = tf.zeros(actual);
        try {
          if (matches) expect(checkWeightShape('core', 'kernel', w, pattern)).toBe(w);
          else expect(() => checkWeightShape('core', 'kernel', w, pattern)).toThrow(PhalanxShapeError);
        } finally {
          w.dispose();
        }
      }),
      { numRuns: 200 },
    );
  });

  it('gives null for a missing optional weight and names a missing required one or a non-tensor', () => {
    expect(checkWeightShape('core', 'bias', undefined, [3])).toBeNull();
    expect(checkWeightShape('core', 'bias', null, [3])).toBeNull();
    expect(() => checkWeightShape('core', 'kernel', undefined, [3], { required: true })).toThrow(PhalanxConfigError);
    expect(() => checkWeightShape('core', 'kernel', [[1, 2, 3]], [1, 3])).toThrow(
      /core: kernel must be a tensor of shape \[1, 3\]/,
    );
    const w = tf.zeros([2, 5]);
    expect(() => checkWeightShape('core', 'kernel', w, [2, null, 1], { label: '[F, K·U, 1]' })).toThrow(
      /kernel must be of shape \[F, K·U, 1\]/,
    );
    w.dispose();
  });
});
