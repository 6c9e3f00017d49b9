import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@phalanx/wasm-training';
import { describe, expect, it } from 'vitest';
import { expectClose, expectSaveLoadIdentical, forEachBackend } from '@phalanx/testing';
import { PhalanxConfigError } from '@phalanx/errors';
import { createEhpe, createPgOnly, createPgStage, ehpeRecordOf } from './index';
import { TINY_EHPE } from './tiny.fixture';

/** `to`'s weights set to `from`'s (same layers, same order: `pg.refine` has none). */
function copyWeights(from: tfl.LayersModel, to: tfl.LayersModel): void {
  expect(to.weights.map((w) => w.originalName)).toEqual(from.weights.map((w) => w.originalName));
  to.setWeights(from.weights.map((w) => w.read()));
}

describe("EhpeConfig.pgOutput: 'residual'", () => {
  forEachBackend(() => {
    it('createEhpe: the joints are the init21 layout plus what the absolute model predicts, with the same weights', async () => {
      const absolute = createEhpe(TINY_EHPE);
      const residual = createEhpe({ ...TINY_EHPE, pgOutput: 'residual' });
      copyWeights(absolute, residual);
      const layoutOf = tfl.model({ inputs: residual.inputs, outputs: residual.getLayer('init21').output });
      const x = tf.randomUniform([2, 64, 64, 3], 0, 1, 'float32', 11);
      const [, , a] = absolute.predict(x) as tf.Tensor[];
      const [, , r] = residual.predict(x) as tf.Tensor[];
      const layout = layoutOf.predict(x) as tf.Tensor;
      const expected = tf.add(layout, a);
      expectClose(await r.data(), await expected.data(), { rtol: 1e-5, atol: 1e-4 });
      expect(ehpeRecordOf(residual)?.config.pgOutput).toBe('residual');
      expect(ehpeRecordOf(absolute)?.config.pgOutput).toBe('absolute');
      tf.dispose([x, a, r, layout, expected]);
      [absolute, residual].forEach((m) => m.dispose());
    });

    it('createPgOnly: the joints are the given layout plus the absolute prediction', async () => {
      const absolute = createPgOnly(TINY_EHPE);
      const residual = createPgOnly({ ...TINY_EHPE, pgOutput: 'residual' });
      copyWeights(absolute, residual);
      const x = tf.randomUniform([2, 64, 64, 3], 0, 1, 'float32', 12);
      const layout = tf.randomUniform([2, 21, 3], 0, 63, 'float32', 13);
      const [a] = absolute.predict([x, layout]) as tf.Tensor[];
      const [r] = residual.predict([x, layout]) as tf.Tensor[];
      const expected = tf.add(layout, a);
      expectClose(await r.data(), await expected.data(), { rtol: 1e-5, atol: 1e-4 });
      tf.dispose([x, layout, a, r, expected]);
      [absolute, residual].forEach((m) => m.dispose());
    });
  });

  it('save → load keeps the refinement (same outputs)', async () => {
    const model = createEhpe({ ...TINY_EHPE, pgOutput: 'residual' });
    const x = tf.randomUniform([1, 64, 64, 3], 0, 1, 'float32', 14);
    const loaded = await expectSaveLoadIdentical(model, [x]);
    expect(loaded.layers.some((l) => l.name === 'pg.refine')).toBe(true);
    x.dispose();
  });

  it('names a bad value, and refuses createPgStage, which has no layout to refine', () => {
    expect(() => createEhpe({ ...TINY_EHPE, pgOutput: 'delta' as 'residual' })).toThrow(PhalanxConfigError);
    expect(() => createEhpe({ ...TINY_EHPE, pgOutput: 'delta' as 'residual' })).toThrow(/pgOutput/);
    expect(() => createPgStage({ ...TINY_EHPE, pgOutput: 'residual' }, 4)).toThrow(PhalanxConfigError);
  });
});
