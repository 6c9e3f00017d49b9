import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { useBackend } from '@phalanx/testing';
import { poseEvaluation, type KeypointMetricSpec, type PoseEvaluationOptions } from './evaluation';

interface Batch {
  uv: number[][][];
}

/** One batch of two hands of 21 joints. */
const batch: Batch = { uv: [0, 1].map((n) => Array.from({ length: 21 }, (_, j) => [j + n, 2 * j])) };
const exact: KeypointMetricSpec<Batch> = { name: '2d', min: 0, max: 30, pair: (b) => ({ gt: b.uv, pred: b.uv }) };

beforeAll(async () => {
  await useBackend('cpu');
});

describe('poseEvaluation', () => {
  it('reports EPE and AUC per family over the held-out batches, disposing the tensors pairs return', async () => {
    const shifted: KeypointMetricSpec<Batch> = {
      name: 'Shifted',
      min: 0,
      max: 2,
      steps: 3,
      pair: (b) => ({ gt: tf.tensor3d(b.uv), pred: tf.add(tf.tensor3d(b.uv), tf.tensor1d([1, 0])) as tf.Tensor3D }),
    };
    const evaluate = poseEvaluation<Batch>({ data: () => [batch], metrics: [exact, shifted] });
    const before = tf.memory().numTensors;
    const metrics = await evaluate();
    expect(metrics.epe2d).toBe(0);
    expect(metrics.auc2d).toBeCloseTo(1, 12);
    expect(metrics.epeShifted).toBeCloseTo(1, 6);
    expect(tf.memory().numTensors).toBe(before + 2); // the two inputs of tf.add, not returned by pair
  });

  it('a NaN prediction is an error naming the family and the batch, not a NaN metric; nothing leaks', async () => {
    const disposed: Batch[] = [];
    const nanAt = (b: Batch) =>
      b.uv.map((hand, i) => hand.map((p, j) => (i === 1 && j === 4 ? [p[0], Number.NaN] : p)));
    const spec: KeypointMetricSpec<Batch> = {
      name: 'Nan',
      min: 0,
      max: 30,
      pair: (b) => ({ gt: tf.tensor3d(b.uv), pred: tf.tensor3d(nanAt(b)) }),
    };
    const evaluate = poseEvaluation<Batch>({
      data: () => [batch, batch],
      metrics: [exact, spec],
      disposeBatch: (b) => disposed.push(b),
    });
    const before = tf.memory().numTensors;
    const error = await evaluate().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PhalanxConfigError);
    expect((error as Error).message).toBe(
      "poseEvaluation: pred[1][4][1] of the 'Nan' pair of batch 0 must be a finite number, but received NaN.",
    );
    expect(tf.memory().numTensors).toBe(before);
    expect(disposed).toEqual([batch]);
    // A shape refusal keeps its class; a pair that is not an object is named too.
    const short = { ...spec, pair: (b: Batch) => ({ gt: b.uv, pred: b.uv.map((h) => h.slice(1)) }) };
    const shapeError = await poseEvaluation<Batch>({ data: () => [batch], metrics: [short] })().catch((e) => e);
    expect(shapeError).toBeInstanceOf(PhalanxShapeError);
    expect((shapeError as Error).message).toBe(
      "poseEvaluation: pred of the 'Nan' pair of batch 0 must be of the shape of gt [2, 21, 2], but received [2, 20, 2].",
    );
    const none = { ...spec, pair: () => null as never };
    await expect(poseEvaluation<Batch>({ data: () => [batch], metrics: [none] })()).rejects.toThrow(
      "poseEvaluation: the 'Nan' pair of batch 0 must be an object {gt, pred, visible?}, but received null.",
    );
  });

  it('refuses options the first evaluation would trip over — when it is built, not hours into training', () => {
    const base: PoseEvaluationOptions<Batch> = { data: () => [batch], metrics: [exact] };
    const cases: [unknown, string][] = [
      [
        null,
        'poseEvaluation: options must be an object {data, metrics, disposeBatch?, numJoints?}, but received null.',
      ],
      [
        { ...base, metric: [] },
        'poseEvaluation: options.metric must be an option (one of data, metrics, disposeBatch, numJoints)',
      ],
      [{ ...base, data: [batch] }, 'poseEvaluation: data must be a function () → the held-out batches'],
      [
        { ...base, disposeBatch: true },
        'poseEvaluation: disposeBatch must be a function (batch) → void, but received true.',
      ],
      [{ ...base, metrics: [] }, 'poseEvaluation: metrics must be a non-empty list of metric specs, but received [].'],
      [{ ...base, metrics: [null] }, 'poseEvaluation: metrics[0] must be a metric spec object, but received null.'],
      [
        { ...base, metrics: [{ ...exact, step: 20 }] },
        'poseEvaluation: metrics[0].step must be an option (one of name, pair, min, max, steps, units)',
      ],
      [
        { ...base, metrics: [exact, exact] },
        "poseEvaluation: metrics[1].name must be a string no other metric family has, but received '2d'.",
      ],
      [
        { ...base, metrics: [{ ...exact, pair: undefined }] },
        'poseEvaluation: metrics[0].pair must be a function (batch) → {gt, pred, visible?}',
      ],
      [
        { ...base, metrics: [{ ...exact, max: 0 }] },
        'poseEvaluation: metrics[0].max must be greater than min (0), but received 0.',
      ],
      [
        { ...base, metrics: [{ ...exact, min: Number.NaN }] },
        'poseEvaluation: metrics[0].min must be a finite number, but received NaN.',
      ],
      [
        { ...base, metrics: [{ ...exact, steps: 1 }] },
        'poseEvaluation: metrics[0].steps must be an integer ≥ 2, but received 1.',
      ],
      [
        { ...base, metrics: [{ ...exact, units: 'cm' }] },
        "poseEvaluation: metrics[0].units must be one of 'm', 'mm', but received 'cm'.",
      ],
      [{ ...base, numJoints: 0 }, 'poseEvaluation: numJoints must be an integer ≥ 1, but received 0.'],
    ];
    for (const [options, message] of cases) {
      const build = () => poseEvaluation(options as PoseEvaluationOptions<Batch>);
      expect(build, message).toThrow(PhalanxConfigError);
      expect(build).toThrow(message);
    }
  });
});
