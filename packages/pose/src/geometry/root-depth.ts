/** Root-depth recovery from scale-normalised 2.5D (Iqbal et al., ECCV 2018). */
import * as tf from '@tensorflow/tfjs-core';
import { PhalanxConfigError, checkOptions, checkPositive } from '@phalanx/errors';
import { indexed } from '../arrays';
import {
  batchArray,
  camerasArray,
  checkBone,
  rayOf,
  rayTensors,
  tensorSetup,
  type BoneOptions,
  type Intrinsics,
  type Points,
} from './inputs';

/** Options of {@link recoverRootDepth}. */
export interface RootDepthOptions extends BoneOptions {
  /** Length of the root–ref bone in the unit of `d`; 1 for scale-normalised 2.5D. Default 1. */
  boneLength?: number;
}

const ROOT_DEPTH_KEYS = { root: true, ref: true, boneLength: true } satisfies Record<keyof RootDepthOptions, true>;

/**
 * Root-depth recovery from scale-normalised 2.5D (Iqbal et al., "Hand Pose Estimation via Latent 2.5D
 * Heatmap Regression", ECCV 2018, Eq. 7–8). With normalised image coordinates `x̂ = (u − cx)/fx`,
 * `ŷ = (v − cy)/fy`, joint k of the scale-normalised hand is `Z_k·(x̂_k, ŷ_k, 1)` with
 * `Z_k = Z_root + d_k`. Requiring the root–ref bone (n = root, m = ref) to have length C gives
 * `a·Z_root² + b·Z_root + c = 0` with
 * `a = (x̂_n − x̂_m)² + (ŷ_n − ŷ_m)²`,
 * `b = 2[(x̂_n − x̂_m)(x̂_n d_n − x̂_m d_m) + (ŷ_n − ŷ_m)(ŷ_n d_n − ŷ_m d_m)]`,
 * `c = (x̂_n d_n − x̂_m d_m)² + (ŷ_n d_n − ŷ_m d_m)² + (d_n − d_m)² − C²`,
 * and `Z_root = (−b + √(b² − 4ac)) / 2a` (the larger root: the hand in front of the camera). The
 * result is in units of the hand scale: multiply by the scale `s` for metres (or call
 * `uvdToXyz(uvd, K, {rootDepth: Z_root, scale: 1})` for the hand in scale units). A negative
 * discriminant (noisy predictions) is clamped to 0, the value closest to a solution.
 *
 * The closed form has two solutions and, as in the paper, the larger is returned. When the
 * root–ref bone points almost along the viewing ray (`|d_ref − d_root|` close to the bone length),
 * the two are close and the true depth can be the smaller one; no closed form can tell them apart.
 *
 * **Errors**: `PhalanxConfigError` for `options` that are not an object `{root?, ref?, boneLength?}` (or
 * have another key). Arrays: `PhalanxConfigError` naming the entry for a coordinate or an intrinsic that is not
 * finite and `fx` or `fy` = 0; and when the root and ref joints lie on one pixel (`a = 0`, so `b = 0`
 * too: the bone points along the viewing ray and every depth fits, or none) or so nearly that the depth
 * overflows. Tensors are computed with tf ops and their values are not read (only an array `K` is
 * checked): there such a hand gives NaN or ±Infinity. A tensor is float32 or int32 (int32 is computed as float32, the result float32); another dtype or a
 * disposed tensor is a `PhalanxShapeError`.
 *
 * **Shapes**: `uvd [B, J, 3]` or `[J, 3]`, `K [3, 3]` or `[B, 3, 3]` → `[B]` (tensor / numbers) or a number.
 * @example
 * const xyz = Array.from({ length: 21 }, (_, j) => [0.01 * (j % 5), 0.012 * Math.floor(j / 5), 0.5 + 0.002 * j]);
 * const K = [
 *   [500, 0, 128],
 *   [0, 500, 128],
 *   [0, 0, 1],
 * ];
 * const { uvd, rootDepth, scale } = xyzToUvd(xyz, K); // one hand: number arrays and numbers
 * recoverRootDepth(uvd, K) * scale; // ≈ rootDepth
 */
