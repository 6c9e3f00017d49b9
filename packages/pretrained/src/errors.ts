/** The errors an estimator throws of its own: used after `dispose()`, and a model that outputs NaN or ±Infinity. */
import { PhalanxConfigError, PhalanxFileError, PhalanxShapeError } from '@phalanx/errors';

export { PhalanxConfigError, PhalanxFileError, PhalanxShapeError };

/**
 * A {@link HandPoseEstimator} was used after its `dispose()`: its weights are gone. Load a new one.
 *
 * @example
 * ```ts
 * const estimator = await loadHandPoseEstimator('learnable-groups');
 * estimator.dispose();
 * await estimator.estimateHands(tf.zeros([64, 64, 3], 'int32')); // throws PhalanxDisposedError
 * ```
 */
export class PhalanxDisposedError extends Error {
  /** Always `'PhalanxDisposedError'`, for tests on `error.name`. */
  override readonly name: string = 'PhalanxDisposedError';

  constructor(
    /** The component that was used after disposal, e.g. `HandPoseEstimator.estimateHands`. */
    readonly component: string,
  ) {
    super(`${component}: the estimator was disposed; load a new one with loadHandPoseEstimator().`);
  }
}

/**
 * The model gave NaN or ±Infinity keypoints or score for an image of finite pixels in 0–255: its weights are
 * broken (e.g. a `weights.bin` of NaN, or values so large that the activations overflow), not the image.
 * Load other weights.
 *
 * @example
 * ```ts
 * const estimator = await loadHandPoseEstimator('learnable-groups', { url: 'file:///models/my-run/' });
 * try {
 *   await estimator.estimateHands(tf.zeros([64, 64, 3], 'int32'));
 * } catch (error) {
 *   if (error instanceof PhalanxModelOutputError) console.error('the weights are broken:', error.message);
 * }
 * ```
 */
export class PhalanxModelOutputError extends Error {
  /** Always `'PhalanxModelOutputError'`, for tests on `error.name`. */
  override readonly name: string = 'PhalanxModelOutputError';

  constructor(
    /** The component whose model misbehaved, e.g. `estimateHands`. */
    readonly component: string,
    /** What is not finite, e.g. `keypoints (the wrist's x: NaN)` or `score (Infinity)`. */
    readonly output: string,
  ) {
    super(`${component}: the model produced non-finite ${output} for a valid image; its weights are broken.`);
  }
}
