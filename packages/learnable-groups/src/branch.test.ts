import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { thrownBy, useBackend } from '@phalanx/testing';
import { PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { groupBranch } from './index';

beforeAll(() => useBackend('cpu'));

describe('groupBranch', () => {
  it('checks planes, the branch index and the feature size before building a layer', () => {
    const features = tfl.input({ shape: [16, 16, 4] });
    const cases: [() => unknown, string, typeof PhalanxConfigError | typeof PhalanxShapeError][] = [
      [
        () => groupBranch(features, 0, [4, 0]),
        'groupBranch: planes must be an integer in [1, 8192], but received 0.',
        PhalanxConfigError,
      ],
      [
        () => groupBranch(features, 0, [4] as never),
        'groupBranch: planes must be a pair of integers, but received [4].',
        PhalanxConfigError,
      ],
      [
        () => groupBranch(features, -1, [4, 4]),
        'groupBranch: j must be an integer ≥ 0, but received -1.',
        PhalanxConfigError,
      ],
      [
        () => groupBranch(tfl.input({ shape: [10, 10, 4] }), 0, [4, 4]),
        'groupBranch: features must be [B, H, W, C] with H and W divisible by 4, but received [null, 10, 10, 4].',
        PhalanxShapeError,
      ],
    ];
    for (const [run, message, errorClass] of cases) {
      const before = tf.memory().numTensors;
      const error = thrownBy(run);
      expect(error, message).toBeInstanceOf(errorClass);
      expect((error as Error).message).toBe(message);
      expect(tf.memory().numTensors, message).toBe(before);
    }
    expect(groupBranch(features, 1, [4, 6]).shape).toEqual([null, 16, 16, 6]);
  });
});
