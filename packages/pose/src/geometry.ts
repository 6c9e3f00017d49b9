/**
 * Hand geometry: pinhole projection, 2.5D ↔ 3D (the Learnable Groups release's `P2W`), root-depth
 * recovery from scale-normalised 2.5D (Iqbal et al., ECCV 2018), the Learnable Groups scale/root
 * normalisation, Procrustes similarity alignment and Gaussian heatmap targets (EHPE Eq. 1).
 *
 * Conventions (docs/conventions.md): pixel centres at integer coordinates, x right, y down; camera frame with
 * z forward; intrinsics `K = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]` (zero skew; only `fx, fy, cx, cy`
 * are read, so the Learnable Groups release's habit of storing the root depth in `K[2][2]` is harmless).
 *
 * Functions accept tensors (computed with tf ops, differentiable, tensors out) or nested number
 * arrays (computed in float64, arrays out). Batched `[B, J, C]` inputs take `K` as `[3, 3]` (shared)
 * or `[B, 3, 3]`; unbatched `[J, C]` inputs take `K [3, 3]`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { checkArray, nestedShape, readPoints, shapeOfInput } from './arrays';
import { PhalanxConfigError, PhalanxShapeError, checkInteger, checkPositive } from '@phalanx/errors';
import { SCALE_BONE } from '@phalanx/skeleton';
import { det3, svd3, type Matrix3 } from './linalg';

/** Joints as a tensor `[B, J, C]` / `[J, C]` or nested arrays. */
export type Points = tf.Tensor | number[][] | number[][][];
/** Camera intrinsics `[3, 3]` or per sample `[B, 3, 3]`, as a tensor or nested arrays. */
export type Intrinsics = tf.Tensor | number[][] | number[][][];
/** A value per sample: one number for all, `[B]` numbers, or a tensor `[]`, `[B]` or `[B, 1]`. */
export type PerSample = number | number[] | tf.Tensor;

/** Options naming the two joints of the normalising bone (Learnable Groups protocol). */
export interface BoneOptions {
  /** Root joint (origin of the normalised hand). Default 9, the middle finger's MCP. */
  root?: number;
  /**
   * Joint at the other end of the normalising bone; the root–ref distance is the hand's scale.
   * Default 10, the middle finger's PIP (the release's `BL='small'`: RHD joints 12 and 11).
   */
  ref?: number;
}

// ---------------------------------------------------------------------------------------------
// input plumbing
// ---------------------------------------------------------------------------------------------

interface Cam {
  fx: number;
  fy: number;
  cx: number;
  cy: number;
}

function checkBone(component: string, options: BoneOptions, numJoints: number): { root: number; ref: number } {
  const root = options.root ?? SCALE_BONE[0];
  const ref = options.ref ?? SCALE_BONE[1];
  checkInteger(component, 'root', root, 0);
  checkInteger(component, 'ref', ref, 0);
  if (root >= numJoints) throw new PhalanxConfigError(component, 'root', `a joint index < ${numJoints}`, root);
  if (ref >= numJoints) throw new PhalanxConfigError(component, 'ref', `a joint index < ${numJoints}`, ref);
  if (root === ref) throw new PhalanxConfigError(component, 'ref', `a joint other than root (${root})`, ref);
  return { root, ref };
}

/** Array inputs as a batch `[B][J][C]`, remembering whether a batch dimension was added. */
function batchArray(
  component: string,
  argument: string,
  x: unknown,
  channels: number,
): {
  batch: number[][][];
  batched: boolean;
} {
  const expected = `an array [J][${channels}] or [B][J][${channels}]`;
  const shape = checkArray(component, argument, x, [2, 3], expected, [channels]);
  return shape.length === 3
    ? { batch: x as number[][][], batched: true }
    : { batch: [x as number[][]], batched: false };
}

function camerasArray(component: string, K: unknown, batch: number, batched: boolean): Cam[] {
  const k = K instanceof tf.Tensor ? (K.arraySync() as unknown) : K;
  const shape = nestedShape(k);
  const okShared = shape.length === 2 && shape[0] === 3 && shape[1] === 3;
  const okBatch = batched && shape.length === 3 && shape[0] === batch && shape[1] === 3 && shape[2] === 3;
  if (!okShared && !okBatch) {
    throw new PhalanxShapeError(component, 'K', batched ? `[3, 3] or [${batch}, 3, 3]` : '[3, 3]', shapeOfInput(K));
  }
  checkArray(component, 'K', k, [shape.length], 'a 3×3 matrix');
  const mats = (okShared ? Array.from({ length: batch }, () => k) : k) as number[][][];
  return mats.map((m) => ({ fx: m[0][0], fy: m[1][1], cx: m[0][2], cy: m[1][2] }));
}

