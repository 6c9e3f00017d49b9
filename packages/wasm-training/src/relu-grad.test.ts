import * as tf from '@tensorflow/tfjs-core';
import '@phalanx/testing';
import { forEachBackend } from '@phalanx/testing';
import { afterAll, expect, it } from 'vitest';
import { registerWasmTrainingGradients, unregisterWasmTrainingGradients } from './register';
import { reluGradConfig } from './relu-grad';

afterAll(() => registerWasmTrainingGradients());

forEachBackend((backend) => {
  it(`Relu's gradient from the output is bitwise the stock one (${backend})`, async () => {
    expect(tf.getGradient(tf.Relu)).toBe(reluGradConfig);
    const x = tf.tensor([-2, -0.5, 0, 1e-30, 0.25, 3, -0, 7], [2, 4]);
    const dy = tf.tensor([1, 2, 3, 4, 5, 6, 7, 8], [2, 4]);
    const run = async () => {
      const g = tf.grad((a: tf.Tensor) => tf.relu(a))(x, dy);
      const d = Array.from(await g.data());
      g.dispose();
      return d;
    };
    const ours = await run();
    unregisterWasmTrainingGradients();
    const stock = await run();
    registerWasmTrainingGradients();
    expect(ours).toEqual(stock);
    expect(ours).toEqual([0, 0, 0, 4, 5, 6, 0, 8]);
    tf.dispose([x, dy]);
  });
});
