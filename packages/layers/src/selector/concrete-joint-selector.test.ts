import * as tf from '@tensorflow/tfjs-core';
import {
  expectClose,
  expectConfigRoundTrip,
  expectLayerMatchesGolden,
  expectNoLeakInPredictAndTrain,
  expectNumericGradient,
  expectSaveLoadIdentical,
  forEachBackend,
  IN_BROWSER,
  modelAround,
  readJson,
  runLayerCase,
  type GoldenLayerCase,
  useBackend,
} from '@phalanx/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { PhalanxConfigError } from '@phalanx/errors';
import {
  ConcreteJointSelector,
  concreteJointSelector,
  concreteSelection,
  gumbelNoise,
  hardSelection,
  selectJoints,
  type ConcreteJointSelectorArgs,
} from './concrete-joint-selector';

const fixture = (name: string): GoldenLayerCase =>
  readJson<GoldenLayerCase>(new URL(`../../test/fixtures/${name}`, import.meta.url));
const HARD = fixture('concrete_joint_selector.hard.json');
const SOFT = fixture('concrete_joint_selector.soft.json');
const ST = fixture('concrete_joint_selector.st.json');

const fromGolden = (golden: GoldenLayerCase): ConcreteJointSelector =>
  concreteJointSelector(golden.config as unknown as ConcreteJointSelectorArgs);

/** A built selector with the given logits [J, G] loaded. */
function builtSelector(args: ConcreteJointSelectorArgs, logits?: tf.Tensor): ConcreteJointSelector {
  const layer = concreteJointSelector(args);
  layer.build([null, args.numGroups, args.numJoints, 2]);
  if (logits !== undefined) layer.setWeights([logits, tf.scalar(args.initialTemperature ?? 5)]);
  return layer;
}

