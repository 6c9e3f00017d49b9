/**
 * Test-time rotations: the network sees its square input turned by quarter turns, and the keypoints of
 * every view are turned back and averaged. A quarter turn of a square image moves whole pixels (a
 * transpose and a reverse, no resampling), and the synthetic training hands come in every in-plane
 * roll, so each view is an input the models were trained on.
 */
import * as tf from '@tensorflow/tfjs-core';
import { PhalanxConfigError } from '@phalanx/errors';
import { NUM_JOINTS } from '@phalanx/skeleton';

/** How many views `estimateHands` may average: the input alone, with its half turn, or all four quarter turns. */
export const TEST_ROTATIONS = Object.freeze([1, 2, 4] as const);

/** A number of test-time views, one of {@link TEST_ROTATIONS}. */
export type TestRotations = (typeof TEST_ROTATIONS)[number];

/**
 * The quarter turns (clockwise, in image coordinates with y down) of each view: `[0]`, `[0, 2]` or `[0, 1, 2, 3]`.
 *
 * @example
 * ```ts
 * quarterTurns(2); // [0, 2]: the image and its half turn
 * ```
 */
export function quarterTurns(views: TestRotations): number[] {
  return Array.from({ length: views }, (_, i) => (i * 4) / views);
}

/** `views` as a {@link TestRotations}; a named error for anything else. */
export function checkTestRotations(component: string, argument: string, views: unknown): TestRotations {
  if (!(TEST_ROTATIONS as readonly unknown[]).includes(views)) {
    throw new PhalanxConfigError(component, argument, `one of ${TEST_ROTATIONS.join(', ')}`, views);
  }
  return views as TestRotations;
}

/**
 * The square input and its quarter turns, as one batch. A clockwise quarter turn maps the pixel at
 * (x, y) to (S − 1 − y, x).
 *
 * **Shapes**: `input [1, S, S, C]` → `[views, S, S, C]`, view i turned `quarterTurns(views)[i]` times.
 *
 * @example
 * ```ts
 * const batch = turnedViews(tf.zeros([1, 96, 96, 3]) as tf.Tensor4D, 4); // [4, 96, 96, 3]
 * ```
 */
export function turnedViews(input: tf.Tensor4D, views: TestRotations): tf.Tensor4D {
  return tf.tidy(() => {
    const wanted = quarterTurns(views);
    const turns: tf.Tensor4D[] = [input];
    for (let k = 1; k <= wanted[wanted.length - 1]; k++) {
      turns.push(tf.reverse(tf.transpose(turns[k - 1], [0, 2, 1, 3]), 2));
    }
    return tf.concat(wanted.map((k) => turns[k])) as tf.Tensor4D;
  });
}

/**
 * The row-vector matrix that turns a centred point back by `k` clockwise quarter turns:
 * `[u, v]·A = [v, −u]` for one turn, `A^k` for `k`.
 */
function turnBack(k: number): number[] {
  return [
    [1, 0, 0, 1],
    [0, -1, 1, 0],
    [-1, 0, 0, -1],
    [0, 1, -1, 0],
  ][k];
}

/**
 * The mean of the heads' outputs over the views of {@link turnedViews}, each view's keypoints turned
 * back first: with `c = (S − 1)/2`, `p = (p_k − c)·A^k + c` for a view turned `k` times (`A` of
 * `[u, v] ↦ [v, −u]`); depths and scores are not moved by an in-plane turn and are averaged as they are.
 *
 * **Shapes**: `outputs [views, 21·3 + 1]` (per joint x, y in model pixels and z, then the score) →
 * `[21·3 + 1]`.
 *
 * @example
 * ```ts
 * const mean = meanOverTurns(tf.zeros([4, 64]) as tf.Tensor2D, 4, 96); // [64]
 * ```
 */
export function meanOverTurns(outputs: tf.Tensor2D, views: TestRotations, inputSize: number): tf.Tensor1D {
  return tf.tidy(() => {
    const joints = tf.reshape(tf.slice(outputs, [0, 0], [views, 3 * NUM_JOINTS]), [views, NUM_JOINTS, 3]);
    const centre = (inputSize - 1) / 2;
    const xy = tf.sub(tf.slice(joints, [0, 0, 0], [-1, -1, 2]), centre);
    const back = tf.tensor3d(quarterTurns(views).flatMap(turnBack), [views, 2, 2]);
    const turned = tf.add(tf.matMul(xy, back), centre);
    const z = tf.slice(joints, [0, 0, 2], [-1, -1, 1]);
    const mean = tf.mean(tf.concat([turned, z], 2), 0);
    const score = tf.mean(tf.slice(outputs, [0, 3 * NUM_JOINTS], [views, 1]));
    return tf.concat([tf.reshape(mean, [-1]), tf.reshape(score, [1])]) as tf.Tensor1D;
  });
}
