/**
 * The input plumbing shared by the geometry functions: the public input types, and the checks that read
 * points, intrinsics and per-sample values as batched arrays (float64 path) or tensors (tf path).
 */
import * as tf from '@tensorflow/tfjs-core';
import { checkArray, checkFiniteEntries, indexed, nestedShape, shapeOfInput } from '../arrays';
import { PhalanxConfigError, PhalanxShapeError, checkFinite, checkInteger, checkPositive } from '@phalanx/errors';
import { SCALE_BONE } from '@phalanx/skeleton';

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

/** The keys of {@link BoneOptions}: any other is a named error. */
export const BONE_KEYS = { root: true, ref: true } satisfies Record<keyof BoneOptions, true>;

/**
 * The intrinsics read from the first two rows of `K`: `[[fx, skew, cx], [k10, fy, cy]]`. A pinhole `K` has
 * `skew = k10 = 0`; a warped one (`A·K` of an affine pixel map, e.g. `augment` with `rotateCamera: false`)
 * need not. The third row is not read.
 */
export interface Cam {
  fx: number;
  fy: number;
  cx: number;
  cy: number;
  /** `K[0][1]`. */
  skew: number;
  /** `K[1][0]`. */
  k10: number;
}

/**
 * The pixel `[(fx·x + skew·y)/z + cx, (k10·x + fy·y)/z + cy]` of the camera-frame point `(x, y, z)`: for a
 * pinhole `K` (`skew = k10 = 0`) exactly `fx·x/z + cx`, `fy·y/z + cy`, as before skew was read.
 */
export function pixelOf(cam: Cam, x: number, y: number, z: number): [number, number] {
  const { fx, fy, cx, cy, skew, k10 } = cam;
  const u = skew === 0 ? (fx * x) / z + cx : (fx * x) / z + (skew * y) / z + cx;
  const v = k10 === 0 ? (fy * y) / z + cy : (fy * y) / z + (k10 * x) / z + cy;
  return [u, v];
}

/**
 * The normalised image coordinates `(x/z, y/z)` of the pixel `(u, v)`: the solution of
 * `[[fx, skew], [k10, fy]]·(X, Y) = (u − cx, v − cy)`, written as `X = (û − skew·v̂/fy) / (fx − skew·k10/fy)`,
 * `Y = (v̂ − k10·X)/fy` so that a pinhole `K` gives `(u − cx)/fx`, `(v − cy)/fy` bit for bit.
 */
export function rayOf(cam: Cam, u: number, v: number): [number, number] {
  const { fx, fy, cx, cy, skew, k10 } = cam;
  const du = u - cx;
  const dv = v - cy;
  if (skew === 0 && k10 === 0) return [du / fx, dv / fy];
  const X = (du - skew * (dv / fy)) / (fx - skew * (k10 / fy));
  return [X, (dv - k10 * X) / fy];
}

/** The camera tensors of {@link tensorSetup}, each `[B, 1]` (or `[1, 1]`) float32. */
export interface CamTensors {
  fx: tf.Tensor;
  fy: tf.Tensor;
  cx: tf.Tensor;
  cy: tf.Tensor;
  skew: tf.Tensor;
  k10: tf.Tensor;
}

/**
 * {@link pixelOf} on tensors (inside a `tf.tidy`): `u = fx·(x/z) + skew·(y/z) + cx`, `v = fy·(y/z) + k10·(x/z) + cy`.
 * A pinhole `K` adds terms of 0, which change no finite value.
 */
export function pixelTensors(cam: CamTensors, x: tf.Tensor, y: tf.Tensor, z: tf.Tensor): [tf.Tensor, tf.Tensor] {
  const xz = tf.div(x, z);
  const yz = tf.div(y, z);
  const u = tf.add(tf.add(tf.mul(cam.fx, xz), tf.mul(cam.skew, yz)), cam.cx);
  const v = tf.add(tf.add(tf.mul(cam.fy, yz), tf.mul(cam.k10, xz)), cam.cy);
  return [u, v];
}

