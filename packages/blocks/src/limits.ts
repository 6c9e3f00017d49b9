/**
 * The largest sizes the model builders accept. A size far beyond any network of the field (a 10⁹-pixel
 * input, 10⁹ channels or blocks) would otherwise build, or start to build, until the process runs out of
 * memory; each bound is generous for real models and refuses such a value with a named error first.
 */

/**
 * Upper bounds of the models' size options, each inclusive:
 *
 * - `imageSize` 4 096 — an input side in pixels (`decodeImage` and `augment` stop there too);
 * - `channels` 8 192 — the width of any convolution, transformer or node feature (ResNet-152 ends at 2 048);
 * - `repeats` 64 — any count of blocks, stacks or layers (ResNet-152's largest stage has 36 blocks);
 * - `joints` 4 096 — keypoints per hand or body (the graph helpers of `@phalanx/pose` stop there too);
 * - `depthBins` 4 096 — bins of a depth volume.
 *
 * @example
 * ```ts
 * import { checkIntegerIn } from '@phalanx/errors';
 * import { MODEL_LIMITS } from '@phalanx/blocks';
 * const width = checkIntegerIn('myModel', 'width', 256, 1, MODEL_LIMITS.channels); // 256
 * ```
 */
export const MODEL_LIMITS = {
  /** The largest input side in pixels. */
  imageSize: 4096,
  /** The largest width of a convolution, transformer or node feature. */
  channels: 8192,
  /** The largest count of blocks, stacks or layers. */
  repeats: 64,
  /** The most keypoints. */
  joints: 4096,
  /** The most bins of a depth volume. */
  depthBins: 4096,
} as const;
