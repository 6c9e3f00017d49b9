import * as tf from '@tensorflow/tfjs-core';
import { batches, disposeBatch } from '@phalanx/data';
import { describe, expect, it } from 'vitest';
import { buildModel, SIZE, targets } from './train';

describe('README example', () => {
  it('builds a model that fits a fixed batch of synthetic hands (loss falls by more than half)', async () => {
    await tf.setBackend('wasm');
    const model = buildModel();
    const stream = batches({ seed: 3, size: SIZE, batchSize: 8, count: 8 });
    const batch = (await stream.next()).value!;
    const y = targets(batch);
    const losses: number[] = [];
    for (let step = 0; step < 60; step++) losses.push((await model.trainOnBatch(batch.images, y)) as number);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.at(-1)!).toBeLessThan(0.5 * losses[0]);
    tf.dispose(y);
    disposeBatch(batch);
  });
});