/** {@link rayOf} on tensors (inside a `tf.tidy`); a pinhole `K` gives `(u − cx)/fx`, `(v − cy)/fy`. */
export function rayTensors(cam: CamTensors, u: tf.Tensor, v: tf.Tensor): [tf.Tensor, tf.Tensor] {
  const du = tf.sub(u, cam.cx);
  const dv = tf.sub(v, cam.cy);
  const denominator = tf.sub(cam.fx, tf.mul(cam.skew, tf.div(cam.k10, cam.fy)));
  const X = tf.div(tf.sub(du, tf.mul(cam.skew, tf.div(dv, cam.fy))), denominator);
  return [X, tf.div(tf.sub(dv, tf.mul(cam.k10, X)), cam.fy)];
}

/** The root and ref joints of `options` (defaults: the scale bone), checked against the joint count. */
export function checkBone(component: string, options: BoneOptions, numJoints: number): { root: number; ref: number } {
  const root = options.root ?? SCALE_BONE[0];
  const ref = options.ref ?? SCALE_BONE[1];
  checkInteger(component, 'root', root, 0);
  checkInteger(component, 'ref', ref, 0);
  if (root >= numJoints) throw new PhalanxConfigError(component, 'root', `a joint index < ${numJoints}`, root);
  if (ref >= numJoints) throw new PhalanxConfigError(component, 'ref', `a joint index < ${numJoints}`, ref);
  if (root === ref) throw new PhalanxConfigError(component, 'ref', `a joint other than root (${root})`, ref);
  return { root, ref };
}

/**
 * Array inputs as a batch `[B][J][C]`, remembering whether a batch dimension was added. A coordinate that
 * is not finite is a `PhalanxConfigError` naming it (`xyz[0][3][2] must be a finite number`).
 */
export function batchArray(
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
  checkFiniteEntries(component, argument, x);
  return shape.length === 3
    ? { batch: x as number[][][], batched: true }
    : { batch: [x as number[][]], batched: false };
}

/**
 * The intrinsics read from the first two rows of the 3×3 matrix `m` (named `argument` in errors, e.g. `K` or
 * `K[2]`): `fx`, `fy` finite and ≠ 0 (a focal length of 0 maps every point to the principal point, and
 * `uvdToXyz` divides by it), `cx`, `cy`, `K[0][1]` (skew) and `K[1][0]` finite, and the 2×2 block
 * `[[fx, skew], [k10, fy]]` invertible; a `PhalanxConfigError` naming the entry otherwise. The third row is not
 * read.
 */
function readCam(component: string, argument: string, m: number[][]): Cam {
  const focal = (r: number, what: string): number => {
    const v = m[r][r];
    if (!Number.isFinite(v) || v === 0) {
      throw new PhalanxConfigError(component, `${indexed(argument, [r, r])} (${what})`, 'a finite focal length ≠ 0', v);
    }
    return v;
  };
  const fx = focal(0, 'fx');
  const fy = focal(1, 'fy');
  const cx = checkFinite(component, `${indexed(argument, [0, 2])} (cx)`, m[0][2]);
  const cy = checkFinite(component, `${indexed(argument, [1, 2])} (cy)`, m[1][2]);
  const skew = checkFinite(component, `${indexed(argument, [0, 1])} (skew)`, m[0][1]);
  const k10 = checkFinite(component, indexed(argument, [1, 0]), m[1][0]);
  if (!(fx - skew * (k10 / fy) !== 0 && Number.isFinite(fx - skew * (k10 / fy)))) {
    const block = [
      [fx, skew],
      [k10, fy],
    ];
    const expected = 'an invertible upper-left 2×2 block [[fx, skew], [K[1][0], fy]]';
    throw new PhalanxConfigError(component, `${argument} (upper-left 2×2)`, expected, block);
  }
  return { fx, fy, cx, cy, skew, k10 };
}

/**
 * One `Cam` per sample from `K [3, 3]` (shared) or `[B, 3, 3]`, checked as {@link readCam} says. A tensor
 * `K` is read (`arraySync`): for the array paths and for array `K` of the tensor paths only.
 */