forEachBackend(() => {
  describe('ConcreteJointSelector golden', () => {
    it('hard inference: one-hot(argmax logits), zero logits gradient', () => {
      expectLayerMatchesGolden(fromGolden(HARD), HARD);
      // The golden says the logits gradient is exactly zero; check it is really there and zero.
      const { weightGrads } = runLayerCase(fromGolden(HARD), HARD);
      expect(weightGrads[0]).not.toBeNull();
      expect(Math.max(...Array.from(weightGrads[0]!.dataSync()).map(Math.abs))).toBe(0);
      expect(weightGrads[1]).toBeNull(); // temperature is not trainable
    });

    it('soft training with given Gumbel noise', () => {
      expectLayerMatchesGolden(fromGolden(SOFT), SOFT);
    });

    it('straight-through training with given Gumbel noise', () => {
      expectLayerMatchesGolden(fromGolden(ST), ST);
    });
  });

  describe('ConcreteJointSelector selection and noise', () => {
    it('lists weights logits [J, G] (trainable, 0.5) then temperature [] (non-trainable)', () => {
      const layer = builtSelector({ numJoints: 5, numGroups: 3, initialTemperature: 2 });
      expect(layer.weights.map((w) => w.originalName.split('/').pop())).toEqual(['logits', 'temperature']);
      expect(layer.weights.map((w) => w.shape)).toEqual([[5, 3], []]);
      expect(layer.trainableWeights.length).toBe(1);
      expect(layer.nonTrainableWeights.length).toBe(1);
      expectClose(layer.weights[0].read(), new Array(15).fill(0.5), { rtol: 0, atol: 0 });
      expect(layer.getTemperature()).toBeCloseTo(2, 6);
    });

    it('training forward is softmax((logits + n)/τ) applied per joint', () => {
      tf.tidy(() => {
        const logits = tf.randomNormal([4, 3], 0, 1, 'float32', 1);
        const noise = gumbelNoise([4, 3], 2);
        const x = tf.randomNormal([2, 3, 4, 2], 0, 1, 'float32', 3);
        const layer = builtSelector({ numJoints: 4, numGroups: 3, initialTemperature: 0.5 }, logits);
        const y = layer.apply(x, { training: true, gumbelNoise: noise }) as tf.Tensor;
        const s = tf.softmax(tf.div(tf.add(logits, noise), 0.5));
        // Independent formulation: y[b, j, c] = Σ_g S[j, g] x[b, g, j, c] via einsum-like loops.
        const xs = x.arraySync() as number[][][][];
        const ss = s.arraySync() as number[][];
        const expected = xs.map((xb) =>
          ss.map((row, j) => [0, 1].map((c) => row.reduce((acc, sg, g) => acc + sg * xb[g][j][c], 0))),
        );
        expectClose(y, tf.tensor(expected), { rtol: 1e-5, atol: 1e-6 });
      });
    });

    it('straight-through: forward one-hot, logits gradient equal to the soft one', () => {
      tf.tidy(() => {
        const logits = tf.randomNormal([6, 3], 0, 1, 'float32', 4);
        const noise = gumbelNoise([6, 3], 5);
        const x = tf.randomNormal([2, 3, 6, 2], 0, 1, 'float32', 6);
        const up = tf.randomNormal([2, 6, 2], 0, 1, 'float32', 7);
        const hard = concreteSelection(logits, 0.7, noise, true);
        expectClose(hard, tf.oneHot(tf.argMax(tf.add(logits, noise), -1), 3), { rtol: 0, atol: 0 });
        const loss = (st: boolean) => (l: tf.Tensor) =>
          tf.sum(tf.mul(selectJoints(x, concreteSelection(l, 0.7, noise, st)), up)) as tf.Scalar;
        expectClose(tf.grad(loss(true))(logits), tf.grad(loss(false))(logits), { rtol: 1e-5, atol: 1e-6 });
      });
    });

    it('inference modes: hard rows are one-hot, soft is softmax(logits/τ)', () => {
      tf.tidy(() => {
        const logits = tf.tensor2d([
          [0, 2, 1],
          [3, -1, 0],
          [0.5, 0.2, 0.9],
          [1, 1, 4],
        ]);
        const hard = builtSelector({ numJoints: 4, numGroups: 3 }, logits);
        expectClose(hard.selection(), tf.oneHot([1, 0, 2, 2], 3), { rtol: 0, atol: 0 });
        expect(hard.groups()).toEqual([[1], [0], [2, 3]]);
        const soft = builtSelector(
          { numJoints: 4, numGroups: 3, inferenceMode: 'soft', initialTemperature: 2 },
          logits,
        );
        expectClose(soft.selection(), tf.softmax(tf.div(logits, 2)), { rtol: 1e-6, atol: 1e-7 });
        soft.setTemperature(0.25);
        expect(soft.getTemperature()).toBe(0.25);
        expectClose(soft.selection({ training: false }), tf.softmax(tf.div(logits, 0.25)), { rtol: 1e-5, atol: 1e-7 });
      });
    });

    it('samples fresh noise at every training call; a seed makes the stream reproducible', () => {
      tf.tidy(() => {
        const draw = (layer: ConcreteJointSelector) => Array.from(layer.selection({ training: true }).dataSync());
        const a = builtSelector({ numJoints: 5, numGroups: 3, seed: 11, initialTemperature: 1 });
        const b = builtSelector({ numJoints: 5, numGroups: 3, seed: 11, initialTemperature: 1 });
        const a1 = draw(a);
        const a2 = draw(a);
        expect(a1).not.toEqual(a2);
        expect(draw(b)).toEqual(a1);
        expect(draw(b)).toEqual(a2);
        const c = builtSelector({ numJoints: 5, numGroups: 3, seed: 12, initialTemperature: 1 });
        expect(draw(c)).not.toEqual(a1);
        const unseeded = builtSelector({ numJoints: 5, numGroups: 3, initialTemperature: 1 });
        expect(draw(unseeded)).not.toEqual(draw(unseeded));
        // Rows of a Concrete sample sum to 1.
        expectClose(tf.sum(a.selection({ training: true }), 1), tf.ones([5]), { rtol: 1e-5, atol: 1e-6 });
      });
    });

    it('getNoiseState / setNoiseState move the seeded stream to any position', () => {
      tf.tidy(() => {
        const draw = (layer: ConcreteJointSelector) => Array.from(layer.selection({ training: true }).dataSync());
        const a = builtSelector({ numJoints: 5, numGroups: 3, seed: 21, initialTemperature: 1 });
        expect(a.getNoiseState()).toEqual({ seed: 21, calls: 0 });
        const samples = [draw(a), draw(a), draw(a)];
        expect(a.getNoiseState()).toEqual({ seed: 21, calls: 3 });
        const b = builtSelector({ numJoints: 5, numGroups: 3, seed: 21, initialTemperature: 1 });
        b.setNoiseState({ calls: 2 });
        expect(draw(b)).toEqual(samples[2]);
        b.setNoiseState(a.getNoiseState());
        expect(b.getNoiseState()).toEqual({ seed: 21, calls: 3 });
        b.setNoiseState({ calls: 1 });
        expect(draw(b)).toEqual(samples[1]);
        expect(() => b.setNoiseState({ calls: -1 })).toThrow(
          'ConcreteJointSelector: noise state calls must be an integer ≥ 0, but received -1.',
        );
        expect(() => b.setNoiseState({ calls: 1, seed: 22 })).toThrow(
          "ConcreteJointSelector: noise state seed must be this layer's seed (21), but received 22.",
        );
      });
    });
  });
});

