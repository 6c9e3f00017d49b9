/**
 * SoftArgmax25D — differentiable 2.5D keypoints from a per-joint volume (EHPE Eq. 2) or from a
 * heatmap plus a depth map per joint (Iqbal et al.'s latent 2.5D; the Learnable-Groups head).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayerArgs } from '@tensorflow/tfjs-layers/dist/engine/topology';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types';
import {
  checkBoolean,
  checkFinite,
  checkInteger,
  checkOneOf,
  PhalanxConfigError,
  PhalanxShapeError,
} from '../errors';

const COMPONENT = 'SoftArgmax25D';

/** How the 2.5D keypoint is read out of the network's maps. */
export type SoftArgmax25DMode = 'volumetric' | 'latent';

/** Units of the returned x, y (and z in volumetric mode). */
export type KeypointCoordinates = 'pixel' | 'normalized';

/** Options shared by the functional soft-argmax cores. */
export interface SoftArgmax25DOptions {
  /**
   * Inverse temperature β that multiplies the logits before the softmax: a number, or a tensor `[J]`
   * with one β per joint. Default 1.
   */
  beta?: number | tf.Tensor;
  /**
   * `'pixel'` (default): x ∈ [0, W−1], y ∈ [0, H−1] with pixel centres at integer indices (align
   * corners), volumetric z ∈ [0, D−1] in depth-bin units. `'normalized'`: the same divided by W−1, H−1,
   * D−1, so each lies in [0, 1].
   */
  coordinates?: KeypointCoordinates;
  /** Also compute the 2D probability maps `[B, H, W, J]`. Default false. */
  returnProbabilities?: boolean;
}

/** What the functional soft-argmax cores return. */
export interface SoftArgmax25DResult {
  /** `[B, J, 3]`: (x, y, z) of every joint. */
  keypoints: tf.Tensor3D;
  /** `[B, H, W, J]`: the 2D probability map of every joint (only when asked for). */
  probabilities?: tf.Tensor4D;
}

/**
 * Softmax of `x` over several axes at once, stabilised by subtracting the maximum over those axes.
 * The gradient is the analytic one, `p ⊙ (dy − Σ p ⊙ dy)`, so no gradient flows through the max.
 */
function softmaxOverAxes(x: tf.Tensor, axes: number[]): tf.Tensor {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const logits = args[0] as tf.Tensor;
    const save = args[1] as tf.GradSaveFunc;
    const p = tf.tidy(() => {
      const shifted = tf.sub(logits, tf.max(logits, axes, true));
      const e = tf.exp(shifted);
      return tf.div(e, tf.sum(e, axes, true));
    });
    save([p]);
    return {
      value: p,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [prob] = saved;
        return tf.mul(prob, tf.sub(dy, tf.sum(tf.mul(prob, dy), axes, true)));
      },
    };
  });
  return op(x);
}

/**
 * The transposed pixel grid `[2, H·W]`: row 0 holds the x (column) of every flattened position
 * `h·W + w`, row 1 its y (row), divided by W−1 and H−1 in normalised mode.
 */
function pixelGridT(height: number, width: number, coordinates: KeypointCoordinates): tf.Tensor2D {
  return tf.tidy(() => {
    const xs = tf.tile(tf.range(0, width, 1, 'float32'), [height]);
    const ys = tf.reshape(tf.tile(tf.reshape(tf.range(0, height, 1, 'float32'), [height, 1]), [1, width]), [-1]);
    const grid = tf.stack([xs, ys]) as tf.Tensor2D;
    if (coordinates === 'pixel') return grid;
    return tf.div(grid, tf.tensor2d([Math.max(width - 1, 1), Math.max(height - 1, 1)], [2, 1])) as tf.Tensor2D;
  });
}

/** Scales logits `[B, …, J]` or `[B, …, J, D]` by β (a number or `[J]`); `jointAxisFromEnd` locates J. */
function scaleByBeta(x: tf.Tensor, beta: number | tf.Tensor, jointAxisFromEnd: 1 | 2): tf.Tensor {
  if (typeof beta === 'number') return beta === 1 ? x : tf.mul(x, beta);
  const shape = jointAxisFromEnd === 1 ? [-1] : [-1, 1];
  return tf.mul(x, tf.reshape(beta, shape));
}

/** Expectation of the pixel grid under `p [B, H·W, J]`: returns `[B, J, 2]` = (E[x], E[y]). */
function expectedXY(p: tf.Tensor3D, height: number, width: number, coordinates: KeypointCoordinates): tf.Tensor3D {
  const batch = p.shape[0];
  const gridT = pixelGridT(height, width, coordinates);
  // [B, 2, H·W] × [B, H·W, J] → [B, 2, J]; the constant grid is broadcast, never differentiated.
  const xy = tf.matMul(tf.broadcastTo(gridT, [batch, 2, height * width]), p);
  return tf.transpose(xy, [0, 2, 1]) as tf.Tensor3D;
}

