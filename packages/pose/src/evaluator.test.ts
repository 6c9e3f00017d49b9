import * as tf from '@tensorflow/tfjs-core';
import { readJson, thrownBy, useBackend, type TensorJson } from '@phalanx/testing';
import { PhalanxConfigError } from '@phalanx/errors';
import { beforeAll, describe, expect, it } from 'vitest';
import { KeypointEvaluator, type ClassMeasures } from './evaluator';
import { auc, freihandAlign, linspace, mpjpe, paMpjpe } from './metrics';
import { rng } from '../test/hands';

interface MetricsGolden {
  kind: 'metrics';
  gt: TensorJson;
  pred: TensorJson;
  range: [number, number, number];
  expected: {
    epeMean: number;
    epeMedian: number;
    auc: number;
    pckCurve: number[];
    auc20to50: number;
    paMpjpe: number;
    mpjpe: number;
  };
}

const golden = readJson<MetricsGolden>(new URL('../test/fixtures/metrics.json', import.meta.url));

function unflatten(t: TensorJson): number[][][] {
  const [n, j, d] = t.shape;
  return Array.from({ length: n }, (_, i) =>
    Array.from({ length: j }, (_, k) => t.data.slice((i * j + k) * d, (i * j + k + 1) * d)),
  );
}

const gt = unflatten(golden.gt);
const pred = unflatten(golden.pred);
const [min, max, steps] = golden.range;

function closeTo(actual: number, expected: number, tol: number, label: string): void {
  expect(Math.abs(actual - expected), `${label}: ${actual} vs ${expected}`).toBeLessThanOrEqual(tol);
}

beforeAll(async () => {
  await useBackend('cpu');
});

describe('KeypointEvaluator against the official EvalUtil (golden)', () => {
  it('matches EPE mean/median, PCK curve, AUC and the 20–50 mm AUC to 1e-9', () => {
    const m = new KeypointEvaluator({ numJoints: 21 }).feed(gt, pred).measures({ min, max, steps, units: 'm' });
    const e = golden.expected;
    closeTo(m.epeMean, e.epeMean, 1e-9, 'epeMean');
    closeTo(m.epeMedian, e.epeMedian, 1e-9, 'epeMedian');
    closeTo(m.auc, e.auc, 1e-9, 'auc');
    closeTo(m.auc20to50 as number, e.auc20to50, 1e-9, 'auc20to50');
    expect(m.pckCurve).toHaveLength(e.pckCurve.length);
    m.pckCurve.forEach((v, i) => closeTo(v, e.pckCurve[i], 1e-9, `pckCurve[${i}]`));
    expect(m.thresholds).toEqual(linspace(0, 0.05, 20));
    expect(m.counts).toEqual(new Array(21).fill(40));
    expect(m.numSamples).toBe(40);
    expect(m.jointsEvaluated).toHaveLength(21);
  });

  it('matches MPJPE to 1e-9 and FreiHAND PA-MPJPE to 1e-6', () => {
    closeTo(mpjpe(gt, pred), golden.expected.mpjpe, 1e-9, 'mpjpe');
    closeTo(paMpjpe(gt, pred), golden.expected.paMpjpe, 1e-6, 'paMpjpe');
    expect(paMpjpe(gt, pred)).toBeLessThan(mpjpe(gt, pred));
  });

  it('the 20–50 mm AUC is the official calc_auc of the curve points ≥ 20 mm, in m or mm', () => {
    const ev = new KeypointEvaluator().feed(gt, pred);
    const m = ev.measures({ min, max, steps, units: 'm' });
    expect(m.auc20to50).toBe(auc(m.thresholds.slice(8), m.pckCurve.slice(8)));
    const mm = new KeypointEvaluator()
      .feed(
        gt.map((h) => h.map((p) => p.map((v) => v * 1000))),
        pred.map((h) => h.map((p) => p.map((v) => v * 1000))),
      )
      .measures({ min: 0, max: 50, steps: 20, units: 'mm' });
    closeTo(mm.auc20to50 as number, golden.expected.auc20to50, 1e-9, 'auc20to50 in mm');
    closeTo(mm.epeMean, golden.expected.epeMean * 1000, 1e-9, 'epeMean in mm');
    expect(ev.measures({ min, max, steps }).auc20to50).toBeUndefined();
    expect(ev.measures({ min: 0, max: 0.01, steps: 5, units: 'm' }).auc20to50).toBeNull();
  });

  it('per-class measures average the class joints the same way', () => {
    const m = new KeypointEvaluator().feed(gt, pred).measures({ min, max, steps });
    const tips = m.perClass!.TIP;
    expect(tips.joints).toEqual([4, 8, 12, 16, 20]);
    expect(tips.count).toBe(200);
    const expected = tips.joints.reduce((s, j) => s + (m.perJoint[j].epeMean as number), 0) / 5;
    closeTo(tips.epeMean as number, expected, 1e-15, 'TIP epeMean');
    expect(Object.keys(m.perClass!)).toEqual(['WRIST', 'MCP', 'PIP', 'DIP', 'TIP']);
    const overall = Object.values(m.perClass!).reduce((s, c) => s + (c.epeMean as number) * c.joints.length, 0) / 21;
    closeTo(overall, m.epeMean, 1e-12, 'classes recompose the overall mean');
    expect(m.perJoint[12].name).toBe('middle_tip');
  });
});

