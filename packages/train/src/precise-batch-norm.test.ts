import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { PhalanxConfigError, PhalanxNonFiniteError } from '@phalanx/errors';
import { leanBatchNormalization } from '@phalanx/layers';
import { useBackend } from '@phalanx/testing';
import { recalibrateBatchNorm } from './precise-batch-norm';

beforeAll(async () => {
  await useBackend('wasm');
});

/** x [B, C] → a stock batch norm → a model holding a LeanBatchNormalization (nested) → y [B, C]. */
function build(channels: number): tfl.LayersModel {
  const inner = tfl.sequential({
    name: 'inner',
    layers: [leanBatchNormalization({ inputShape: [channels], momentum: 0.9, epsilon: 1e-5, name: 'lean' })],
  });
  const x = tfl.input({ shape: [channels] });
  const stock = tfl.layers.batchNormalization({ momentum: 0.99, name: 'stock' }).apply(x) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: inner.apply(stock) as tfl.SymbolicTensor });
}

/** [moving mean, moving variance] of a batch norm, as arrays. */
function statistics(layer: tfl.layers.Layer): number[][] {
  const w = layer.getWeights(); // gamma, beta, moving mean, moving variance
  return [Array.from(w[2].dataSync()), Array.from(w[3].dataSync())];
}

/** Per-channel mean and biased variance of rows `[B][C]`, in float64: the truth. */
function moments(rows: number[][]): number[][] {
  const mean = rows[0].map((_, c) => rows.reduce((s, r) => s + r[c], 0) / rows.length);
  const variance = mean.map((m, c) => rows.reduce((s, r) => s + (r[c] - m) ** 2, 0) / rows.length);
  return [mean, variance];
}

/** The mean over batches of per-batch `[mean, variance]` pairs: what the moving statistics must become. */
function meanOverBatches(perBatch: number[][][]): number[][] {
  return [0, 1].map((k) => perBatch[0][k].map((_, c) => perBatch.reduce((s, b) => s + b[k][c], 0) / perBatch.length));
}

/** [γ, β] of a batch norm, as arrays. */
function affine(layer: tfl.layers.Layer): number[][] {
  return layer
    .getWeights()
    .slice(0, 2)
    .map((w) => Array.from(w.dataSync()));
}

describe('recalibrateBatchNorm (precise BN)', () => {
  it('the moving statistics become the mean of the batches’ statistics; weights and momenta are kept', async () => {
    const model = build(2);
    const stock = model.getLayer('stock');
    const lean = (model.getLayer('inner') as tfl.Sequential).getLayer('lean');
    const gammaBeta = [stock, lean].map(affine);
    const rows = [
      [
        [1, 0],
        [3, 0],
        [8, 4],
      ],
      [
        [0, 2],
        [2, 2],
      ],
    ];
    const batches = rows.map((r) => tf.tensor2d(r));
    const before = tf.memory().numTensors;
    expect(await recalibrateBatchNorm(model, batches)).toBe(2);
    expect(tf.memory().numTensors).toBe(before);
    const expected = meanOverBatches(rows.map(moments));
    statistics(stock).forEach((s, k) => s.forEach((v, c) => expect(v).toBeCloseTo(expected[k][c], 5)));
    // The stock layer normalises the batch (γ = 1, β = 0) before the lean one sees it: per batch, mean 0, and
    // variance σ²/(σ² + ε) per channel that varies.
    const leanTruth = rows.map((r) => {
      const [m, v] = moments(r);
      return [m.map(() => 0), v.map((s) => (s > 0 ? s / (s + 1e-3) : 0))];
    });
    const leanExpected = meanOverBatches(leanTruth);
    statistics(lean).forEach((s, k) => s.forEach((v, c) => expect(v).toBeCloseTo(leanExpected[k][c], 4)));
    expect([stock, lean].map(affine)).toEqual(gammaBeta);
    expect([stock, lean].map((l) => (l as unknown as { momentum: number }).momentum)).toEqual([0.99, 0.9]);
    tf.dispose(batches);
    model.dispose();
  });

  it('fast-check: any number and size of batches from an async generator gives the mean of their moments', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.array(fc.array(fc.float({ min: -8, max: 8, noNaN: true }), { minLength: 3, maxLength: 3 }), {
            minLength: 2,
            maxLength: 5,
          }),
          { minLength: 1, maxLength: 6 },
        ),
        async (rows) => {
          const x = tfl.input({ shape: [3] });
          const layer = tfl.layers.batchNormalization({ name: 'bn' });
          const model = tfl.model({ inputs: x, outputs: layer.apply(x) as tfl.SymbolicTensor });
          async function* stream() {
            for (const r of rows) {
              const t = tf.tensor2d(r);
              yield t;
              t.dispose(); // asked for the next: this one is done
            }
          }
          expect(await recalibrateBatchNorm(model, stream())).toBe(rows.length);
          const expected = meanOverBatches(rows.map(moments));
          statistics(layer).forEach((s, k) => s.forEach((v, c) => expect(v).toBeCloseTo(expected[k][c], 3)));
          model.dispose();
        },
      ),
      { numRuns: 25, seed: 35 },
    );
  });

  it('named errors; a NaN batch or a failing stream leaves the old statistics and momenta in place', async () => {
    const model = build(2);
    const stock = model.getLayer('stock');
    const old = statistics(stock);
    await expect(recalibrateBatchNorm({} as tfl.LayersModel, [])).rejects.toThrow(PhalanxConfigError);
    const dense = tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [2] })] });
    await expect(recalibrateBatchNorm(dense, [tf.zeros([2, 2])])).rejects.toThrow(
      /recalibrateBatchNorm.*batch normalisation/,
    );
    dense.dispose();
    await expect(recalibrateBatchNorm(model, [])).rejects.toThrow(/at least one batch/);
    const one = tf.tensor2d([[1, 2]]);
    for (const notIterable of [null, 3, one, { length: 1 }]) {
      await expect(recalibrateBatchNorm(model, notIterable as unknown as tf.Tensor[])).rejects.toThrow(
        /recalibrateBatchNorm.*batches.*an array or an \(async\) iterable/,
      );
    }
    const notTensors = [one, [1, 2], [], [one, 'x']] as unknown as tf.Tensor[];
    await expect(recalibrateBatchNorm(model, notTensors)).rejects.toThrow(
      /batches\[1\].*a tensor or an array of tensors/,
    );
    await expect(recalibrateBatchNorm(model, [notTensors[2]])).rejects.toThrow(/batches\[0\]/);
    await expect(recalibrateBatchNorm(model, [notTensors[3]])).rejects.toThrow(/batches\[0\]/);
    expect(statistics(stock)).toEqual(old);
    one.dispose();
    const batches = [
      tf.tensor2d([
        [1, 2],
        [3, 4],
      ]),
      tf.tensor2d([
        [Number.NaN, 2],
        [3, 4],
      ]),
    ];
    const before = tf.memory().numTensors;
    await expect(recalibrateBatchNorm(model, batches)).rejects.toThrow(PhalanxNonFiniteError);
    expect(tf.memory().numTensors).toBe(before);
    async function* failing() {
      yield batches[0];
      throw new Error('the data source failed');
    }
    await expect(recalibrateBatchNorm(model, failing())).rejects.toThrow('the data source failed');
    expect(statistics(stock)).toEqual(old);
    expect((stock as unknown as { momentum: number }).momentum).toBe(0.99);
    tf.dispose(batches);
    model.dispose();
  });
});
