/**
 * Pinhole projection and 2.5D ↔ 3D (the Learnable Groups release's `P2W` and its inverse). Pixel centres at
 * integer coordinates, x right, y down; camera frame with z forward; intrinsics
 * `K = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]`. The first two rows are read, a skew `K[0][1]` and a `K[1][0]`
 * included (an affine pixel warp `A·K` has them): `u = (fx·x + K[0][1]·y)/z + cx`, `v = (K[1][0]·x + fy·y)/z +
 * cy`. The third row is not read, so the Learnable Groups release's habit of storing the root depth in
 * `K[2][2]` is harmless.
 */
import * as tf from '@tensorflow/tfjs-core';
import { PhalanxConfigError, checkOptions } from '@phalanx/errors';
import { indexed } from '../arrays';
import {
  batchArray,
  boneLength,
  camerasArray,
  channel,
  BONE_KEYS,
  checkBone,
  jointOf,
  perSampleArray,
  perSampleTensor,
  pixelOf,
  pixelTensors,
  rayOf,
  rayTensors,
  tensorSetup,
  type BoneOptions,
  type Intrinsics,
  type PerSample,
  type Points,
  type Cam,
} from './inputs';

/**
 * `[fx·x/z + cx, fy·y/z + cy]` of the finite point `p` (entry `index` of `argument`). A point on the camera
 * plane (z = 0) has no projection, and one so close to it that the projection overflows has no finite
 * one: a `PhalanxConfigError` naming the point and saying which.
 */
function project(component: string, argument: string, p: number[], cam: Cam, index: number[]): number[] {
  const uv = pixelOf(cam, p[0], p[1], p[2]);
  if (Number.isFinite(uv[0]) && Number.isFinite(uv[1])) return uv;
  const expected =
    p[2] === 0
      ? 'a point off the camera plane (z ≠ 0; a point with z = 0 has no projection)'
      : 'a point whose projection is finite (z is so close to 0 that it overflows)';
  throw new PhalanxConfigError(component, indexed(argument, index), expected, p);
}

/**
 * Pinhole projection of camera-frame points: `u = fx·x/z + cx`, `v = fy·y/z + cy` (plus `K[0][1]·y/z` and
 * `K[1][0]·x/z` where those are not 0). Points should lie in front of the camera (z > 0); no clamping is done
 * (a point behind it, z < 0, is projected by the same formula).
 *
 * **Errors** (arrays): `PhalanxConfigError` naming the entry for a coordinate or an intrinsic
 * (`fx, fy, cx, cy`, `K[0][1]`, `K[1][0]`) that is not finite, `fx` or `fy` = 0, an upper-left 2×2 block
 * `[[fx, K[0][1]], [K[1][0], fy]]` that is singular, and a point on the camera plane (z = 0), which
 * has no projection. Tensors are computed with tf ops and their values are not read (only an array `K` is
 * checked): there such a point gives ±Infinity or NaN. A tensor is float32 or int32 (int32 is computed as float32, the result float32); another dtype or a
 * disposed tensor is a `PhalanxShapeError`.
 *
 * **Shapes**: `xyz [B, J, 3]` or `[J, 3]`, `K [3, 3]` or `[B, 3, 3]` → `uv [B, J, 2]` or `[J, 2]`.
 * @example
 * projectPoints([[0.1, -0.05, 0.5]], [[500, 0, 128], [0, 500, 128], [0, 0, 1]]); // [[228, 78]]
 */
export function projectPoints(xyz: tf.Tensor, K: Intrinsics): tf.Tensor;
export function projectPoints(xyz: number[][], K: Intrinsics): number[][];
export function projectPoints(xyz: number[][][], K: Intrinsics): number[][][];
export function projectPoints(xyz: Points, K: Intrinsics): Points {
  const name = 'projectPoints';
  if (xyz instanceof tf.Tensor) {
    return tf.tidy(() => {
      const { x3, batched, ...cam } = tensorSetup(name, xyz, K, 3);
      const uv = tf.stack(pixelTensors(cam, channel(x3, 0), channel(x3, 1), channel(x3, 2)), 2);
      return batched ? uv : tf.squeeze(uv, [0]);
    });
  }
  const { batch, batched } = batchArray(name, 'xyz', xyz, 3);
  const cams = camerasArray(name, K, batch.length, batched);
  const out = batch.map((hand, b) => hand.map((p, j) => project(name, 'xyz', p, cams[b], batched ? [b, j] : [j])));
  return batched ? out : out[0];
}

