import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { thrownBy, useBackend } from '@phalanx/testing';
import { PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { createEhpe, createPgOnly, pgStageRecipe, twStageModel, twStageRecipe } from './index';
import { TINY_EHPE } from './tiny.fixture';

beforeAll(() => useBackend('cpu'));

describe('stage recipes: options checked before any step', () => {
  it('a misspelt option, null options and bad PG-stage values are named errors, no tensor made', () => {
    const model = createEhpe(TINY_EHPE);
    const pgOnly = createPgOnly(TINY_EHPE);
    const layout = tf.zeros([21, 3]);
    const float32 = 'a positive normal float32 (1.1754944e-38 ≤ x ≤ 3.4028235e38)';
    const cases: [() => unknown, string | RegExp][] = [
      [
        () => twStageRecipe(model, { lR: 1e-2 } as never),
        /^twStageRecipe: options\.lR must be an option \(one of heatmapWeight, .*clipNorm\), but received 0\.01\.$/,
      ],
      [
        () => twStageRecipe(model, null as never),
        /^twStageRecipe: options must be an options object .*received null\.$/,
      ],
      [
        () => pgStageRecipe(model, { freez: [] } as never),
        /^pgStageRecipe: options\.freez must be an option \(one of positionWeight, .*clipNorm\), but received \[\]\.$/,
      ],
      [
        () => pgStageRecipe(model, null as never),
        /^pgStageRecipe: options must be an options object .*received null\.$/,
      ],
      // Checked at the first step before: a recipe that cannot train was handed to the trainer.
      [
        () => pgStageRecipe(model, { depthRange: 0 }),
        'pgStageRecipe: depthRange must be a finite number > 0, but received 0.',
      ],
      [
        () => pgStageRecipe(model, { depthRange: 1e-46 }),
        `pgStageRecipe: depthRange must be ${float32}, but received 1e-46.`,
      ],
      [
        () => pgStageRecipe(model, { rootJoint: -1 }),
        'pgStageRecipe: rootJoint must be an integer ≥ 0, but received -1.',
      ],
      [
        () => pgStageRecipe(pgOnly, { layout, depthBins: 1 }),
        'pgStageRecipe: depthBins must be an integer ≥ 2, but received 1.',
      ],
      [() => pgStageRecipe(model, { positionWeight: -1 }), /^pgStageRecipe: positionWeight must be/],
      [() => pgStageRecipe(model, { edgeWeight: Number.NaN }), /^pgStageRecipe: edgeWeight must be/],
      [() => pgStageRecipe(model, { depthWeight: Infinity }), /^pgStageRecipe: depthWeight must be/],
      [
        () => pgStageRecipe(model, { edgeReduction: 'max' as 'sum' }),
        "pgStageRecipe: edgeReduction must be 'sum' or 'mean', but received 'max'.",
      ],
      [() => pgStageRecipe(model, { position: 'l1' as 'squared' }), /^pgStageRecipe: position must be/],
    ];
    for (const [run, message] of cases) {
      const before = tf.memory().numTensors;
      const error = thrownBy(run);
      expect(error, String(message)).toBeInstanceOf(PhalanxConfigError);
      expect((error as Error).message).toMatch(message);
      expect(tf.memory().numTensors, String(message)).toBe(before);
    }
    // Valid options still make recipes.
    expect(twStageRecipe(model, { lr: 1e-3, clipNorm: 1, depthRange: 150, sigma: 1.5 }).parameterGroups).toEqual([
      { name: 'tw', lr: 1e-3, clipNorm: 1 },
    ]);
    expect(pgStageRecipe(model, { lr: 1e-4, depthRange: 150, rootJoint: 9, edgeReduction: 'sum' }).freeze).toHaveLength(
      1,
    );
    layout.dispose();
    model.dispose();
    pgOnly.dispose();
  });
});

describe('twStageModel', () => {
  it('names a model that is not an EHPE one, null included, instead of a TypeError', () => {
    for (const model of [null, undefined, {}]) {
      expect(() => twStageModel(model as never)).toThrow(PhalanxConfigError);
      expect(() => twStageModel(model as never)).toThrow(/^ehpeModelInfo: model must be a model built by createEhpe/);
    }
  });
});

describe('stage recipes: clipNorm', () => {
  it('a clipNorm of 0 or NaN is refused, not silently dropped (no clipping)', () => {
    const model = createEhpe(TINY_EHPE);
    for (const [name, make] of [
      ['twStageRecipe', (clipNorm: number) => twStageRecipe(model, { clipNorm })],
      ['pgStageRecipe', (clipNorm: number) => pgStageRecipe(model, { clipNorm })],
    ] as const) {
      for (const [bad, shown] of [
        [0, '0'],
        [Number.NaN, 'NaN'],
        [-1, '-1'],
      ] as const) {
        expect(() => make(bad), `${name} ${shown}`).toThrow(
          `${name}: clipNorm must be a finite number > 0, but received ${shown}.`,
        );
      }
      expect(make(0.5).parameterGroups[0].clipNorm).toBe(0.5);
    }
    model.dispose();
  });
});

describe('pgStageRecipe: the PG-only layout', () => {
  it('a disposed layout is refused when the recipe is made, not at the first step', () => {
    const pgOnly = createPgOnly(TINY_EHPE);
    const layout = tf.zeros([21, 3]);
    layout.dispose();
    expect(() => pgStageRecipe(pgOnly, { layout, depthBins: 4 })).toThrow(PhalanxShapeError);
    expect(() => pgStageRecipe(pgOnly, { layout, depthBins: 4 })).toThrow(
      "pgStageRecipe: layout must be a tensor that is not disposed, but received 'a disposed tensor'.",
    );
    pgOnly.dispose();
  });
});