function perSampleArray(component: string, argument: string, v: PerSample, batch: number): number[] {
  const values = v instanceof tf.Tensor ? (v.dataSync() as unknown as ArrayLike<number>) : v;
  if (typeof values === 'number') return new Array<number>(batch).fill(values);
  const list = Array.from(values as ArrayLike<number>);
  if (list.length === 1) return new Array<number>(batch).fill(list[0]);
  if (list.length !== batch || list.some((x) => typeof x !== 'number')) {
    throw new PhalanxShapeError(component, argument, `a number or ${batch} numbers (one per sample)`, shapeOfInput(v));
  }
  return list;
}

/** Tensor inputs: `[B, J, C]` (or `[J, C]`, expanded) and the intrinsics broadcastable to `[B, 1]`. */
function tensorSetup(
  component: string,
  x: tf.Tensor,
  K: Intrinsics,
  channels: number,
): { x3: tf.Tensor3D; batched: boolean; fx: tf.Tensor; fy: tf.Tensor; cx: tf.Tensor; cy: tf.Tensor } {
  if ((x.rank !== 2 && x.rank !== 3) || x.shape[x.rank - 1] !== channels) {
    throw new PhalanxShapeError(component, 'points', `a tensor [J, ${channels}] or [B, J, ${channels}]`, x.shape);
  }
  const batched = x.rank === 3;
  const x3 = (batched ? x : tf.expandDims(x, 0)) as tf.Tensor3D;
  const k = K instanceof tf.Tensor ? K : tf.tensor(K as number[][]);
  const b = x3.shape[0];
  const okShared = k.rank === 2 && k.shape[0] === 3 && k.shape[1] === 3;
  const okBatch = batched && k.rank === 3 && k.shape[0] === b && k.shape[1] === 3 && k.shape[2] === 3;
  if (!okShared && !okBatch) {
    throw new PhalanxShapeError(component, 'K', batched ? `[3, 3] or [${b}, 3, 3]` : '[3, 3]', k.shape);
  }
  const k3 = tf.reshape(k, [-1, 9]);
  const col = (i: number): tf.Tensor =>
    tf.cast(tf.slice(k3, [0, i], [-1, 1]), x.dtype === 'int32' ? 'float32' : x.dtype);
  return { x3, batched, fx: col(0), fy: col(4), cx: col(2), cy: col(5) };
}

function perSampleTensor(v: PerSample, batch: number): tf.Tensor {
  const t = v instanceof tf.Tensor ? v : tf.tensor(typeof v === 'number' ? [v] : v);
  return tf.reshape(t, [t.size === 1 ? 1 : batch, 1]);
}

function channel(x: tf.Tensor3D, c: number): tf.Tensor2D {
  return tf.squeeze(tf.slice(x, [0, 0, c], [-1, -1, 1]), [2]) as tf.Tensor2D;
}

function jointOf(x: tf.Tensor3D, j: number): tf.Tensor2D {
  return tf.squeeze(tf.slice(x, [0, j, 0], [-1, 1, -1]), [1]) as tf.Tensor2D;
}

// ---------------------------------------------------------------------------------------------
// projection and 2.5D ↔ 3D
// ---------------------------------------------------------------------------------------------

/**
 * Pinhole projection of camera-frame points: `u = fx·x/z + cx`, `v = fy·y/z + cy`. Points must lie in
 * front of the camera (z > 0); no clamping is done.
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
      const { x3, batched, fx, fy, cx, cy } = tensorSetup(name, xyz, K, 3);
      const z = channel(x3, 2);
      const u = tf.add(tf.mul(fx, tf.div(channel(x3, 0), z)), cx);
      const v = tf.add(tf.mul(fy, tf.div(channel(x3, 1), z)), cy);
      const uv = tf.stack([u, v], 2);
      return batched ? uv : tf.squeeze(uv, [0]);
    });
  }
  const { batch, batched } = batchArray(name, 'xyz', xyz, 3);
  const cams = camerasArray(name, K, batch.length, batched);
  const out = batch.map((hand, b) => {
    const { fx, fy, cx, cy } = cams[b];
    return hand.map(([x, y, z]) => [(fx * x) / z + cx, (fy * y) / z + cy]);
  });
  return batched ? out : out[0];
}

/** Options of {@link uvdToXyz}. */
export interface UvdToXyzOptions {
  /** Absolute depth of the root joint, `z_root` (same unit as the result). Per sample or shared. */
  rootDepth: PerSample;
  /** Hand scale `s` that multiplies the normalised relative depth (the bone length). Default 1. */
  scale?: PerSample;
}