/**
 * Volumetric 2.5D soft-argmax (EHPE Eq. 2). For every joint j the logits `V_j [H, W, D]` become one
 * distribution over the whole volume, `p_j = softmax(β·V_j)` (stabilised by subtracting the maximum),
 * and the keypoint is its expectation:
 *
 * `(x_j, y_j, z_j) = Σ_{h,w,d} p_j[h,w,d] · (w, h, d)`
 *
 * in pixel / depth-bin units (`coordinates: 'pixel'`), or divided by (W−1, H−1, D−1) (`'normalized'`).
 * With β = 1 this equals the official EHPE release's form, which takes a soft-argmax of the
 * logsumexp marginals (`softmax(logsumexp_d V)` over H×W for x, y; `softmax(logsumexp_{h,w} V)` over D
 * for z): the marginals of a joint softmax are exactly those softmaxes. With β ≠ 1 the two differ
 * (the release scales the marginal logits, here the volume is scaled).
 *
 * **Shapes**: `volume [B, H, W, J·D]` with channel `j·D + d` → `keypoints [B, J, 3]`;
 * `probabilities [B, H, W, J]` (the volume's distribution summed over D) when asked for.
 *
 * @example
 * const volume = tf.randomNormal([2, 16, 16, 21 * 8]);
 * const { keypoints } = volumetricSoftArgmax25D(volume, 21, 8); // [2, 21, 3]
 */
export function volumetricSoftArgmax25D(
  volume: tf.Tensor,
  numJoints: number,
  depthBins: number,
  options: SoftArgmax25DOptions = {},
): SoftArgmax25DResult {
  const { beta = 1, coordinates = 'pixel', returnProbabilities = false } = options;
  if (volume.rank !== 4 || volume.shape[3] !== numJoints * depthBins) {
    throw new PhalanxShapeError(
      'volumetricSoftArgmax25D',
      'volume',
      `a [B, H, W, numJoints·depthBins = ${numJoints * depthBins}] tensor`,
      volume.shape,
    );
  }
  return tf.tidy(() => {
    const [batch, height, width] = volume.shape;
    const hw = height * width;
    // [B, H·W, J, D]: no transpose of the (large) volume is needed.
    const v = scaleByBeta(tf.reshape(volume, [batch, hw, numJoints, depthBins]), beta, 2);
    const p = softmaxOverAxes(v, [1, 3]);
    const pXY = tf.sum(p, 3) as tf.Tensor3D; // [B, H·W, J]
    const pD = tf.sum(p, 1) as tf.Tensor3D; // [B, J, D]
    const xy = expectedXY(pXY, height, width, coordinates);
    let bins = tf.range(0, depthBins, 1, 'float32');
    if (coordinates === 'normalized') bins = tf.div(bins, depthBins - 1);
    const z = tf.sum(tf.mul(pD, bins), 2, true);
    const keypoints = tf.concat([xy, z], 2) as tf.Tensor3D;
    if (!returnProbabilities) return { keypoints };
    return { keypoints, probabilities: tf.reshape(pXY, [batch, height, width, numJoints]) as tf.Tensor4D };
  });
}

/**
 * Latent 2.5D soft-argmax (Iqbal et al.; the Learnable-Groups `SoftHeatmap` head). For every joint j,
 * `p_j = softmax(β_j · h_j)` over the H×W map (stabilised by subtracting the maximum), and
 *
 * `x_j = Σ p_j · w`, `y_j = Σ p_j · h`, `z_j = Σ p_j · depth_j`
 *
 * with x, y in pixels (or divided by W−1, H−1 when `coordinates: 'normalized'`); z is in the depth
 * map's own units.
 *
 * **Shapes**: `heatmaps [B, H, W, J]`, `depthMaps [B, H, W, J]` → `keypoints [B, J, 3]`;
 * `probabilities [B, H, W, J]` when asked for.
 *
 * @example
 * const heatmaps = tf.randomNormal([2, 32, 32, 21]);
 * const depthMaps = tf.randomNormal([2, 32, 32, 21]);
 * const { keypoints } = latentSoftArgmax25D(heatmaps, depthMaps); // [2, 21, 3]
 */
