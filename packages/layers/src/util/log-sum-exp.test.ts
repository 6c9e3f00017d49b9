import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { expectClose, expectNoTensorLeak, expectNumericGradient, forEachBackend } from '@phalanx/testing';
import { leanLogSumExp } from './log-sum-exp';

const bits = async (t: tf.Tensor) => Array.from(new Uint32Array((await t.data()).slice().buffer));

/** float64 log Σ exp over the last axis of rows of `n` values, and its softmax. */
function reference(values: ArrayLike<number>, n: number): { lse: number[]; softmax: number[] } {
  const lse: number[] = [];
  const softmax: number[] = [];
  for (let r = 0; r < values.length / n; r++) {
    const row = Array.from({ length: n }, (_, i) => values[r * n + i]);
    const m = Math.max(...row);
    const y = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
    lse.push(y);
    softmax.push(...row.map((v) => Math.exp(v - y)));
  }
  return { lse, softmax };
}

forEachBackend((backend) => {
  it(`values are tf.logSumExp's bitwise, for any axes, with and without keepDims (${backend})`, async () => {
    const x = tf.mul(tf.randomNormal([2, 3, 4, 5], 0, 1, 'float32', 21), 8);
    for (const [axis, keepDims] of [
      [3, false],
      [-1, true],
      [1, false],
      [[1, 3], true],
      [null, false],
    ] as const) {
      const ours = leanLogSumExp(x, axis === null ? null : (axis as number | number[]), keepDims);
      const stock = tf.logSumExp(x, axis === null ? undefined : (axis as number | number[]), keepDims);
      expect(ours.shape, `axis ${String(axis)}`).toEqual(stock.shape);
      expect(await bits(ours)).toEqual(await bits(stock));
      tf.dispose([ours, stock]);
    }
    x.dispose();
  });

  it(`the gradient is ∂L/∂y · softmax (float64 reference), tfjs' own within rounding, without the Max gradient (${backend})`, async () => {
    const n = 7;
    const x = tf.mul(tf.randomNormal([3, 4, n], 0, 1, 'float32', 22), 5);
    const dy = tf.randomNormal([3, 4], 0, 1, 'float32', 23);
    const loss = (lse: (t: tf.Tensor) => tf.Tensor) => (t: tf.Tensor) => tf.sum(tf.mul(lse(t), dy));
    const ours = tf.grad(loss((t) => leanLogSumExp(t, -1)))(x);
    const stock = tf.grad(loss((t) => tf.logSumExp(t, -1)))(x);
    const { softmax } = reference(await x.data(), n);
    const dyValues = await dy.data();
    const expected = softmax.map((p, i) => p * dyValues[Math.floor(i / n)]);
    expectClose(await ours.data(), expected, { rtol: 1e-5, atol: 1e-6 }, 'gradient against float64');
    expectClose(await ours.data(), await stock.data(), { rtol: 1e-5, atol: 1e-6 }, 'gradient against tfjs');
    const kernels = (await tf.profile(() => tf.grad(loss((t) => leanLogSumExp(t, -1)))(x))).kernelNames;
    expect(kernels).not.toContain('Equal');
    const stockKernels = (await tf.profile(() => tf.grad(loss((t) => tf.logSumExp(t, -1)))(x))).kernelNames;
    expect(stockKernels).toContain('Equal'); // what the function saves
    tf.dispose([x, dy, ours, stock]);
  });

  it(`numeric gradients over several axes with keepDims, and nothing leaks (${backend})`, async () => {
    const x = tf.randomNormal([2, 3, 4], 0, 1, 'float32', 24);
    const probe = tf.randomNormal([2, 1, 4], 0, 1, 'float32', 25);
    expectNumericGradient((t) => tf.sum(tf.mul(leanLogSumExp(t, [1], true), probe)) as tf.Scalar, [x], {
      samples: 8,
    });
    await expectNoTensorLeak(() => {
      const g = tf.grad((t: tf.Tensor) => tf.sum(leanLogSumExp(t, [0, 2])))(x);
      g.dispose();
      leanLogSumExp(x).dispose();
    });
    tf.dispose([x, probe]);
  });
});