describe('KeypointEvaluator streaming, masks and inputs', () => {
  it('feeding in chunks equals feeding at once', () => {
    const whole = new KeypointEvaluator().feed(gt, pred).measures({ min, max, steps, units: 'm' });
    const ev = new KeypointEvaluator();
    ev.feed(gt.slice(0, 7), pred.slice(0, 7));
    ev.feed(gt[7], pred[7]); // one unbatched sample
    ev.feed(gt.slice(8, 30), pred.slice(8, 30));
    ev.feed(gt.slice(30), pred.slice(30));
    const chunked = ev.measures({ min, max, steps, units: 'm' });
    expect(chunked.numSamples).toBe(40);
    closeTo(chunked.epeMean, whole.epeMean, 1e-15, 'epeMean');
    expect(chunked.epeMedian).toBe(whole.epeMedian);
    expect(chunked.pckCurve).toEqual(whole.pckCurve);
    expect(chunked.auc).toBe(whole.auc);
    ev.reset();
    expect(ev.numSamples).toBe(0);
    expect(() => ev.measures({ min, max, steps })).toThrow(
      'KeypointEvaluator.measures: the number of visible keypoints fed must be at least 1, but received 0.',
    );
  });

  it('tensors give the same measures as arrays (float32 inputs)', () => {
    const g32 = gt.map((h) => h.map((p) => p.map(Math.fround)));
    const p32 = pred.map((h) => h.map((p) => p.map(Math.fround)));
    const fromArrays = new KeypointEvaluator().feed(g32, p32).measures({ min, max, steps });
    const tg = tf.tensor3d(gt);
    const tp = tf.tensor3d(pred);
    const tv = tf.ones([40, 21]);
    const fromTensors = new KeypointEvaluator().feed(tg, tp, tv).measures({ min, max, steps });
    tf.dispose([tg, tp, tv]);
    expect(fromTensors.epeMean).toBe(fromArrays.epeMean);
    expect(fromTensors.pckCurve).toEqual(fromArrays.pckCurve);
    closeTo(fromTensors.epeMean, golden.expected.epeMean, 1e-6, 'float32 epeMean');
  });

  it('masked keypoints are not recorded; a joint never visible is left out of the averages', () => {
    const rand = rng(7);
    const vis = gt.map(() => gt[0].map(() => (rand() < 0.7 ? 1 : 0)));
    vis.forEach((row) => (row[3] = 0)); // joint 3 never visible
    const m = new KeypointEvaluator().feed(gt, pred, vis).measures({ min, max, steps });
    expect(m.perJoint[3]).toMatchObject({ count: 0, epeMean: null, epeMedian: null, auc: null, pckCurve: null });
    expect(m.jointsEvaluated).not.toContain(3);
    expect(m.jointsEvaluated).toHaveLength(20);
    // Reference: the official loop over joints with data, on the visible samples only.
    let sumMean = 0;
    let sumAuc = 0;
    for (let j = 0; j < 21; j++) {
      if (j === 3) continue;
      const d = gt.flatMap((h, i) => (vis[i][j] ? [Math.hypot(...h[j].map((v, c) => v - pred[i][j][c]))] : []));
      expect(m.counts[j]).toBe(d.length);
      sumMean += d.reduce((s, v) => s + v, 0) / d.length;
      const pck = m.thresholds.map((t) => d.filter((v) => v <= t).length / d.length);
      sumAuc += auc(m.thresholds, pck);
    }
    closeTo(m.epeMean, sumMean / 20, 1e-15, 'masked epeMean');
    closeTo(m.auc, sumAuc / 20, 1e-15, 'masked auc');
    // Booleans work like 0/1, tensors too.
    const boolM = new KeypointEvaluator()
      .feed(
        gt,
        pred,
        vis.map((r) => r.map((v) => v === 1)),
      )
      .measures({ min, max, steps });
    expect(boolM.epeMean).toBe(m.epeMean);
    expect(m.perClass!.DIP.joints).toEqual([3, 7, 11, 15, 19]);
    expect(m.perClass!.DIP.count).toBe(m.counts[7] + m.counts[11] + m.counts[15] + m.counts[19]);
    // mpjpe with the mask averages the visible keypoints only.
    const flat = gt.flatMap((h, i) =>
      h.flatMap((p, j) => (vis[i][j] ? [Math.hypot(...p.map((v, c) => v - pred[i][j][c]))] : [])),
    );
    closeTo(mpjpe(gt, pred, vis), flat.reduce((s, v) => s + v, 0) / flat.length, 1e-15, 'masked mpjpe');
  });
});

