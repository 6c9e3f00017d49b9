/**
 * Preprocessing of the Learnable-Groups release (`datasets/RHD.py`, evaluation path without
 * augmentation): a square crop around the hand, resized to the network's input, RGB scaled to [0, 1]
 * (`transforms.ToTensor()`, no mean/std normalisation). Kept apart from the model, whose input is
 * exactly what the official `forward` receives.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  checkBoolean,
  checkFinite,
  checkInteger,
  checkIntegerIn,
  checkOptions,
  checkPositive,
  PhalanxConfigError,
  PhalanxShapeError,
} from '@phalanx/errors';
import { MODEL_LIMITS } from '@phalanx/blocks';
import { uvdToXyz, type Intrinsics } from '@phalanx/pose';

const COMPONENT = 'computeHandCrop';

/** Options of {@link computeHandCrop}. */
export interface HandCropOptions {
  /** Width of the full image in pixels (the release assumes square RHD images and uses it for both axes). Required. */
  imageSize: number;
  /** Index of the joint the crop is sized around (the release: 12 in RHD order, the middle MCP). Default 12. */
  centerJoint?: number;
  /** Side of the network input S, an integer in [1, 4 096]. Default 256. */
  inputSize?: number;
}

/** The keys of {@link HandCropOptions}: any other key is a named error. */
const CROP_OPTION_KEYS = { imageSize: true, centerJoint: true, inputSize: true } satisfies Record<
  keyof HandCropOptions,
  true
>;

/** A square crop of the full image and its mapping to the network input. */
export interface HandCrop {
  /** Left column of the crop in the full image. */
  x1: number;
  /** Top row of the crop in the full image. */
  y1: number;
  /** Side of the crop in full-image pixels (an integer). */
  size: number;
  /**
   * Input pixels per full-image pixel, `inputSize / cropSizeBest` as the release computes it (with the
   * un-truncated crop size, so it can differ from `inputSize / size` by < 1 %).
   */
  scale: number;
  /** Side of the network input S. */
  inputSize: number;
}

/**
 * The release's deterministic hand crop: the tightest box of the visible keypoints, a square of side
 * `1.2 · clip(2 · max distance of the box from the centre joint, 30, 500)` centred on the box, clipped to
 * `[10, imageSize − 10]`, its side clipped to `[30, 280]` and shifted inside the image.
 *
 * **Shapes**: `uv [J, 2]` (x, y in full-image pixels), `visible [J]` (0/1) → a {@link HandCrop}.
 *
 * Throws `PhalanxShapeError` for `uv` or `visible` of another shape, and `PhalanxConfigError` for `options`
 * that are not an object of its keys, sizes that are not integers, `visible` flags other than 0 and 1, and
 * NaN or ±Infinity coordinates among the joints the crop is built from (the visible ones and
 * `centerJoint`), which gave a NaN crop.
 *
 * @example
 * const uv = Array.from({ length: 21 }, (_, j) => [140 + 3 * j, 150 + 2 * j]); // one hand, RHD order
 * const visible = new Array<number>(21).fill(1);
 * const image = tf.randomUniform([320, 320, 3], 0, 255) as tf.Tensor3D;
 * const crop = computeHandCrop(uv, visible, { imageSize: 320 });
 * const input = cropAndResize(image, crop); // [256, 256, 3] in [0, 1]
 */