export function recoverRootDepth(uvd: tf.Tensor, K: Intrinsics, options?: RootDepthOptions): tf.Tensor;
export function recoverRootDepth(uvd: number[][], K: Intrinsics, options?: RootDepthOptions): number;
export function recoverRootDepth(uvd: number[][][], K: Intrinsics, options?: RootDepthOptions): number[];
export function recoverRootDepth(
  uvd: Points,
  K: Intrinsics,
  options: RootDepthOptions = {},
): tf.Tensor | number | number[] {
  const name = 'recoverRootDepth';
  checkOptions(name, 'options', options, ROOT_DEPTH_KEYS, 'an options object {root?, ref?, boneLength?}');
  const c2 = checkPositive(name, 'boneLength', options.boneLength ?? 1) ** 2;
  if (uvd instanceof tf.Tensor) {
    return tf.tidy(() => {
      const { x3, batched, ...cam } = tensorSetup(name, uvd, K, 3);
      const { root, ref } = checkBone(name, options, x3.shape[1]);
      const at = (j: number, c: number): tf.Tensor => tf.reshape(tf.slice(x3, [0, j, c], [-1, 1, 1]), [-1, 1]);
      const [xn, yn] = rayTensors(cam, at(root, 0), at(root, 1));
      const [xm, ym] = rayTensors(cam, at(ref, 0), at(ref, 1));
      const dn = at(root, 2);
      const dm = at(ref, 2);
      const dx = tf.sub(xn, xm);
      const dy = tf.sub(yn, ym);
      const px = tf.sub(tf.mul(xn, dn), tf.mul(xm, dm));
      const py = tf.sub(tf.mul(yn, dn), tf.mul(ym, dm));
      const a = tf.add(tf.square(dx), tf.square(dy));
      const b = tf.mul(2, tf.add(tf.mul(dx, px), tf.mul(dy, py)));
      const c = tf.sub(tf.add(tf.add(tf.square(px), tf.square(py)), tf.square(tf.sub(dn, dm))), c2);
      const root2 = tf.sqrt(tf.relu(tf.sub(tf.square(b), tf.mul(4, tf.mul(a, c)))));
      // (−b + √disc)/2a, written without cancellation where b > 0 (as in the array path).
      const stable = tf.div(tf.mul(-2, c), tf.add(b, root2));
      const plain = tf.div(tf.sub(root2, b), tf.mul(2, a));
      const z = tf.reshape(tf.where(tf.greater(b, 0), stable, plain), [-1]);
      return batched ? z : tf.squeeze(z, [0]);
    });
  }
  const { batch, batched } = batchArray(name, 'uvd', uvd, 3);
  const { root, ref } = checkBone(name, options, batch[0].length);
  const cams = camerasArray(name, K, batch.length, batched);
  const out = batch.map((hand, i) => {
    const [un, vn, dn] = hand[root];
    const [um, vm, dm] = hand[ref];
    const [xn, yn] = rayOf(cams[i], un, vn);
    const [xm, ym] = rayOf(cams[i], um, vm);
    const dx = xn - xm;
    const dy = yn - ym;
    const px = xn * dn - xm * dm;
    const py = yn * dn - ym * dm;
    const a = dx * dx + dy * dy;
    const b = 2 * (dx * px + dy * py);
    const c = px * px + py * py + (dn - dm) ** 2 - c2;
    const disc = Math.max(0, b * b - 4 * a * c);
    // Numerically stable form of (−b + √disc) / 2a (no cancellation when b > 0).
    const z = b > 0 ? (2 * -c) / (b + Math.sqrt(disc)) : (-b + Math.sqrt(disc)) / (2 * a);
    if (Number.isFinite(z)) return z;
    const at = (j: number): string => indexed('uvd', batched ? [i, j] : [j]);
    const expected =
      a === 0
        ? 'at different pixels (on one pixel the bone lies along the viewing ray: its depth is undetermined)'
        : 'far enough apart for a finite root depth (it overflows float64)';
    throw new PhalanxConfigError(name, `the root and ref joints ${at(root)}, ${at(ref)}`, expected, [
      [un, vn],
      [um, vm],
    ]);
  });
  return batched ? out : out[0];
}
