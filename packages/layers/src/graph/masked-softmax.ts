/**
 * Softmax restricted to a neighbourhood mask, safe for scores of any finite magnitude: the graph
 * attention's `α = softmax_{j ∈ N(i)}(e_ij)`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { PhalanxShapeError } from '@phalanx/errors';

/** The largest finite float32. */
const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * Forward: scores outside the mask are replaced by the row minimum (a select, not an added penalty, so no
 * score is large enough to outweigh it), the row maximum is subtracted, and the exponentials are
 * normalised over the mask.
 * Backward: the softmax gradient on the mask, `∂s = α ⊙ (dα − Σ_j α dα)`, exactly 0 outside it; the mask
 * gets no gradient.
 */
const restrictedSoftmax = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const scores = args[0] as tf.Tensor;
  const mask = args[1] as tf.Tensor;
  const save = args[2] as tf.GradSaveFunc;
  const alpha = tf.tidy(() => {
    const inside = tf.greater(mask, 0);
    // Outside the mask, the row minimum: ≤ every neighbour's score, so after subtracting it the row's
    // values are ≥ 0, its maximum is a neighbour's, and every exponent below is ≤ 0 with at least one
    // neighbour's equal to 0. Written out rather than with tf.softmax and on values ≥ 0, because the
    // webgl kernels start max-reductions at −1e20 and its softmax returns all ones for rows near ±1e29.
    // `min(s − floor, cap)` with cap = the largest float32 inside and 0 outside is `where(inside, s, floor) − floor`
    // without tf.where, which would tile the mask and the row minima to the scores' full shape: the cap
    // has the mask's (small) shape and broadcasts inside the Minimum kernel. s − floor ≥ 0, and an
    // overflow to +∞ outside the mask still becomes 0 (inside, to the largest float32).
    const floor = tf.min(scores, -1, true);
    const cap = tf.where(inside, tf.fill(mask.shape, FLOAT32_MAX), tf.zeros(mask.shape));
    const lifted = tf.minimum(tf.sub(scores, floor), cap);
    const shifted = tf.exp(tf.sub(lifted, tf.max(lifted, -1, true)));
    const kept = tf.mul(shifted, tf.cast(inside, scores.dtype));
    // A row with neighbours sums to ≥ 1; a row without stays 0 instead of 0/0.
    return tf.div(kept, tf.maximum(tf.sum(kept, -1, true), 1));
  });
  save([alpha]);
  return {
    value: alpha,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [a] = saved;
      const dScores = tf.mul(a, tf.sub(dy, tf.sum(tf.mul(dy, a), -1, true)));
      return [dScores, tf.zerosLike(mask)];
    },
  };
});

/**
 * Softmax over the last axis restricted to a 0/1 mask:
 *
 * `α[…, i, j] = exp(s[…, i, j]) / Σ_{k: mask[i, k] = 1} exp(s[…, i, k])` where `mask[…, i, j] = 1`, and
 * exactly 0 elsewhere.
 *
 * Unlike adding a large negative penalty to the masked-out scores, this cannot be overwhelmed: for finite
 * scores of any magnitude every row with at least one unmasked entry sums to 1 (a row with none is all 0).
 * The gradient is the softmax's on the mask and 0 elsewhere; the mask gets none.
 *
 * **Shapes**: `scores [..., J, J']`, `mask` broadcastable to it (e.g. `[J, J']` or `[B, 1, J, J']`) →
 * the shape of `scores`.
 *
 * @example
 * const alpha = maskedSoftmax(tf.tensor2d([[1e12, 0, -1e12]]), tf.tensor2d([[0, 1, 1]])); // [[0, 1, 0]]
 */
export function maskedSoftmax(scores: tf.Tensor, mask: tf.Tensor): tf.Tensor {
  const rank = scores.rank;
  if (rank < 1 || mask.rank > rank || mask.shape[mask.rank - 1] !== scores.shape[rank - 1]) {
    throw new PhalanxShapeError(
      'maskedSoftmax',
      'mask',
      `broadcastable to the scores' shape [${scores.shape.join(', ')}]`,
      mask.shape,
    );
  }
  const asFloat = (t: tf.Tensor): tf.Tensor => (t.dtype === 'float32' ? t : tf.cast(t, 'float32'));
  return tf.tidy(() => restrictedSoftmax(asFloat(scores), asFloat(mask)));
}
