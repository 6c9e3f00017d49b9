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
    return typeof v === 'number' && v > 0 ? v : Number(o[plain]);
  };
  return [side('videoHeight', 'height'), side('videoWidth', 'width')];
}

/**
 * Checks an {@link HandPoseInput} and returns it as a tensor `[H, W, 3]` (int32 or float32, 0–255) and
 * whether the caller owns it (`true` when it was read from pixels and must be disposed). Values are
 * not read back to check their range (that would cost a GPU→CPU transfer); they are taken as 0–255.
 *
 * Throws `PhalanxShapeError` for a tensor that is not `[H, W, 3]` or is empty (H or W = 0) and for an
 * empty picture; `PhalanxConfigError` for a disposed tensor, a tensor that is not int32 or float32, and
 * anything else that is not an image.
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
  if (!Number.isFinite(height) || !Number.isFinite(width)) {
    throw new PhalanxConfigError(COMPONENT, 'image', EXPECTED, image.constructor?.name ?? typeof image);
  }
  if (height <= 0 || width <= 0) {
    throw new PhalanxShapeError(COMPONENT, 'image', 'a non-empty picture (width and height ≥ 1)', [height, width]);
  }
  return { tensor: tf.browser.fromPixels(image, 3), owned: true };
}