/**
 * 2.5D → 3D with known root depth and scale — the Learnable Groups release's `P2W`:
 * `z = d·s + z_root`, `x = z·(u − cx)/fx`, `y = z·(v − cy)/fy`, where `(u, v)` are pixels and `d` is the
 * root-relative depth divided by the scale.
 *
 * **Shapes**: `uvd [B, J, 3]` or `[J, 3]`, `K [3, 3]` or `[B, 3, 3]`, `rootDepth`/`scale` per sample →
 * `xyz` of the same shape as `uvd`.
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
  if (options === undefined || options.rootDepth === undefined) {
    throw new PhalanxConfigError(name, 'rootDepth', 'given (a number, one per sample, or a tensor)', undefined);
  }
  const scale = options.scale ?? 1;
  if (uvd instanceof tf.Tensor) {
    return tf.tidy(() => {
      const { x3, batched, fx, fy, cx, cy } = tensorSetup(name, uvd, K, 3);
      const b = x3.shape[0];
      const z = tf.add(tf.mul(channel(x3, 2), perSampleTensor(scale, b)), perSampleTensor(options.rootDepth, b));
      const x = tf.mul(z, tf.div(tf.sub(channel(x3, 0), cx), fx));
      const y = tf.mul(z, tf.div(tf.sub(channel(x3, 1), cy), fy));
      const xyz = tf.stack([x, y, z], 2);
      return batched ? xyz : tf.squeeze(xyz, [0]);
    });
  }
  const { batch, batched } = batchArray(name, 'uvd', uvd, 3);
  const cams = camerasArray(name, K, batch.length, batched);
  const roots = perSampleArray(name, 'rootDepth', options.rootDepth, batch.length);
  const scales = perSampleArray(name, 'scale', scale, batch.length);
  const out = batch.map((hand, b) => {
    const { fx, fy, cx, cy } = cams[b];
    return hand.map(([u, v, d]) => {
      const z = d * scales[b] + roots[b];
      return [z * ((u - cx) / fx), z * ((v - cy) / fy), z];
    });
  });
  return batched ? out : out[0];
}

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
  if (xyz instanceof tf.Tensor) {
    if ((xyz.rank !== 2 && xyz.rank !== 3) || xyz.shape[xyz.rank - 1] !== 3) {
      throw new PhalanxShapeError(name, 'xyz', 'a tensor [J, 3] or [B, J, 3]', xyz.shape);
    }
    const { root, ref } = checkBone(name, options, xyz.shape[xyz.rank - 2]);
    const [normalized, rootPosition, scale] = tf.tidy(() => {
      const x3 = (xyz.rank === 3 ? xyz : tf.expandDims(xyz, 0)) as tf.Tensor3D;
      const r = jointOf(x3, root);
      const s = tf.norm(tf.sub(jointOf(x3, ref), r), 'euclidean', 1);
      const n = tf.div(tf.sub(x3, tf.expandDims(r, 1)), tf.reshape(s, [-1, 1, 1]));
      return xyz.rank === 3 ? [n, r, s] : [tf.squeeze(n, [0]), tf.squeeze(r, [0]), tf.squeeze(s, [0])];
    });
    return { normalized, rootPosition, scale };
  }
  const { batch, batched } = batchArray(name, 'xyz', xyz, 3);
  const { root, ref } = checkBone(name, options, batch[0].length);
  const results = batch.map((hand) => {
    const r = hand[root];
    const s = Math.hypot(hand[ref][0] - r[0], hand[ref][1] - r[1], hand[ref][2] - r[2]);
    return { n: hand.map((p) => [(p[0] - r[0]) / s, (p[1] - r[1]) / s, (p[2] - r[2]) / s]), r: [...r], s };
  });
  return batched
    ? { normalized: results.map((q) => q.n), rootPosition: results.map((q) => q.r), scale: results.map((q) => q.s) }
    : { normalized: results[0].n, rootPosition: results[0].r, scale: results[0].s };
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
 * **Shapes**: `xyz [B, J, 3]` or `[J, 3]`, `K [3, 3]` or `[B, 3, 3]` → `uvd` of the same shape,
 * `rootDepth`, `scale` `[B]` (tensor or numbers) or a number.
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
    const s = Math.hypot(hand[ref][0] - r[0], hand[ref][1] - r[1], hand[ref][2] - r[2]);
    rootDepth.push(r[2]);
    scale.push(s);
    const { fx, fy, cx, cy } = cams[b];
    return hand.map((p) => [(fx * p[0]) / p[2] + cx, (fy * p[1]) / p[2] + cy, (p[2] - r[2]) / s]);
  });
  return batched ? { uvd, rootDepth, scale } : { uvd: uvd[0], rootDepth: rootDepth[0], scale: scale[0] };
}

/** Options of {@link recoverRootDepth}. */
export interface RootDepthOptions extends BoneOptions {
  /** Length of the root–ref bone in the unit of `d`; 1 for scale-normalised 2.5D. Default 1. */
  boneLength?: number;
}

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
  const c2 = checkPositive(name, 'boneLength', options.boneLength ?? 1) ** 2;
  if (uvd instanceof tf.Tensor) {
    return tf.tidy(() => {
      const { x3, batched, fx, fy, cx, cy } = tensorSetup(name, uvd, K, 3);
      const { root, ref } = checkBone(name, options, x3.shape[1]);
      const at = (j: number, c: number): tf.Tensor => tf.reshape(tf.slice(x3, [0, j, c], [-1, 1, 1]), [-1, 1]);
      const xn = tf.div(tf.sub(at(root, 0), cx), fx);
      const yn = tf.div(tf.sub(at(root, 1), cy), fy);
      const xm = tf.div(tf.sub(at(ref, 0), cx), fx);
      const ym = tf.div(tf.sub(at(ref, 1), cy), fy);
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
    const { fx, fy, cx, cy } = cams[i];
    const [un, vn, dn] = hand[root];
    const [um, vm, dm] = hand[ref];
    const xn = (un - cx) / fx;
    const yn = (vn - cy) / fy;
    const xm = (um - cx) / fx;
    const ym = (vm - cy) / fy;
    const dx = xn - xm;
    const dy = yn - ym;
    const px = xn * dn - xm * dm;
    const py = yn * dn - ym * dm;
    const a = dx * dx + dy * dy;
    const b = 2 * (dx * px + dy * py);
    const c = px * px + py * py + (dn - dm) ** 2 - c2;
    const disc = Math.max(0, b * b - 4 * a * c);
    // Numerically stable form of (−b + √disc) / 2a (no cancellation when b > 0).
    return b > 0 ? (2 * -c) / (b + Math.sqrt(disc)) : (-b + Math.sqrt(disc)) / (2 * a);
  });
  return batched ? out : out[0];
}