forEachBackend(() => {
  describe('ConcreteJointSelector Gumbel noise, gradients, serialisation and training', () => {
    it('Gumbel noise has the standard Gumbel mean (Euler–Mascheroni 0.5772) and no infinities', () => {
      const n = gumbelNoise([200, 50], 9);
      const values = n.dataSync();
      expect(values.every(Number.isFinite)).toBe(true);
      expect(Math.abs(tf.mean(n).dataSync()[0] - 0.5772)).toBeLessThan(0.03);
      n.dispose();
    });

    it('passes the numeric gradient check (logits and input)', () => {
      const noise = gumbelNoise([4, 3], 21);
      const up = tf.randomNormal([2, 4, 2], 0, 1, 'float32', 22);
      const logits = tf.randomNormal([4, 3], 0, 1, 'float32', 23);
      const x = tf.randomNormal([2, 3, 4, 2], 0, 1, 'float32', 24);
      expectNumericGradient(
        (l, xx) => tf.sum(tf.mul(selectJoints(xx, concreteSelection(l, 0.8, noise)), up)) as tf.Scalar,
        [logits, x],
        { samples: 12 },
      );
      tf.dispose([noise, up, logits, x]);
    });

    it('round-trips its config', () => {
      expectConfigRoundTrip(
        concreteJointSelector({ numJoints: 21, numGroups: 4, initialTemperature: 3, straightThrough: true, seed: 7 }),
      );
      expectConfigRoundTrip(concreteJointSelector({ numJoints: 21, numGroups: 3, inferenceMode: 'soft' }));
    });

    it('saves and loads a model with identical outputs and temperature', async () => {
      const layer = concreteJointSelector({ numJoints: 4, numGroups: 3, inferenceMode: 'soft', seed: 3 });
      const model = modelAround(layer, [[3, 4, 2]]);
      layer.setWeights([tf.randomNormal([4, 3], 0, 1, 'float32', 31), tf.scalar(1.3)]);
      const x = tf.randomNormal([2, 3, 4, 2], 0, 1, 'float32', 32);
      const loaded = await expectSaveLoadIdentical(model, [x]);
      const again = loaded.layers.find((l) => l instanceof ConcreteJointSelector) as ConcreteJointSelector;
      expect(again).toBeDefined();
      expect(again.getTemperature()).toBeCloseTo(1.3, 6);
      expect(again.getConfig()).toEqual(layer.getConfig());
      x.dispose();
    });

    it('leaks no tensors in predict and training steps', async () => {
      for (const straightThrough of [false, true]) {
        const model = modelAround(concreteJointSelector({ numJoints: 4, numGroups: 3, straightThrough }), [[3, 4, 2]]);
        const x = tf.randomNormal([2, 3, 4, 2], 0, 1, 'float32', 41);
        await expectNoLeakInPredictAndTrain(model, [x]);
        x.dispose();
      }
    });

    it('trains its logits with model.fit (training flag reaches the layer)', async () => {
      const layer = concreteJointSelector({ numJoints: 3, numGroups: 2, seed: 1, initialTemperature: 1 });
      const model = modelAround(layer, [[2, 3, 1]]);
      model.compile({ optimizer: tf.train.sgd(0.5), loss: 'meanSquaredError' });
      // Group 1 predicts the target for every joint, group 0 is wrong: logits should move to group 1.
      const xs = tf.concat([tf.zeros([8, 1, 3, 1]), tf.ones([8, 1, 3, 1])], 1);
      await model.fit(xs, tf.ones([8, 3, 1]), { epochs: 10, batchSize: 4, verbose: 0 });
      expect(layer.groups()).toEqual([[], [0, 1, 2]]);
      xs.dispose();
    });
  });
});