export function latentSoftArgmax25D(
  heatmaps: tf.Tensor,
  depthMaps: tf.Tensor,
  options: SoftArgmax25DOptions = {},
): SoftArgmax25DResult {
  const { beta = 1, coordinates = 'pixel', returnProbabilities = false } = options;
  if (heatmaps.rank !== 4) {
    throw new PhalanxShapeError('latentSoftArgmax25D', 'heatmaps', 'a [B, H, W, J] tensor', heatmaps.shape);
  }
  if (!tf.util.arraysEqual(heatmaps.shape, depthMaps.shape)) {
    throw new PhalanxShapeError(
      'latentSoftArgmax25D',
      'depthMaps',
      `the heatmaps' shape [${heatmaps.shape.join(', ')}]`,
      depthMaps.shape,
    );
  }
  return tf.tidy(() => {
    const [batch, height, width, joints] = heatmaps.shape;
    const hw = height * width;
    const h = scaleByBeta(tf.reshape(heatmaps, [batch, hw, joints]), beta, 1);
    const p = softmaxOverAxes(h, [1]) as tf.Tensor3D; // [B, H·W, J]
    const xy = expectedXY(p, height, width, coordinates);
    const z = tf.expandDims(tf.sum(tf.mul(p, tf.reshape(depthMaps, [batch, hw, joints])), 1), 2);
    const keypoints = tf.concat([xy, z], 2) as tf.Tensor3D;
    if (!returnProbabilities) return { keypoints };
    return { keypoints, probabilities: tf.reshape(p, [batch, height, width, joints]) as tf.Tensor4D };
  });
}

/** Configuration of {@link SoftArgmax25D}. */
export interface SoftArgmax25DArgs extends LayerArgs {
  /**
   * `'volumetric'` (default): one input `[B, H, W, J·D]`, a softmax over each joint's H×W×D volume
   * (EHPE). `'latent'`: two inputs `[heatmaps, depthMaps]`, each `[B, H, W, J]` (Iqbal et al.).
   */
  mode?: SoftArgmax25DMode;
  /** Number of joints J (an integer ≥ 1). Required. */
  numJoints: number;
  /** Number of depth bins D (volumetric mode: an integer ≥ 2, required; ignored in latent mode). */
  depthBins?: number;
  /** Inverse temperature β multiplying the logits (a finite number; the initial value when trainable). Default 1. */
  beta?: number;
  /**
   * When true, β is a trainable weight `beta [J]` — one scale per joint, initialised to `beta` (the
   * official Learnable-Groups `SoftHeatmap`'s grouped 1×1 convolution without bias). Default false.
   */
  trainableBeta?: boolean;
  /**
   * `'pixel'` (default): x ∈ [0, W−1], y ∈ [0, H−1] with pixel centres at integer indices, volumetric z
   * ∈ [0, D−1]. `'normalized'`: divided by W−1, H−1, D−1.
   */
  coordinates?: KeypointCoordinates;
  /** Also output the 2D probability maps `[B, H, W, J]` (volumetric: summed over D). Default false. */
  returnProbabilities?: boolean;
}

/**
 * Differentiable 2.5D keypoints: a spatial softmax followed by the expectation of the coordinates.
 *
 * - `'volumetric'` (EHPE Eq. 2): `p_j = softmax(β·V_j)` over the H×W×D volume of joint j,
 *   `(x, y, z)_j = Σ p_j · (w, h, d)`. With β = 1 this equals EHPE's logsumexp-marginal form.
 * - `'latent'` (Iqbal et al.): `p_j = softmax(β_j·h_j)` over H×W, `(x, y)_j = Σ p_j · (w, h)`,
 *   `z_j = Σ p_j · depth_j`.
 *
 * Weights (only with `trainableBeta`): `beta [J]`.
 *
 * **Shapes**: volumetric input `[B, H, W, J·D]` (channel `j·D + d`); latent inputs
 * `[heatmaps [B, H, W, J], depthMaps [B, H, W, J]]`. Output `[B, J, 3]`, plus `[B, H, W, J]`
 * probabilities with `returnProbabilities`.
 *
 * @example
 * const layer = softArgmax25D({ mode: 'volumetric', numJoints: 21, depthBins: 8 });
 * const keypoints = layer.apply(tf.randomNormal([2, 64, 64, 21 * 8])) as tf.Tensor; // [2, 21, 3]
 */
export class SoftArgmax25D extends tfl.layers.Layer {
  static className = 'SoftArgmax25D';
  readonly mode: SoftArgmax25DMode;
  readonly numJoints: number;
  readonly depthBins: number | undefined;
  readonly beta: number;
  readonly trainableBeta: boolean;
  readonly coordinates: KeypointCoordinates;
  readonly returnProbabilities: boolean;
  private betaWeight: tfl.LayerVariable | null = null;

