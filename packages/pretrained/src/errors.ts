/** The error an estimator throws when it is used after `dispose()`. */
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