describe('KeypointEvaluator per-class labels', () => {
  it('per-class measures take any string as a class name, __proto__ and constructor too', () => {
    const labels = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', '__proto__'];
    const gt = labels.map((_, j) => [j, j]);
    const pred = gt.map(([u, v], j) => [u + [1, 0, 0, 0, 0][j], v + [0, 2, 0, 0, 3][j]]);
    const m = new KeypointEvaluator({ numJoints: 5, jointClasses: labels })
      .feed(gt, pred)
      .measures({ min: 0, max: 4, steps: 5 });
    const perClass = m.perClass!;
    const at = (label: string): ClassMeasures => perClass[label];
    expect(Object.getPrototypeOf(perClass)).toBe(Object.prototype);
    expect(Object.keys(perClass)).toEqual(['__proto__', 'constructor', 'toString', 'hasOwnProperty']);
    expect(Object.hasOwn(perClass, '__proto__')).toBe(true);
    expect(at('__proto__').joints).toEqual([0, 4]);
    expect(at('__proto__').epeMean).toBe(2); // errors 1 and 3
    expect(at('constructor').joints).toEqual([1]);
    expect(at('constructor').epeMean).toBe(2);
    expect(at('toString').count).toBe(1);
    expect(at('hasOwnProperty').epeMean).toBe(0);
    expect((JSON.parse(JSON.stringify(perClass)) as Record<string, ClassMeasures>)['__proto__'].joints).toEqual([0, 4]);
  });
});

describe('KeypointEvaluator threshold ranges', () => {
  it('measures thresholds over a range wider than the largest double', () => {
    const m = new KeypointEvaluator({ numJoints: 1, jointClasses: ['A'] })
      .feed([[[0, 0]]], [[[0, 0]]])
      .measures({ min: -1.7e308, max: 1.7e308, steps: 3 });
    expect(m.thresholds).toEqual([-1.7e308, 0, 1.7e308]);
    expect(m.pckCurve).toEqual([0, 1, 1]);
    expect(m.auc).toBeCloseTo(0.75, 15);
    expect(m.perJoint[0].auc).toBe(m.auc);
    expect(m.perClass!.A.auc).toBe(m.auc);
    expect(m.auc).toBe(auc(m.thresholds, m.pckCurve));
  });
});

