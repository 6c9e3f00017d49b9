/** Types shared by the synthetic renderer, the dataset readers and the augmentations. */
import { checkInteger, PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';

/** Pixel storage: `'uint8'` (0–255) or `'float32'` (0–1). */
export type ImageFormat = 'uint8' | 'float32';

/** An RGB image, HWC, row-major. */
export interface RgbImage {
  /** `[height * width * 3]`: 0–255 for `Uint8Array`, 0–1 for `Float32Array`. */
  data: Uint8Array | Float32Array;
  /** Image width W in pixels. */
  width: number;
  /** Image height H in pixels. */
  height: number;
}

/**
 * One annotated hand image, the common currency of this package (synthetic samples, FreiHAND, RHD, augmented).
 *
 * Conventions (docs/conventions.md): joints in FreiHAND order; pixel centres at integer indices (`x` right in `[0, W−1]`,
 * `y` down in `[0, H−1]`); camera frame `x` right, `y` down, `z` forward; `uv = project(xyz, K)` with
 * `u = (K₀·p)/(K₂·p)`, `v = (K₁·p)/(K₂·p)`.
 */
export interface HandSample {
  /** `[H * W * 3]` RGB, HWC. */
  image: Uint8Array | Float32Array;
  /** Image width W in pixels. */
  width: number;
  /** Image height H in pixels. */
  height: number;
  /** `[21 * 2]` joint pixel coordinates. */
  uv: Float64Array;
  /** `[21 * 3]` camera-frame joint positions (mm for synthetic samples; readers state their unit). */
  xyz: Float64Array;
  /** `[9]` row-major 3×3 camera matrix, last row `0 0 1`. */
  K: Float64Array;
  /** Hand scale: the middle-finger MCP–PIP bone length (joints 9–10), same unit as `xyz`. */
  scale: number;
  /** `[21]` 1 where the joint is visible (in frame and not occluded), else 0. */
  visible: Uint8Array;
}

/**
 * Throws a `PhalanxConfigError` unless width and height are integers ≥ `min` (default 16) and the image has
 * at most 4096 × 4096 pixels (the renderer's canvas takes 16 bytes a pixel: 268 MB there).
 *
 * @example
 * ```ts
 * checkImageSize('renderSyntheticHand', 256, 256); // fine
 * ```
 */
export function checkImageSize(component: string, width: unknown, height: unknown, min = 16): void {
  const w = checkInteger(component, 'width', width, min);
  const h = checkInteger(component, 'height', height, min);
  if (w * h > 4096 * 4096) {
    throw new PhalanxConfigError(component, 'width × height', 'at most 16777216 pixels (4096 × 4096)', w * h);
  }
}

/**
 * Throws a `PhalanxShapeError` of `component` unless `image` is an {@link RgbImage} that holds its pixels:
 * integer width and height ≥ 1, and `data` a `Uint8Array` or `Float32Array` of `width × height × 3` values.
 * `argument` names the image in the message (default `image`).
 *
 * @example
 * ```ts
 * checkRgbImage('encodePng', { data: new Uint8Array(12), width: 2, height: 2 }); // fine
 * ```
 */
export function checkRgbImage(component: string, image: RgbImage, argument = 'image'): void {
  const { width, height, data } = image ?? {};
  if (!Number.isInteger(width) || !Number.isInteger(height) || !(width >= 1 && height >= 1)) {
    const received = image === null || typeof image !== 'object' ? image : [width, height];
    throw new PhalanxShapeError(component, argument, 'an RGB image {data, width ≥ 1, height ≥ 1}', received);
  }
  const values = width * height * 3;
  if (!(data instanceof Uint8Array || data instanceof Float32Array) || data.length !== values) {
    const expected = `${width} × ${height} × 3 = ${values} values (Uint8Array or Float32Array)`;
    throw new PhalanxShapeError(component, `${argument}.data`, expected, (data as { length?: number })?.length);
  }
}

/** Values each label array of a {@link HandSample} holds, and what they are (for messages). */
const SAMPLE_ARRAYS = [
  ['uv', 42, '21 joints × (u, v)'],
  ['xyz', 63, '21 joints × (x, y, z)'],
  ['K', 9, 'a row-major 3×3 matrix'],
  ['visible', 21, 'one flag per joint'],
] as const;

/**
 * Throws a `PhalanxShapeError` of `component` unless `sample` holds what a {@link HandSample} promises:
 * integer `width` and `height` ≥ 1, `image` a `Uint8Array` or `Float32Array` of `width × height × 3` values,
 * and `uv`, `xyz`, `K`, `visible` of 42, 63, 9 and 21 values. Checks lengths only, not the values.
 * `argument` names the sample in the message (e.g. `samples[3]`, default `sample`).
 *
 * @example
 * ```ts
 * checkHandSample('toBatch', renderSyntheticHand(1, { size: 32 }), 'samples[0]'); // fine
 * ```
 */
export function checkHandSample(component: string, sample: HandSample, argument = 'sample'): void {
  if (sample === null || typeof sample !== 'object') {
    throw new PhalanxShapeError(component, argument, 'a HandSample object', sample);
  }
  const { width, height, image } = sample;
  if (!Number.isInteger(width) || !Number.isInteger(height) || !(width >= 1 && height >= 1)) {
    throw new PhalanxShapeError(component, `${argument}.width × height`, 'integers ≥ 1', [width, height]);
  }
  const values = width * height * 3;
  if (!(image instanceof Uint8Array || image instanceof Float32Array) || image.length !== values) {
    const expected = `${width} × ${height} × 3 = ${values} values (Uint8Array or Float32Array)`;
    const received = (image as { length?: number } | undefined)?.length;
    throw new PhalanxShapeError(component, `${argument}.image`, expected, received);
  }
  for (const [field, length, what] of SAMPLE_ARRAYS) {
    const array = sample[field] as ArrayLike<number> | undefined;
    if (array === null || typeof array !== 'object' || array.length !== length) {
      const received = array !== null && typeof array === 'object' ? array.length : array;
      throw new PhalanxShapeError(component, `${argument}.${field}`, `${length} values (${what})`, received);
    }
  }
}