forEachBackend(() => {
  describe('ConcreteJointSelector errors', () => {
    it('gumbelNoise refuses a shape that is not integer sizes, or too large, by name (not tfjs or RangeError)', () => {
      const cases: [unknown, string][] = [
        [null, 'gumbelNoise: shape must be a list of integer sizes ≥ 0, but received null.'],
        [[-1], 'gumbelNoise: shape must be a list of integer sizes ≥ 0, but received [-1].'],
        [[2.5, 3], 'gumbelNoise: shape must be a list of integer sizes ≥ 0, but received [2.5, 3].'],
        [[1e6, 1e6], 'gumbelNoise: shape must be of at most 268435456 (2^28) elements'],
      ];
      const before = tf.memory().numTensors;
      for (const [shape, message] of cases) {
        expect(() => gumbelNoise(shape as number[]), message).toThrow(PhalanxConfigError);
        expect(() => gumbelNoise(shape as number[])).toThrow(message);
      }
      expect(tf.memory().numTensors).toBe(before);
    });

    const base = { numJoints: 21, numGroups: 3 };
    it.each([
      [{ ...base, numGroups: 1 }, 'ConcreteJointSelector: numGroups must be an integer ≥ 2, but received 1.'],
      [{ ...base, numGroups: 2.5 }, 'ConcreteJointSelector: numGroups must be an integer ≥ 2, but received 2.5.'],
      [{ ...base, numJoints: 0 }, 'ConcreteJointSelector: numJoints must be an integer ≥ 1, but received 0.'],
      [
        { ...base, initialTemperature: 0 },
        'ConcreteJointSelector: initialTemperature must be a finite number > 0, but received 0.',
      ],
      [
        { ...base, initialTemperature: -1 },
        'ConcreteJointSelector: initialTemperature must be a finite number > 0, but received -1.',
      ],
      [
        { ...base, inferenceMode: 'argmax' },
        "ConcreteJointSelector: inferenceMode must be one of 'hard', 'soft', but received 'argmax'.",
      ],
      [
        { ...base, straightThrough: 'yes' },
        "ConcreteJointSelector: straightThrough must be a boolean, but received 'yes'.",
      ],
      [{ ...base, seed: 1.5 }, 'ConcreteJointSelector: seed must be an integer or null, but received 1.5.'],
    ])('rejects config %o', (args, message) => {
      expect(() => concreteJointSelector(args as unknown as ConcreteJointSelectorArgs)).toThrow(message);
    });

    it('rejects a temperature ≤ 0 from setTemperature, setWeights and the functional core', () => {
      const layer = builtSelector({ numJoints: 4, numGroups: 3 });
      expect(() => layer.setTemperature(0)).toThrow(
        'ConcreteJointSelector: temperature must be a finite number > 0, but received 0.',
      );
      expect(() => layer.setTemperature(Number.NaN)).toThrow('temperature must be a finite number > 0');
      expect(() => layer.setWeights([tf.zeros([4, 3]), tf.scalar(-1)])).toThrow(
        'ConcreteJointSelector: temperature must be a finite number > 0, but received -1.',
      );
      expect(layer.getTemperature()).toBe(5);
      expect(() => concreteSelection(tf.zeros([4, 3]), 0)).toThrow(
        'concreteSelection: temperature must be a finite number > 0, but received 0.',
      );
    });

    it('names a temperature tensor that is not a live float32 scalar, reading no value and leaking nothing', () => {
      const logits = tf.zeros([4, 3]);
      const disposed = tf.scalar(0.5);
      disposed.dispose();
      const cases: [unknown, string][] = [
        [null, 'concreteSelection: temperature must be a number or a tf.Tensor, but received null.'],
        ['0.5', "concreteSelection: temperature must be a number or a tf.Tensor, but received '0.5'."],
        [
          disposed,
          "concreteSelection: temperature must be a tensor that is not disposed, but received 'a disposed tensor'.",
        ],
        [
          tf.scalar(2, 'int32'),
          "concreteSelection: temperature must be a float32 scalar tensor, but received 'int32'.",
        ],
        [
          tf.scalar(true, 'bool'),
          "concreteSelection: temperature must be a float32 scalar tensor, but received 'bool'.",
        ],
        [tf.tensor1d([0.5]), 'concreteSelection: temperature must be a scalar tensor, but received [1].'],
      ];
      const before = tf.memory().numTensors;
      for (const [tau, message] of cases) {
        expect(() => concreteSelection(logits, tau as tf.Tensor), message).toThrow(message);
      }
      expect(tf.memory().numTensors).toBe(before);
      // A float32 scalar tensor is used as the number would be, bit for bit.
      const tau = tf.scalar(0.7);
      const fromTensor = concreteSelection(tf.tensor2d([[0.5, 2, 1]]), tau);
      const fromNumber = concreteSelection(tf.tensor2d([[0.5, 2, 1]]), 0.7);
      expect(Array.from(fromTensor.dataSync())).toEqual(Array.from(fromNumber.dataSync()));
      tf.dispose([logits, tau, fromTensor, fromNumber, ...cases.map(([t]) => t).filter((t) => t instanceof tf.Tensor)]);
    });

    it('rejects bad input shapes and bad Gumbel noise', () => {
      const layer = concreteJointSelector({ numJoints: 4, numGroups: 3 });
      expect(() => layer.apply(tf.zeros([2, 3, 4]))).toThrow(
        'ConcreteJointSelector: input must be of shape [B, 3, 4, C] (numGroups, numJoints), but received [2, 3, 4].',
      );
      expect(() => layer.apply(tf.zeros([2, 2, 4, 2]))).toThrow(
        /input must be of shape \[B, 3, 4, C\].*\[2, 2, 4, 2\]/,
      );
      expect(() => layer.apply(tf.zeros([2, 3, 5, 2]))).toThrow(/received \[2, 3, 5, 2\]/);
      expect(() => layer.apply(tf.zeros([2, 3, 4, 2]), { training: true, gumbelNoise: tf.zeros([3, 4]) })).toThrow(
        'concreteSelection: gumbelNoise must be of shape [4, 3], but received [3, 4].',
      );
      expect(() => selectJoints(tf.zeros([2, 3, 4, 2]), tf.zeros([3, 4]))).toThrow(
        'selectJoints: selection must be of shape [4, 3], but received [3, 4].',
      );
      expect(() => hardSelection(tf.zeros([4]))).toThrow('hardSelection: logits must be a rank-2 tensor [J, G]');
      // Non-finite logits: a NaN row, not a silent group 0; groups() refuses to read them.
      const hard = hardSelection(
        tf.tensor2d([
          [0, 2, 1],
          [Number.NaN, 0, 1],
          [Infinity, 0, 1],
        ]),
      ).arraySync();
      expect(hard[0]).toEqual([0, 1, 0]);
      expect(hard[1].every(Number.isNaN) && hard[2].every(Number.isNaN)).toBe(true);
      const broken = concreteJointSelector({ numJoints: 2, numGroups: 2, seed: 3 });
      broken.build([null, 2, 2, 1]);
      broken.setWeights([
        tf.tensor2d([
          [0, Number.NaN],
          [1, 0],
        ]),
        ...broken.getWeights().slice(1),
      ]);
      expect(() => broken.groups()).toThrow(/ConcreteJointSelector: logits must be finite/);
      expect(() => layer.computeOutputShape([null, 3, 4])).toThrow('ConcreteJointSelector: input must be');
    });
  });
});

describe('TSDoc examples', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it.skipIf(IN_BROWSER)('the selectJoints example runs as written (logits [J, G])', async () => {
    const { readFile } = await import('node:fs/promises');
    const source = await readFile(new URL('./concrete-joint-selector.ts', import.meta.url), 'utf8');
    const at = source.indexOf('export function selectJoints(');
    const doc = source.slice(source.lastIndexOf('/**', at), at);
    // The example's lines without the comment markers; plain JavaScript, run as it stands.
    const body = doc
      .slice(doc.indexOf('@example') + '@example'.length)
      .split('\n')
      .map((line) => line.replace(/^\s*\*\/?\s?/, ''))
      .join('\n');
    expect(body).toContain('selectJoints(');
    const run = new Function('tf', 'selectJoints', 'hardSelection', `${body}\nreturn y;`) as (
      tfjs: typeof tf,
      select: typeof selectJoints,
      hard: typeof hardSelection,
    ) => tf.Tensor;
    const y = tf.tidy(() => run(tf, selectJoints, hardSelection));
    expect(y.shape).toEqual([4, 21, 2]); // [B, J, C], as its comment says
    y.dispose();
  });
});
