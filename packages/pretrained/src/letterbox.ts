/**
 * How an image of any size becomes the square model input, and how the model's keypoints go back:
 * pad to a square (keeping the aspect ratio), box-average by an integer factor, then bilinear resize.
 */
import * as tf from '@tensorflow/tfjs-core';
import { checkInteger, PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';

/**
 * The geometry of one image's way into the model (all sizes in pixels, pixel centres at integer
 * indices):
 *
 * 1. the `height × width` image is padded with black (0) to a `padded × padded` square, `top` rows above
 *    and `left` columns to the left (the image centred, the odd pixel going to the bottom / right);
 * 2. the square is averaged over `pool × pool` blocks (`pool = ⌊max(H, W) / S⌋`, at least 1) to
 *    `pooled × pooled` pixels — so that a large image is low-pass filtered before it is sampled;
 * 3. the pooled square is resized to `S × S` with bilinear interpolation, corners aligned: model pixel
 *    `x` samples pooled pixel `x·(pooled − 1)/(S − 1)`.
 *
 * A model keypoint `(x, y)` is therefore at image pixel
 * `x_img = x·(pooled − 1)/(S − 1)·pool + (pool − 1)/2 − left` (and `y` with `top`): {@link modelToImage}.
 */
export interface Letterbox {
  /** Height H of the image. */
  height: number;
  /** Width W of the image. */
  width: number;
  /** Side S of the model input. */
  inputSize: number;
  /** Side of the padded square, `pool · pooled ≥ max(H, W)`. */
  padded: number;
  /** Rows of padding above the image. */
  top: number;
  /** Columns of padding left of the image. */
  left: number;
  /** Side of the averaging blocks (1: no averaging). */
  pool: number;
  /** Side of the square after averaging, `⌈max(H, W) / pool⌉ ≥ min(S, max(H, W))`. */
  pooled: number;
}

/**
 * The {@link Letterbox} of an `height × width` image for a model input of side `inputSize`.
 *
 * @example
 * ```ts
 * letterboxGeometry(480, 640, 64); // {padded: 640, top: 80, left: 0, pool: 10, pooled: 64, …}
 * ```
 */
export function letterboxGeometry(height: number, width: number, inputSize: number): Letterbox {
  checkInteger('letterboxGeometry', 'height', height, 1);
  checkInteger('letterboxGeometry', 'width', width, 1);
  checkInteger('letterboxGeometry', 'inputSize', inputSize, 2);
  const side = Math.max(height, width);
  const pool = Math.max(1, Math.floor(side / inputSize));
  const pooled = Math.ceil(side / pool);
  const padded = pooled * pool;
  return {
    height,
    width,
    inputSize,
    padded,
    top: Math.floor((padded - height) / 2),
    left: Math.floor((padded - width) / 2),
    pool,
    pooled,
  };
}

/**
 * A named error unless `box` is a {@link Letterbox} as {@link letterboxGeometry} returns it: an object of numbers,
 * its `height`, `width` and `inputSize` sizes letterboxGeometry accepts, and every other field what
 * letterboxGeometry gives for them (a `pool` of 0 divided by zero, a negative `top` sliced outside the image).
 */
function checkBox(component: string, box: unknown): asserts box is Letterbox {
  const fields = ['height', 'width', 'inputSize', 'padded', 'top', 'left', 'pool', 'pooled'] as const;
  if (box === null || typeof box !== 'object' || !fields.every((f) => Number.isFinite((box as Letterbox)[f]))) {
    throw new PhalanxConfigError(component, 'box', 'a Letterbox from letterboxGeometry', box);
  }
  const b = box as Letterbox;
  for (const [field, least] of [
    ['height', 1],
    ['width', 1],
    ['inputSize', 2],
  ] as const) {
    if (!Number.isInteger(b[field]) || b[field] < least) {
      throw new PhalanxConfigError(component, `box.${field}`, `an integer ≥ ${least}`, b[field]);
    }
  }
  const expected = letterboxGeometry(b.height, b.width, b.inputSize);
  const wrong = fields.find((f) => b[f] !== expected[f]);
  if (wrong !== undefined) {
    const call = `letterboxGeometry(${b.height}, ${b.width}, ${b.inputSize})`;
    throw new PhalanxConfigError(component, `box.${wrong}`, `${expected[wrong]}, as ${call} gives`, b[wrong]);
  }
}

/**
 * The model input of an image: padded, averaged and resized as its {@link Letterbox} says, RGB divided
 * by 255 (the models take RGB in [0, 1]). Throws `PhalanxShapeError` for an `image` that is not a
 * `[H, W, 3]` int32 or float32 tensor of the box's size, and `PhalanxConfigError` for a disposed `image` and a
 * `box` that is not a {@link Letterbox} as {@link letterboxGeometry} makes it (a field changed by hand is named).
 *
 * **Shapes**: `image [H, W, 3]` (0–255, int32 or float32) → `[1, S, S, 3]` float32 in [0, 1].
 *
 * @example
 * ```ts
 * const image = tf.zeros([480, 640, 3], 'int32') as tf.Tensor3D;
 * const box = letterboxGeometry(image.shape[0], image.shape[1], 64);
 * const input = letterboxImage(image, box); // [1, 64, 64, 3]
 * ```
 */
export function letterboxImage(image: tf.Tensor3D, box: Letterbox): tf.Tensor4D {
  checkBox('letterboxImage', box);
  if (image instanceof tf.Tensor && image.isDisposed) {
    throw new PhalanxConfigError('letterboxImage', 'image', 'a tensor that is not disposed', 'a disposed tensor');
  }
  if (!(image instanceof tf.Tensor) || image.rank !== 3 || image.shape[2] !== 3) {
    const received = image instanceof tf.Tensor ? image.shape : image === null ? null : typeof image;
    throw new PhalanxShapeError('letterboxImage', 'image', 'a tensor [H, W, 3]', received);
  }
  if (image.dtype !== 'int32' && image.dtype !== 'float32') {
    // A bool image became 0/1 pixels, a string one failed inside tfjs.
    throw new PhalanxShapeError('letterboxImage', 'image', 'a tensor of dtype int32 or float32', image.dtype);
  }
  if (image.shape[0] !== box.height || image.shape[1] !== box.width) {
    // Another image's box pads and pools to another size: the result was not S × S.
    const expected = `a tensor [${box.height}, ${box.width}, 3] (the size its box was made for)`;
    throw new PhalanxShapeError('letterboxImage', 'image', expected, image.shape);
  }
  return tf.tidy(() => {
    const { height, width, top, left, inputSize } = box;
    let batch = tf.expandDims(tf.cast(image, 'float32'), 0) as tf.Tensor4D;
    // Averaging the blocks of the padded square is averaging over rows, then over columns, and a block of
    // padding averages to 0: each axis is padded to whole blocks, averaged, then padded with zero blocks.
    // The longer axis first, so that no copy is much larger than the image (a 1 × 20000 strip would
    // otherwise be padded to a 20000 × 20000 square).
    if (width >= height) {
      batch = padAndPool(batch, 2, left, width, box);
      batch = padAndPool(batch, 1, top, height, box);
    } else {
      batch = padAndPool(batch, 1, top, height, box);
      batch = padAndPool(batch, 2, left, width, box);
    }
    if (box.pooled !== inputSize) batch = tf.image.resizeBilinear(batch, [inputSize, inputSize], true);
    return tf.div(batch, 255) as tf.Tensor4D;
  });
}

/**
 * One axis of the letterbox (1: rows, 2: columns) of `x [1, …, …, 3]`, whose `size` pixels sit at
 * `offset` in the padded square: padded to the blocks they touch, averaged over `pool` pixels, then
 * padded with zero blocks to `pooled`.
 */
function padAndPool(x: tf.Tensor4D, axis: 1 | 2, offset: number, size: number, box: Letterbox): tf.Tensor4D {
  const { pool, pooled } = box;
  const before = offset % pool;
  const blocks = Math.ceil((before + size) / pool);
  const onAxis = (a: number, b: number): [number, number][] =>
    axis === 1
      ? [
          [0, 0],
          [a, b],
          [0, 0],
          [0, 0],
        ]
      : [
          [0, 0],
          [0, 0],
          [a, b],
          [0, 0],
        ];
  const after = blocks * pool - before - size;
  if (before > 0 || after > 0) x = tf.pad(x, onAxis(before, after));
  if (pool > 1) {
    const filter: [number, number] = axis === 1 ? [pool, 1] : [1, pool];
    x = tf.avgPool(x, filter, filter, 'valid');
  }
  const first = Math.floor(offset / pool);
  const last = pooled - first - blocks;
  return first > 0 || last > 0 ? tf.pad(x, onAxis(first, last)) : x;
}

/**
 * Model-input pixels → image pixels (the inverse of the letterbox, see {@link Letterbox}):
 * `x·(pooled − 1)/(S − 1)·pool + (pool − 1)/2 − left`, the same for `y` with `top`. Throws `PhalanxShapeError`
 * for `points` that are not `[x, y]` pairs and `PhalanxConfigError` for a coordinate that is not a finite number
 * or a `box` that is not a {@link Letterbox}.
 *
 * @example
 * ```ts
 * modelToImage([[31.5, 31.5]], letterboxGeometry(480, 640, 64)); // [[319.5, 239.5]]: centre to centre
 * ```
 */
export function modelToImage(points: readonly (readonly number[])[], box: Letterbox): number[][] {
  checkBox('modelToImage', box);
  checkPoints('modelToImage', points);
  const toPooled = box.inputSize > 1 ? (box.pooled - 1) / (box.inputSize - 1) : 0;
  const offset = (box.pool - 1) / 2;
  return points.map(([x, y]) => [
    x * toPooled * box.pool + offset - box.left,
    y * toPooled * box.pool + offset - box.top,
  ]);
}

/**
 * Image pixels → model-input pixels, the inverse of {@link modelToImage} (e.g. to draw ground truth
 * on the model input, or to build training targets for the letterboxed input). Throws as {@link modelToImage}.
 *
 * @example
 * ```ts
 * const box = letterboxGeometry(480, 640, 64);
 * imageToModel(modelToImage([[10, 20]], box), box); // [[10, 20]]
 * ```
 */
export function imageToModel(points: readonly (readonly number[])[], box: Letterbox): number[][] {
  checkBox('imageToModel', box);
  checkPoints('imageToModel', points);
  const fromPooled = box.pooled > 1 ? (box.inputSize - 1) / (box.pooled - 1) : 0;
  const offset = (box.pool - 1) / 2;
  return points.map(([x, y]) => [
    ((x + box.left - offset) / box.pool) * fromPooled,
    ((y + box.top - offset) / box.pool) * fromPooled,
  ]);
}

/**
 * A `PhalanxShapeError` unless `points` is a list of `[x, y]` pairs, and a `PhalanxConfigError` naming the first
 * pair whose x or y is not a finite number (NaN, ±Infinity, a string: the maps would return NaN).
 */
function checkPoints(component: string, points: unknown): void {
  if (!Array.isArray(points) || !points.every((p) => Array.isArray(p) && p.length >= 2)) {
    throw new PhalanxShapeError(
      component,
      'points',
      'a list of [x, y] points',
      Array.isArray(points) ? [points.length] : points,
    );
  }
  for (const [i, p] of (points as unknown[][]).entries()) {
    const c = Number.isFinite(p[0]) ? 1 : 0;
    if (!Number.isFinite(p[c])) throw new PhalanxConfigError(component, `points[${i}][${c}]`, 'a finite number', p[c]);
  }
}