export function computeHandCrop(uv: number[][], visible: ArrayLike<number> | null, options: HandCropOptions): HandCrop {
  checkOptions(COMPONENT, 'options', options, CROP_OPTION_KEYS, 'an object {imageSize, centerJoint?, inputSize?}');
  const imageSize = checkInteger(COMPONENT, 'imageSize', options.imageSize, 1);
  const centerJoint = checkInteger(COMPONENT, 'centerJoint', options.centerJoint ?? 12, 0);
  const inputSize = checkInteger(COMPONENT, 'inputSize', options.inputSize ?? 256, 1);
  // The models' (and cropAndResize's) largest input side: a larger crop could not be used.
  checkIntegerIn(COMPONENT, 'inputSize', inputSize, 1, MODEL_LIMITS.imageSize);
  if (!Array.isArray(uv) || uv.length <= centerJoint || uv.some((p) => !Array.isArray(p) || p.length !== 2)) {
    throw new PhalanxShapeError(
      COMPONENT,
      'uv',
      `a [J, 2] array with J > centerJoint (${centerJoint})`,
      Array.isArray(uv) ? [uv.length] : uv,
    );
  }
  if (visible !== null && visible.length !== uv.length) {
    throw new PhalanxShapeError(COMPONENT, 'visible', `an array of length ${uv.length}`, [visible.length]);
  }
  // Anything but 1 counted as invisible: `true` flags silently made the crop take every joint.
  const odd = visible === null ? -1 : Array.prototype.findIndex.call(visible, (v: unknown) => v !== 0 && v !== 1);
  if (visible !== null && odd >= 0) {
    throw new PhalanxConfigError(COMPONENT, 'visible', '0 / 1 flags', `${String(visible[odd])} at joint ${odd}`);
  }
  // (y, x) pairs, as the release computes them.
  let points = uv.filter((_, j) => visible === null || visible[j] === 1).map(([x, y]) => [y, x]);
  if (points.length === 0) points = uv.map(([x, y]) => [y, x]);
  // NaN would make the whole crop NaN, ±Infinity a crop that ignores the hand.
  if (![...points, uv[centerJoint]].every((p) => p.every(Number.isFinite))) {
    throw new PhalanxConfigError(
      COMPONENT,
      'uv',
      'finite coordinates for the joints used (the visible ones and centerJoint)',
      'NaN or ±Infinity',
    );
  }
  const lo = [0, 1].map((a) => Math.max(Math.min(...points.map((p) => p[a])), 0));
  const hi = [0, 1].map((a) => Math.min(Math.max(...points.map((p) => p[a])), imageSize));
  const center = [uv[centerJoint][1], uv[centerJoint][0]];
  const clip = (v: number, a: number, b: number) => Math.min(Math.max(v, a), b);
  let side = Math.max(...[0, 1].map((a) => 2 * Math.max(hi[a] - center[a], center[a] - lo[a])));
  side = 1.2 * clip(side, 30, 500);
  const mid = [0, 1].map((a) => 0.5 * (lo[a] + hi[a]));
  const minC = mid.map((m) => clip(m - side / 2, 10, imageSize - 10));
  const maxC = mid.map((m) => clip(m + side / 2, 10, imageSize - 10));
  const best = clip(Math.max(maxC[0] - minC[0], maxC[1] - minC[1]), 30, 280);
  const size = Math.trunc(best);
  const bx = Math.max(Math.trunc(minC[1]) + size - imageSize + 10, 0);
  const by = Math.max(Math.trunc(minC[0]) + size - imageSize + 10, 0);
  const y1 = Math.trunc(minC[0]) - by;
  const x1 = Math.trunc(minC[1]) - bx;
  return { x1, y1, size, scale: inputSize / best, inputSize };
}

/**
 * Crops `image` to `crop` and resizes it to `inputSize × inputSize` with bilinear interpolation
 * (half-pixel centres, like PIL's bilinear `Resize` when enlarging; PIL additionally low-pass filters
 * when shrinking, which this does not), then divides by 255 unless `alreadyUnit` is set.
 *
 * **Shapes**: `image [H, W, 3]` (0–255, any numeric dtype) → `[S, S, 3]` float32 in [0, 1].
 *
 * Throws `PhalanxShapeError` for an `image` that is not a `[H, W, 3]` tensor, and `PhalanxConfigError` for a
 * `crop` that is not an object of integers `x1`, `y1`, `size` ≥ 1 and `inputSize` in [1, 4 096] (the
 * models' largest input side), or that misses the image, and an `alreadyUnit` that is not a boolean.
 *
 * @example
 * const image = tf.randomUniform([320, 320, 3], 0, 255) as tf.Tensor3D;
 * const uv = Array.from({ length: 21 }, (_, j) => [140 + 3 * j, 150 + 2 * j]);
 * const crop = computeHandCrop(uv, null, { imageSize: 320 });
 * const input = tf.expandDims(cropAndResize(image, crop)); // [1, 256, 256, 3] for model.predict
 */
