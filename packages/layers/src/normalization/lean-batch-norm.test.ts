import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { expect, it } from 'vitest';
import {
  batchNormTestWeights,
  expectClose,
  expectNoTensorLeak,
  expectNumericGradient,
  expectSaveLoadIdentical,
  forEachBackend,
} from '@phalanx/testing';
import { PhalanxConfigError } from '@phalanx/errors';
import {
  batchNormInference,
  batchNormTraining,
  LeanBatchNormalization,
  leanBatchNormalization,
} from './lean-batch-norm';
import { isBatchNormalization } from './stock';

/** One model with the lean layer (as blocks' `torchBatchNorm` builds it) and one with tfjs-layers' layer, same weights and moving statistics. */
function pair(c: number) {
  const input = tfl.input({ shape: [6, 5, c] });
  const lean = leanBatchNormalization({ axis: -1, epsilon: 1e-5, momentum: 0.9, name: 'bn' });
  const ours = tfl.model({ inputs: input, outputs: lean.apply(input) as tfl.SymbolicTensor });
  const stockLayer = tfl.layers.batchNormalization({ axis: -1, epsilon: 1e-5, momentum: 0.9, name: 'stock_bn' });
  const stock = tfl.model({ inputs: input, outputs: stockLayer.apply(input) as tfl.SymbolicTensor });
  const weights = batchNormTestWeights(c);
  ours.layers[1].setWeights(weights);
  stockLayer.setWeights(weights);
  tf.dispose(weights);
  return { ours, stock };
}

const bits = async (t: tf.Tensor) => Array.from(new Uint32Array((await t.data()).slice().buffer));

forEachBackend((backend) => {
  it(`training-mode output and moving statistics are bitwise tfjs-layers'; gradients agree to rounding (${backend})`, async () => {
    const { ours, stock } = pair(4);
    expect(ours.layers[1].getClassName()).toBe('LeanBatchNormalization');
    expect(isBatchNormalization(ours.layers[1]) && isBatchNormalization(stock.layers[1])).toBe(true);
    const x = tf.mul(tf.randomNormal([3, 6, 5, 4], 0, 1, 'float32', 5), 3);
    const dy = tf.randomNormal([3, 6, 5, 4], 0, 1, 'float32', 6);
    const run = (m: tfl.LayersModel) => {
      const vars = m.trainableWeights.map((w) => w.read() as tf.Variable);
      const gx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(m.apply(a, { training: true }) as tf.Tensor, dy)))(x);
      const { value, grads } = tf.variableGrads(
        () => tf.sum(tf.mul(m.apply(x, { training: true }) as tf.Tensor, dy)) as tf.Scalar,
        vars,
      );
      const y = m.apply(x, { training: true }) as tf.Tensor;
      const moving = m.layers[1].getWeights().slice(2);
      return { y, gx, grads: vars.map((v) => grads[v.name]), value, moving };
    };
    const a = run(ours);
    const b = run(stock);
    expect(await bits(a.y)).toEqual(await bits(b.y));
    for (let i = 0; i < 2; i++) expect(await bits(a.moving[i])).toEqual(await bits(b.moving[i]));
    const scale = (t: Float32Array) => Math.max(...Array.from(t, Math.abs));
    const gxB = (await b.gx.data()) as Float32Array;
    expectClose(await a.gx.data(), gxB, { rtol: 1e-5, atol: 1e-5 * scale(gxB) }, '∂x');
    for (let i = 0; i < 2; i++) {
      const gB = (await b.grads[i].data()) as Float32Array;
      expectClose(await a.grads[i].data(), gB, { rtol: 1e-5, atol: 1e-5 * scale(gB) }, i ? '∂beta' : '∂gamma');
    }
    tf.dispose([a.y, a.gx, a.value, ...a.grads, ...a.moving, b.y, b.gx, b.value, ...b.grads, ...b.moving, x, dy]);
  });

  it(`inference is the stock layer's within float32 rounding, saved models reload identically, nothing leaks (${backend})`, async () => {
    const { ours, stock } = pair(3);
    const x = tf.mul(tf.randomNormal([2, 6, 5, 3], 0, 1, 'float32', 7), 4);
    const ya = ours.predict(x) as tf.Tensor;
    const yb = stock.predict(x) as tf.Tensor;
    const yStock = (await yb.data()) as Float32Array;
    const largest = Math.max(...Array.from(yStock, Math.abs));
    expectClose(await ya.data(), yStock, { rtol: 1e-6, atol: 4e-7 * largest }, 'inference output');
    if (backend !== 'wasm') expect(await bits(ya)).toEqual(await bits(yb));
    await expectSaveLoadIdentical(ours, [x]);
    await expectNoTensorLeak(() => {
      const g = tf.grad((a: tf.Tensor) => tf.sum(ours.apply(a, { training: true }) as tf.Tensor))(x);
      g.dispose();
    });
    tf.dispose([x, ya, yb]);
  });

  it(`batchNormInference is (x − μ)·(σ² + ε)^−½·γ + β in float64 and differentiable in every argument (${backend})`, async () => {
    const c = 5;
    const x = tf.mul(tf.randomNormal([3, 4, c], 0, 1, 'float32', 11), 6);
    const gamma = tf.randomNormal([c], 1, 0.5, 'float32', 12);
    const beta = tf.randomNormal([c], 0, 1, 'float32', 13);
    const mean = tf.randomNormal([c], 0, 2, 'float32', 14);
    const variance = tf.randomUniform([c], 0.05, 3, 'float32', 15);
    const eps = 1e-3;
    const [xv, gv, bv, mv, vv] = await Promise.all([x, gamma, beta, mean, variance].map((t) => t.data()));
    const expected = Array.from(xv, (v, i) => {
      const k = i % c;
      return ((v - mv[k]) / Math.sqrt(vv[k] + eps)) * gv[k] + bv[k];
    });
    const y = batchNormInference(x, gamma, beta, mean, variance, eps);
    expect(y.shape).toEqual(x.shape);
    const largest = Math.max(...expected.map(Math.abs));
    expectClose(await y.data(), expected, { rtol: 1e-6, atol: 1e-6 * largest }, 'batchNormInference');
    const probe = tf.randomNormal(x.shape, 0, 1, 'float32', 16);
    const f = (...a: tf.Tensor[]) =>
      tf.sum(tf.mul(batchNormInference(a[0], a[1], a[2], a[3], a[4], eps), probe)) as tf.Scalar;
    expectNumericGradient(f, [x, gamma, beta, mean, variance], { samples: 5 });
    await expectNoTensorLeak(() => {
      batchNormInference(x, gamma, beta, mean, variance, eps).dispose();
    });
    tf.dispose([x, gamma, beta, mean, variance, y, probe]);
  });

  it(`batchNormTraining returns the batch statistics of tf.moments (${backend})`, async () => {
    const x = tf.randomNormal([2, 3, 3, 2], 0, 1, 'float32', 8);
    const [g, b] = [tf.ones([2]), tf.zeros([2])];
    const [y, mean, variance] = batchNormTraining(x, g, b, 1e-5);
    const m = tf.moments(x, [0, 1, 2]);
    expect(await bits(mean)).toEqual(await bits(m.mean));
    expect(await bits(variance)).toEqual(await bits(m.variance));
    tf.dispose([x, g, b, y, mean, variance, m.mean, m.variance]);
  });
});

