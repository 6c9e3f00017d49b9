/**
 * The estimator: one image of one hand in, 21 keypoints in the image's pixels and in metres out — the
 * interface of `@tensorflow-models/hand-pose-detection`'s `estimateHands`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { JOINT_NAMES, NUM_JOINTS } from '@phalanx/skeleton';
import type { ModelCard } from './card';
import { checkBoolean, checkOptions } from '@phalanx/errors';
import { PhalanxConfigError, PhalanxDisposedError, PhalanxModelOutputError } from './errors';
import type { PoseHead } from './heads';
import { imageToTensor, type HandPoseInput } from './input';
import { letterboxGeometry, letterboxImage, modelToImage } from './letterbox';
import { liftToMetres } from './lift';
import { checkTestRotations, meanOverTurns, turnedViews, type TestRotations } from './rotations';

/** A 2D keypoint in the input image's pixels (x right, y down; pixel centres at integers). */
export interface Keypoint {
  /** Column in pixels. */
  x: number;
  /** Row in pixels. */
  y: number;
  /** Joint name (`JOINT_NAMES` of `@phalanx/skeleton`: `'wrist'`, `'thumb_cmc'`, …, `'pinky_tip'`). */
  name: string;
}

/** A 3D keypoint in metres, relative to the wrist (x right, y down, z away from the camera). */
export interface Keypoint3D extends Keypoint {
  /** Depth in metres relative to the wrist (positive: farther from the camera). */
  z: number;
}

/** One estimated hand. */
export interface Hand {
  /** The 21 joints in FreiHAND order, in the input image's pixels. */
  keypoints: Keypoint[];
  /**
   * The 21 joints in metres, wrist at the origin, for a hand of the mean adult size under a scaled
   * orthographic camera (see `liftToMetres`).
   */
  keypoints3D: Keypoint3D[];
  /**
   * How concentrated the model's soft-argmax distributions are, in [0, 1] (`peakMass`): a relative
   * confidence of the keypoints, not a probability that a hand is present — the models always assume one.
   */
  score: number;
}

/** Options of {@link HandPoseEstimator.estimateHands}. */
export interface EstimationConfig {
  /** Mirror the output horizontally (`x → W − 1 − x`, 3D `x → −x`), e.g. for a mirrored webcam view. Default false. */
  flipHorizontal?: boolean;
  /**
   * Test-time rotations: `1` runs the network once; `2` also on the letterboxed input turned by 180°, `4` by
   * 90°, 180° and 270°, in one batch, and the keypoints, depths and score are the mean over the views, each
   * turned back (`meanOverTurns`). Quarter turns of the square input move whole pixels, and the models were
   * trained on hands at every in-plane angle. Costs `rotations` × the network's time; the package README
   * gives the accuracy of each. Default 1.
   */
  rotations?: TestRotations;
}

/** The keys of an {@link EstimationConfig}: any other key is a named error. */
const ESTIMATION_CONFIG_KEYS = { flipHorizontal: true, rotations: true } satisfies Record<keyof EstimationConfig, true>;

/**
 * A loaded hand-pose model behind the `estimateHands` interface. Create it with
 * `loadHandPoseEstimator`; free its weights with {@link HandPoseEstimator.dispose}.
 *
 * Per call: the image is letterboxed to the model's square input (`letterboxImage`: padded to a square
 * with black, box-averaged, bilinear-resized — the aspect ratio is kept), the network runs, and one
 * read (`await data()`) brings back 21 × (x, y, z) and the score; the keypoints are mapped back to the
 * image's pixels (`modelToImage`) and lifted to metres (`liftToMetres`).
 */
export class HandPoseEstimator {
  private disposed = false;

  constructor(
    /**
     * The network the estimator runs: for an estimator from `loadHandPoseEstimator` or `estimatorFromModel`,
     * the loaded model with its batch norms folded into the convolutions before them (`foldBatchNorm` of
     * `@phalanx/blocks`) — the same layer names otherwise, the same outputs, no batch norms after
     * convolutions (so no PyTorch `state_dict` to import into or export from it). Owned by the estimator:
     * {@link HandPoseEstimator.dispose} frees it.
     */
    readonly model: tfl.LayersModel,
    /** What is known about the model (depth encoding, training, held-out accuracy). */
    readonly card: ModelCard,
    private readonly head: PoseHead,
  ) {}

  /** Side S of the model's square input: every image is letterboxed to S × S. */
  get inputSize(): number {
    return this.head.inputSize;
  }

