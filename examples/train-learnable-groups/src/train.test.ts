import '@phalanx/wasm-training';
import { beforeAll, describe, expect, it } from 'vitest';
import { disposeBatch, toBatch, renderSyntheticHand } from '@phalanx/data';
import { useBackend } from '@phalanx/testing';
import * as tf from '@tensorflow/tfjs-core';
import {
  buildModel,
  buildTrainer,
  evaluate,
  heatmapTargetsOf,
  MODEL_SIZES,
  scoremapCrossEntropy,
  trainingModelOf,
  type JobConfig,
} from './pipeline';

const config: JobConfig = {
  model: MODEL_SIZES.tiny,
  steps: 0,
  batchSize: 2,
  lr: { selector: 1e-1, fusion: 1e-2, rest: 1e-2 },
  temperatureEvery: 10,
  zWeight: 1,
  dataSeed: 1,
};

beforeAll(async () => {
  await useBackend('wasm');
});

describe('train-learnable-groups', () => {
  it('a tiny Learnable Groups model overfits a fixed batch on wasm: the loss falls by 90%', async () => {
    const model = buildModel(config);
    const trainer = buildTrainer(model, config, { progress: false });
    const batch = toBatch([0, 1].map((i) => renderSyntheticHand(100 + i, { size: 64 })));
    const losses: number[] = [];
    for (let i = 0; i < 150; i++) {
      losses.push((await trainer.trainStep(batch)).loss);
      if (i >= 20 && Math.min(...losses.slice(-3)) < 0.1 * losses[0]) break;
    }
    const first = losses[0];
    const last = Math.min(...losses.slice(-3));
    console.log(`tiny overfit: loss ${first.toFixed(3)} → ${last.toFixed(3)} in ${losses.length} steps`);
    expect(last).toBeLessThan(0.1 * first);
    // The hard-selector inference agrees with training: the 2D EPE on the same batch is small too.
    const e = await evaluate(model, [batch]);
    console.log(`epe2d ${e.measures2d.epeMean}`);
    disposeBatch(batch);
    model.dispose();
  });

  it('auxiliary 2D supervision: training model adds h₀ and the branch maps; the cross-entropy is smallest at the target', async () => {
    const model = buildModel(config);
    const training = trainingModelOf(model, 3);
    expect(training.outputs.map((o) => o.shape)).toEqual([
      [null, 21, 2],
      [null, 21],
      [null, 16, 16, 21],
      [null, 16, 16, 21],
      [null, 16, 16, 21],
      [null, 16, 16, 21],
    ]);
    expect(training.weights.every((w) => model.weights.includes(w))).toBe(true);
    const batch = toBatch([renderSyntheticHand(5, { size: 64 })]);
    const maps = heatmapTargetsOf(batch, 1.5);
    const beta = tf.ones([21]);
    // The cross-entropy is minimal when softmax(β·h) is the target distribution (h = log q): far below
    // a flat map, and below a sharper or a broader map around the same joints.
    const peaked = scoremapCrossEntropy(tf.log(tf.add(maps, 1e-12)), beta, maps);
    for (const k of [0.5, 2]) {
      const other = scoremapCrossEntropy(tf.mul(tf.log(tf.add(maps, 1e-12)), k), beta, maps);
      expect((await other.data())[0]).toBeGreaterThan((await peaked.data())[0]);
      other.dispose();
    }
    const flat = scoremapCrossEntropy(tf.zeros(maps.shape), beta, maps);
    expect((await flat.data())[0]).toBeCloseTo(Math.log(256), 4);
    expect((await peaked.data())[0]).toBeLessThan((await flat.data())[0] - 1);
    // The auxiliary path trains (one step, finite loss with its parts).
    const trainer = buildTrainer(model, { ...config, scoremapWeight: 1, heatmapWeight: 10 }, { progress: false });
    const r = await trainer.trainStep(batch);
    expect(Object.keys(r.parts ?? {})).toEqual(['xyz', 'heatmap', 'scoremap']);
    expect(Number.isFinite(r.loss)).toBe(true);
    tf.dispose([maps, beta, peaked, flat]);
    disposeBatch(batch);
    model.dispose();
  });
});
