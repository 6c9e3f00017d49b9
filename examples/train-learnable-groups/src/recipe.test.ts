import '@phalanx/wasm-training';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { disposeBatch, renderSyntheticHand, toBatch, type HandBatch } from '@phalanx/data';
import { useBackend } from '@phalanx/testing';
import { baselineErrors, epeOf } from './baselines';
import { jobConfigFromFlags, EARLIER_DEMO, UsageError } from './flags';
import { buildModel, buildSeededModel, buildTrainer, MODEL_SIZES, type JobConfig } from './pipeline';
import { PRESETS } from './presets';
import { AdamWOptimizer, groupLr, sigmaAt } from './recipe';

beforeAll(async () => {
  await useBackend('wasm');
});

describe('recipe knobs', () => {
  it('groupLr: linear warm-up to the peak, then cosine to 0 at the last step (or constant)', () => {
    const lr = groupLr(3e-3, { warmupSteps: 10, decay: 'cosine' }, 110) as (s: number) => number;
    expect(lr(0)).toBe(0);
    expect(lr(5)).toBeCloseTo(1.5e-3, 12);
    expect(lr(10)).toBeCloseTo(3e-3, 12);
    expect(lr(60)).toBeCloseTo(1.5e-3, 12); // half-way through the decay: ½(1 + cos(π/2))
    expect(lr(110)).toBeCloseTo(0, 12);
    const flat = groupLr(1e-3, { warmupSteps: 4, decay: 'constant' }, 100) as (s: number) => number;
    expect([flat(2), flat(4), flat(99)]).toEqual([5e-4, 1e-3, 1e-3]);
    expect(groupLr(2e-3, undefined, 100)).toBe(2e-3);
  });

  it('groupLr with restarts: each cycle is a run of its own, at restartPeak^k of the peak', () => {
    const schedule = { warmupSteps: 10, decay: 'cosine' as const, restartEvery: 110, restartPeak: 0.5 };
    const cycled = groupLr(3e-3, schedule, 250) as (s: number) => number;
    const single = groupLr(3e-3, { warmupSteps: 10, decay: 'cosine' }, 110) as (s: number) => number;
    for (const t of [0, 5, 10, 37, 60, 109]) expect(cycled(t)).toBe(single(t));
    expect(cycled(110)).toBe(0); // the second cycle warms up again …
    expect(cycled(120)).toBeCloseTo(1.5e-3, 12); // … to half the peak
    expect(cycled(170)).toBeCloseTo(0.75e-3, 12);
    // The last cycle is cut to the 30 steps left: warm-up 10, then a 20-step cosine to 0 at step 250.
    expect(cycled(230)).toBeCloseTo(0.75e-3, 12);
    expect(cycled(240)).toBeCloseTo(0.375e-3, 12);
    expect(cycled(250)).toBeCloseTo(0, 12);
    expect(groupLr(1e-3, { ...schedule, restartEvery: 1000 }, 110)).toEqual(expect.any(Function));
    expect(() => groupLr(1e-3, { ...schedule, restartEvery: 1.5 }, 110)).toThrow(/restartEvery/);
  });

  it('sigmaAt: a cosine from the first σ at step 0 to the final σ at the last step', () => {
    expect(sigmaAt(3, 1, 0, 101)).toBe(3);
    expect(sigmaAt(3, 1, 50, 101)).toBeCloseTo(2, 12);
    expect(sigmaAt(3, 1, 100, 101)).toBeCloseTo(1, 12);
    expect(sigmaAt(1.5, undefined, 40, 101)).toBe(1.5);
  });

  it('AdamW shrinks kernels by (1 − lr·λ) before the Adam update and leaves other variables alone', () => {
    const kernel = tf.variable(tf.tensor1d([1, -2, 4]), true, 'layer/kernel');
    const bias = tf.variable(tf.tensor1d([1, -2, 4]), true, 'layer/bias');
    const opt = new AdamWOptimizer(0.1, 0.5);
    // A zero gradient: Adam's own update is 0, only the decay acts.
    opt.applyGradients([
      { name: 'layer/kernel', tensor: tf.zeros([3]) },
      { name: 'layer/bias', tensor: tf.zeros([3]) },
    ]);
    expect(Array.from(kernel.dataSync())).toEqual([0.95, -1.9, 3.8].map((x) => Math.fround(x)));
    expect(Array.from(bias.dataSync())).toEqual([1, -2, 4]);
    tf.dispose([kernel, bias]);
    opt.dispose();
  });
});

