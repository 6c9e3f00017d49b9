import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { disposeBatch, renderSyntheticHand, toBatch } from '@phalanx/data';
import { pgStageTargets } from '@phalanx/ehpe';
import { useBackend } from '@phalanx/testing';
import { depthLimits } from './limits';
import { buildModel, evaluate } from './pipeline';
import { tinyJob } from './tiny-job';

const config = tinyJob({ seed: 3 });

beforeAll(async () => {
  await useBackend('wasm');
});

describe('train-ehpe: what limits the 3D accuracy', () => {
  it("the model's variant is the evaluation's full model; the binned truth is the clamp's floor", async () => {
    const model = await buildModel(config);
    const set = [0, 1].map((k) => toBatch([0, 1].map((i) => renderSyntheticHand(300 + 2 * k + i, { size: 64 }))));
    const before = tf.memory().numTensors;
    const limits = await depthLimits(model, set, config.depthRange);
    expect(tf.memory().numTensors).toBe(before);
    const e = await evaluate(model, set, config);
    expect(limits.samples).toBe(4);
    expect(limits.variants.model.paMpjpe).toBeCloseTo(e.full.paMpjpe, 4);
    expect(limits.variants.model.mpjpe).toBeCloseTo(e.full.mpjpe, 4);
    expect(limits.epe2dPx).toBeCloseTo(e.full.epe2dPx, 4);
    expect(limits.meanHandDepthErrorMm).toBeNull();
    expect(limits.meanHand).toBeNull();
    // Swapping in the truth can only remove error from MPJPE here: an untrained model is far off in both parts.
    expect(limits.variants.trueDepth.mpjpe).toBeLessThan(limits.variants.model.mpjpe);
    expect(limits.variants.true2d.mpjpe).toBeLessThan(limits.variants.model.mpjpe);

    // With a depth range wide enough that nothing is clamped, the binned truth lifts back to the truth.
    const wide = await depthLimits(model, set, 4000);
    expect(wide.variants.binnedTruth.mpjpe).toBeLessThan(1e-2);
    expect(wide.variants.binnedTruth.paMpjpe).toBeLessThan(1e-2);
    // The mean layout's depth error, checked against the targets by hand.
    const bins = config.model.depthBins!;
    const binning = { depthBins: bins, depthRange: 200 };
    const layout = tf.tidy(() => tf.mean(pgStageTargets(set[0], binning), 0) as tf.Tensor2D);
    const withMean = await depthLimits(model, set, 200, layout);
    const [zMean, zTrue] = await Promise.all([
      tf.slice(layout, [0, 2], [-1, 1]).data(),
      Promise.all(set.map((b) => tf.tidy(() => tf.slice(pgStageTargets(b, binning), [0, 0, 2], [-1, -1, 1])).data())),
    ]);
    let sum = 0;
    for (const z of zTrue) z.forEach((v, k) => (sum += Math.abs(v - zMean[k % 21])));
    expect(withMean.meanHandDepthErrorMm).toBeCloseTo(((sum / (4 * 21)) * 200) / (bins - 1), 4);
    // The mean hand's PA-MPJPE and MPJPE are the evaluation's baseline (the targets' denominator).
    const withLayout = await evaluate(model, set, { ...config, depthRange: 200 }, undefined, layout);
    expect(withMean.meanHand!.paMpjpe).toBeCloseTo(withLayout.meanHand!.paMpjpe, 4);
    expect(withMean.meanHand!.mpjpe).toBeCloseTo(withLayout.meanHand!.mpjpe, 4);
    expect(withMean.meanHand!.mpjpe).not.toBeCloseTo(withMean.variants.model.mpjpe, 1);
    layout.dispose();
    set.forEach(disposeBatch);
    model.dispose();
  });
});