/** Options of {@link uvdToXyz}. */
export interface UvdToXyzOptions {
  /** Absolute depth of the root joint, `z_root` (same unit as the result). Per sample or shared. */
  rootDepth: PerSample;
  /** Hand scale `s` that multiplies the normalised relative depth (the bone length). Default 1. */
  scale?: PerSample;
}

const UVD_TO_XYZ_KEYS = { rootDepth: true, scale: true } satisfies Record<keyof UvdToXyzOptions, true>;

/**
 * 2.5D → 3D with known root depth and scale — the Learnable Groups release's `P2W`:
 * `z = d·s + z_root`, `x = z·(u − cx)/fx`, `y = z·(v − cy)/fy` (with a skew or `K[1][0]`, `(x, y)/z` solves the
 * first two rows of `K` instead), where `(u, v)` are pixels and `d` is the
 * root-relative depth divided by the scale. A joint whose depth comes out `z = 0` lies on the camera
 * plane, where every pixel's ray meets the others: it is the camera centre `[±0, ±0, 0]` (finite, and
 * `projectPoints` refuses it).
 *
 * **Errors** (arrays): `PhalanxConfigError` naming the entry for a `uvd` coordinate, a `rootDepth`, a
 * `scale` or an intrinsic (`fx, fy, cx, cy`, `K[0][1]`, `K[1][0]`) that is not finite, and `fx` or `fy` = 0 or a
 * singular upper-left 2×2 block (the lift divides by them). Tensors are computed with tf ops and their values are not read (only an array `K` is checked), but
 * a number or list `rootDepth` / `scale` is checked on either path (a NaN or `null` is a named error, not a
 * NaN result), and a `rootDepth` / `scale` of another length or shape than the batch is a
 * `PhalanxShapeError`. A tensor is float32 or int32 (int32 is computed as float32, the result float32); another dtype or a
 * disposed tensor is a `PhalanxShapeError`.
 *
 * **Shapes**: `uvd [B, J, 3]` or `[J, 3]`, `K [3, 3]` or `[B, 3, 3]`, `rootDepth`/`scale` per sample →
 * `xyz` of the same shape as `uvd`. `options` that are not an object `{rootDepth, scale?}` (or have another
 * key) are a `PhalanxConfigError`.
 * @example
 * const K = [
 *   [640, 0, 100],
 *   [0, 640, 142],
 *   [0, 0, 1],
 * ];
 * uvdToXyz([[228, 78, 0]], K, { rootDepth: 0.5, scale: 0.03 }); // [[0.1, -0.05, 0.5]]
 */
export function uvdToXyz(uvd: tf.Tensor, K: Intrinsics, options: UvdToXyzOptions): tf.Tensor;
export function uvdToXyz(uvd: number[][], K: Intrinsics, options: UvdToXyzOptions): number[][];
export function uvdToXyz(uvd: number[][][], K: Intrinsics, options: UvdToXyzOptions): number[][][];
export function uvdToXyz(uvd: Points, K: Intrinsics, options: UvdToXyzOptions): Points {
  const name = 'uvdToXyz';
  checkOptions(
    name,
    'options',
    options === undefined ? {} : options,
    UVD_TO_XYZ_KEYS,
    'an options object {rootDepth, scale?}',
  );
  if (options === undefined || options.rootDepth === undefined) {
    throw new PhalanxConfigError(name, 'rootDepth', 'given (a number, one per sample, or a tensor)', undefined);
  }
  const scale = options.scale ?? 1;
  if (uvd instanceof tf.Tensor) {
    return tf.tidy(() => {
      const { x3, batched, ...cam } = tensorSetup(name, uvd, K, 3);
      const b = x3.shape[0];
      const s = perSampleTensor(name, 'scale', scale, b);
      const z = tf.add(tf.mul(channel(x3, 2), s), perSampleTensor(name, 'rootDepth', options.rootDepth, b));
      const [X, Y] = rayTensors(cam, channel(x3, 0), channel(x3, 1));
      const xyz = tf.stack([tf.mul(z, X), tf.mul(z, Y), z], 2);
      return batched ? xyz : tf.squeeze(xyz, [0]);
    });
  }
  const { batch, batched } = batchArray(name, 'uvd', uvd, 3);
  const cams = camerasArray(name, K, batch.length, batched);
  const roots = perSampleArray(name, 'rootDepth', options.rootDepth, batch.length);
  const scales = perSampleArray(name, 'scale', scale, batch.length);
  const out = batch.map((hand, b) =>
    hand.map(([u, v, d]) => {
      const z = d * scales[b] + roots[b];
      const [X, Y] = rayOf(cams[b], u, v);
      return [z * X, z * Y, z];
    }),
  );
  return batched ? out : out[0];
}

