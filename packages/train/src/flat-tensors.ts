/**
 * Many tensors as one vector and back: the layout helpers behind the fused optimizer step and the
 * global gradient norm, where one kernel over a long vector replaces one small kernel per variable.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describeCompact, PhalanxShapeError } from '@phalanx/errors';
import { checkTensorList } from './tensor-lists';

/** `t` as a vector in row-major order (a reshape: no copy); a vector is returned as it is. */
function asVector(t: tf.Tensor): tf.Tensor1D {
  return (t.rank === 1 ? t : tf.reshape(t, [-1])) as tf.Tensor1D;
}

/**
 * Concatenates tensors of any shapes, each read in row-major order, into one vector:
 * `concatFlat([a, b]) = [a₀, a₁, …, b₀, b₁, …]`. One `Concat` kernel (reshapes share data, no copy).
 * A single vector is returned as it is (not a copy); call inside `tf.tidy`.
 *
 * **Shapes**: tensors of sizes `n_k` (at least one) → `[Σ n_k]`. Anything else is a `PhalanxShapeError`.
 *
 * @example
 * const flat = concatFlat([tf.tensor2d([[1, 2], [3, 4]]), tf.scalar(5)]); // [1, 2, 3, 4, 5]
 */
export function concatFlat(tensors: readonly tf.Tensor[]): tf.Tensor1D {
  checkTensorList('concatFlat', 'tensors', tensors, 1);
  if (tensors.length === 1) return asVector(tensors[0]);
  return tf.concat(tensors.map(asVector)) as tf.Tensor1D;
}

/**
 * Whether slicing the active backend copies the whole input per slice: the stock wasm backend's
 * `Slice` (and so `SplitV`) first reads the entire input out of the wasm heap, so cutting a vector of
 * N elements into n pieces in one `SplitV` copies n·N elements (`@phalanx/wasm-training` replaces those
 * kernels by ones that copy only what they return).
 */
const slicesCopyWholeInput = (): boolean => tf.getBackend() === 'wasm';

/**
 * `tf.split` in two rounds: first into about √n chunks of consecutive pieces, then each chunk into its
 * pieces. Where every slice copies its whole input this copies about 2√n·N elements instead of n·N;
 * elsewhere it costs one more copy of the vector and √n more kernels.
 */
function splitInChunks(flat: tf.Tensor1D, sizes: number[]): tf.Tensor[] {
  const perChunk = Math.ceil(Math.sqrt(sizes.length));
  const groups: number[][] = [];
  for (let i = 0; i < sizes.length; i += perChunk) groups.push(sizes.slice(i, i + perChunk));
  const chunks = tf.split(
    flat,
    groups.map((g) => g.reduce((a, b) => a + b, 0)),
  );
  return chunks.flatMap((chunk, j) => {
    if (groups[j].length === 1) return [chunk];
    const pieces = tf.split(chunk, groups[j]);
    chunk.dispose();
    return pieces;
  });
}

/**
 * Splits a vector into consecutive pieces of the given shapes, the inverse of {@link concatFlat}:
 * piece `k` holds elements `[o_k, o_k + n_k)` with `o_k = Σ_{j<k} n_j`, reshaped to `shapes[k]`. One
 * `SplitV` kernel (the reshapes share data); on wasm, whose stock `SplitV` copies its whole input per
 * piece, two rounds of `SplitV` (1 + √n kernels, about 2√n copies of the vector instead of n). Always
 * new tensors, never `flat` itself.
 *
 * **Shapes**: `[Σ n_k]` → tensors of `shapes` (their sizes must add up to the vector's length). A `flat`
 * that is not a vector, `shapes` that are not a non-empty array of shapes (arrays of integers ≥ 0) and sizes
 * that do not add up are a `PhalanxShapeError`.
 *
 * @example
 * const [a, b] = splitFlat(tf.tensor1d([1, 2, 3, 4, 5]), [[2, 2], []]); // [[1, 2], [3, 4]] and 5
 */
export function splitFlat(flat: tf.Tensor1D, shapes: readonly number[][]): tf.Tensor[] {
  const name = 'splitFlat';
  if (!(flat instanceof tf.Tensor) || flat.rank !== 1) {
    throw new PhalanxShapeError(
      name,
      'flat',
      'a vector (a tensor of rank 1)',
      flat instanceof tf.Tensor ? flat.shape : flat,
      describeCompact,
    );
  }
  const isShape = (s: unknown) => Array.isArray(s) && s.every((d) => Number.isInteger(d) && d >= 0);
  if (!Array.isArray(shapes) || shapes.length === 0 || !shapes.every(isShape)) {
    throw new PhalanxShapeError(
      name,
      'shapes',
      'a non-empty array of shapes (arrays of integers ≥ 0)',
      shapes,
      describeCompact,
    );
  }
  const sizes = shapes.map((s) => tf.util.sizeFromShape(s));
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total !== flat.size) {
    throw new PhalanxShapeError(
      name,
      'shapes',
      `shapes whose sizes add up to the length of flat (${flat.size})`,
      total,
    );
  }
  let pieces: tf.Tensor[];
  if (shapes.length === 1) pieces = [flat];
  else if (slicesCopyWholeInput() && shapes.length > 4) pieces = splitInChunks(flat, sizes);
  else pieces = tf.split(flat, sizes);
  return pieces.map((piece, k) => {
    if (piece === flat) return tf.reshape(piece, shapes[k]);
    if (shapes[k].length === 1) return piece;
    const shaped = tf.reshape(piece, shapes[k]);
    piece.dispose();
    return shaped;
  });
}