export function cropAndResize(image: tf.Tensor3D, crop: HandCrop, alreadyUnit = false): tf.Tensor3D {
  if (!(image instanceof tf.Tensor) || image.rank !== 3 || image.shape[2] !== 3) {
    const received = image instanceof tf.Tensor ? image.shape : image === null ? null : typeof image;
    throw new PhalanxShapeError('cropAndResize', 'image', 'a [H, W, 3] tensor', received);
  }
  if (crop === null || typeof crop !== 'object') {
    throw new PhalanxConfigError('cropAndResize', 'crop', 'a HandCrop {x1, y1, size, scale, inputSize}', crop);
  }
  // Integers, as computeHandCrop gives them: a fractional window made tf.slice throw its own error.
  for (const key of ['x1', 'y1'] as const) {
    checkFinite('cropAndResize', `crop.${key}`, crop[key]);
    if (!Number.isInteger(crop[key]))
      throw new PhalanxConfigError('cropAndResize', `crop.${key}`, 'an integer', crop[key]);
  }
  checkFinite('cropAndResize', 'crop.size', crop.size);
  checkInteger('cropAndResize', 'crop.size', crop.size, 1);
  checkInteger('cropAndResize', 'crop.inputSize', crop.inputSize, 1);
  checkBoolean('cropAndResize', 'alreadyUnit', alreadyUnit); // the string 'false' skipped the /255
  // The models' largest input side: beyond it the resize allocates until the typed array fails.
  checkIntegerIn('cropAndResize', 'crop.inputSize', crop.inputSize, 1, MODEL_LIMITS.imageSize);
  const [h, w] = image.shape;
  return tf.tidy(() => {
    // numpy slicing semantics: clamp the window to the image.
    const y1 = Math.max(crop.y1, 0);
    const x1 = Math.max(crop.x1, 0);
    const y2 = Math.min(crop.y1 + crop.size, h);
    const x2 = Math.min(crop.x1 + crop.size, w);
    if (y2 <= y1 || x2 <= x1)
      throw new PhalanxConfigError('cropAndResize', 'crop', 'a window overlapping the image', crop);
    const window = tf.slice(tf.cast(image, 'float32'), [y1, x1, 0], [y2 - y1, x2 - x1, 3]);
    const resized = tf.image.resizeBilinear(window as tf.Tensor3D, [crop.inputSize, crop.inputSize], false, true);
    return (alreadyUnit ? resized : tf.div(resized, 255)) as tf.Tensor3D;
  });
}

/** A named error unless `crop` is an object whose `x1`, `y1` are finite and `scale` a finite number > 0. */
function checkCropMapping(component: string, crop: unknown): HandCrop {
  if (crop === null || typeof crop !== 'object') {
    throw new PhalanxConfigError(component, 'crop', 'a HandCrop {x1, y1, size, scale, inputSize}', crop);
  }
  const c = crop as HandCrop;
  checkFinite(component, 'crop.x1', c.x1);
  checkFinite(component, 'crop.y1', c.y1);
  checkPositive(component, 'crop.scale', c.scale); // uvFromCrop divides by it
  return c;
}

/** A named error unless `uv` is a list of `[x, y]` pairs. */
function checkPairs(component: string, uv: unknown): number[][] {
  if (!Array.isArray(uv) || !uv.every((p) => Array.isArray(p) && p.length === 2)) {
    throw new PhalanxShapeError(component, 'uv', 'a [J, 2] array', uv);
  }
  return uv as number[][];
}

/**
 * Maps keypoints from the full image into the network input: `scale · (uv − [x1, y1])` (the release's
 * `uv_crop`). Throws `PhalanxShapeError` for a `uv` that is not a `[J, 2]` array and `PhalanxConfigError`
 * for a `crop` without finite `x1`, `y1` and a `scale` > 0.
 */
export function uvToCrop(uv: number[][], crop: HandCrop): number[][] {
  const c = checkCropMapping('uvToCrop', crop);
  return checkPairs('uvToCrop', uv).map(([x, y]) => [c.scale * (x - c.x1), c.scale * (y - c.y1)]);
}

/**
 * Maps predicted keypoints from the network input back to the full image: `uv / scale + [x1, y1]`. Throws
 * as {@link uvToCrop} (a `scale` of 0 gave infinite keypoints).
 */