  constructor(args: SoftArgmax25DArgs) {
    super(args);
    if (args === undefined || args === null) {
      throw new PhalanxConfigError(COMPONENT, 'args', 'an object with at least numJoints', args);
    }
    this.mode = checkOneOf(COMPONENT, 'mode', args.mode ?? 'volumetric', ['volumetric', 'latent'] as const);
    this.numJoints = checkInteger(COMPONENT, 'numJoints', args.numJoints, 1);
    if (this.mode === 'volumetric') {
      this.depthBins = checkInteger(COMPONENT, 'depthBins', args.depthBins, 2);
    } else {
      this.depthBins = args.depthBins === undefined ? undefined : checkInteger(COMPONENT, 'depthBins', args.depthBins, 2);
    }
    this.beta = checkFinite(COMPONENT, 'beta', args.beta ?? 1);
    this.trainableBeta = checkBoolean(COMPONENT, 'trainableBeta', args.trainableBeta ?? false);
    this.coordinates = checkOneOf(COMPONENT, 'coordinates', args.coordinates ?? 'pixel', ['pixel', 'normalized'] as const);
    this.returnProbabilities = checkBoolean(COMPONENT, 'returnProbabilities', args.returnProbabilities ?? false);
  }

  private inputShapes(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape[] {
    const isList = Array.isArray(inputShape[0]) || inputShape.length === 0;
    const shapes = isList ? (inputShape as tfl.Shape[]) : [inputShape as tfl.Shape];
    const expectedCount = this.mode === 'volumetric' ? 1 : 2;
    if (shapes.length !== expectedCount) {
      throw new PhalanxShapeError(
        COMPONENT,
        'inputs',
        this.mode === 'volumetric'
          ? 'one tensor [B, H, W, J·D] in volumetric mode'
          : 'a list [heatmaps, depthMaps] of two tensors in latent mode',
        `${shapes.length} input(s)`,
      );
    }
    return shapes;
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shapes = this.inputShapes(inputShape);
    const J = this.numJoints;
    for (const [k, shape] of shapes.entries()) {
      const name = this.mode === 'volumetric' ? 'input' : k === 0 ? 'heatmaps' : 'depthMaps';
      const channels = this.mode === 'volumetric' ? J * (this.depthBins as number) : J;
      const what =
        this.mode === 'volumetric'
          ? `[B, H, W, numJoints·depthBins = ${channels}]`
          : `[B, H, W, numJoints = ${channels}]`;
      if (shape.length !== 4 || shape[3] !== channels) {
        throw new PhalanxShapeError(COMPONENT, `${name} shape`, what, shape);
      }
      const [, height, width] = shape;
      if (this.coordinates === 'normalized' && ((height != null && height < 2) || (width != null && width < 2))) {
        throw new PhalanxShapeError(COMPONENT, `${name} shape`, 'at least 2×2 pixels for normalized coordinates', shape);
      }
    }
    if (this.mode === 'latent' && !tf.util.arraysEqual(shapes[0] as number[], shapes[1] as number[])) {
      throw new PhalanxShapeError(COMPONENT, 'depthMaps shape', `the heatmaps' shape ${JSON.stringify(shapes[0])}`, shapes[1]);
    }
    if (this.trainableBeta) {
      this.betaWeight = this.addWeight('beta', [J], 'float32', tfl.initializers.constant({ value: this.beta }), undefined, true);
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    const [first] = this.inputShapes(inputShape);
    const keypoints: tfl.Shape = [first[0], this.numJoints, 3];
    if (!this.returnProbabilities) return keypoints;
    return [keypoints, [first[0], first[1], first[2], this.numJoints]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    void kwargs;
    return tf.tidy(() => {
      const list = Array.isArray(inputs) ? inputs : [inputs];
      const options: SoftArgmax25DOptions = {
        beta: this.betaWeight !== null ? this.betaWeight.read() : this.beta,
        coordinates: this.coordinates,
        returnProbabilities: this.returnProbabilities,
      };
      const result =
        this.mode === 'volumetric'
          ? volumetricSoftArgmax25D(list[0], this.numJoints, this.depthBins as number, options)
          : latentSoftArgmax25D(list[0], list[1], options);
      return result.probabilities !== undefined ? [result.keypoints, result.probabilities] : result.keypoints;
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    const config: tf.serialization.ConfigDict = {
      mode: this.mode,
      numJoints: this.numJoints,
      beta: this.beta,
      trainableBeta: this.trainableBeta,
      coordinates: this.coordinates,
      returnProbabilities: this.returnProbabilities,
    };
    if (this.depthBins !== undefined) config.depthBins = this.depthBins;
    return { ...config, ...super.getConfig() };
  }
}
tf.serialization.registerClass(SoftArgmax25D);

/**
 * Creates a {@link SoftArgmax25D} layer.
 *
 * @example
 * const head = softArgmax25D({ mode: 'latent', numJoints: 21, trainableBeta: true });
 * const keypoints = head.apply([heatmaps, depthMaps]) as tf.Tensor; // [B, 21, 3]
 */
export function softArgmax25D(args: SoftArgmax25DArgs): SoftArgmax25D {
  return new SoftArgmax25D(args);
}
