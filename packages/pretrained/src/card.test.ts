import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { createEhpe } from '@phalanx/ehpe';
import { createLearnableGroups } from '@phalanx/learnable-groups';
import { PhalanxConfigError } from '@phalanx/errors';
import { CARD_METADATA_KEY, readModelCard } from './card';
import { peakMass } from './heads';
import { estimatorFromModel } from './load';
import { TINY_EHPE, TINY_LG } from './tiny-models.fixture';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('readModelCard', () => {
  it('refuses a model that is not one by name (a TypeError before)', () => {
    expect(() => readModelCard('ehpe', null as never)).toThrow(PhalanxConfigError);
    expect(() => readModelCard('ehpe', null as never)).toThrow(
      'readModelCard: model must be a tf.LayersModel, but received null.',
    );
  });

  it('gives a model saved without a card the defaults: 45 mm bone (LG), its bins over 200 mm (EHPE)', () => {
    const lg = createLearnableGroups(TINY_LG);
    const ehpe = createEhpe(TINY_EHPE);
    expect(readModelCard('learnable-groups', lg)).toEqual({
      model: 'learnable-groups',
      depth: { unit: 'bone', boneMetres: 0.045 },
    });
    expect(readModelCard('ehpe', ehpe).depth).toEqual({ unit: 'bins', bins: 4, rangeMetres: 0.2 });
    lg.dispose();
    ehpe.dispose();
  });

  it('reads a stored card and refuses one that names the other model', () => {
    const lg = createLearnableGroups(TINY_LG);
    const card = { model: 'learnable-groups', depth: { unit: 'bone', boneMetres: 0.05 }, training: { steps: 3 } };
    lg.setUserDefinedMetadata({ [CARD_METADATA_KEY]: card });
    expect(readModelCard('learnable-groups', lg)).toMatchObject(card);
    expect(() => readModelCard('ehpe', lg)).toThrow(PhalanxConfigError);
    expect(() => readModelCard('ehpe', lg)).toThrow(
      "readModelCard: model must be the files of a 'ehpe' model, but received 'learnable-groups'.",
    );
    lg.dispose();
  });

  it('refuses a name that is not a model, under its own name (a card for any name, or a loader blamed, before)', () => {
    const ehpe = createEhpe(TINY_EHPE);
    for (const [name, shown] of [
      ['foo', "'foo'"],
      [null, 'null'],
      ['EHPE', "'EHPE'"],
    ] as const) {
      expect(() => readModelCard(name as never, ehpe)).toThrow(PhalanxConfigError);
      expect(() => readModelCard(name as never, ehpe)).toThrow(
        `readModelCard: name must be one of 'learnable-groups', 'ehpe', but received ${shown}.`,
      );
    }
    ehpe.dispose();
  });

  it('refuses a stored depth encoding that would turn keypoints into NaN, by name', () => {
    const lg = createLearnableGroups(TINY_LG);
    const ehpe = createEhpe(TINY_EHPE);
    const bad: [typeof lg, 'learnable-groups' | 'ehpe', unknown, RegExp][] = [
      [lg, 'learnable-groups', { unit: 'bone', boneMetres: 'x' }, /card.depth.boneMetres must be a finite number > 0/],
      [lg, 'learnable-groups', { unit: 'bone', boneMetres: -0.04 }, /boneMetres/],
      [lg, 'learnable-groups', { unit: 'bone' }, /boneMetres/],
      [lg, 'learnable-groups', { unit: 'metres' }, /card.depth.unit must be one of 'bone', 'bins'/],
      [lg, 'learnable-groups', 'bone', /card.depth must be an object/],
      [ehpe, 'ehpe', { unit: 'bins', bins: 1, rangeMetres: 0.2 }, /card.depth.bins must be an integer ≥ 2/],
      [ehpe, 'ehpe', { unit: 'bins', bins: 8.5, rangeMetres: 0.2 }, /card.depth.bins must be an integer ≥ 2/],
      [
        ehpe,
        'ehpe',
        { unit: 'bins', bins: 8, rangeMetres: null },
        /card.depth.rangeMetres must be a finite number > 0/,
      ],
    ];
    for (const [model, name, depth, message] of bad) {
      model.setUserDefinedMetadata({ [CARD_METADATA_KEY]: { model: name, depth } });
      expect(() => readModelCard(name, model), JSON.stringify(depth)).toThrow(PhalanxConfigError);
      expect(() => readModelCard(name, model)).toThrow(message);
    }
    lg.dispose();
    ehpe.dispose();
  });
});

describe('estimatorFromModel', () => {
  it('wraps freshly built models of both networks (no card) and refuses a model of the other network', async () => {
    for (const [name, model] of [
      ['learnable-groups', createLearnableGroups(TINY_LG)],
      ['ehpe', createEhpe(TINY_EHPE)],
    ] as const) {
      const estimator = estimatorFromModel(name, model);
      const image = tf.zeros([30, 50, 3], 'int32') as tf.Tensor3D;
      const [hand] = await estimator.estimateHands(image);
      image.dispose();
      expect(hand.keypoints).toHaveLength(21);
      estimator.dispose();
    }
    const ehpe = createEhpe(TINY_EHPE);
    expect(() => estimatorFromModel('learnable-groups', ehpe)).toThrow(/Learnable Groups model/);
    ehpe.dispose();
  });
});

describe('peakMass', () => {
  it('is 1 for one-hot maps, 9/(H·W) for flat ones, and the 3×3 mass around the peak in between', async () => {
    const oneHot = tf.cast(tf.oneHot(tf.tensor1d([5, 60], 'int32'), 64), 'float32'); // two joints
    const peaked = tf.reshape(tf.transpose(oneHot), [1, 8, 8, 2]) as tf.Tensor4D;
    const flat = tf.fill([1, 8, 8, 2], 1 / 64) as tf.Tensor4D;
    // Half the mass on one pixel, the other half spread evenly over the 8×8 map.
    const mixed = tf.add(tf.mul(peaked, 0.5), tf.mul(flat, 0.5)) as tf.Tensor4D;
    expect((await peakMass(peaked).data())[0]).toBeCloseTo(1, 6);
    expect((await peakMass(flat).data())[0]).toBeCloseTo(9 / 64, 6);
    expect((await peakMass(mixed).data())[0]).toBeCloseTo(0.5 + (0.5 * 9) / 64, 6);
    // A batch gives one score per image, each its own.
    const batch = tf.concat([peaked, flat, mixed]) as tf.Tensor4D;
    const scores = peakMass(batch);
    expect(scores.shape).toEqual([3]);
    const values = Array.from(await scores.data());
    [1, 9 / 64, 0.5 + (0.5 * 9) / 64].forEach((v, i) => expect(values[i]).toBeCloseTo(v, 6));
    tf.dispose([oneHot, peaked, flat, mixed, batch, scores]);
  });
});
