import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { expectNoTensorLeak, forEachBackend, rejectionOf, useBackend } from '@phalanx/testing';
import { adamUpdate, FlatAdamOptimizer } from './flat-adam';
import { concatFlat, splitFlat } from './flat-tensors';
import { readOptimizerSnapshots } from './checkpoint';
import { getLearningRate, restoreOptimizer, setLearningRate, snapshotOptimizer } from './optimizer-state';

const SHAPES = [[3, 4], [5], [], [2, 3, 2], [1]];

/** Deterministic values in [−scale, scale] without a random generator (fast for large tensors). */
const waves = (shape: number[], seed: number, scale = 1) =>
  tf.tidy(() => {
    const size = tf.util.sizeFromShape(shape);
    return tf.reshape(tf.mul(tf.sin(tf.add(tf.mul(tf.range(0, size), 12.9898), seed * 78.233)), scale), shape);
  });

let family = 0;
/** Fresh variables of `shapes` with deterministic values; the same `seed` gives the same values. */
function variables(shapes: number[][], seed: number): tf.Variable[] {
  family++;
  return shapes.map((shape, k) =>
    tf.tidy(() => tf.variable(waves(shape, seed * 100 + k + 1), true, `flat_adam_test_${family}_${k}`)),
  );
}

/** The bits of a tensor's values (so that −0 ≠ 0 and NaN payloads count). */
const bits = (t: tf.Tensor) => new Uint32Array(Float32Array.from(t.dataSync()).buffer);

/** `a` and `b` must hold the same values bit for bit (reports the first difference). */
function expectSameBits(a: tf.Tensor, b: tf.Tensor, label: string): void {
  expect(a.shape, label).toEqual(b.shape);
  const [x, y] = [bits(a), bits(b)];
  const first = x.findIndex((word, i) => word !== y[i]);
  expect(first, `${label}: first element that differs`).toBe(-1);
}

/** The gradient of step `step` for variable `k` (`null`: none that step). */
type GradientPlan = (step: number, k: number, shape: number[]) => tf.Tensor | null;

const everyGradient: GradientPlan = (step, k, shape) =>
  tf.randomNormal(shape, 0, 1 + k, 'float32', 1000 * step + k + 1);

/** Some variables without a gradient in some steps (frozen, or not reached by the loss). */
const missingIn = (step: number, k: number) =>
  (step === 1 && k === 2) || (step === 3 && (k === 0 || k === 3)) || (step === 4 && k === 4);
const someMissing: GradientPlan = (step, k, shape) => (missingIn(step, k) ? null : everyGradient(step, k, shape));

/** As {@link someMissing}, with gradients made by kernels (fast for large variables). */
const someMissingWaves: GradientPlan = (step, k, shape) =>
  missingIn(step, k) ? null : waves(shape, 1000 * step + k + 1, 1 + (k % 7));

/** Runs `steps` steps of `optimizer` on `vars`, changing the learning rate between steps. */
function run(
  optimizer: tf.Optimizer,
  vars: tf.Variable[],
  steps: number,
  plan: GradientPlan,
  firstStep = 0,
  asMap = false,
): void {
  for (let step = firstStep; step < firstStep + steps; step++) {
    setLearningRate(optimizer, [0.01, 0.003, 0.05][step % 3]);
    tf.tidy(() => {
      const list = vars.map((v, k) => ({ name: v.name, tensor: plan(step, k, v.shape) }));
      if (asMap) {
        const map: tf.NamedTensorMap = {};
        for (const e of list) if (e.tensor !== null) map[e.name] = e.tensor;
        optimizer.applyGradients(map);
      } else {
        optimizer.applyGradients(list as Parameters<tf.Optimizer['applyGradients']>[0]);
      }
    });
  }
}

