import '@phalanx/wasm-training';
import { beforeAll, describe, expect, it } from 'vitest';
import { disposeBatch, toBatch, renderSyntheticHand } from '@phalanx/data';
import { useBackend } from '@phalanx/testing';
import { buildModel, buildTrainer, evaluate, MODEL_SIZES, type JobConfig } from './pipeline';

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
});