  /**
   * Estimates the pose of the one hand in `image`.
   *
   * **Input**: a `tf.Tensor3D [H, W, 3]`, RGB 0–255, int32 or float32, any size (not disposed by this
   * call), or in a browser an image, video, canvas, `ImageBitmap` or `ImageData`.
   * **Output**: `[{keypoints: 21 × {x, y, name}, keypoints3D: 21 × {x, y, z, name}, score}]` — one hand.
   *
   * Throws `PhalanxShapeError` (wrong rank, not 3 channels, empty image, pixel data of another size),
   * `PhalanxConfigError` (not an image, wrong dtype, disposed tensor, NaN or ±Infinity pixels, pixels below 0
   * or above 255 — read back with the keypoints, no extra transfer —, a `config`
   * that is not an object, has another key than `flipHorizontal` and `rotations`, a `flipHorizontal` that is not a
   * boolean, or `rotations` other than 1, 2 and 4) and
   * `PhalanxDisposedError` after {@link HandPoseEstimator.dispose}, and `PhalanxModelOutputError` when the model
   * gives NaN or ±Infinity keypoints or score for a valid image (broken weights; checked on the values read
   * back anyway).
   *
   * @example
   * ```ts
   * const estimator = await loadHandPoseEstimator('learnable-groups');
   * const [hand] = await estimator.estimateHands(tf.zeros([480, 640, 3], 'int32'));
   * hand.keypoints[8]; // {x, y, name: 'index_tip'} in the image's pixels
   * ```
   */
  async estimateHands(image: HandPoseInput, config: EstimationConfig = {}): Promise<Hand[]> {
    this.checkAlive('HandPoseEstimator.estimateHands');
    checkOptions('estimateHands', 'config', config, ESTIMATION_CONFIG_KEYS, 'an object {flipHorizontal?, rotations?}');
    if (config.flipHorizontal !== undefined)
      checkBoolean('estimateHands', 'config.flipHorizontal', config.flipHorizontal);
    const rotations = checkTestRotations(
      'estimateHands',
      'config.rotations',
      config.rotations === undefined ? 1 : config.rotations,
    );
    const { tensor, owned } = imageToTensor(image);
    const [height, width] = tensor.shape;
    const box = letterboxGeometry(height, width, this.head.inputSize);
    let packed: tf.Tensor1D;
    try {
      packed = tf.tidy(() => {
        const views = turnedViews(letterboxImage(tensor, box), rotations);
        const out = meanOverTurns(this.head.run(views), rotations, this.head.inputSize);
        // Whether every pixel is finite (int32 pixels always are), and the smallest and largest pixel value,
        // read with the keypoints.
        const finite = tensor.dtype === 'float32' ? tf.all(tf.isFinite(tensor)) : tf.scalar(true, 'bool');
        const range = tf.cast(tf.stack([tf.min(tensor), tf.max(tensor)]), 'float32') as tf.Tensor1D;
        return tf.concat([out, tf.reshape(tf.cast(finite, 'float32'), [1]), range]);
      });
    } finally {
      if (owned) tensor.dispose();
    }
    let values: Float32Array | Int32Array | Uint8Array;
    try {
      values = await packed.data();
    } finally {
      packed.dispose();
    }
    this.checkAlive('HandPoseEstimator.estimateHands');
    if (values[3 * NUM_JOINTS + 1] !== 1) {
      throw new PhalanxConfigError(
        'estimateHands',
        'image',
        'finite pixel values (RGB 0–255)',
        'NaN or ±Infinity values',
      );
    }
    const [low, high] = [values[3 * NUM_JOINTS + 2], values[3 * NUM_JOINTS + 3]];
    if (!(low >= 0 && high <= 255)) {
      // Keypoints of such an image are far outside it, or anywhere: e.g. an image of 0–1 floats scaled by 255 twice.
      throw new PhalanxConfigError(
        'estimateHands',
        'image',
        'pixel values in 0–255 (RGB)',
        `values from ${low} to ${high}`,
      );
    }
    checkModelOutput(values);
    const modelXY = Array.from({ length: NUM_JOINTS }, (_, j) => [values[3 * j], values[3 * j + 1]]);
    const z = Array.from({ length: NUM_JOINTS }, (_, j) => values[3 * j + 2]);
    let xy = modelToImage(modelXY, box);
    let xyz = liftToMetres(xy, z);
    if (config.flipHorizontal === true) {
      xy = xy.map(([x, y]) => [width - 1 - x, y]);
      xyz = xyz.map(([x, y, d]) => [-x, y, d]);
    }
    return [
      {
        keypoints: xy.map(([x, y], j) => ({ x, y, name: JOINT_NAMES[j] })),
        keypoints3D: xyz.map(([x, y, d], j) => ({ x, y, z: d, name: JOINT_NAMES[j] })),
        score: values[3 * NUM_JOINTS],
      },
    ];
  }

  /** Frees the model's weights and the estimator's tensors. Later calls throw `PhalanxDisposedError`. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.head.dispose();
    this.model.dispose();
  }

  private checkAlive(component: string): void {
    if (this.disposed) throw new PhalanxDisposedError(component);
  }
}

/**
 * A `PhalanxModelOutputError` unless the keypoints (21 × (x, y, depth)) and the score at the start of the values
 * read back are finite: a model with broken weights gives NaN there, which `modelToImage` and `liftToMetres`
 * would otherwise be blamed for.
 */
function checkModelOutput(values: ArrayLike<number>): void {
  for (let i = 0; i <= 3 * NUM_JOINTS; i++) {
    if (Number.isFinite(values[i])) continue;
    const output =
      i === 3 * NUM_JOINTS
        ? `score (${values[i]})`
        : `keypoints (${JOINT_NAMES[Math.floor(i / 3)]} ${['x', 'y', 'depth'][i % 3]}: ${values[i]})`;
    throw new PhalanxModelOutputError('estimateHands', output);
  }
}