describe('baselines', () => {
  it('hand centre and mean pose errors over the visible joints, by hand', async () => {
    // One hand: joint j at (j, 0), joints 0..3 visible → visible centroid (1.5, 0).
    const uv = Array.from({ length: 21 }, (_, j) => [j, 0]);
    const visible = Array.from({ length: 21 }, (_, j) => (j < 4 ? 1 : 0));
    const batch = {
      uv: tf.tensor3d([uv]),
      visible: tf.tensor2d([visible]),
    } as unknown as HandBatch;
    const mean = Array.from({ length: 21 }, () => [0, 3]);
    const b = await baselineErrors([batch], mean);
    expect(b.handCentre).toBeCloseTo((1.5 + 0.5 + 0.5 + 1.5) / 4, 12);
    expect(b.meanPose).toBeCloseTo((3 + Math.hypot(1, 3) + Math.hypot(2, 3) + Math.hypot(3, 3)) / 4, 12);
    expect(await epeOf([batch], [uv])).toBe(0);
    tf.dispose([batch.uv, batch.visible]);
  });
});

describe('job configuration', () => {
  it('--paper restores the paper’s recipe over any preset; flags override the preset', () => {
    const paper = jobConfigFromFlags({ paper: true }, PRESETS.demo.recipe);
    expect(paper.lr).toMatchObject({ selector: 0.1, fusion: 0.01, rest: 1e-4 });
    expect(paper.lrSchedule).toBeUndefined();
    expect([paper.temperatureEvery, paper.scoremapWeight, paper.heatmapWeight]).toEqual([1000, 0, 0]);
    const demo = jobConfigFromFlags({}, PRESETS.demo.recipe);
    expect(demo.steps).toBe(PRESETS.demo.recipe.steps);
    expect(demo.lrSchedule?.decay).toBe(PRESETS.demo.recipe.decay);
    const earlier = jobConfigFromFlags({ steps: '20', groups: '1', 'no-fusion': true });
    expect([earlier.steps, earlier.lr.rest, earlier.model.numGroups, earlier.model.fusion]).toEqual([
      20,
      EARLIER_DEMO.lrRest,
      1,
      false,
    ]);
    expect(() => jobConfigFromFlags({ decay: 'linear' })).toThrow("--decay must be 'constant' or 'cosine'");
  });

  it('values the network or the targets cannot take are usage errors of the flag, before any model is built', () => {
    const cases: [Record<string, string | boolean>, string][] = [
      [{ 'input-size': '100' }, '--input-size must be a multiple of 64'],
      [{ 'input-size': '0' }, '--input-size must be'],
      [{ full: true, 'input-size': '96' }, '--input-size must be a multiple of 64'],
      [{ groups: '22' }, '--groups must be an integer in [1, 21]'],
      [{ 'heatmap-sigma': '0' }, '--heatmap-sigma must be a number > 0'],
      [{ 'heatmap-sigma-final': '0' }, '--heatmap-sigma-final must be a number > 0'],
    ];
    for (const [flags, message] of cases) {
      expect(() => jobConfigFromFlags(flags)).toThrow(UsageError);
      expect(() => jobConfigFromFlags(flags)).toThrow(message);
    }
    expect(jobConfigFromFlags({ 'input-size': '128', groups: '21' }).model).toMatchObject({
      inputSize: 128,
      numGroups: 21,
    });
  });

  it('the long preset is one 14 000-step cosine; --restart-every splits a run into cycles', () => {
    const long = jobConfigFromFlags({}, PRESETS.pretrained.recipe);
    expect(long.steps).toBe(14000);
    expect(long.lrSchedule).toMatchObject({ warmupSteps: 200, decay: 'cosine', restartEvery: 14000 });
    expect(long.temperatureEvery).toBe(Math.floor(14000 / 45)); // 311, as the shipped run
    const single = jobConfigFromFlags({}, { ...PRESETS.pretrained.recipe, restartEvery: undefined });
    const [a, b] = [long, single].map((c) => groupLr(c.lr.rest, c.lrSchedule, c.steps) as (t: number) => number);
    for (const t of [0, 100, 200, 7000, 13999]) expect(a(t)).toBe(b(t));
    // The earlier shipped recipe: 10 000 steps in two cycles, the first equal to a 6 000-step run.
    const twoCycles = jobConfigFromFlags({ steps: '10000', 'restart-every': '6000' }, PRESETS.pretrained.recipe);
    const first = jobConfigFromFlags({ steps: '6000' }, { ...PRESETS.pretrained.recipe, restartEvery: undefined });
    const [c, d] = [twoCycles, first].map((x) => groupLr(x.lr.rest, x.lrSchedule, x.steps) as (t: number) => number);
    for (const t of [0, 100, 200, 3000, 5999]) expect(c(t)).toBe(d(t));
    expect(c(6100)).toBeCloseTo(0.75e-3, 12); // half-way up the second warm-up to 1.5e-3
    const flagged = jobConfigFromFlags({ 'restart-every': '50', 'restart-peak': '0.3', steps: '200' });
    expect(flagged.lrSchedule).toMatchObject({ restartEvery: 50, restartPeak: 0.3, decay: 'constant' });
    expect(flagged.temperatureEvery).toBe(1);
    expect(() => jobConfigFromFlags({ 'restart-every': '1' })).toThrow('--restart-every must be an integer ≥ 2');
    expect(() => jobConfigFromFlags({ 'restart-peak': '-1' })).toThrow('--restart-peak must be a number ≥ 0');
  });

  it('numGroups 1 builds the no-groups network (one branch, no selector) and it trains', async () => {
    const config: JobConfig = {
      model: { ...MODEL_SIZES.tiny, numGroups: 1 },
      steps: 2,
      batchSize: 2,
      lr: { selector: 1e-1, fusion: 1e-2, rest: 1e-2 },
      temperatureEvery: 10,
      zWeight: 1,
      dataSeed: 1,
      scoremapWeight: 1,
      heatmapSigma: 1.5,
    };
    const model = buildModel(config);
    expect(model.layers.some((l) => l.name === 'meta_S' || l.name.startsWith('nddr'))).toBe(false);
    expect(model.layers.filter((l) => /^b_get_uv\.\d+$/.test(l.name)).map((l) => l.name)).toEqual(['b_get_uv.0']);
    expect(model.outputs.map((o) => o.shape)).toEqual([
      [null, 21, 2],
      [null, 21],
    ]);
    const trainer = buildTrainer(model, config, { progress: false });
    const batch = toBatch([renderSyntheticHand(3, { size: 64 }), renderSyntheticHand(4, { size: 64 })]);
    const r = await trainer.trainStep(batch);
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(Object.keys(r.parts ?? {})).toEqual(['xyz', 'heatmap', 'scoremap']);
    disposeBatch(batch);
    model.dispose();
  });

  it('--init-seed: both networks start from the same weights for a seed, other weights for another', async () => {
    for (const groups of ['3', '1']) {
      const config = (seed: string) =>
        jobConfigFromFlags({ groups, 'init-seed': seed, beta: '2' }, PRESETS.demo.recipe);
      const builds = await Promise.all(['5', '5', '6'].map((seed) => buildSeededModel(config(seed))));
      const [a, b, c] = builds.map((m) => m.weights.map((w) => w.read().dataSync() as Float32Array));
      a.forEach((values, i) => expect(b[i], builds[0].weights[i].originalName).toEqual(values));
      expect(a.filter((values, i) => values.some((v, k) => v !== c[i][k])).length).toBeGreaterThan(a.length / 4);
      const beta = builds[0].weights.find((w) => /^b_get_uv\.0\//.test(w.originalName));
      expect(beta?.read().dataSync()[0]).toBe(2); // the recipe's β survives the re-seeding
      builds.forEach((m) => m.dispose());
    }
  });
});
