/**
 * What `estimateHands` accepts, checked with named errors, as one `[H, W, 3]` tensor.
 */
import * as tf from '@tensorflow/tfjs-core';
import { PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';

/**
 * An image of one hand: a `tf.Tensor3D [H, W, 3]` with RGB values 0–255 (int32 or float32), or
 * anything `tf.browser.fromPixels` reads — in a browser an `HTMLImageElement`, `HTMLVideoElement`,
 * `HTMLCanvasElement`, `ImageBitmap` or `ImageData`; anywhere a `{data: Uint8Array (RGBA), width, height}`.
 */
export type HandPoseInput = tf.Tensor3D | Parameters<typeof tf.browser.fromPixels>[0];

/** What {@link imageToTensor} returns. */
export interface ImageTensor {
  /** The image as `[H, W, 3]`, int32 or float32, 0–255. */
  tensor: tf.Tensor3D;
  /** Whether the tensor was created from pixels (the caller disposes it) rather than given. */
  owned: boolean;
}

const COMPONENT = 'estimateHands';
const EXPECTED = 'a tf.Tensor3D [H, W, 3] (RGB 0–255) or an image, video, canvas or ImageData';

function pixelSize(image: object): [number, number] {
  const o = image as Record<string, unknown>;
  // A video's own size is videoWidth/videoHeight (0 before it has data); other sources have width/height.
  const side = (video: string, plain: string) => {
    const v = o[video];
    return typeof v === 'number' && v > 0 ? v : typeof o[plain] === 'number' ? (o[plain] as number) : NaN;
  };
  return [side('videoHeight', 'height'), side('videoWidth', 'width')];
}

/** A constructor of the browser's, or `undefined` where there is none (in Node). */
function browserClass(name: string): (abstract new (...args: never[]) => object) | undefined {
  const value = (globalThis as Record<string, unknown>)[name];
  return typeof value === 'function' ? (value as abstract new (...args: never[]) => object) : undefined;
}

/**
 * What `tf.browser.fromPixels` reads `image` as: `'pixels'` for `{data: Uint8Array (RGBA), width, height}`,
 * `'element'` for the browser's images, videos, canvases (anything with `getContext`), bitmaps and
 * `ImageData`, `undefined` for anything else.
 */
function pictureKind(image: object): 'pixels' | 'element' | undefined {
  if ((image as { data?: unknown }).data instanceof Uint8Array) return 'pixels';
  if (typeof (image as { getContext?: unknown }).getContext === 'function') return 'element';
  const classes = ['ImageData', 'HTMLVideoElement', 'HTMLImageElement', 'ImageBitmap'].map(browserClass);
  return classes.some((c) => c !== undefined && image instanceof c) ? 'element' : undefined;
}

/**
 * Checks an {@link HandPoseInput} and returns it as a tensor `[H, W, 3]` (int32 or float32, 0–255) and
 * whether the caller owns it (`true` when it was read from pixels and must be disposed). Values are
 * not read back here (that would cost a GPU→CPU transfer); `estimateHands` checks that they are finite and
 * in 0–255 when it reads its keypoints.
 *
 * Throws `PhalanxShapeError` for a tensor that is not `[H, W, 3]` or is empty (H or W = 0), for an
 * empty picture or one whose width or height is not an integer, and for pixel data whose `data` is not
 * `width × height × 4` bytes; `PhalanxConfigError` for a disposed tensor, a tensor that is not int32 or
 * float32, and anything else that is not an image.
 *
 * @example
 * ```ts
 * const { tensor, owned } = imageToTensor(tf.zeros([480, 640, 3], 'int32'));
 * if (owned) tensor.dispose();
 * ```
 */
export function imageToTensor(image: HandPoseInput): ImageTensor {
  if (image instanceof tf.Tensor) {
    if (image.isDisposed)
      throw new PhalanxConfigError(COMPONENT, 'image', 'a tensor that is not disposed', 'a disposed tensor');
    if (image.rank !== 3) throw new PhalanxShapeError(COMPONENT, 'image', 'a tensor of rank 3 [H, W, 3]', image.shape);
    if (image.shape[2] !== 3)
      throw new PhalanxShapeError(COMPONENT, 'image', 'a tensor [H, W, 3] (3 channels, RGB)', image.shape);
    if (image.shape[0] === 0 || image.shape[1] === 0) {
      throw new PhalanxShapeError(COMPONENT, 'image', 'a non-empty image [H ≥ 1, W ≥ 1, 3]', image.shape);
    }
    if (image.dtype !== 'int32' && image.dtype !== 'float32') {
      throw new PhalanxConfigError(COMPONENT, 'image', 'a tensor of dtype int32 or float32', image.dtype);
    }
    return { tensor: image, owned: false };
  }
  if (image === null || typeof image !== 'object') throw new PhalanxConfigError(COMPONENT, 'image', EXPECTED, image);
  const [height, width] = pixelSize(image);
  const kind = pictureKind(image);
  if (kind === undefined || !Number.isFinite(height) || !Number.isFinite(width)) {
    throw new PhalanxConfigError(COMPONENT, 'image', EXPECTED, image.constructor?.name ?? typeof image);
  }
  if (height <= 0 || width <= 0) {
    throw new PhalanxShapeError(COMPONENT, 'image', 'a non-empty picture (width and height ≥ 1)', [height, width]);
  }
  if (!Number.isInteger(height) || !Number.isInteger(width)) {
    throw new PhalanxShapeError(COMPONENT, 'image', 'a picture with width and height integers ≥ 1', [height, width]);
  }
  const bytes = (image as { data?: Uint8Array }).data?.length;
  if (kind === 'pixels' && bytes !== height * width * 4) {
    const expected = `${width} × ${height} × 4 = ${height * width * 4} RGBA bytes`;
    throw new PhalanxShapeError(COMPONENT, 'image.data', expected, bytes);
  }
  return { tensor: tf.browser.fromPixels(image, 3), owned: true };
}
