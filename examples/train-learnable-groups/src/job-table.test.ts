import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { JobCurve } from './job-curve';
import { epeAtStep, jobTable, largestGap, meanOfLast, stepCurve } from './job-table';

const baselines = { meanPose: 13.3, handCentre: 9.6 };
/** A curve of batch 32 from `[step, epe]` pairs. */
const curveOf = (steps: [number, number][], groups?: number[][]): JobCurve => ({
  points: steps.map(([step, epe]) => [step * 32, epe]),
  baselines,
  batchSize: 32,
  ...(groups === undefined ? {} : { groups }),
});

describe('epeAtStep and meanOfLast', () => {
  const curve = curveOf([
    [0, 13.4],
    [250, 9.1],
    [500, 8.4],
    [750, 8.0],
  ]);

  it('reads the error at an evaluated step and nothing elsewhere', () => {
    expect(stepCurve(curve)[1]).toEqual([250, 9.1]);
    expect(epeAtStep(curve, 500)).toBe(8.4);
    expect(epeAtStep(curve, 600)).toBeUndefined();
  });

  it('averages the last evaluations, never the one before training', () => {
    expect(meanOfLast(curve, 2)).toBeCloseTo((8.4 + 8.0) / 2, 12);
    expect(meanOfLast(curve, 10)).toBeCloseTo((9.1 + 8.4 + 8.0) / 3, 12);
    expect(() => meanOfLast(curve, 0)).toThrow(RangeError);
    expect(() => meanOfLast(curve, 1.5)).toThrow(RangeError);
  });
});

describe('largestGap', () => {
  const a = curveOf([
    [0, 13.4],
    [250, 9.0],
    [500, 8.0],
    [750, 7.0],
  ]);
  const b = curveOf([
    [0, 13.4],
    [250, 9.5],
    [500, 7.8],
    [1000, 5.0],
  ]);

  it('finds the largest difference at the steps both runs evaluated', () => {
    expect(largestGap(a, b)).toEqual({ gapPx: expect.closeTo(0.5, 12) as number, step: 250 });
    expect(largestGap(a, b, 300)).toEqual({ gapPx: expect.closeTo(0.2, 12) as number, step: 500 });
    expect(largestGap(a, b, 600)).toBeUndefined();
  });

  it('is the maximum over common steps, the same both ways round', () => {
    const curveArb = fc
      .uniqueArray(fc.tuple(fc.integer({ min: 0, max: 12 }), fc.double({ min: 0, max: 20, noNaN: true })), {
        selector: ([step]) => step,
        maxLength: 12,
      })
      .map((pairs) => curveOf(pairs.map(([k, epe]) => [k * 250, epe])));
    fc.assert(
      fc.property(curveArb, curveArb, fc.integer({ min: 0, max: 3000 }), (x, y, from) => {
        const yByStep = new Map(stepCurve(y));
        const gaps = stepCurve(x)
          .filter(([step]) => step >= from && yByStep.has(step))
          .map(([step, epe]) => Math.abs(epe - (yByStep.get(step) as number)));
        const forward = largestGap(x, y, from);
        const backward = largestGap(y, x, from);
        if (gaps.length === 0) {
          expect(forward).toBeUndefined();
          expect(backward).toBeUndefined();
        } else {
          expect(forward?.gapPx).toBe(Math.max(...gaps));
          expect(backward?.gapPx).toBe(forward?.gapPx);
          expect(Math.abs(epeAtStep(x, forward?.step ?? -1)! - epeAtStep(y, forward?.step ?? -1)!)).toBe(
            forward?.gapPx,
          );
        }
      }),
    );
  });
});

describe('jobTable', () => {
  it('writes one Markdown row per job, with – where a job has no value or no groups', () => {
    const shipped = curveOf(
      [
        [0, 13.4],
        [250, 9.1],
        [500, 8.4],
      ],
      [[0, 1, 2], [3], []],
    );
    const other = curveOf([
      [0, 13.4],
      [500, 8.2],
    ]);
    // The one-branch network (--groups 1) has no selector: its metrics.json saves `groups: []`.
    const oneBranch = curveOf([[500, 8.6]], []);
    const table = jobTable(
      [
        { label: 'shipped', curve: shipped },
        { label: 'other', curve: other },
        { label: 'one branch', curve: oneBranch },
      ],
      { atSteps: [250, 500], last: 2 },
    );
    expect(table.split('\n')).toEqual([
      '| run | 250 | 500 | mean of the last 2 evaluations | groups (joint counts) |',
      '| --- | ---: | ---: | ---: | --- |',
      '| shipped | 9.10 | 8.40 | 8.75 | 3 / 1 / 0 |',
      '| other | – | 8.20 | 8.20 | – |',
      '| one branch | – | 8.60 | 8.60 | – |',
    ]);
  });
});
