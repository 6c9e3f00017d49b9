/** Scale and root normalisation of a hand (the Learnable Groups protocol). */
import * as tf from '@tensorflow/tfjs-core';
import { PhalanxShapeError, checkOptions } from '@phalanx/errors';
import {
  BONE_KEYS,
  asFloat32,
  batchArray,
  boneLength,
  checkBone,
  checkTensorInput,
  jointOf,
  type BoneOptions,
  type Points,
} from './inputs';

/** Result of {@link normalizeHand}. */
export interface NormalizedHand<P, S> {
  /** `(xyz − xyz[root]) / scale`: root at the origin, the root–ref bone of length 1. */
  normalized: P;
  /** The root joint's position `[B, 3]` (or `[3]`). */
  rootPosition: P extends tf.Tensor ? tf.Tensor : number[] | number[][];
  /** Length of the root–ref bone, `[B]` (or a number). */
  scale: S;
}

/**
 * Scale and root normalisation of the Learnable Groups protocol (their `coord_normalize` with
 * `BL='small'`, `root_id=12` in RHD order): `normalized = (xyz − xyz[root]) / ‖xyz[ref] − xyz[root]‖`
 * with root = middle MCP (9) and ref = middle PIP (10) in FreiHAND order.
 *
 * **Shapes**: `xyz [B, J, 3]` or `[J, 3]` → `normalized` of the same shape, `rootPosition [B, 3]` /
 * `[3]`, `scale [B]` / number.
 *
 * **Errors**: `PhalanxConfigError` for `options` that are not an object `{root?, ref?}` (or have another
 * key). Arrays: `PhalanxConfigError` naming the entry for a coordinate that is not finite and for a
 * root–ref bone of length 0 (the two joints coincide: there is no scale to divide by). Tensors are computed
 * with tf ops and their values are not read: there a zero-length bone gives NaN or ±Infinity. A float32 or
 * int32 tensor (int32 is computed as float32); another dtype or a disposed tensor is a `PhalanxShapeError`.
 * @example
 * const xyz = Array.from({ length: 21 }, (_, j) => [0.01 * j, 0.02 * Math.sin(j), 0.5 + 0.001 * j]); // [21][3]
 * const { normalized, scale } = normalizeHand(xyz); // normalized[9] = [0, 0, 0]
 */
export function normalizeHand(xyz: tf.Tensor, options?: BoneOptions): NormalizedHand<tf.Tensor, tf.Tensor>;
export function normalizeHand(xyz: number[][], options?: BoneOptions): NormalizedHand<number[][], number>;
export function normalizeHand(xyz: number[][][], options?: BoneOptions): NormalizedHand<number[][][], number[]>;
export function normalizeHand(
  xyz: Points,
  options: BoneOptions = {},
): NormalizedHand<Points, tf.Tensor | number | number[]> {
  const name = 'normalizeHand';
  checkOptions(name, 'options', options, BONE_KEYS, 'an options object {root?, ref?}');
  if (xyz instanceof tf.Tensor) {
    if ((xyz.rank !== 2 && xyz.rank !== 3) || xyz.shape[xyz.rank - 1] !== 3) {
      throw new PhalanxShapeError(name, 'xyz', 'a tensor [J, 3] or [B, J, 3]', xyz.shape);
    }
    checkTensorInput(name, 'xyz', xyz);
    const { root, ref } = checkBone(name, options, xyz.shape[xyz.rank - 2]);
    const [normalized, rootPosition, scale] = tf.tidy(() => {
      const xf = asFloat32(xyz); // int32 is computed as float32 (tf.norm's sqrt takes float32 only)
      const x3 = (xyz.rank === 3 ? xf : tf.expandDims(xf, 0)) as tf.Tensor3D;
      const r = jointOf(x3, root);
      const s = tf.norm(tf.sub(jointOf(x3, ref), r), 'euclidean', 1);
      const n = tf.div(tf.sub(x3, tf.expandDims(r, 1)), tf.reshape(s, [-1, 1, 1]));
      return xyz.rank === 3 ? [n, r, s] : [tf.squeeze(n, [0]), tf.squeeze(r, [0]), tf.squeeze(s, [0])];
    });
    return { normalized, rootPosition, scale };
  }
  const { batch, batched } = batchArray(name, 'xyz', xyz, 3);
  const { root, ref } = checkBone(name, options, batch[0].length);
  const results = batch.map((hand, b) => {
    const r = hand[root];
    const s = boneLength(name, 'xyz', hand, { root, ref }, batched ? b : null);
    return { n: hand.map((p) => [(p[0] - r[0]) / s, (p[1] - r[1]) / s, (p[2] - r[2]) / s]), r: [...r], s };
  });
  return batched
    ? { normalized: results.map((q) => q.n), rootPosition: results.map((q) => q.r), scale: results.map((q) => q.s) }
    : { normalized: results[0].n, rootPosition: results[0].r, scale: results[0].s };
}
