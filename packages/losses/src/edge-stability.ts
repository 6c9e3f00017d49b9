import * as tf from '@tensorflow/tfjs-core';
import { PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { asFloat32, checkOptions, checkTensor } from './validate';

/** The defaults of {@link EdgeStabilityLossOptions}. */
export const EDGE_STABILITY_LOSS_DEFAULTS = Object.freeze({
  /** {@link EdgeStabilityLossOptions.reduction} */
  reduction: 'mean',
} as const);

/** Options of {@link edgeStabilityLoss}; defaults in {@link EDGE_STABILITY_LOSS_DEFAULTS}. */
export interface EdgeStabilityLossOptions {
  /**
   * How the per-pair terms are reduced: `'sum'` sums `(α_ij − 1)²` over the edge pairs (EHPE Eq. 13);
   * `'mean'` also divides by the number of pairs, so the loss does not grow with the skeleton.
   * Both average over the leading (batch, head) axes.
   */
  reduction?: 'mean' | 'sum';
}

/**
 * An adjacency matrix: `J × J` nested arrays of 0/1 (or booleans), or a `[J, J]` tensor (float32, int32 or
 * bool) whose entries > 0.5 mark edges. Only the ordered pairs `(i, j)` with an edge at `adjacency[i][j]`
 * and `i ≠ j` count; an undirected skeleton must list both orders (a symmetric matrix). An array's other
 * entries are a `PhalanxConfigError`; a tensor's values are not read (no GPU sync in a training step), so
 * they are thresholded on the device instead: −1, NaN and 0.3 are not edges, as 0 is not, and 0/1 tensors
 * give exactly what 0/1 arrays give.
 */
export type Adjacency = ReadonlyArray<ReadonlyArray<number | boolean>> | tf.Tensor;

const NAME = 'edgeStabilityLoss';

/** Builds the off-diagonal 0/1 mask `[J, J]` and, for host arrays, the number of pairs. */
function edgeMask(adjacency: Adjacency, size: number): { mask: tf.Tensor2D; pairs: number | null } {
  if (Array.isArray(adjacency)) {
    const rows = adjacency as ReadonlyArray<ReadonlyArray<number | boolean>>;
    const shape = [rows.length, ...(Array.isArray(rows[0]) ? [rows[0].length] : [])];
    if (rows.length !== size || rows.some((r) => !Array.isArray(r) || r.length !== size)) {
      throw new PhalanxShapeError(
        NAME,
        'adjacency',
        `a ${size} × ${size} matrix (the last two axes of attention)`,
        shape,
      );
    }
    const values = new Float32Array(size * size);
    let pairs = 0;
    rows.forEach((row, i) =>
      row.forEach((v, j) => {
        if (v !== 0 && v !== 1 && v !== true && v !== false) {
          throw new PhalanxConfigError(NAME, `adjacency[${i}][${j}]`, '0, 1, true or false', v);
        }
        if (i !== j && (v === 1 || v === true)) {
          values[i * size + j] = 1;
          pairs += 1;
        }
      }),
    );
    if (pairs === 0)
      throw new PhalanxConfigError(NAME, 'adjacency', 'a matrix with at least one edge i ≠ j', 'no edges');
    return { mask: tf.tensor2d(values, [size, size]), pairs };
  }
  const adj = checkTensor(NAME, 'adjacency', adjacency, ['float32', 'int32', 'bool']);
  if (adj.rank !== 2 || adj.shape[0] !== size || adj.shape[1] !== size) {
    throw new PhalanxShapeError(
      NAME,
      'adjacency',
      `of shape [${size}, ${size}] (the last two axes of attention)`,
      adj.shape,
    );
  }
  const offDiagonal = tf.sub(tf.ones([size, size]), tf.eye(size));
  // > 0.5, not ≠ 0: the array path refuses −1 and NaN; the tensor, not read, must not count them as edges.
  return { mask: tf.mul(tf.cast(tf.greater(adj, 0.5), 'float32'), offDiagonal) as tf.Tensor2D, pairs: null };
}

/**
 * Edge-stability regulariser of dynamic graph attention (EHPE Eq. 13): keeps the learned edge weights
 * `α_ij` of the skeleton edges near 1,
 *
 *     L_E = mean_{b, k} Σ_{(i, j) ∈ E} (α_bkij − 1)²          (reduction 'sum')
 *     L_E = mean_{b, k} 1/|E| Σ_{(i, j) ∈ E} (α_bkij − 1)²    (reduction 'mean')
 *
 * where `E` is the set of ordered pairs `i ≠ j` with an edge at `adjacency[i][j]` (1 or `true` in an array,
 * an entry > 0.5 in a tensor, see {@link Adjacency}). Entries off `E` do not contribute at all (they are
 * selected out, not multiplied by 0): a huge, infinite or NaN attention there leaves the loss finite (the
 * gradient there is 0, or NaN for a non-finite entry). The loss is a function of the attention alone (no
 * target), so it is meant for custom training loops, added to the other losses; the gradient flows into
 * `attention` only.
 *
 * **Shapes**: `attention` `[B, K, J, J]` (batch, heads, joints, joints; any number ≥ 0 of leading axes
 * is accepted and averaged), `adjacency` `J × J`. Returns a scalar. `attention` float32 or int32 (int32
 * is computed as float32), a tensor `adjacency` float32, int32 or bool.
 *
 * @param attention Edge weights α, e.g. the attention of a DynamicEdgeGAT layer.
 * @param adjacency Skeleton adjacency, see {@link Adjacency}.
 * @param options `reduction` (`'mean'` | `'sum'`; defaults in {@link EDGE_STABILITY_LOSS_DEFAULTS}).
 * @throws PhalanxShapeError when `attention` is not `[..., J, J]` or `adjacency` is not `J × J`, or a tensor
 *   is disposed or of another dtype.
 * @throws PhalanxConfigError on options that are not an object, a bad `reduction`, an array adjacency with
 *   entries other than 0/1 or with no edge (a tensor adjacency is not read: with no entry > 0.5 off the
 *   diagonal the loss is 0).
 *
 * @example
 * const attention = tf.ones([1, 1, 3, 3]);
 * const adjacency = [[0, 1, 0], [1, 0, 1], [0, 1, 0]];
 * edgeStabilityLoss(attention, adjacency).print(); // 0
 * edgeStabilityLoss(tf.zeros([1, 1, 3, 3]), adjacency, { reduction: 'sum' }).print(); // 4
 */
export function edgeStabilityLoss(
  attention: tf.Tensor,
  adjacency: Adjacency,
  options: EdgeStabilityLossOptions = {},
): tf.Scalar {
  const reduction =
    checkOptions(NAME, options, { reduction: true }).reduction ?? EDGE_STABILITY_LOSS_DEFAULTS.reduction;
  if (reduction !== 'mean' && reduction !== 'sum') {
    throw new PhalanxConfigError(NAME, 'reduction', "one of 'mean', 'sum'", reduction);
  }
  const att = checkTensor(NAME, 'attention', attention);
  const rank = att.rank;
  if (rank < 2 || att.shape[rank - 1] !== att.shape[rank - 2]) {
    throw new PhalanxShapeError(NAME, 'attention', 'of shape [B, K, J, J] (square in the last two axes)', att.shape);
  }
  const size = att.shape[rank - 1];
  return tf.tidy(() => {
    const { mask, pairs } = edgeMask(adjacency, size);
    // Selected, not multiplied by the mask: an infinite or overflowing entry off the edges would give Inf·0 = NaN.
    const squared = tf.square(tf.sub(asFloat32(att), 1));
    const perMap = tf.sum(tf.where(tf.greater(mask, 0), squared, tf.zerosLike(squared)), [-2, -1]);
    const summed = tf.mean(perMap);
    if (reduction === 'sum') return summed as tf.Scalar;
    const count = pairs ?? tf.maximum(tf.sum(mask), 1);
    return tf.div(summed, count) as tf.Scalar;
  });
}
