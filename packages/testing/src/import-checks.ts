import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { expect } from 'vitest';

type ErrorMatcher = string | RegExp | (new (...args: never[]) => Error);

async function weightBits(model: tfl.LayersModel): Promise<Uint32Array[]> {
  return Promise.all(model.weights.map(async (w) => new Uint32Array((await w.read().data()).slice().buffer)));
}

/**
 * Asserts that `f` throws (`error`: a message, a pattern or an error class), leaves every weight of
 * `model` bitwise as it was, and leaves no tensor behind (the live tensor count is the same before and
 * after the call) — an all-or-nothing import that failed.
 */
export async function expectFailsWithoutEffect(
  model: tfl.LayersModel,
  f: () => unknown,
  error: ErrorMatcher,
): Promise<void> {
  const before = await weightBits(model);
  const count = tf.memory().numTensors;
  expect(f).toThrow(error as string);
  expect(tf.memory().numTensors, 'live tensors after the failed call').toBe(count);
  const after = await weightBits(model);
  after.forEach((bits, k) =>
    expect(bits, `weight ${model.weights[k].originalName} after the failed call`).toEqual(before[k]),
  );
}