describe('KeypointEvaluator other shapes and errors', () => {
  it('works with 2D keypoints and other joint counts', () => {
    const g2 = [
      [
        [0, 0],
        [10, 10],
      ],
      [
        [5, 5],
        [1, 1],
      ],
    ];
    const p2 = [
      [
        [3, 4],
        [10, 10],
      ],
      [
        [5, 5],
        [1, 2],
      ],
    ];
    const m = new KeypointEvaluator({ numJoints: 2 }).feed(g2, p2).measures({ min: 0, max: 10, steps: 11 });
    // joint 0 errors [5, 0] → mean 2.5, median 2.5; joint 1 errors [0, 1] → mean 0.5, median 0.5.
    expect(m.epeMean).toBe(1.5);
    expect(m.epeMedian).toBe(1.5);
    expect(m.perClass).toBeUndefined();
    expect(m.perJoint[0].pckCurve).toEqual([0.5, 0.5, 0.5, 0.5, 0.5, 1, 1, 1, 1, 1, 1]);
    expect(m.perJoint[1].pckCurve).toEqual([0.5, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    expect(m.auc).toBeCloseTo(((0.5 * 4.5 + 5.5) / 10 + (0.75 + 9) / 10) / 2, 14);
  });

  it('an empty batch (B = 0 tensors) feeds nothing; mpjpe and paMpjpe name it, with or without visible', () => {
    const ev = new KeypointEvaluator();
    const empty = [tf.zeros([0, 21, 3]), tf.zeros([0, 21, 3]), tf.zeros([0, 21])];
    ev.feed(empty[0], empty[1]).feed(empty[0], empty[1], empty[2]);
    expect(ev.numSamples).toBe(0);
    expect(() => ev.feed(tf.zeros([0, 20, 3]), tf.zeros([0, 20, 3]))).toThrow(
      'KeypointEvaluator.feed: gt must be keypoints with 21 joints (numJoints), but received 20.',
    );
    ev.feed(gt, pred).feed(empty[0], empty[1]);
    expect(ev.numSamples).toBe(gt.length);
    for (const [f, name] of [
      [mpjpe, 'mpjpe'],
      [paMpjpe, 'paMpjpe'],
    ] as const) {
      for (const visible of [undefined, empty[2]]) {
        expect(() => f(empty[0], empty[1], visible)).toThrow(
          `${name}: visible must be at least one visible keypoint, but received 0.`,
        );
      }
    }
    // freihandAlign aligns one hand: a batch, even of one or none, is named rather than cut to its first hand.
    for (const shape of [
      [0, 21, 3],
      [2, 21, 3],
    ]) {
      const batch = tf.zeros(shape);
      expect(() => freihandAlign(batch, batch)).toThrow(
        `freihandAlign: gt must be keypoints [J, 3] (or [1, J, 3]) of one hand, but received [${shape.join(', ')}].`,
      );
      batch.dispose();
    }
    const [one, hand] = [tf.tensor3d([gt[0]]), tf.tensor2d(gt[0])];
    expect(freihandAlign(one, one)).toEqual(freihandAlign(hand, hand));
    tf.dispose([one, hand]);
    tf.dispose(empty);
  });

  it('rejects bad input with named errors', () => {
    const ev = new KeypointEvaluator();
    expect(() => new KeypointEvaluator({ numJoints: 0 })).toThrow(
      'KeypointEvaluator: numJoints must be an integer in [1, 4096], but received 0.',
    );
    // A joint count no model builds is refused at once: 1e9 allocated until out of memory, 2³² threw a RangeError.
    for (const [numJoints, shown] of [
      [1e9, '1000000000'],
      [2 ** 32, '4294967296'],
      [4097, '4097'],
    ] as const) {
      const error = thrownBy(() => new KeypointEvaluator({ numJoints }));
      expect(error).toBeInstanceOf(PhalanxConfigError);
      expect((error as Error).message).toBe(
        `KeypointEvaluator: numJoints must be an integer in [1, 4096], but received ${shown}.`,
      );
    }
    expect(new KeypointEvaluator({ numJoints: 4096 }).numJoints).toBe(4096);
    expect(() => new KeypointEvaluator({ numJoints: 5, jointClasses: ['A'] })).toThrow(
      'KeypointEvaluator: jointClasses must be an array of 5 labels or null',
    );
    expect(() => ev.feed(gt, pred.slice(1))).toThrow(
      'KeypointEvaluator.feed: pred must be of the shape of gt [40, 21, 3], but received [39, 21, 3].',
    );
    expect(() => ev.feed([[[1, 2, 3, 4]]], [[[1, 2, 3, 4]]])).toThrow(
      'KeypointEvaluator.feed: gt must be keypoints [N, J, D] or [J, D] with D in {2, 3}, but received [1, 1, 4].',
    );
    expect(() =>
      ev.feed(
        gt.map((h) => h.slice(0, 20)),
        pred.map((h) => h.slice(0, 20)),
      ),
    ).toThrow('KeypointEvaluator.feed: gt must be keypoints with 21 joints (numJoints), but received 20.');
    ev.feed(gt, pred);
    const g2 = gt.map((h) => h.map((p) => p.slice(0, 2)));
    expect(() => ev.feed(g2, g2)).toThrow(
      'KeypointEvaluator.feed: gt must be keypoints with D = 3 as in earlier feeds, but received 2.',
    );
    expect(() => ev.feed(gt, pred, [[1, 0]])).toThrow(
      'KeypointEvaluator.feed: visible must be [40, 21] (one flag per sample and joint), but received [1, 2].',
    );
    expect(() => ev.feed([[[1, 2, 3]], [[1, 2]]] as never, [[[1, 2, 3]], [[1, 2, 3]]])).toThrow(
      "KeypointEvaluator.feed: gt must be keypoints [N, J, D] or [J, D] with D in {2, 3} (a rectangular array), but received 'a ragged array'.",
    );
    const t = tf.zeros([2, 21, 3]);
    expect(() => ev.feed(t, tf.zeros([2, 21, 2]))).toThrow(
      'KeypointEvaluator.feed: pred must be of the shape of gt [2, 21, 3], but received [2, 21, 2].',
    );
    t.dispose();
    expect(() => ev.measures({ min: 0, max: 0, steps: 20 })).toThrow(
      'KeypointEvaluator.measures: max must be greater than min (0), but received 0.',
    );
    expect(() => ev.measures({ min: 0, max: 1, steps: 1 })).toThrow(
      'KeypointEvaluator.measures: steps must be an integer ≥ 2, but received 1.',
    );
    expect(() => ev.measures({ min: 0, max: 1, units: 'cm' as never })).toThrow(
      "KeypointEvaluator.measures: units must be 'm' or 'mm', but received 'cm'.",
    );
  });
});