export function camerasArray(component: string, K: unknown, batch: number, batched: boolean): Cam[] {
  const k = K instanceof tf.Tensor ? (K.arraySync() as unknown) : K;
  const shape = nestedShape(k);
  const okShared = shape.length === 2 && shape[0] === 3 && shape[1] === 3;
  const okBatch = batched && shape.length === 3 && shape[0] === batch && shape[1] === 3 && shape[2] === 3;
  if (!okShared && !okBatch) {
    throw new PhalanxShapeError(component, 'K', batched ? `[3, 3] or [${batch}, 3, 3]` : '[3, 3]', shapeOfInput(K));
  }
  checkArray(component, 'K', k, [shape.length], 'a 3×3 matrix');
  if (okShared) return new Array<Cam>(batch).fill(readCam(component, 'K', k as number[][]));
  return (k as number[][][]).map((m, b) => readCam(component, `K[${b}]`, m));
}

/** What a per-sample value of a batch of `batch` must be, in errors. */
function perSampleExpected(batch: number): string {
  return `a number, ${batch} numbers or a tensor [], [${batch}] or [${batch}, 1] (one per sample)`;
}

/**
 * Throws unless the tensor `t` holds a per-sample value (named `argument`) of a batch of `batch`: one value
 * (`[]`, `[1]`, `[1, 1]`) or `[B]` / `[B, 1]`, float32 or int32, not disposed. Its values are not read.
 */
function checkPerSampleTensor(component: string, argument: string, t: tf.Tensor, batch: number): void {
  checkTensorInput(component, argument, t);
  const ok = t.size === 1 ? t.rank <= 2 : t.shape[0] === batch && (t.rank === 1 || (t.rank === 2 && t.shape[1] === 1));
  if (!ok) throw new PhalanxShapeError(component, argument, perSampleExpected(batch), t.shape);
}

/**
 * A per-sample value as `B` finite numbers (one number or a single value is repeated; a tensor is read).
 * Named errors naming `argument`: a `PhalanxConfigError` for a value that is neither a number, a list nor a
 * tensor (`null`), and for one that is not finite (`rootDepth[1] must be a finite number`); a
 * `PhalanxShapeError` for a list or tensor of another length or shape.
 */
export function perSampleArray(component: string, argument: string, v: unknown, batch: number): number[] {
  if (v instanceof tf.Tensor) checkPerSampleTensor(component, argument, v, batch);
  const values: unknown = v instanceof tf.Tensor ? Array.from(v.dataSync() as ArrayLike<number>) : v;
  if (typeof values === 'number') return new Array<number>(batch).fill(checkFinite(component, argument, values));
  if (!Array.isArray(values)) throw new PhalanxConfigError(component, argument, perSampleExpected(batch), v);
  if ((values.length !== 1 && values.length !== batch) || values.some((x) => typeof x !== 'number')) {
    throw new PhalanxShapeError(component, argument, perSampleExpected(batch), shapeOfInput(v));
  }
  if (values.length === 1) return new Array<number>(batch).fill(checkFinite(component, argument, values[0]));
  return values.map((x: unknown, b) => checkFinite(component, `${argument}[${b}]`, x));
}

/**
 * The length of the root–ref bone of `hand` (sample `sample` of `argument`, `null` when unbatched): the hand scale, which the caller
 * divides by. A length that is not > 0 (the two joints coincide) is a `PhalanxConfigError` saying so:
 * `normalizeHand: the root–ref bone ‖xyz[10] − xyz[9]‖ must be a finite number > 0, but received 0.`
 */
export function boneLength(
  component: string,
  argument: string,
  hand: number[][],
  bone: { root: number; ref: number },
  sample: number | null,
): number {
  const { root, ref } = bone;
  const r = hand[root];
  const s = Math.hypot(hand[ref][0] - r[0], hand[ref][1] - r[1], hand[ref][2] - r[2]);
  if (s > 0 && Number.isFinite(s)) return s;
  const at = (j: number): string => indexed(argument, sample === null ? [j] : [sample, j]);
  return checkPositive(component, `the root–ref bone ‖${at(ref)} − ${at(root)}‖`, s);
}

/**
 * Throws unless the tensor `x` (named `argument`) can be computed with: not disposed, and of one of `dtypes`
 * (default float32 or int32; int32 is computed as float32, see {@link asFloat32}); a `PhalanxShapeError`
 * naming it otherwise.
 */
