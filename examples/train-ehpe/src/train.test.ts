import { disableLeanBackprop, enableLeanBackprop } from '@phalanx/wasm-training';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { disposeBatch, renderSyntheticHand, toBatch } from '@phalanx/data';
import { twStageTargets } from '@phalanx/ehpe';
import { useBackend } from '@phalanx/testing';
import { classRatioSvg, fig1Series } from './figures';
import {
  buildModel,
  buildPgOnly,
  classTable,
  evaluate,
  FIG1_CLASSES,
  MODEL_SIZES,
  pgOnlyTrainer,
  stage1Trainer,
  stage2Trainer,
  type JobConfig,
} from './pipeline';

const config: JobConfig = {
  model: { ...MODEL_SIZES.tiny, lateralOffsets: [0, 0, 0, 0, 0] },
  variant: 'W+T',
  stepsTw: 0,
  stepsPg: 0,
  batchSize: 2,
  lrTw: 3e-3,
  lrPg: 3e-3,
  depthRange: 200,
  dataSeed: 1,
};

beforeAll(async () => {
  await useBackend('wasm');
});

const falling = (losses: number[]) => Math.min(...losses.slice(-3)) < 0.7 * losses[0];

describe('train-ehpe', () => {
  it('a tiny EHPE trains both stages on a fixed batch on wasm; stage 1 stays fixed in stage 2; the report has the five classes', async () => {
    const model = await buildModel(config);
    const batch = toBatch([0, 1].map((i) => renderSyntheticHand(200 + i, { size: 64 })));
    const s1 = stage1Trainer(model, config, { progress: false });
    const l1: number[] = [];
    for (let i = 0; i < 12; i++) l1.push((await s1.trainStep(batch)).loss);
    console.log(`stage 1: ${l1.map((l) => l.toFixed(2)).join(' ')}`);
    expect(l1.every(Number.isFinite)).toBe(true);
    expect(falling(l1)).toBe(true);

    const stage1Names = model.weights.filter((w) => /^(backbone|tw)\./.test(w.originalName));
    const snapshot = stage1Names.map((w) => w.read().dataSync().slice());
    const pgOnly = await buildPgOnly(config, model);
    const s2 = stage2Trainer(model, config, { progress: false });
    const l2: number[] = [];
    for (let i = 0; i < 12; i++) l2.push((await s2.trainStep(batch)).loss);
    console.log(`stage 2: ${l2.map((l) => l.toFixed(2)).join(' ')}`);
    expect(l2.every(Number.isFinite)).toBe(true);
    expect(falling(l2)).toBe(true);
    stage1Names.forEach((w, k) => {
      const now = w.read().dataSync();
      expect(
        now.every((v, i) => Object.is(v, snapshot[k][i])),
        `${w.originalName} changed in stage 2`,
      ).toBe(true);
    });

    const layout = tf.tidy(() => tf.mean(tf.concat([batch.uv, tf.fill([2, 21, 1], 1.5)], 2), 0)) as tf.Tensor2D;
    const s3 = pgOnlyTrainer(pgOnly, layout, config, { progress: false });
    const l3: number[] = [];
    for (let i = 0; i < 4; i++) l3.push((await s3.trainStep(batch)).loss);
    expect(l3.every(Number.isFinite)).toBe(true);

    const e = await evaluate(model, [batch], config, { model: pgOnly, layout }, layout);
    // The mean-hand TW error, computed independently: layout's TW joints (input px → heatmap px, bins) vs the targets.
    const tw = [0, 4, 8, 12, 16, 20];
    const target = twStageTargets(batch, { inputSize: 64, heatmapSize: 16, depthBins: 4 });
    const t = (await target.coords25d.array()) as number[][][];
    const l = (await layout.array()) as number[][];
    const k = 15 / 63;
    let sq = 0;
    let px = 0;
    t.forEach((hand) =>
      tw.forEach((j, i) => {
        const d = [l[j][0] * k - hand[i][0], l[j][1] * k - hand[i][1], l[j][2] - hand[i][2]];
        sq += (d[0] ** 2 + d[1] ** 2 + d[2] ** 2) / (2 * tw.length);
        px += Math.hypot(d[0], d[1]) / k / (2 * tw.length);
      }),
    );
    expect(e.twJoints.meanHandDistance!).toBeCloseTo(sq, 3);
    expect(e.twJoints.meanHandPx!).toBeCloseTo(px, 3);
    expect(Number.isFinite(e.twJoints.px) && Number.isFinite(e.twJoints.distance)).toBe(true);
    tf.dispose([target.heatmaps, target.coords25d]);
    for (const r of [e.twOnly, e.pgOnly!, e.full, e.meanHand!]) {
      expect(Object.keys(r.classMm).sort()).toEqual([...FIG1_CLASSES].sort());
      expect(r.classRatio.TIP).toBeCloseTo(100, 6);
      expect(FIG1_CLASSES.every((c) => Number.isFinite(r.classMm[c]) && r.classMm[c] > 0)).toBe(true);
      expect(Number.isFinite(r.paMpjpe) && Number.isFinite(r.mpjpe)).toBe(true);
    }
    const table = classTable(e);
    for (const c of FIG1_CLASSES) expect(table).toContain(c);
    expect(table).toContain('mean hand');
    const svg = classRatioSvg(fig1Series([['full', e.full]]), 'test');
    expect(svg.match(/<rect /g)!.length).toBeGreaterThanOrEqual(1 + 2 * 5);
    tf.dispose(layout);
    disposeBatch(batch);
    model.dispose();
    pgOnly.dispose();
  });

  it('the lean backward pass (which main.ts turns on) gives both stages the same weights, bit for bit', async () => {
    // No dropout: its masks are drawn unseeded, so two runs of stage 2 would differ anyway.
    const exact: JobConfig = { ...config, model: { ...config.model, dropout: 0 }, seed: 5 };
    const batch = toBatch([0, 1].map((i) => renderSyntheticHand(300 + i, { size: 64 })));
    const trainBoth = async (lean: boolean) => {
      if (lean) enableLeanBackprop();
      try {
        const model = await buildModel(exact);
        const s1 = stage1Trainer(model, exact, { progress: false });
        for (let i = 0; i < 3; i++) await s1.trainStep(batch);
        const s2 = stage2Trainer(model, exact, { progress: false });
        for (let i = 0; i < 3; i++) await s2.trainStep(batch);
        const weights = model.weights.map((w) => w.read().dataSync().slice());
        model.dispose();
        return weights;
      } finally {
        disableLeanBackprop();
      }
    };
    const stock = await trainBoth(false);
    const lean = await trainBoth(true);
    expect(lean.length).toBe(stock.length);
    lean.forEach((w, k) =>
      expect(
        w.every((v, i) => Object.is(v, stock[k][i])),
        `weight ${k}`,
      ).toBe(true),
    );
    disposeBatch(batch);
  });
});
