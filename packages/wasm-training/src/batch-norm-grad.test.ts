import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { expectClose, expectNoTensorLeak, forEachBackend } from '@phalanx/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { fusedBatchNormGradConfig } from './batch-norm-grad';
import { registerWasmTrainingGradients, unregisterWasmTrainingGradients } from './register';
import { seeded } from './test-utils';

const t = (shape: number[], seed: number, positive = false) => {
  const v = seeded(
    shape.reduce((a, b) => a * b, 1),
    seed,
  );
  return tf.tensor(positive ? v.map((x) => 1 + 0.5 * x) : v, shape);
};

/** Gradients of Σ f(xs) ⊙ dy with the stock tfjs-core gradient, then with this package's. */
async function bothGradients(f: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[], dy: tf.Tensor) {
  const run = async () => {
    const gs = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(f(...a), dy)))(xs);
    const out = await Promise.all(gs.map((g) => g.data()));
    tf.dispose(gs);
    return out.map((d, i) => ({ data: d as Float32Array, shape: gs[i].shape }));
  };
  unregisterWasmTrainingGradients();
  expect(tf.getGradient(tf.FusedBatchNorm)).not.toBe(fusedBatchNormGradConfig);
  const stock = await run();
  registerWasmTrainingGradients();
  expect(tf.getGradient(tf.FusedBatchNorm)).toBe(fusedBatchNormGradConfig);
  const ours = await run();
  return { stock, ours };
}

function expectSame(stock: { data: Float32Array; shape: number[] }[], ours: typeof stock, label: string) {
  expect(ours.length).toBe(stock.length);
  ours.forEach((g, i) => {
    expect(g.shape, `${label}: grad ${i} shape`).toEqual(stock[i].shape);
    const scale = Math.max(...stock[i].data.map(Math.abs), 1e-6);
    expectClose(g.data, stock[i].data, { rtol: 1e-5, atol: 1e-5 * scale }, `${label}: grad ${i}`);
  });
}

afterAll(() => registerWasmTrainingGradients());

