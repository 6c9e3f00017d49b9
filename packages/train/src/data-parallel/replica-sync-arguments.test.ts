/**
 * The data-parallel callbacks given arguments they cannot use: a named PhalanxConfigError at the call,
 * not a raw TypeError (ReplicaSync's only at its first `onTrainBegin`, inside a replica).
 */
import { describe, expect, it } from 'vitest';
import { rejectionOf } from '@phalanx/testing';
import { PhalanxConfigError } from '@phalanx/errors';
import { averageMovingStatistics, ReplicaSync } from './index';

describe('ReplicaSync and averageMovingStatistics arguments', () => {
  it('name a context, options, model or average they cannot use', async () => {
    const context = { stopRequested: false, averageAcrossReplicas: async (v: Float32Array) => v };
    const cases: [() => unknown, string][] = [
      [
        () => new ReplicaSync(null as never),
        'ReplicaSync: context must be a replica context {stopRequested, averageAcrossReplicas}, but received null.',
      ],
      [
        () => new ReplicaSync({ stopRequested: false } as never),
        "ReplicaSync: context must be a replica context {stopRequested, averageAcrossReplicas}, but received 'object'.",
      ],
      [
        () => new ReplicaSync(context, null as never),
        'ReplicaSync: options must be an object {averageEvery?}, but received null.',
      ],
      [
        () => new ReplicaSync(context, { averagEvery: [5] } as never),
        'ReplicaSync: options.averagEvery must be an option (one of averageEvery), but received [5].',
      ],
      [
        () => averageMovingStatistics(null as never, async (v) => v),
        'averageMovingStatistics: model must be a tf.LayersModel or layer, but received null.',
      ],
      [
        () => averageMovingStatistics({ name: 'm' } as never, null as never),
        'averageMovingStatistics: average must be a function values → Promise<mean>, but received null.',
      ],
    ];
    for (const [f, message] of cases) {
      const error = await rejectionOf(f);
      expect(error, message).toBeInstanceOf(PhalanxConfigError);
      expect(error.message).toBe(message);
    }
    expect(() => new ReplicaSync(context, { averageEvery: [5] })).not.toThrow();
  });
});