// ---------------------------------------------------------------------------------------------
// Procrustes
// ---------------------------------------------------------------------------------------------

/** A similarity transform `p ↦ scale · rotation · p + translation`. */
export interface SimilarityTransform {
  /** `[3][3]` orthogonal matrix (a proper rotation unless reflections were allowed). */
  rotation: number[][];
  /** Isotropic scale (1 with `scale: false`). */
  scale: number;
  /** `[3]` translation. */
  translation: number[];
}

/** Options of {@link similarityTransform} and {@link procrustesAlign}. */
export interface ProcrustesOptions {
  /** Estimate an isotropic scale. Default `true` (similarity); `false` gives a rigid alignment. */
  scale?: boolean;
  /**
   * Allow an improper orthogonal matrix (det −1, a mirror image). Default `false` (Umeyama's
   * correction keeps a proper rotation). FreiHAND's PA-MPJPE allows reflections (see `paMpjpe`).
   */
  allowReflection?: boolean;
}

function checkPair(component: string, pred: unknown, gt: unknown): { p: number[][]; g: number[][] } {
  const expected = 'points [J, 3] (J ≥ 1)';
  const { value: p, shape: ps } = readPoints(component, 'pred', pred, [2], expected, [3]);
  const { value: g, shape: gs } = readPoints(component, 'gt', gt, [2], expected, [3]);
  if (ps[0] !== gs[0] || ps[0] < 1)
    throw new PhalanxShapeError(component, 'pred', `of the shape of gt [${gs.join(', ')}]`, ps);
  return { p: p as number[][], g: g as number[][] };
}

