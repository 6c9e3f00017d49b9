/**
 * Softmax restricted to a neighbourhood mask, safe for scores of any finite magnitude: the graph
 * attention's `α = softmax_{j ∈ N(i)}(e_ij)`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { PhalanxShapeError } from '@phalanx/errors';

/** The largest finite float32. */
const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * Forward: on halved scores (so no difference overflows), the scores are lifted by the row's smallest
 * finite neighbour score and those outside the mask capped at 0 (not an added penalty, so no score is
 * large enough to outweigh it), the row maximum is subtracted, and the exponentials (of twice the
 * differences) are normalised over the mask.
 * Backward: the softmax gradient on the mask, `∂s = α ⊙ (dα − Σ_j α dα)`, exactly 0 outside it; the mask
 * gets no gradient.
 */
const restrictedSoftmax = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const scores = args[0] as tf.Tensor;
  const mask = args[1] as tf.Tensor;
  const save = args[2] as tf.GradSaveFunc;
  const alpha = tf.tidy(() => {
    const inside = tf.greater(mask, 0);
    // A NaN outside the mask is ignored like any masked-out score; one inside makes its row NaN (below).
    // Both are decided here, not left to how each backend's kernels treat NaN. All three operands of the
    // select have the scores' shape, so nothing is tiled.
    const nan = tf.isNaN(scores);
    const clean = tf.where(nan, tf.zerosLike(scores), scores);
    const poisoned = tf.greater(tf.sum(tf.cast(tf.logicalAnd(nan, inside), 'float32'), -1, true), 0);
    // Halved scores, ±∞ first made the largest finite ones: every difference of two halves is finite, and
    // exp(2·(h − max h)) is exp(s − max s) (halving and doubling are exact).
    const half = tf.mul(tf.clipByValue(clean, -FLOAT32_MAX, FLOAT32_MAX), 0.5);
    // The floor: the row's smallest neighbour score above −∞ (= −FLOAT32_MAX/2 here). Masked-out scores
    // (the mask-shaped `lowCap` lifts them to the top inside the Maximum kernel, without tiling the mask)
    // and −∞ neighbours, which weigh 0 below, cannot drag it down and cost the others their precision.
    // A row without such a neighbour (none, or all at −FLOAT32_MAX or −∞) takes the floor −FLOAT32_MAX/2,
    // so that its neighbours at −FLOAT32_MAX lift to 0, the row maximum, and nothing overflows.
    const finite = tf.greater(half, -FLOAT32_MAX / 2);
    const lowCap = tf.where(inside, tf.fill(mask.shape, -FLOAT32_MAX), tf.fill(mask.shape, FLOAT32_MAX));
    const candidates = tf.maximum(tf.where(finite, half, tf.fill(half.shape, FLOAT32_MAX / 2)), lowCap);
    const hasFinite = tf.greater(tf.max(tf.cast(tf.logicalAnd(finite, inside), 'float32'), -1, true), 0);
    const floor = tf.where(hasFinite, tf.min(candidates, -1, true), tf.fill(hasFinite.shape, -FLOAT32_MAX / 2));
    // Lifted: neighbours ≥ the floor become ≥ 0, everything else ≤ 0 (outside the mask at most 0: `cap`
    // is the largest float32 inside and 0 outside), so the row maximum below is a neighbour's and is ≥ 0
    // (or, in a row without neighbours, 0 from a masked-out score).
    // Written out rather than with tf.softmax and on values ≥ 0, because the webgl kernels start
    // max-reductions at −1e20 and its softmax returns all ones for rows near ±1e29.
    const cap = tf.where(inside, tf.fill(mask.shape, FLOAT32_MAX), tf.zeros(mask.shape));
    const lifted = tf.minimum(tf.sub(half, floor), cap);
    const shifted = tf.exp(tf.mul(tf.sub(lifted, tf.max(lifted, -1, true)), 2));
    // Kept: the neighbours above −∞, and in a row with a +∞ neighbour only the +∞ ones. The clip made ±∞
    // equal to ±FLOAT32_MAX, so a −∞ neighbour would share its row with neighbours at −FLOAT32_MAX (or, with
    // no other, take it whole) and neighbours at FLOAT32_MAX would share it with +∞: they are dropped here,
    // and a row whose neighbours are all −∞ is all 0.
    const plusInfinity = tf.logicalAnd(inside, tf.greater(clean, FLOAT32_MAX));
    const rowHasPlusInfinity = tf.greater(tf.max(tf.cast(plusInfinity, 'float32'), -1, true), 0);
    const alive = tf.logicalAnd(
      tf.logicalAnd(inside, tf.greaterEqual(clean, -FLOAT32_MAX)),
      tf.logicalOr(plusInfinity, tf.logicalNot(rowHasPlusInfinity)),
    );
    const kept = tf.mul(shifted, tf.cast(alive, scores.dtype));
    // A row with neighbours sums to ≥ 1; a row without stays 0 instead of 0/0; a poisoned row is NaN.
    const total = tf.maximum(tf.sum(kept, -1, true), 1);
    return tf.div(kept, tf.where(poisoned, tf.fill(total.shape, Number.NaN), total));
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
 * Unlike adding a large negative penalty to the masked-out scores, this cannot be overwhelmed: for scores
 * of any magnitude, up to the largest float32, every row with at least one unmasked entry sums to 1 (a row
 * with none is all 0). Scores of ±∞ are allowed: outside the mask (−∞ is the usual pre-masking) they
 * change nothing; inside, a −∞ neighbour weighs 0 (a row whose neighbours are all −∞ is all 0, like a row
 * without neighbours) and +∞ neighbours share the row (the finite ones, even the largest float32, weigh 0). A NaN score outside the mask is ignored like any
 * masked-out score; one inside makes its row NaN, never a silent number. Precision is float32's over the row's range of neighbour scores: neighbours
 * closer than about 2⁻²⁴ of that range are not told apart.
 * The gradient is the softmax's on the mask and 0 elsewhere; the mask gets none.
 *
 * **Shapes**: `scores [..., J, J']`, `mask` broadcastable to it (e.g. `[J, J']` or `[B, 1, J, J']`) →
 * the shape of `scores`.
 *
 * @example
 * const alpha = maskedSoftmax(tf.tensor2d([[1e12, 0, -1e12]]), tf.tensor2d([[0, 1, 1]])); // [[0, 1, 0]]
 */
export function maskedSoftmax(scores: tf.Tensor, mask: tf.Tensor): tf.Tensor {
  for (const [argument, t] of [
    ['scores', scores],
    ['mask', mask],
  ] as const) {
    if (!(t instanceof tf.Tensor))
      throw new PhalanxShapeError('maskedSoftmax', argument, 'a tf.Tensor', t === null ? null : typeof t);
  }
  const rank = scores.rank;
  // Broadcastable: aligned from the last axis, each mask size is the scores' size or 1.
  const offset = rank - mask.rank;
  const fits = mask.shape.every((size, i) => size === scores.shape[offset + i] || (size === 1 && i < mask.rank - 1));
  if (rank < 1 || mask.rank > rank || mask.shape[mask.rank - 1] !== scores.shape[rank - 1] || !fits) {
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
