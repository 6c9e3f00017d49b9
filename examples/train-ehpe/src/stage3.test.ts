import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stage3FirstBatch, stage3View, stageLr } from './pipeline';
import { tinyJob } from './tiny-job';

describe('train-ehpe: stage 3 with a batch size and warm-up of its own', () => {
  it('stage 3 reads only samples that stages 1 and 2 never read, whatever the two batch sizes', () => {
    const sizes = fc.record({
      stepsTw: fc.integer({ min: 0, max: 50_000 }),
      stepsPg: fc.integer({ min: 0, max: 50_000 }),
      batchSize: fc.integer({ min: 1, max: 64 }),
      batchSizeE2e: fc.integer({ min: 1, max: 64 }),
    });
    fc.assert(
      fc.property(sizes, (s) => {
        const config = tinyJob(s);
        const b3 = stage3View(config).batchSize;
        const firstSample = stage3FirstBatch(config) * b3;
        // Stages 1 and 2 (and the PG-only ablation) read samples [0, steps · B) of the same stream.
        expect(firstSample).toBeGreaterThanOrEqual(Math.max(s.stepsTw, s.stepsPg) * s.batchSize);
        // Not more than one stage-3 batch further than needed, or, for B₃ ≥ B, where runs of one batch size began.
        if (b3 >= s.batchSize) expect(stage3FirstBatch(config)).toBe(Math.max(s.stepsTw, s.stepsPg));
        else expect(firstSample - Math.max(s.stepsTw, s.stepsPg) * s.batchSize).toBeLessThan(b3);
      }),
    );
  });

  it('without batchSizeE2e or warmupE2e the view is the job itself; with them, only those two change', () => {
    const config = tinyJob({ stepsTw: 10, stepsPg: 20, schedule: { warmup: 500, decay: 'cosine' } });
    expect(stage3View(config)).toEqual(config);
    expect(stage3FirstBatch(config)).toBe(20);
    const own = { ...config, batchSizeE2e: 16, warmupE2e: 250 };
    expect(stage3View(own)).toEqual({ ...own, batchSize: 16, schedule: { warmup: 250, decay: 'cosine' } });
    // Stage 3 warms up over 250 steps to the cosine's rate there; the other stages keep their 500.
    const rate = (c: typeof config) => stageLr(c, 1e-3, 1000) as (t: number) => number;
    const cosine = (t: number) => 0.5e-3 * (1 + Math.cos((Math.PI * t) / 1000));
    expect(rate(stage3View(own))(125)).toBeCloseTo(cosine(250) / 2, 12);
    expect(rate(stage3View(own))(250)).toBeCloseTo(cosine(250), 12);
    expect(rate(own)(250)).toBeCloseTo(cosine(500) / 2, 12);
    // A job with no schedule gets a constant rate after the warm-up.
    const plain = stage3View(tinyJob({ warmupE2e: 4 }));
    expect(plain.schedule).toEqual({ warmup: 4, decay: 'constant' });
    expect((stageLr(plain, 1e-3, 100) as (t: number) => number)(50)).toBe(1e-3);
  });
});