/**
 * The similarity transform that best maps `pred` onto `gt` in the least-squares sense (Umeyama 1991):
 * with centred point sets P, G and `GᵀP = U·S·Vᵀ`, `R = U·diag(1, 1, d)·Vᵀ` (d = sign det(U·Vᵀ), or 1 with
 * `allowReflection`), `s = tr(S·diag(1, 1, d)) / ‖P‖²`, `t = ḡ − s·R·p̄`. Float64, exact up to rounding.
 * A `pred` whose points all coincide gets scale 0 (everything maps to gt's centroid).
 *
 * **Shapes**: `pred [J, 3]`, `gt [J, 3]` (arrays or tensors).
 * @example
 * const gt = Array.from({ length: 21 }, (_, j) => [Math.cos(j), Math.sin(j), 0.1 * j]);
 * const pred = gt.map(([x, y, z]) => [2 * y + 1, -2 * x, 2 * z]); // rotated, scaled, shifted
 * const { rotation, scale, translation } = similarityTransform(pred, gt); // scale ≈ 0.5
 */
export function similarityTransform(
  pred: tf.Tensor | number[][],
  gt: tf.Tensor | number[][],
  options: ProcrustesOptions = {},
): SimilarityTransform {
  const { p, g } = checkPair('similarityTransform', pred, gt);
  const n = p.length;
  const pm = [0, 1, 2].map((c) => p.reduce((acc, q) => acc + q[c], 0) / n);
  const gm = [0, 1, 2].map((c) => g.reduce((acc, q) => acc + q[c], 0) / n);
  const m: Matrix3 = [
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
  ];
  let pNorm2 = 0;
  for (let k = 0; k < n; k++) {
    const pc = [p[k][0] - pm[0], p[k][1] - pm[1], p[k][2] - pm[2]];
    const gc = [g[k][0] - gm[0], g[k][1] - gm[1], g[k][2] - gm[2]];
    pNorm2 += pc[0] * pc[0] + pc[1] * pc[1] + pc[2] * pc[2];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) m[i][j] += gc[i] * pc[j];
  }
  const { U, S, V } = svd3(m);
  const d = options.allowReflection || det3(U) * det3(V) >= 0 ? 1 : -1;
  const rotation = [0, 1, 2].map((i) =>
    [0, 1, 2].map((j) => U[i][0] * V[j][0] + U[i][1] * V[j][1] + d * U[i][2] * V[j][2]),
  );
  const useScale = options.scale ?? true;
  const scale = !useScale ? 1 : pNorm2 > 0 ? (S[0] + S[1] + d * S[2]) / pNorm2 : 0;
  const translation = [0, 1, 2].map(
    (i) => gm[i] - scale * (rotation[i][0] * pm[0] + rotation[i][1] * pm[1] + rotation[i][2] * pm[2]),
  );
  return { rotation, scale, translation };
}

/** Applies `p ↦ s·R·p + t` to points `[J][3]`. */
export function applySimilarity(points: number[][], transform: SimilarityTransform): number[][] {
  const { rotation: r, scale: s, translation: t } = transform;
  return points.map((q) => [0, 1, 2].map((i) => s * (r[i][0] * q[0] + r[i][1] * q[1] + r[i][2] * q[2]) + t[i]));
}

/**
 * Procrustes similarity alignment: `pred` moved, rotated and scaled onto `gt` by
 * {@link similarityTransform}. Batched inputs are aligned sample by sample.
 *
 * **Shapes**: `pred`, `gt` `[J, 3]` or `[N, J, 3]` (arrays or tensors) → aligned `pred` as arrays of the same shape.
 * @example
 * const gt = Array.from({ length: 21 }, (_, j) => [Math.cos(j), Math.sin(j), 0.1 * j]);
 * const pred = gt.map(([x, y, z]) => [2 * y + 1, -2 * x, 2 * z]);
 * const aligned = procrustesAlign(pred, gt); // ≈ gt; then mpjpe(gt, aligned)
 */
