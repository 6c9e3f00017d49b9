import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeypointEvaluator } from './evaluator';
import { mpjpe } from './metrics';

/**
 * KeypointEvaluator and mpjpe with joint counts other than 21 (1, 2, 5, 42), 2D and 3D keypoints, visibility
 * masks all 1, random or all 0 but one entry, errors exactly on a threshold, against a float64 reference of
 * the official EvalUtil written out here, for every split of the samples into feeds.
 */
interface Case {
  gt: number[][][];
  pred: number[][][];
  vis: number[][];
  cuts: number[];
  steps: number;
  ties: boolean;
}

const caseArb: fc.Arbitrary<Case> = fc
  .record({
    J: fc.constantFrom(1, 2, 5, 21, 42),
    D: fc.constantFrom(2, 3),
    N: fc.integer({ min: 1, max: 9 }),
    mask: fc.constantFrom('ones', 'random', 'one'),
    ties: fc.boolean(),
    steps: fc.integer({ min: 2, max: 25 }),
  })
  .chain(({ J, D, N, mask, ties, steps }) => {
    const coord = ties ? fc.integer({ min: -5, max: 5 }) : fc.double({ min: -5, max: 5, noNaN: true });
    const point = fc.array(coord, { minLength: D, maxLength: D });
    const hand = fc.array(point, { minLength: J, maxLength: J });
    const flags = fc.array(fc.array(fc.constantFrom(0, 1), { minLength: J, maxLength: J }), {
      minLength: N,
      maxLength: N,
    });
    return fc.record({
      gt: fc.array(hand, { minLength: N, maxLength: N }),
      // With ties, pred moves one axis by an integer: every error is an integer, on a threshold 0, 1, 2, … exactly.
      offsets: fc.array(fc.array(fc.integer({ min: -4, max: 4 }), { minLength: J, maxLength: J }), {
        minLength: N,
        maxLength: N,
      }),
      noise: fc.array(hand, { minLength: N, maxLength: N }),
      flags,
      one: fc.tuple(fc.nat(N - 1), fc.nat(J - 1)),
      cuts: fc.array(fc.integer({ min: 1, max: N }), { maxLength: 4 }),
      mask: fc.constant(mask),
      ties: fc.constant(ties),
      steps: fc.constant(ties ? 5 : steps),
    });
  })
  .map(({ gt, offsets, noise, flags, one, cuts, mask, ties, steps }) => {
    const pred = gt.map((h, i) =>
      h.map((p, k) => p.map((v, c) => (ties ? v + (c === 0 ? offsets[i][k] : 0) : v + noise[i][k][c] / 2))),
    );
    const vis =
      mask === 'ones'
        ? flags.map((r) => r.map(() => 1))
        : mask === 'one'
          ? flags.map((r, i) => r.map((_, k) => (i === one[0] && k === one[1] ? 1 : 0)))
          : flags.map((r, i) => r.map((f, k) => (i === one[0] && k === one[1] ? 1 : f)));
    return { gt, pred, vis, cuts: [...new Set(cuts)].sort((a, b) => a - b), steps, ties };
  });

/** One joint's measures in the reference. */
interface JointRef {
  k: number;
  e: number[];
  mean: number;
  median: number;
  pck: number[];
  auc: number;
}

/** The official measures in float64: per joint mean, median, PCK (`e ≤ t`) and normalised trapezoid AUC. */
function reference(c: Case, min: number, max: number) {
  const thresholds = Array.from({ length: c.steps }, (_, s) => min + (s * (max - min)) / (c.steps - 1));
  const joints = c.gt[0].length;
  const perJoint: JointRef[] = [];
  for (let k = 0; k < joints; k++) {
    const e: number[] = [];
    c.gt.forEach((h, i) => {
      if (c.vis[i][k] === 1) e.push(Math.sqrt(h[k].reduce((s, v, d) => s + (v - c.pred[i][k][d]) ** 2, 0)));
    });
    if (e.length === 0) continue;
    const sorted = [...e].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    const pck = thresholds.map((t) => e.filter((x) => x <= t).length / e.length);
    let area = 0;
    for (let s = 0; s + 1 < c.steps; s++) area += ((thresholds[s + 1] - thresholds[s]) * (pck[s] + pck[s + 1])) / 2;
    perJoint.push({ k, e, mean: e.reduce((a, b) => a + b, 0) / e.length, median, pck, auc: area / (max - min) });
  }
  const avg = (f: (m: JointRef) => number) => perJoint.reduce((s, m) => s + f(m), 0) / perJoint.length;
  const all = perJoint.flatMap((m) => m.e);
  return {
    epeMean: avg((m) => m.mean),
    epeMedian: avg((m) => m.median),
    auc: avg((m) => m.auc),
    pckCurve: thresholds.map((_, s) => avg((m) => m.pck[s])),
    jointsEvaluated: perJoint.map((m) => m.k),
    mpjpe: all.reduce((a, b) => a + b, 0) / all.length,
  };
}

describe('KeypointEvaluator with other joint counts, masks and feed splits', () => {
  it('equals a float64 EvalUtil over the concatenated data, for any split into feeds (fast-check)', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const [min, max] = c.ties ? [0, 4] : [0, 3];
        const ev = new KeypointEvaluator({ numJoints: c.gt[0].length });
        const bounds = [0, ...c.cuts.filter((x) => x < c.gt.length), c.gt.length];
        for (let b = 0; b + 1 < bounds.length; b++) {
          const [lo, hi] = [bounds[b], bounds[b + 1]];
          // A feed of one sample goes in unbatched ([J, D]), as the evaluator also takes it.
          if (hi - lo === 1) ev.feed(c.gt[lo], c.pred[lo], c.vis[lo]);
          else ev.feed(c.gt.slice(lo, hi), c.pred.slice(lo, hi), c.vis.slice(lo, hi));
        }
        const m = ev.measures({ min, max, steps: c.steps });
        const r = reference(c, min, max);
        expect(m.numSamples).toBe(c.gt.length);
        expect(m.jointsEvaluated).toEqual(r.jointsEvaluated);
        expect(m.pckCurve).toHaveLength(c.steps);
        for (const key of ['epeMean', 'epeMedian', 'auc'] as const)
          expect(Math.abs(m[key] - r[key])).toBeLessThan(1e-12);
        m.pckCurve.forEach((v, s) => expect(Math.abs(v - r.pckCurve[s])).toBeLessThan(1e-12));
        expect(Math.abs(mpjpe(c.gt, c.pred, c.vis) - r.mpjpe)).toBeLessThan(1e-12);
      }),
      { numRuns: 300, seed: 45 },
    );
  });
});