/** Values, slots (by name and bits) and the scalar state of two optimizers must agree bit for bit. */
async function expectBitwiseEqual(
  flat: FlatAdamOptimizer,
  flatVars: tf.Variable[],
  adam: tf.Optimizer,
  adamVars: tf.Variable[],
): Promise<void> {
  flatVars.forEach((v, k) => expectSameBits(v, adamVars[k], `variable ${k}`));
  const [a, b] = [await snapshotOptimizer(flat), await snapshotOptimizer(adam)];
  expect(a.scalars).toEqual(b.scalars);
  expect(a.weights.map((w) => w.name)).toEqual(
    b.weights.map((w) => w.name.replace(/flat_adam_test_\d+_/, `flat_adam_test_${familyOf(flatVars)}_`)),
  );
  a.weights.forEach((w, i) => expectSameBits(w.tensor, b.weights[i].tensor, w.name));
  tf.dispose([...a.weights, ...b.weights].map((w) => w.tensor));
}

const familyOf = (vars: tf.Variable[]) => /flat_adam_test_(\d+)_/.exec(vars[0].name)![1];

afterEach(() => vi.restoreAllMocks());

describe('concatFlat / splitFlat', () => {
  beforeAll(() => useBackend('cpu'));
  it('round-trip tensors of any shape in row-major order', () => {
    const parts = [tf.tensor2d([[1, 2, 3]]), tf.scalar(4), tf.tensor3d([[[5], [6]]])];
    const flat = concatFlat(parts);
    expect(Array.from(flat.dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
    const back = splitFlat(flat, [[1, 3], [], [1, 2, 1]]);
    back.forEach((t, i) => {
      expect(t.shape).toEqual(parts[i].shape);
      expect(Array.from(t.dataSync())).toEqual(Array.from(parts[i].dataSync()));
    });
    const single = splitFlat(flat, [[6]]);
    expect(single[0]).not.toBe(flat); // a new tensor: disposing it leaves `flat` alive
    single[0].dispose();
    expect(flat.isDisposed).toBe(false);
    tf.dispose([...parts, flat, ...back]);
  });
});

forEachBackend((backend) => {
  describe('FlatAdamOptimizer against tf.train.adam', () => {
    it('gives the same values, slots and scalars over steps with missing gradients and lr changes', async () => {
      const flatVars = variables(SHAPES, 1);
      const adamVars = variables(SHAPES, 1);
      const flat = new FlatAdamOptimizer(0.01);
      const adam = tf.train.adam(0.01);
      for (let step = 0; step < 6; step++) {
        run(flat, flatVars, 1, someMissing, step, step === 2);
        run(adam, adamVars, 1, someMissing, step, step === 2);
        if (backend === 'cpu') {
          await expectBitwiseEqual(flat, flatVars, adam, adamVars);
        } else {
          // The same IEEE operations in the same order: at most float rounding apart.
          flatVars.forEach((v, k) => {
            const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(v, adamVars[k]))).dataSync()[0]);
            expect(diff, `step ${step} variable ${k}`).toBeLessThanOrEqual(1e-6);
          });
        }
      }
      expect(flat.iterations).toBe(6);
      flat.dispose();
      adam.dispose();
      tf.dispose([...flatVars, ...adamVars]);
    });

    it('agrees on variables of odd sizes (1, 3, 1023, 4097 elements, a scalar) over steps with missing gradients', async () => {
      // Seven variables: on wasm the split runs in two rounds (splitFlat), and no size is a multiple of 4.
      const odd = [[1], [3], [1023], [4097], [], [7, 13], [2, 1, 3]];
      const flatVars = variables(odd, 4);
      const adamVars = variables(odd, 4);
      const flat = new FlatAdamOptimizer(0.01);
      const adam = tf.train.adam(0.01);
      for (let step = 0; step < 5; step++) {
        run(flat, flatVars, 1, someMissingWaves, step);
        run(adam, adamVars, 1, someMissingWaves, step);
        if (backend === 'cpu') await expectBitwiseEqual(flat, flatVars, adam, adamVars);
        flatVars.forEach((v, k) => {
          const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(v, adamVars[k]))).dataSync()[0]);
          expect(diff, `step ${step} variable ${k}`).toBeLessThanOrEqual(1e-6);
        });
      }
      flat.dispose();
      adam.dispose();
      tf.dispose([...flatVars, ...adamVars]);
    });

    it('leaks nothing, reads nothing back, and runs a fixed number of kernels per step', async () => {
      const vars = variables(SHAPES, 2);
      const flat = new FlatAdamOptimizer(0.01);
      // Two steps with different missing gradients (each builds its layout): nothing piles up.
      await expectNoTensorLeak(() => {
        run(flat, vars, 1, someMissing, 3);
        run(flat, vars, 1, someMissing, 4);
      }, 'applyGradients');
      await expectNoTensorLeak(() => run(flat, vars, 1, someMissing, 4), 'applyGradients, same layout');
      const read = [
        vi.spyOn(tf.Tensor.prototype, 'dataSync'),
        vi.spyOn(tf.Tensor.prototype, 'data'),
        vi.spyOn(tf.Tensor.prototype, 'arraySync'),
      ];
      run(flat, vars, 1, everyGradient, 5);
      read.forEach((spy) => expect(spy).not.toHaveBeenCalled());
      vi.restoreAllMocks();

      // Besides copy-free reshapes (≤ 3 per variable) and the split (1 + √n on wasm, see splitFlat), the
      // kernels do not depend on the number of variables.
      const kernels = async (count: number) => {
        const many = variables(
          Array.from({ length: count }, (_, k) => SHAPES[k % SHAPES.length]),
          3,
        );
        const optimizer = new FlatAdamOptimizer(0.01);
        run(optimizer, many, 1, everyGradient); // creates the slots
        const info = await tf.profile(() => run(optimizer, many, 1, everyGradient, 1)); // (seeded randomNormal runs no kernel)
        optimizer.dispose();
        tf.dispose(many);
        const names = info.kernels.map((k) => k.name);
        const reshapes = names.filter((name) => name === 'Reshape').length;
        const splits = names.filter((name) => name === 'SplitV').length;
        expect(reshapes).toBeLessThanOrEqual(3 * count);
        expect(splits).toBeLessThanOrEqual(1 + Math.ceil(Math.sqrt(count)));
        return names.filter((name) => name !== 'Reshape' && name !== 'SplitV');
      };
      const [few, lots] = [await kernels(5), await kernels(60)];
      expect(lots).toEqual(few);
      expect(few.length).toBeLessThanOrEqual(25);
      flat.dispose();
      tf.dispose(vars);
    });
  });
});