export function uvFromCrop(uv: number[][], crop: HandCrop): number[][] {
  const c = checkCropMapping('uvFromCrop', crop);
  return checkPairs('uvFromCrop', uv).map(([x, y]) => [x / c.scale + c.x1, y / c.scale + c.y1]);
}

/**
 * Intrinsics of the crop (the release's `cam_mat_crop` without its root-depth entry):
 * `scale · [[fx, 0, cx − x1], [0, fy, cy − y1], [0, 0, 1/scale]]`. Throws `PhalanxConfigError` for a `K`
 * that is not a 3 × 3 matrix of finite numbers and a `crop` as {@link uvToCrop} does.
 */
export function intrinsicsForCrop(K: number[][], crop: HandCrop): number[][] {
  const c = checkCropMapping('intrinsicsForCrop', crop);
  const square = Array.isArray(K) && K.length === 3 && K.every((row) => Array.isArray(row) && row.length === 3);
  if (!square || !K.every((row) => row.every((v) => typeof v === 'number' && Number.isFinite(v)))) {
    throw new PhalanxConfigError('intrinsicsForCrop', 'K', 'a 3 × 3 matrix of finite numbers', K);
  }
  const s = c.scale;
  return [
    [s * K[0][0], 0, s * (K[0][2] - c.x1)],
    [0, s * K[1][1], s * (K[1][2] - c.y1)],
    [0, 0, 1],
  ];
}

/** Options of {@link lift3D}. */
export interface Lift3DOptions {
  /** Absolute depth of the root joint (per sample or shared), in the unit of the result. */
  rootDepth: number | number[];
  /** Hand scale: the length of the normalising bone (the release: middle MCP–PIP). Default 1. */
  scale?: number | number[];
}

/**
 * 2.5D → 3D for the model's outputs (the release's `P2W`): `z = depth·s + z_root`,
 * `x = z(u − cx)/fx`, `y = z(v − cy)/fy`, with `K` the intrinsics of the network input
 * ({@link intrinsicsForCrop}). Delegates to `uvdToXyz` of `@phalanx/pose`.
 *
 * **Shapes**: `uv [B, J, 2]`, `depth [B, J]`, `K [3, 3]` or `[B, 3, 3]` → `xyz [B, J, 3]`.
 *
 * Throws `PhalanxShapeError` for `uv` and `depth` that are not tensors of these shapes, and `uvdToXyz`'s
 * errors for a bad `K` or options.
 *
 * @example
 * const model = createLearnableGroups({ inputSize: 64, planes: [8, 8], hourglassFeatures: 16, stemChannels: [8, 16], neckChannels: 16 });
 * const input = tf.zeros([1, 64, 64, 3]);
 * const crop = computeHandCrop(Array.from({ length: 21 }, () => [160, 160]), null, { imageSize: 320, inputSize: 64 });
 * const K = [
 *   [600, 0, 160],
 *   [0, 600, 160],
 *   [0, 0, 1],
 * ];
 * const [uv, depth] = model.predict(input) as tf.Tensor[];
 * const xyz = lift3D(uv, depth, intrinsicsForCrop(K, crop), { rootDepth: 0.6, scale: 0.03 });
 */
export function lift3D(uv: tf.Tensor, depth: tf.Tensor, K: Intrinsics, options: Lift3DOptions): tf.Tensor {
  if (!(uv instanceof tf.Tensor) || !(depth instanceof tf.Tensor)) {
    const shapeOf = (t: unknown) => (t instanceof tf.Tensor ? t.shape : t === null ? null : typeof t);
    throw new PhalanxShapeError('lift3D', 'uv, depth', '[B, J, 2] and [B, J] tensors', [shapeOf(uv), shapeOf(depth)]);
  }
  if (
    uv.rank !== 3 ||
    uv.shape[2] !== 2 ||
    depth.rank !== 2 ||
    depth.shape[0] !== uv.shape[0] ||
    depth.shape[1] !== uv.shape[1]
  ) {
    throw new PhalanxShapeError('lift3D', 'uv, depth', '[B, J, 2] and [B, J]', [uv.shape, depth.shape]);
  }
  return tf.tidy(() => uvdToXyz(tf.concat([uv, tf.expandDims(depth, 2)], 2), K, options));
}
