import { describe, expect, it } from 'vitest';
import { stageLr, type JobConfig } from './pipeline';
import { PRESETS, type Preset } from './presets';

/** The schedule part of a job configuration (stageLr reads nothing else). */
const job = (schedule: JobConfig['schedule']) => ({ schedule }) as JobConfig;

describe('train-ehpe: stage learning-rate schedules', () => {
  it('warm restarts keep every rate of the one-cycle run, then warm up again at half the peak', () => {
    const oneCycle = stageLr(job({ warmup: 500, decay: 'cosine' }), 2e-3, 20000) as (t: number) => number;
    const restarted = stageLr(
      job({ warmup: 500, decay: 'cosine', restartEvery: 20000, restartPeak: 0.5 }),
      2e-3,
      28000,
    ) as (t: number) => number;
    // A run continued from the one-cycle run's last checkpoint saw exactly these rates.
    for (let t = 0; t < 20000; t += 7) expect(restarted(t)).toBe(oneCycle(t));
    expect(restarted(20000)).toBe(0);
    // Warm-up to the 8000-step cosine at half the peak: ½ · 2e-3 · ½(1 + cos(π · 500/8000)) at its end.
    expect(restarted(20500)).toBeCloseTo(0.5e-3 * (1 + Math.cos(Math.PI / 16)), 12);
    expect(restarted(24000)).toBeCloseTo(0.5e-3, 12);
    expect(restarted(28000)).toBeCloseTo(0, 12);
  });

  it('a stage no longer than restartEvery is one cycle', () => {
    const s = { warmup: 500, decay: 'cosine' as const };
    const plain = stageLr(job(s), 2e-3, 4000) as (t: number) => number;
    const withRestarts = stageLr(job({ ...s, restartEvery: 20000, restartPeak: 0.5 }), 2e-3, 4000) as (
      t: number,
    ) => number;
    for (const t of [0, 250, 500, 2000, 3999, 4000]) expect(withRestarts(t)).toBe(plain(t));
  });

  it('the pretrained preset is one cosine per stage, with the volume terms and the residual PG-stage only there', () => {
    const p: Preset = PRESETS.pretrained;
    expect(p).not.toHaveProperty('restartEvery');
    const lr = stageLr(job({ warmup: p.warmup, decay: p.decay }), p.lrTw, p.stepsTw) as (t: number) => number;
    // The warm-up ramps the cosine, which runs from step 0: at its end ½(1 + cos(π·500/20000)) of the peak.
    expect(lr(p.warmup)).toBeCloseTo(0.5 * p.lrTw * (1 + Math.cos((Math.PI * p.warmup) / p.stepsTw)), 12);
    expect(lr(p.stepsTw)).toBeCloseTo(0, 12);
    expect([p.scoremapWeight, p.depthMarginalWeight, p.pgOutput]).toEqual([3, 3, 'residual']);
    expect([p.stepsTw, p.stepsPg, p.stepsE2e, p.lrE2e, p.depthWeightE2e]).toEqual([20000, 36000, 11500, 3e-3, 16]);
    // Stages 1 and 2 at batch 8 in one process, stage 3 at batch 32 on two replicas (16 rows each).
    expect([p.batch, p.replicas, p.batchE2e, p.warmupE2e, p.replicasE2e]).toEqual([8, undefined, 32, 125, 2]);
    expect(PRESETS.demo).not.toHaveProperty('restartEvery');
    for (const key of ['scoremapWeight', 'depthMarginalWeight', 'pgOutput', 'stepsE2e', 'depthWeightE2e'])
      expect(PRESETS.demo).not.toHaveProperty(key);
  });
});