describe('FlatAdamOptimizer state', () => {
  beforeAll(() => useBackend('cpu'));

  it('restores tf.train.adam state and continues bit for bit, and tfjs Adam restores its state', async () => {
    for (const [from, to] of [
      ['adam', 'flat'],
      ['flat', 'adam'],
    ] as const) {
      const make = (kind: 'adam' | 'flat') => (kind === 'adam' ? tf.train.adam(0.02) : new FlatAdamOptimizer(0.02));
      const first = make(from);
      const firstVars = variables(SHAPES, 4);
      run(first, firstVars, 3, someMissing);
      const snapshot = await snapshotOptimizer(first);
      // Resume in "another process": new variables with the same values, a fresh optimizer of either kind.
      const resumedVars = variables(SHAPES, 4);
      resumedVars.forEach((v, k) => v.assign(firstVars[k]));
      const resumed = make(to);
      await restoreOptimizer(resumed, snapshot);
      tf.dispose(snapshot.weights.map((w) => w.tensor));
      run(first, firstVars, 3, someMissing, 3);
      run(resumed, resumedVars, 3, someMissing, 3);
      resumedVars.forEach((v, k) => expectSameBits(v, firstVars[k], `${from} → ${to}, variable ${k}`));
      const [a, b] = [await snapshotOptimizer(first), await snapshotOptimizer(resumed)];
      expect(b.scalars).toEqual(a.scalars);
      b.weights.forEach((w, i) => {
        expect(w.name).toBe(a.weights[i].name); // the slot names travel with the state
        expectSameBits(w.tensor, a.weights[i].tensor, w.name);
      });
      tf.dispose([...a.weights, ...b.weights].map((w) => w.tensor));
      first.dispose();
      resumed.dispose();
      tf.dispose([...firstVars, ...resumedVars]);
    }
  });

  it('getWeights hands out new tensors; dispose frees all it holds', async () => {
    const before = tf.memory().numTensors;
    const vars = variables(SHAPES, 5);
    const flat = new FlatAdamOptimizer();
    run(flat, vars, 2, someMissing);
    const weights = await flat.getWeights();
    expect(weights.map((w) => w.tensor.shape)).toEqual([[], ...SHAPES, ...SHAPES]);
    tf.dispose(weights.map((w) => w.tensor));
    const fresh = new FlatAdamOptimizer();
    const none = await fresh.getWeights(); // iterations only: no slots
    await flat.setWeights(none);
    expect(flat.iterations).toBe(0);
    tf.dispose(none.map((w) => w.tensor));
    fresh.dispose();
    flat.dispose();
    tf.dispose(vars);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('is registered for tf.serialization under its own class name', () => {
    const flat = new FlatAdamOptimizer(0.5, 0.8, 0.99, 1e-6);
    expect(flat.getClassName()).toBe('FlatAdam');
    const [cls, fromConfig] = tf.serialization.SerializationMap.getMap().classNameMap.FlatAdam;
    const copy = fromConfig(cls, flat.getConfig()) as FlatAdamOptimizer;
    expect(copy).toBeInstanceOf(FlatAdamOptimizer);
    expect(copy.getConfig()).toEqual({ learningRate: 0.5, beta1: 0.8, beta2: 0.99, epsilon: 1e-6 });
    expect(new FlatAdamOptimizer().getConfig()).toEqual(tf.train.adam().getConfig());
    flat.dispose();
    copy.dispose();
  });

  it('fromConfig refuses a misspelt key (it would become the default silently) and takes customObjects', () => {
    const [cls, fromConfig] = tf.serialization.SerializationMap.getMap().classNameMap.FlatAdam;
    expect(() => fromConfig(cls, { learningrate: 0.5, beta1: 0.8 })).toThrow(PhalanxConfigError);
    expect(() => fromConfig(cls, { learningrate: 0.5, beta1: 0.8 })).toThrow(
      'FlatAdamOptimizer: config.learningrate must be an option (one of learningRate, beta1, beta2, epsilon, customObjects), ' +
        'but received 0.5.',
    );
    // tfjs's deserialiser (a model's training config) adds customObjects to the config it passes.
    const copy = fromConfig(cls, { learningRate: 0.5, beta1: 0.8, beta2: 0.99, epsilon: 1e-6, customObjects: {} });
    expect(copy.getConfig()).toEqual({ learningRate: 0.5, beta1: 0.8, beta2: 0.99, epsilon: 1e-6 });
    (copy as FlatAdamOptimizer).dispose();
  });

  it('a model compiled with it, saved with its optimizer, loads back with a FlatAdam of the same config', async () => {
    const input = tfl.input({ shape: [3] });
    const model = tfl.model({
      inputs: input,
      outputs: tfl.layers.dense({ units: 2 }).apply(input) as tfl.SymbolicTensor,
    });
    model.compile({ optimizer: new FlatAdamOptimizer(0.25, 0.8, 0.99, 1e-6), loss: 'meanSquaredError' });
    let saved: tf.io.ModelArtifacts | null = null;
    await model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        saved = artifacts;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
      { includeOptimizer: true },
    );
    const loaded = await tfl.loadLayersModel(tf.io.fromMemory(saved!));
    expect(loaded.optimizer).toBeInstanceOf(FlatAdamOptimizer);
    expect(loaded.optimizer.getConfig()).toEqual({ learningRate: 0.25, beta1: 0.8, beta2: 0.99, epsilon: 1e-6 });
    model.optimizer.dispose();
    loaded.optimizer.dispose();
    model.dispose();
    loaded.dispose();
  });
});

/**
 * A checkpoint of the Learnable Groups example's long run (step 3 019 of the run that `@phalanx/pretrained`
 * ships: three groups, 636 variables), kept as a fixture; written by `tf.train.adam` or by
 * `FlatAdamOptimizer` depending on when the run was last resumed.
 */
const EXAMPLE_CHECKPOINTS = fileURLToPath(new URL('../test/fixtures/lg-long-run-checkpoints', import.meta.url));
const EXAMPLE_STEP_DIR = 'step-00003019';
const EXAMPLE_CHECKPOINT = join(EXAMPLE_CHECKPOINTS, EXAMPLE_STEP_DIR);

describe("FlatAdamOptimizer and tf.train.adam resume the example's checkpoint alike", () => {
  beforeAll(() => useBackend('wasm'));

  it('and takes the same next step as tf.train.adam, group by group', async () => {
    const snapshots = await readOptimizerSnapshots(EXAMPLE_CHECKPOINT);
    expect([...snapshots.keys()]).toEqual(['selector', 'fusion', 'rest']);
    for (const [group, snapshot] of snapshots) {
      const count = (snapshot.weights.length - 1) / 2;
      const shapes = snapshot.weights.slice(1, 1 + count).map((w) => w.tensor.shape);
      const flatVars = variables(shapes, 8);
      const adamVars = variables(shapes, 8);
      const flat = new FlatAdamOptimizer(1e-3);
      const adam = tf.train.adam(1e-3);
      await restoreOptimizer(flat, snapshot);
      await restoreOptimizer(adam, snapshot);
      expect(flat.iterations, group).toBe(Number(EXAMPLE_STEP_DIR.slice('step-'.length)));
      run(flat, flatVars, 1, someMissingWaves, 3); // (two variables without a gradient)
      run(adam, adamVars, 1, someMissingWaves, 3);
      await expectBitwiseEqual(flat, flatVars, adam, adamVars);
      flat.dispose();
      adam.dispose();
      tf.dispose([...flatVars, ...adamVars, ...snapshot.weights.map((w) => w.tensor)]);
    }
  });
});

describe('FlatAdamOptimizer with a changing variable list', () => {
  beforeAll(() => useBackend('cpu'));

  it('keeps slots by position as tfjs Adam does: a longer list adds slots, a shorter one leaves the rest', async () => {
    const flatVars = variables(SHAPES, 6);
    const adamVars = variables(SHAPES, 6);
    const flat = new FlatAdamOptimizer(0.01);
    const adam = tf.train.adam(0.01);
    for (const count of [2, 5, 3, 5]) {
      run(flat, flatVars.slice(0, count), 1, everyGradient, count);
      run(adam, adamVars.slice(0, count), 1, everyGradient, count);
      await expectBitwiseEqual(flat, flatVars, adam, adamVars);
    }
    flat.dispose();
    adam.dispose();
    tf.dispose([...flatVars, ...adamVars]);
  });

  it('rejects a variable whose shape differs from its slot, changing nothing', async () => {
    const vars = variables(SHAPES, 7);
    const flat = new FlatAdamOptimizer(0.01);
    run(flat, vars, 1, everyGradient);
    const other = variables([[4, 3], ...SHAPES.slice(1)], 7);
    const before = vars.map((v) => Array.from(bits(v)));
    const tensors = tf.memory().numTensors;
    expect(() => run(flat, other, 1, everyGradient)).toThrow(PhalanxShapeError);
    expect(() => run(flat, other, 1, everyGradient)).toThrow(
      /^FlatAdamOptimizer: variable 'flat_adam_test_\d+_0' \(entry 0\) must be of shape \[3,4\], as its slot 'flat_adam_test_\d+_0\/m', but received \[4, 3\]\.$/,
    );
    expect(vars.map((v) => Array.from(bits(v)))).toEqual(before);
    expect(flat.iterations).toBe(1);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(() => tf.tidy(() => flat.applyGradients([{ name: 'no such variable', tensor: tf.scalar(1) }]))).toThrow(
      PhalanxConfigError,
    );
    flat.dispose();
    tf.dispose([...vars, ...other]);
  });
});

describe('FlatAdamOptimizer arguments', () => {
  beforeAll(() => useBackend('cpu'));

  it('rejects a learning rate, β or ε that would train to NaN, with a named error', () => {
    const bad: unknown[][] = [
      [-1],
      [Number.NaN],
      ['x'],
      [1e-3, 1],
      [1e-3, -0.1],
      [1e-3, 0.9, 1.5],
      [1e-3, 0.9, 0.999, 0],
    ];
    for (const args of bad) {
      expect(() => new FlatAdamOptimizer(...(args as [number])), JSON.stringify(args)).toThrow(PhalanxConfigError);
    }
    expect(() => new FlatAdamOptimizer(0, 0, 0, 1e-8).dispose()).not.toThrow();
  });

  it('rejects a non-finite learning rate set between steps, before touching any weight', () => {
    const x = tf.variable(tf.tensor1d([1, 2]));
    const adam = new FlatAdamOptimizer(0.1);
    // setLearningRate refuses it itself; the field, which tfjs optimizers expose, does not.
    expect(() => setLearningRate(adam, Number.POSITIVE_INFINITY)).toThrow(
      'setLearningRate: learningRate must be a finite number, but received Infinity.',
    );
    adam.learningRate = Number.POSITIVE_INFINITY;
    expect(() => adam.applyGradients({ [x.name]: tf.tensor1d([1, 1]) })).toThrow(/learningRate/);
    expect(Array.from(x.dataSync())).toEqual([1, 2]);
    adam.dispose();
    x.dispose();
  });
});

describe('optimizer-state arguments', () => {
  beforeAll(() => useBackend('cpu'));

  it('names an optimizer, snapshot or rate it cannot use instead of a TypeError or a plain Error', async () => {
    const adam = tf.train.adam(1e-3);
    const cases: [() => unknown, string][] = [
      [
        () => setLearningRate(null as never, 1e-3),
        'setLearningRate: optimizer must be a tf.Optimizer, but received null.',
      ],
      [
        () => setLearningRate(adam, Number.NaN),
        'setLearningRate: learningRate must be a finite number, but received NaN.',
      ],
      [() => setLearningRate(adam, -1), 'setLearningRate: learningRate must be a finite number ≥ 0, but received -1.'],
      [
        () => getLearningRate(undefined as never),
        'getLearningRate: optimizer must be a tf.Optimizer, but received undefined.',
      ],
      [
        () => snapshotOptimizer(null as never),
        'snapshotOptimizer: optimizer must be a tf.Optimizer, but received null.',
      ],
      [
        () => restoreOptimizer(null as never, { className: 'Adam', weights: [], scalars: {} }),
        'restoreOptimizer: optimizer must be a tf.Optimizer',
      ],
      [
        () => restoreOptimizer(adam, null as never),
        'restoreOptimizer: snapshot must be a snapshot {className, weights, scalars} (see snapshotOptimizer), but received null.',
      ],
      [
        () => restoreOptimizer(tf.train.sgd(0.1), { className: 'Adam', weights: [], scalars: {} }),
        "restoreOptimizer: optimizer must be a Adam (or one whose state is interchangeable), as the snapshot was taken of, but received 'SGD'.",
      ],
      [
        () => adamUpdate(null as never),
        'adamUpdate: args must be an object {gradient, m, v, value, …}, but received null.',
      ],
    ];
    for (const [f, message] of cases) {
      const error = await rejectionOf(f);
      expect(error, message).toBeInstanceOf(PhalanxConfigError);
      expect(error.message.startsWith(message), error.message).toBe(true);
    }
    setLearningRate(adam, 1e-4);
    expect(getLearningRate(adam)).toBe(1e-4);
    adam.dispose();
  });
});