export function procrustesAlign(
  pred: tf.Tensor | number[][],
  gt: tf.Tensor | number[][],
  options?: ProcrustesOptions,
): number[][];
export function procrustesAlign(
  pred: tf.Tensor | number[][][],
  gt: tf.Tensor | number[][][],
  options?: ProcrustesOptions,
): number[][][];
export function procrustesAlign(
  pred: tf.Tensor | number[][] | number[][][],
  gt: tf.Tensor | number[][] | number[][][],
  options: ProcrustesOptions = {},
): number[][] | number[][][] {
  const name = 'procrustesAlign';
  const expected = 'points [J, 3] or [N, J, 3]';
  const { value: p, shape: ps } = readPoints(name, 'pred', pred, [2, 3], expected, [3]);
  const { value: g, shape: gs } = readPoints(name, 'gt', gt, [2, 3], expected, [3]);
  if (ps.length !== gs.length || ps.some((d, i) => d !== gs[i])) {
    throw new PhalanxShapeError(name, 'pred', `of the shape of gt [${gs.join(', ')}]`, ps);
  }
  if (ps.length === 2) {
    const pp = p as number[][];
    return applySimilarity(pp, similarityTransform(pp, g as number[][], options));
  }
  return (p as number[][][]).map((hand, i) =>
    applySimilarity(hand, similarityTransform(hand, (g as number[][][])[i], options)),
  );
}

// ---------------------------------------------------------------------------------------------
// heatmaps
// ---------------------------------------------------------------------------------------------

/** Options of {@link gaussianHeatmaps}. */
export interface HeatmapOptions {
  /** Heatmap height H in pixels. Integer ≥ 1. */
  height: number;
  /** Heatmap width W in pixels. Integer ≥ 1. */
  width: number;
  /** Standard deviation in heatmap pixels, one for both axes or `[σx, σy]`. Default 2 (the EHPE release's `heatmap_sigma`). */
  sigma?: number | [number, number];
  /**
   * `'gaussian'` (default): EHPE Eq. 1, the normalised density `1/(2π σx σy) · exp(−…)`;
   * `'peak'`: the unnormalised `exp(−…)`, 1 at the keypoint.
   */
  normalize?: 'gaussian' | 'peak';
  /** Per-joint visibility `[B, J]` / `[J]` (0/1 or booleans): invisible joints get an all-zero map. */
  visible?: tf.Tensor | number[] | number[][] | boolean[] | boolean[][];
}

function heatmapParams(component: string, options: HeatmapOptions) {
  if (options === undefined) throw new PhalanxConfigError(component, 'options', '{height, width, …}', undefined);
  const height = checkInteger(component, 'height', options.height, 1);
  const width = checkInteger(component, 'width', options.width, 1);
  const sigma = options.sigma ?? 2;
  const [sx, sy] = typeof sigma === 'number' ? [sigma, sigma] : Array.isArray(sigma) ? sigma : [NaN, NaN];
  checkPositive(component, 'sigma', sx);
  checkPositive(component, 'sigma', sy);
  const normalize = options.normalize ?? 'gaussian';
  if (normalize !== 'gaussian' && normalize !== 'peak') {
    throw new PhalanxConfigError(component, 'normalize', "'gaussian' or 'peak'", normalize);
  }
  const amplitude = normalize === 'gaussian' ? 1 / (2 * Math.PI * sx * sy) : 1;
  return { height, width, sx, sy, amplitude };
}

/**
 * Gaussian heatmap targets (EHPE Eq. 1): `H_j(y, x) = A · exp(−(x_j − x)²/2σx² − (y_j − y)²/2σy²)` on
 * the pixel grid `x = 0 … W−1`, `y = 0 … H−1` (pixel centres at integers), `A = 1/(2π σx σy)` or 1.
 * Keypoints `uv` are in heatmap pixels (scale image pixels by `(W−1)/(S−1)` first). Separable and
 * differentiable with respect to `uv` when given a tensor.
 *
 * **Shapes**: `uv [B, J, 2]` → `[B, H, W, J]`; `uv [J, 2]` → `[H, W, J]` (float32 tensor).
 * @example
 * const uvHeatmap = tf.randomUniform([4, 21, 2], 0, 63); // joints in heatmap pixels
 * const targets = gaussianHeatmaps(uvHeatmap, { height: 64, width: 64, sigma: 2 }); // [4, 64, 64, 21]
 */