export function checkTensorInput(
  component: string,
  argument: string,
  x: tf.Tensor,
  dtypes: readonly tf.DataType[] = ['float32', 'int32'],
): void {
  if (x.isDisposed) {
    throw new PhalanxShapeError(component, argument, 'a tensor that is not disposed', 'a disposed tensor');
  }
  if (!dtypes.includes(x.dtype)) {
    const names = `${dtypes.slice(0, -1).join(', ')}${dtypes.length > 1 ? ' or ' : ''}${dtypes[dtypes.length - 1]}`;
    throw new PhalanxShapeError(component, argument, `a ${names} tensor`, x.dtype);
  }
}

/**
 * `x` as float32, inside a `tf.tidy`: `x` itself when it is float32 (no operation, so float32 results are
 * unchanged), a cast otherwise — so int32 points divide as floats and `sqrt` takes them.
 */
export function asFloat32(x: tf.Tensor): tf.Tensor {
  return x.dtype === 'float32' ? x : tf.cast(x, 'float32');
}

/**
 * Tensor inputs: `[B, J, C]` (or `[J, C]`, expanded) as float32 (an int32 tensor is cast once, here), and
 * the intrinsics broadcastable to `[B, 1]`, float32. Call inside a `tf.tidy`.
 */
export function tensorSetup(
  component: string,
  x: tf.Tensor,
  K: Intrinsics,
  channels: number,
): { x3: tf.Tensor3D; batched: boolean } & CamTensors {
  if ((x.rank !== 2 && x.rank !== 3) || x.shape[x.rank - 1] !== channels) {
    throw new PhalanxShapeError(component, 'points', `a tensor [J, ${channels}] or [B, J, ${channels}]`, x.shape);
  }
  checkTensorInput(component, 'points', x);
  const batched = x.rank === 3;
  const xf = asFloat32(x);
  const x3 = (batched ? xf : tf.expandDims(xf, 0)) as tf.Tensor3D;
  const b = x3.shape[0];
  // Array intrinsics are on the host already: checked as the array paths check them (a tensor K is not read).
  if (!(K instanceof tf.Tensor)) camerasArray(component, K, b, batched);
  const k = K instanceof tf.Tensor ? K : tf.tensor(K as number[][]);
  const okShared = k.rank === 2 && k.shape[0] === 3 && k.shape[1] === 3;
  const okBatch = batched && k.rank === 3 && k.shape[0] === b && k.shape[1] === 3 && k.shape[2] === 3;
  if (!okShared && !okBatch) {
    throw new PhalanxShapeError(component, 'K', batched ? `[3, 3] or [${b}, 3, 3]` : '[3, 3]', k.shape);
  }
  const k3 = tf.reshape(k, [-1, 9]);
  const col = (i: number): tf.Tensor => tf.cast(tf.slice(k3, [0, i], [-1, 1]), 'float32');
  return { x3, batched, fx: col(0), fy: col(4), cx: col(2), cy: col(5), skew: col(1), k10: col(3) };
}

/**
 * A per-sample value as a float32 tensor `[B, 1]` (or `[1, 1]`, broadcast), inside a `tf.tidy`. Numbers and
 * lists are checked on the host as {@link perSampleArray} checks them (a NaN or `null` is a named error, not
 * a NaN result); a tensor's shape and dtype are checked, its values are not read (an int32 tensor is cast).
 */
export function perSampleTensor(component: string, argument: string, v: unknown, batch: number): tf.Tensor {
  if (v instanceof tf.Tensor) {
    checkPerSampleTensor(component, argument, v, batch);
    return tf.reshape(asFloat32(v), [v.size === 1 ? 1 : batch, 1]);
  }
  const values = perSampleArray(component, argument, v, batch);
  const single = typeof v === 'number' || (Array.isArray(v) && v.length === 1);
  return single ? tf.tensor2d([values[0]], [1, 1]) : tf.tensor2d(values, [batch, 1]);
}

/** Channel `c` of `x [B, J, C]`: `[B, J]`. */
export function channel(x: tf.Tensor3D, c: number): tf.Tensor2D {
  return tf.squeeze(tf.slice(x, [0, 0, c], [-1, -1, 1]), [2]) as tf.Tensor2D;
}

/** Joint `j` of `x [B, J, C]`: `[B, C]`. */
export function jointOf(x: tf.Tensor3D, j: number): tf.Tensor2D {
  return tf.squeeze(tf.slice(x, [0, j, 0], [-1, 1, -1]), [1]) as tf.Tensor2D;
}