describe('FusedBatchNorm gradient', () => {
  it('is registered globally once the package is imported (after tfjs-layers)', () => {
    expect(tf.getGradient(tf.FusedBatchNorm)).toBe(fusedBatchNormGradConfig);
  });

  forEachBackend((backend) => {
    it(`tf.batchNorm with [C] statistics, scale and offset equals the stock gradient (${backend})`, async () => {
      const xs = [t([2, 5, 4, 3], 1), t([3], 2), t([3], 3, true), t([3], 4), t([3], 5)];
      const dy = t([2, 5, 4, 3], 6);
      const f = (x: tf.Tensor, m: tf.Tensor, v: tf.Tensor, o: tf.Tensor, s: tf.Tensor) =>
        tf.batchNorm(x, m, v, o, s, 1e-3);
      const { stock, ours } = await bothGradients(f as (...a: tf.Tensor[]) => tf.Tensor, xs, dy);
      expectSame(stock, ours, 'rank-1 statistics');
      tf.dispose([...xs, dy]);
    });

    it(`rank-2 and rank-3 inputs (batchNorm2d/3d) equal the stock gradient (${backend})`, async () => {
      for (const shape of [
        [6, 4],
        [3, 5, 4],
      ]) {
        const xs = [t(shape, 7), t([4], 8), t([4], 9, true), t([4], 10), t([4], 11)];
        const dy = t(shape, 12);
        const f = (x: tf.Tensor, m: tf.Tensor, v: tf.Tensor, o: tf.Tensor, s: tf.Tensor) =>
          tf.batchNorm(x, m, v, o, s, 1e-5);
        const { stock, ours } = await bothGradients(f as (...a: tf.Tensor[]) => tf.Tensor, xs, dy);
        expectSame(stock, ours, `x ${shape}`);
        tf.dispose([...xs, dy]);
      }
    });

    it(`statistics of the input's full shape equal the stock gradient (${backend})`, async () => {
      const s = [2, 3, 2, 4];
      const xs = [t(s, 13), t(s, 14), t(s, 15, true), t(s, 16), t(s, 17)];
      const dy = t(s, 18);
      const f = (x: tf.Tensor, m: tf.Tensor, v: tf.Tensor, o: tf.Tensor, sc: tf.Tensor) =>
        tf.batchNorm(x, m, v, o, sc, 1e-3);
      const { stock, ours } = await bothGradients(f as (...a: tf.Tensor[]) => tf.Tensor, xs, dy);
      expectSame(stock, ours, 'full-shape statistics');
      tf.dispose([...xs, dy]);
    });

    it(`broadcast [1,1,1,C] statistics match the analytic gradient (the stock one cannot reduce them) (${backend})`, async () => {
      const x = t([2, 3, 3, 4], 19);
      const m = t([1, 1, 1, 4], 20);
      const v = t([1, 1, 1, 4], 21, true);
      const dy = t([2, 3, 3, 4], 22);
      const one = tf.ones([1, 1, 1, 4]);
      const zero = tf.zeros([1, 1, 1, 4]);
      const [gx, gm, gv] = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
        tf.sum(tf.mul(tf.batchNorm(a, b, c, zero, one, 1e-3), dy)),
      )([x, m, v]);
      // Reference from broadcasting ops (their gradients are independent of FusedBatchNorm).
      const [rx, rm, rv] = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
        tf.sum(tf.mul(tf.mul(tf.sub(a, b), tf.rsqrt(tf.add(c, 1e-3))), dy)),
      )([x, m, v]);
      expectClose(await gx.data(), await rx.data(), { rtol: 1e-5, atol: 1e-6 }, 'dx');
      expectClose(await gm.data(), await rm.data(), { rtol: 1e-5, atol: 1e-5 }, 'dmean');
      expectClose(await gv.data(), await rv.data(), { rtol: 1e-5, atol: 1e-5 }, 'dvariance');
      expect(gm.shape).toEqual([1, 1, 1, 4]);
      tf.dispose([x, m, v, dy, gx, gm, gv, rx, rm, rv, one, zero]);
    });

    it(`tfjs-layers batchNormalization in training mode (moments → tf.batchNorm) equals the stock gradient (${backend})`, async () => {
      const layer = tfl.layers.batchNormalization({ axis: -1, epsilon: 1e-5 });
      layer.build([2, 6, 5, 4]);
      layer.setWeights([t([4], 23, true), t([4], 24), tf.zeros([4]), tf.ones([4])]);
      const [gamma, beta] = layer.trainableWeights.map((w) => w.read());
      const x = t([2, 6, 5, 4], 25);
      const dy = t([2, 6, 5, 4], 26);
      // Input and weight gradients through the batch statistics (training: true).
      const f = (a: tf.Tensor) => layer.apply(a, { training: true }) as tf.Tensor;
      const run = async () => {
        const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(f(x), dy)) as tf.Scalar);
        const gx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(f(a), dy)))(x);
        const out = [await gx.data(), ...(await Promise.all(Object.values(grads).map((g) => g.data())))];
        tf.dispose([value, gx, ...Object.values(grads)]);
        return out.map((d) => ({ data: d as Float32Array, shape: [d.length] }));
      };
      unregisterWasmTrainingGradients();
      const stock = await run();
      registerWasmTrainingGradients();
      const ours = await run();
      expect(ours.length).toBe(3); // x, gamma, beta
      expectSame(stock, ours, 'training-mode batchNormalization');
      expect(gamma).toBeDefined();
      expect(beta).toBeDefined();
      tf.dispose([x, dy, ...layer.weights.map((w) => w.read())]);
    });

    it(`statistics of different broadcastable shapes match the analytic gradient (${backend})`, async () => {
      // The gradient reduced every statistic to the mean's shape: a [1] variance beside a [3] mean (or a
      // [1, 1, 1, 1] scale beside [1, 1, 1, 3] statistics) failed the engine's shape check.
      const cases: Array<[string, number[], number[], number[], number[], number[]]> = [
        ['variance [1]', [2, 3], [3], [1], [3], [3]],
        ['mean [1]', [4, 3], [1], [3], [3], [3]],
        ['scale and offset [1]', [2, 3], [3], [3], [1], [1]],
        ['rank 4, mixed', [2, 2, 2, 3], [1, 1, 1, 3], [1, 1, 1, 1], [1, 1, 2, 1], [1, 1, 2, 1]],
        ['full x, [1, 3] variance', [2, 3], [2, 3], [1, 3], [2, 1], [2, 1]],
      ];
      for (const [i, [label, xs, ms, vs, ss, os]] of cases.entries()) {
        const args = [t(xs, 40 + i), t(ms, 50 + i), t(vs, 60 + i, true), t(ss, 70 + i, true), t(os, 80 + i)];
        const dy = t(xs, 90 + i);
        const grads = tf.grads((a: tf.Tensor, m: tf.Tensor, v: tf.Tensor, s: tf.Tensor, o: tf.Tensor) =>
          tf.sum(tf.mul(tf.batchNorm(a, m, v, o, s, 1e-3), dy)),
        )(args);
        // Reference from broadcasting ops (their gradients are independent of FusedBatchNorm).
        const reference = tf.grads((a: tf.Tensor, m: tf.Tensor, v: tf.Tensor, s: tf.Tensor, o: tf.Tensor) =>
          tf.sum(tf.mul(tf.add(tf.mul(tf.mul(tf.sub(a, m), tf.rsqrt(tf.add(v, 1e-3))), s), o), dy)),
        )(args);
        for (const [k, name] of ['x', 'mean', 'variance', 'scale', 'offset'].entries()) {
          expect(grads[k].shape, `${label}: ${name}`).toEqual(args[k].shape);
          expectClose(
            await grads[k].data(),
            await reference[k].data(),
            { rtol: 1e-5, atol: 1e-5 },
            `${label}: ${name}`,
          );
        }
        tf.dispose([...args, dy, ...grads, ...reference]);
      }
    });

    it(`leaks no tensor (${backend})`, async () => {
      const x = t([2, 4, 4, 3], 27);
      const m = t([3], 28);
      const v = t([3], 29, true);
      const s = t([3], 30);
      const o = t([3], 31);
      await expectNoTensorLeak(() => {
        const gs = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor, e: tf.Tensor) =>
          tf.sum(tf.square(tf.batchNorm(a, b, c, e, d))),
        )([x, m, v, s, o]);
        tf.dispose(gs);
      });
      tf.dispose([x, m, v, s, o]);
    });
  });
});