/** Result of {@link xyzToUvd}. */
export interface UvdResult<P, S> {
  /** `(u, v, d)`: pixels and the root-relative depth divided by the scale. */
  uvd: P;
  /** `z` of the root joint, `[B]` or a number. */
  rootDepth: S;
  /** Length of the root–ref bone, `[B]` or a number. */
  scale: S;
}

/**
 * 3D → 2.5D, the inverse of {@link uvdToXyz} and the Learnable Groups training target: `(u, v)` by
 * projection, `d = (z − z_root)/s` with `s` the root–ref bone length.
 *
 * **Errors** (arrays): as {@link projectPoints} (a coordinate or intrinsic that is not finite, `fx` or
 * `fy` = 0, a joint on the camera plane), and a root–ref bone of length 0 (the joints coincide: there is no
 * scale to divide by), each a `PhalanxConfigError` naming the entry. Tensors are computed with tf ops and
 * their values are not read (only an array `K` is checked): there these give ±Infinity or NaN. A tensor is float32 or int32 (int32 is computed as float32, the result float32); another dtype or a
 * disposed tensor is a `PhalanxShapeError`.
 *
 * **Shapes**: `xyz [B, J, 3]` or `[J, 3]`, `K [3, 3]` or `[B, 3, 3]` → `uvd` of the same shape,
 * `rootDepth`, `scale` `[B]` (tensor or numbers) or a number. `options` that are not an object
 * `{root?, ref?}` (or have another key) are a `PhalanxConfigError`.
 * @example
 * const xyz = tf.add(tf.randomUniform([2, 21, 3], -0.05, 0.05), [0, 0, 0.5]); // [B, 21, 3], metres
 * const K = tf.tile(tf.tensor3d([[[500, 0, 128], [0, 500, 128], [0, 0, 1]]]), [2, 1, 1]); // [B, 3, 3]
 * const { uvd, rootDepth, scale } = xyzToUvd(xyz, K);
 * uvdToXyz(uvd, K, { rootDepth, scale }); // ≈ xyz
 */
export function xyzToUvd(xyz: tf.Tensor, K: Intrinsics, options?: BoneOptions): UvdResult<tf.Tensor, tf.Tensor>;
export function xyzToUvd(xyz: number[][], K: Intrinsics, options?: BoneOptions): UvdResult<number[][], number>;
export function xyzToUvd(xyz: number[][][], K: Intrinsics, options?: BoneOptions): UvdResult<number[][][], number[]>;
export function xyzToUvd(
  xyz: Points,
  K: Intrinsics,
  options: BoneOptions = {},
): UvdResult<Points, tf.Tensor | number | number[]> {
  const name = 'xyzToUvd';
  checkOptions(name, 'options', options, BONE_KEYS, 'an options object {root?, ref?}');
  if (xyz instanceof tf.Tensor) {
    const [uvd, rootDepth, scale] = tf.tidy(() => {
      const { x3, batched } = tensorSetup(name, xyz, K, 3);
      const { root, ref } = checkBone(name, options, x3.shape[1]);
      const uv = projectPoints(x3, K);
      const r = jointOf(x3, root);
      const s = tf.norm(tf.sub(jointOf(x3, ref), r), 'euclidean', 1);
      const zr = tf.squeeze(tf.slice(r, [0, 2], [-1, 1]), [1]);
      const d = tf.div(tf.sub(channel(x3, 2), tf.expandDims(zr, 1)), tf.expandDims(s, 1));
      const out = tf.concat([uv, tf.expandDims(d, 2)], 2);
      return batched ? [out, zr, s] : [tf.squeeze(out, [0]), tf.squeeze(zr, [0]), tf.squeeze(s, [0])];
    });
    return { uvd, rootDepth, scale };
  }
  const { batch, batched } = batchArray(name, 'xyz', xyz, 3);
  const { root, ref } = checkBone(name, options, batch[0].length);
  const cams = camerasArray(name, K, batch.length, batched);
  const rootDepth: number[] = [];
  const scale: number[] = [];
  const uvd = batch.map((hand, b) => {
    const r = hand[root];
    const s = boneLength(name, 'xyz', hand, { root, ref }, batched ? b : null);
    rootDepth.push(r[2]);
    scale.push(s);
    return hand.map((p, j) => [...project(name, 'xyz', p, cams[b], batched ? [b, j] : [j]), (p[2] - r[2]) / s]);
  });
  return batched ? { uvd, rootDepth, scale } : { uvd: uvd[0], rootDepth: rootDepth[0], scale: scale[0] };
}