export function gaussianHeatmaps(uv: tf.Tensor | number[][] | number[][][], options: HeatmapOptions): tf.Tensor {
  const name = 'gaussianHeatmaps';
  const { height, width, sx, sy, amplitude } = heatmapParams(name, options);
  let t: tf.Tensor;
  if (uv instanceof tf.Tensor) {
    if ((uv.rank !== 2 && uv.rank !== 3) || uv.shape[uv.rank - 1] !== 2) {
      throw new PhalanxShapeError(name, 'uv', 'a tensor [J, 2] or [B, J, 2]', uv.shape);
    }
    t = uv;
  } else {
    checkArray(name, 'uv', uv, [2, 3], 'an array [J][2] or [B][J][2]', [2]);
    t = tf.tensor(uv as number[][]);
  }
  const out = tf.tidy(() => {
    const batched = t.rank === 3;
    const u3 = tf.cast(batched ? t : tf.expandDims(t, 0), 'float32') as tf.Tensor3D;
    const [b, j] = u3.shape;
    const xs = tf.reshape(tf.range(0, width, 1, 'float32'), [1, 1, width, 1]);
    const ys = tf.reshape(tf.range(0, height, 1, 'float32'), [1, height, 1, 1]);
    const ux = tf.reshape(channel(u3, 0), [b, 1, 1, j]);
    const uy = tf.reshape(channel(u3, 1), [b, 1, 1, j]);
    const gx = tf.exp(tf.div(tf.square(tf.sub(xs, ux)), -2 * sx * sx)); // [B, 1, W, J]
    const gy = tf.exp(tf.div(tf.square(tf.sub(ys, uy)), -2 * sy * sy)); // [B, H, 1, J]
    let maps = tf.mul(tf.mul(gy, gx), amplitude);
    if (options.visible !== undefined) {
      const vis = options.visible instanceof tf.Tensor ? options.visible : tf.tensor(options.visible as number[][]);
      if (vis.size !== b * j) {
        throw new PhalanxShapeError(name, 'visible', batched ? `[${b}, ${j}]` : `[${j}]`, vis.shape);
      }
      maps = tf.mul(maps, tf.reshape(tf.cast(vis, 'float32'), [b, 1, 1, j]));
    }
    return batched ? maps : tf.squeeze(maps, [0]);
  });
  if (!(uv instanceof tf.Tensor)) t.dispose();
  return out;
}

/**
 * {@link gaussianHeatmaps} computed in plain JS into a `Float32Array` (row-major `[B, H, W, J]`), for
 * data pipelines that assemble batches themselves.
 *
 * **Shapes**: `uv [B][J][2]` or `[J][2]` → `Float32Array` of `B·H·W·J` (B = 1 for unbatched input).
 * @example
 * const data = gaussianHeatmapsArray([[[10, 20]]], { height: 64, width: 64 }); // length 64·64
 */
export function gaussianHeatmapsArray(uv: number[][] | number[][][], options: HeatmapOptions): Float32Array {
  const name = 'gaussianHeatmapsArray';
  const { height, width, sx, sy, amplitude } = heatmapParams(name, options);
  const { batch } = batchArray(name, 'uv', uv, 2);
  const j = batch[0].length;
  let vis: number[] | undefined;
  if (options.visible !== undefined) {
    const v = options.visible instanceof tf.Tensor ? options.visible.dataSync() : (options.visible as unknown[]).flat();
    vis = Array.from(v as ArrayLike<number | boolean>, Number);
    if (vis.length !== batch.length * j) {
      throw new PhalanxShapeError(
        name,
        'visible',
        `${batch.length * j} entries ([B][J])`,
        shapeOfInput(options.visible),
      );
    }
  }
  const out = new Float32Array(batch.length * height * width * j);
  const gx = new Float64Array(width * j);
  const gy = new Float64Array(height * j);
  batch.forEach((hand, b) => {
    for (let k = 0; k < j; k++) {
      const [u, v] = hand[k];
      for (let x = 0; x < width; x++) gx[x * j + k] = Math.exp(-((x - u) ** 2) / (2 * sx * sx));
      for (let y = 0; y < height; y++) gy[y * j + k] = Math.exp(-((y - v) ** 2) / (2 * sy * sy));
    }
    const base = b * height * width * j;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const o = base + (y * width + x) * j;
        for (let k = 0; k < j; k++) {
          const m = vis && !vis[b * j + k] ? 0 : 1;
          out[o + k] = m * amplitude * gy[y * j + k] * gx[x * j + k];
        }
      }
    }
  });
  return out;
}