it('refuses arguments that would give NaN outputs or statistics (epsilon, momentum) and non-objects, by name', () => {
  const cases: [unknown, string][] = [
    [5, 'LeanBatchNormalization: args must be an object, but received 5.'],
    [{ epsilon: 0 }, 'LeanBatchNormalization: epsilon must be a finite number > 0, but received 0.'],
    [{ epsilon: -1e-3 }, 'LeanBatchNormalization: epsilon must be a finite number > 0, but received -0.001.'],
    [{ epsilon: Number.NaN }, 'LeanBatchNormalization: epsilon must be a finite number > 0, but received NaN.'],
    [{ epsilon: 1e-50 }, 'LeanBatchNormalization: epsilon must be a positive normal float32'],
    [{ momentum: Number.NaN }, 'LeanBatchNormalization: momentum must be a number in [0, 1], but received NaN.'],
    [{ momentum: 1.5 }, 'LeanBatchNormalization: momentum must be a number in [0, 1], but received 1.5.'],
    [{ momentum: '0.9' }, "LeanBatchNormalization: momentum must be a number in [0, 1], but received '0.9'."],
  ];
  for (const [args, message] of cases) {
    const make = () => new LeanBatchNormalization(args as never);
    expect(make, message).toThrow(PhalanxConfigError);
    expect(make).toThrow(message);
  }
  // The defaults, as tfjs-layers': no arguments, undefined or null.
  for (const args of [undefined, null])
    expect(new LeanBatchNormalization(args as never)).toBeInstanceOf(LeanBatchNormalization);
  expect(leanBatchNormalization({ epsilon: 1e-5, momentum: 0 }).getConfig()).toMatchObject({
    epsilon: 1e-5,
    momentum: 0,
  });
});
