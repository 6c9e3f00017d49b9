import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';

/**
 * Runs `step` three times and asserts that the live tensor count after the third run equals the count
 * before it (the first runs may create lasting state: weights, optimizer slots, cached constants).
 */
export async function expectNoTensorLeak(step: () => unknown | Promise<unknown>, label = 'step'): Promise<void> {
  await step();
  await step();
  const before = tf.memory().numTensors;
  await step();
  const after = tf.memory().numTensors;
  expect(after, `${label}: live tensors after vs before`).toBe(before);
}
