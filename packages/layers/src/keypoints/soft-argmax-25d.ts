/**
 * SoftArgmax25D — differentiable 2.5D keypoints from a per-joint volume (EHPE Eq. 2) or from a
 * heatmap plus a depth map per joint (Iqbal et al.'s latent 2.5D; the Learnable-Groups head).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayerArgs } from '@tensorflow/tfjs-layers/dist/engine/topology';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types';
import { checkBoolean, checkFinite, checkOneOf, checkPositiveFloat32, PhalanxShapeError } from '@phalanx/errors';
import { checkArgs, checkSize, checkTensor, type OwnArgsKeys } from '../util/checks';
import { checkInputCount, PhalanxLayer, shapeList, tensorList, tensorShapes } from '../util/phalanx-layer';
import { perWeightConverter, registerTorchConverter, reshapedRule, type TorchBuffer } from '../io/torch-converters';

const COMPONENT = 'SoftArgmax25D';

/**
 * The default of every optional argument of {@link SoftArgmax25DArgs}; the functional cores use the same
 * `beta`, `coordinates` and `returnProbabilities`. The single place these values are written.
 */
export const SOFT_ARGMAX_25D_DEFAULTS = Object.freeze({
  /** {@link SoftArgmax25DArgs.mode} */
  mode: 'volumetric',
  /** {@link SoftArgmax25DArgs.beta} */
  beta: 1,
  /** {@link SoftArgmax25DArgs.trainableBeta} */
  trainableBeta: false,
  /** {@link SoftArgmax25DArgs.coordinates} */
  coordinates: 'pixel',
  /** {@link SoftArgmax25DArgs.returnProbabilities} */
  returnProbabilities: false,
} as const);
const DEFAULTS = SOFT_ARGMAX_25D_DEFAULTS;

/** β checked as it is used: a finite number, then > 0 and a normal float32 (β = 0 is a uniform softmax). */
function checkBeta(component: string, beta: unknown): number {
  return checkPositiveFloat32(component, 'beta', checkFinite(component, 'beta', beta));
}

/** How the 2.5D keypoint is read out of the network's maps. */
export type SoftArgmax25DMode = 'volumetric' | 'latent';

/** Units of the returned x, y (and z in volumetric mode). */
export type KeypointCoordinates = 'pixel' | 'normalized';

/** Options shared by the functional soft-argmax cores; defaults in {@link SOFT_ARGMAX_25D_DEFAULTS}. */
export interface SoftArgmax25DOptions {
  /**
   * Inverse temperature β that multiplies the logits before the softmax: a number > 0 (a normal float32),
   * or a tensor `[J]` with one β per joint (used as given).
   */
  beta?: number | tf.Tensor;
  /**
   * `'pixel'`: x ∈ [0, W−1], y ∈ [0, H−1] with pixel centres at integer indices (align corners),
   * volumetric z ∈ [0, D−1] in depth-bin units. `'normalized'`: the same divided by W−1, H−1, D−1, so
   * each lies in [0, 1]; on a map one pixel wide (or high) that coordinate is 0, there being no W−1 to
   * divide by (the {@link SoftArgmax25D} layer refuses such maps in normalised mode).
   */
  coordinates?: KeypointCoordinates;
  /** Also compute the 2D probability maps `[B, H, W, J]`. */
  returnProbabilities?: boolean;
}

/** The options of a functional core with their defaults, checked. */
function resolveOptions(component: string, options: SoftArgmax25DOptions): Required<SoftArgmax25DOptions> {
  const {
    beta = DEFAULTS.beta,
    coordinates = DEFAULTS.coordinates,
    returnProbabilities = DEFAULTS.returnProbabilities,
  } = checkArgs(component, 'options', options);
  return {
    beta: beta instanceof tf.Tensor ? beta : checkBeta(component, beta),
    coordinates: checkOneOf(component, 'coordinates', coordinates, ['pixel', 'normalized'] as const),
    returnProbabilities: checkBoolean(component, 'returnProbabilities', returnProbabilities),
  };
}

/** What the functional soft-argmax cores return. */
export interface SoftArgmax25DResult {
  /** `[B, J, 3]`: (x, y, z) of every joint. */
  keypoints: tf.Tensor3D;
  /** `[B, H, W, J]`: the 2D probability map of every joint (only when asked for). */
  probabilities?: tf.Tensor4D;
}

/**
 * The coordinate grid of a flattened `[H, W, D]` volume: row `(h·W + w)·D + d` holds (w, h, d) — or
 * only (w, h) with `columns = 2` — divided by (W−1, H−1, D−1) in normalised mode. Built per call inside
 * the caller's tidy: it is small (H·W·D rows).
 */
function coordinateGrid(
  height: number,
  width: number,
  depth: number,
  coordinates: KeypointCoordinates,
  columns: 2 | 3,
): tf.Tensor2D {
  const shape = [height, width, depth];
  const axis = (n: number, dims: number[]): tf.Tensor =>
    tf.broadcastTo(tf.reshape(tf.range(0, n, 1, 'float32'), dims), shape);
  const parts = [axis(width, [1, width, 1]), axis(height, [height, 1, 1]), axis(depth, [1, 1, depth])].slice(
    0,
    columns,
  );
  let grid = tf.reshape(tf.stack(parts, 3), [height * width * depth, columns]);
  if (coordinates === 'normalized') {
    const scale = [width, height, depth].slice(0, columns).map((n) => 1 / Math.max(n - 1, 1));
    grid = tf.mul(grid, tf.tensor1d(scale));
  }
  return grid as tf.Tensor2D;
}

/**
 * Throws a `PhalanxShapeError` when a `[B, H, W, ·]` map has H = 0 or W = 0 (unknown sizes pass): a softmax
 * over no pixels has no expectation, it would be NaN.
 */
function checkSpatialSize(component: string, argument: string, shape: readonly (number | null)[]): void {
  if (shape[1] === 0 || shape[2] === 0) {
    throw new PhalanxShapeError(component, argument, 'a map of at least 1×1 pixels (H, W ≥ 1)', shape);
  }
}

/**
 * Multiplies logits `x [B, J, N]` (the softmax runs over N) by β: a number, or a tensor `[J]` (one β per
 * joint, used as given). A number β ≠ 1 multiplies `x − max_N x` instead of `x`: the same softmax (it is
 * unchanged by a shift of its row) with the same gradients, where `β·x` itself could overflow float32 for a
 * large accepted β and turn the softmax into NaN.
 */
function scaleByBeta(x: tf.Tensor, beta: number | tf.Tensor): tf.Tensor {
  if (typeof beta === 'number') return beta === 1 ? x : tf.mul(tf.sub(x, tf.max(x, -1, true)), beta);
  return tf.mul(x, tf.reshape(beta, [1, -1, 1]));
}

/**
 * `E = Σ p·(s_x·w, s_y·h, s_z·d) / Σ p` for probabilities `p [N, H·W·D]`, summed in two stages (over
 * W·D within each row h, then over H) and divided by the total mass computed the same way. A single
 * float32 reduction over H·W·D ≈ 3·10⁴ terms, as the wasm backend accumulates it, loses ~1e-4 of
 * relative precision (2e-3 px at 64×64×8 against PyTorch); the blocked sums and the renormalisation
 * keep it at the float32 level of the cpu backend.
 */
function blockedExpectation(p: tf.Tensor, height: number, width: number, depth: number, scale: number[]): tf.Tensor {
  const rows = p.shape[0];
  // Row grid over (w, d): columns (w, 1, d).
  const w = tf.broadcastTo(tf.reshape(tf.range(0, width, 1, 'float32'), [width, 1]), [width, depth]);
  const d = tf.broadcastTo(tf.reshape(tf.range(0, depth, 1, 'float32'), [1, depth]), [width, depth]);
  const rowGrid = tf.stack([tf.reshape(w, [-1]), tf.ones([width * depth]), tf.reshape(d, [-1])], 1); // [W·D, 3]
  const perRow = tf.reshape(tf.matMul(tf.reshape(p, [rows * height, width * depth]), rowGrid), [rows, height, 3]);
  const h = tf.reshape(tf.range(0, height, 1, 'float32'), [1, height, 1]);
  const rowWeights = tf.concat([tf.ones([1, height, 1]), h, tf.ones([1, height, 1])], 2); // (1, h, 1)
  const totals = tf.sum(tf.mul(perRow, rowWeights), 1); // [N, 3]: Σ w·p, Σ h·p, Σ d·p
  const mass = tf.sum(tf.slice(perRow, [0, 0, 1], [rows, height, 1]), 1); // [N, 1]
  return tf.mul(tf.div(totals, mass), tf.tensor1d(scale));
}

/**
 * `E = softmax(logits) · G` for logits `[N, H·W·D]` and the coordinate grid `G` of {@link coordinateGrid},
 * as one op with a fused analytic gradient. Because `G[(h,w,d)] = (s_x·w, s_y·h, s_z·d)`,
 *
 * `∂L/∂logits[n,h,w,d] = p[n,h,w,d] · (a_n·s_x·w + b_n·s_y·h + c_n·s_z·d − ⟨dy_n, E_n⟩)`, `(a, b, c) = dy_n`,
 *
 * which costs two broadcast passes over the volume instead of an `[N, 3] × [3, H·W·D]` product plus the
 * softmax backward (about 3× faster on wasm at B=32, 64×64, J=21, D=8).
 */
function volumeExpectation(
  height: number,
  width: number,
  depth: number,
  coordinates: KeypointCoordinates,
): (logits: tf.Tensor) => tf.Tensor {
  const [sx, sy, sz] =
    coordinates === 'normalized' ? [width, height, depth].map((n) => 1 / Math.max(n - 1, 1)) : [1, 1, 1];
  return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const logits = args[0] as tf.Tensor2D;
    const save = args[1] as tf.GradSaveFunc;
    const rows = logits.shape[0];
    const [p, expectation] = tf.tidy(() => {
      const prob = tf.softmax(logits); // stable: the kernels subtract the max
      return [prob, blockedExpectation(prob, height, width, depth, [sx, sy, sz])];
    });
    save([p, expectation]);
    return {
      value: expectation,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [prob, e] = saved;
        const [a, b, c] = tf.split(dy, 3, 1); // each [N, 1]
        const centred = tf.sum(tf.mul(dy, e), 1, true); // ⟨dy, E⟩, [N, 1]
        const along = (coef: tf.Tensor, scale: number, n: number, dims: number[]): tf.Tensor =>
          tf.mul(tf.reshape(tf.mul(coef, scale), [rows, 1, 1, 1]), tf.reshape(tf.range(0, n, 1, 'float32'), dims));
        const rowTerm = tf.sub(along(b, sy, height, [1, height, 1, 1]), tf.reshape(centred, [rows, 1, 1, 1]));
        const planeTerm = tf.add(rowTerm, along(a, sx, width, [1, 1, width, 1])); // [N, H, W, 1]
        const shift = tf.add(planeTerm, along(c, sz, depth, [1, 1, 1, depth])); // [N, H, W, D]
        return tf.mul(prob, tf.reshape(shift, prob.shape));
      },
    };
  });
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
 * **Shapes**: `volume [B, H, W, J·D]` with channel `j·D + d`, H, W ≥ 1 → `keypoints [B, J, 3]`;
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
  const { beta, coordinates, returnProbabilities } = resolveOptions('volumetricSoftArgmax25D', options);
  checkTensor('volumetricSoftArgmax25D', 'volume', volume);
  checkSize('volumetricSoftArgmax25D', 'numJoints', numJoints, 1);
  checkSize('volumetricSoftArgmax25D', 'depthBins', depthBins, 2);
  if (volume.rank !== 4 || volume.shape[3] !== numJoints * depthBins) {
    throw new PhalanxShapeError(
      'volumetricSoftArgmax25D',
      'volume',
      `a [B, H, W, numJoints·depthBins = ${numJoints * depthBins}] tensor`,
      volume.shape,
    );
  }
  checkSpatialSize('volumetricSoftArgmax25D', 'volume', volume.shape);
  return tf.tidy(() => {
    const [batch, height, width] = volume.shape;
    const cells = height * width * depthBins;
    // [B, H·W, J, D] → [B, J, H·W, D]: one transpose, then every reduction runs over the last axis.
    const perJoint = tf.transpose(
      tf.reshape(tf.cast(volume, 'float32'), [batch, height * width, numJoints, depthBins]),
      [0, 2, 1, 3],
    );
    const logits = scaleByBeta(tf.reshape(perJoint, [batch, numJoints, cells]), beta);
    const flat = tf.reshape(logits, [batch * numJoints, cells]);
    const expectation = volumeExpectation(height, width, depthBins, coordinates)(flat);
    const keypoints = tf.reshape(expectation, [batch, numJoints, 3]) as tf.Tensor3D;
    if (!returnProbabilities) return { keypoints };
    // The maps get their own (differentiable) softmax; only computed when asked for.
    const p = tf.reshape(tf.softmax(flat), [batch, numJoints, height * width, depthBins]);
    const pXY = tf.sum(p, 3); // [B, J, H·W]
    const probabilities = tf.transpose(tf.reshape(pXY, [batch, numJoints, height, width]), [0, 2, 3, 1]);
    return { keypoints, probabilities: probabilities as tf.Tensor4D };
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
 * **Shapes**: `heatmaps [B, H, W, J]`, `depthMaps [B, H, W, J]`, H, W ≥ 1 → `keypoints [B, J, 3]`;
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
  const { beta, coordinates, returnProbabilities } = resolveOptions('latentSoftArgmax25D', options);
  checkTensor('latentSoftArgmax25D', 'heatmaps', heatmaps);
  checkTensor('latentSoftArgmax25D', 'depthMaps', depthMaps);
  if (heatmaps.rank !== 4) {
    throw new PhalanxShapeError('latentSoftArgmax25D', 'heatmaps', 'a [B, H, W, J] tensor', heatmaps.shape);
  }
  checkSpatialSize('latentSoftArgmax25D', 'heatmaps', heatmaps.shape);
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
    const perJoint = (maps: tf.Tensor): tf.Tensor =>
      tf.transpose(tf.reshape(tf.cast(maps, 'float32'), [batch, hw, joints]), [0, 2, 1]);
    const p = tf.softmax(scaleByBeta(perJoint(heatmaps), beta)); // [B, J, H·W], stable
    const xy = tf.reshape(
      tf.matMul(tf.reshape(p, [batch * joints, hw]), coordinateGrid(height, width, 1, coordinates, 2)),
      [batch, joints, 2],
    );
    const z = tf.sum(tf.mul(p, perJoint(depthMaps)), 2, true); // [B, J, 1]
    const keypoints = tf.concat([xy, z], 2) as tf.Tensor3D;
    if (!returnProbabilities) return { keypoints };
    const probabilities = tf.transpose(tf.reshape(p, [batch, joints, height, width]), [0, 2, 3, 1]);
    return { keypoints, probabilities: probabilities as tf.Tensor4D };
  });
}

/**
 * Configuration of {@link SoftArgmax25D}. Optional fields default to {@link SOFT_ARGMAX_25D_DEFAULTS};
 * sizes are at most {@link MAX_SIZE}.
 */
export interface SoftArgmax25DArgs extends LayerArgs {
  /**
   * `'volumetric'`: one input `[B, H, W, J·D]`, a softmax over each joint's H×W×D volume (EHPE).
   * `'latent'`: two inputs `[heatmaps, depthMaps]`, each `[B, H, W, J]` (Iqbal et al.).
   */
  mode?: SoftArgmax25DMode;
  /** Number of joints J (an integer ≥ 1). Required. */
  numJoints: number;
  /** Number of depth bins D (volumetric mode: an integer ≥ 2, required; ignored in latent mode). */
  depthBins?: number;
  /**
   * Inverse temperature β multiplying the logits (the initial value when trainable): a number > 0 that is a
   * normal float32 (β = 0 would make every softmax uniform and return the grid's centre).
   */
  beta?: number;
  /**
   * When true, β is a trainable weight `beta [J]` — one scale per joint, initialised to `beta` (the
   * official Learnable-Groups `SoftHeatmap`'s grouped 1×1 convolution without bias).
   */
  trainableBeta?: boolean;
  /**
   * `'pixel'`: x ∈ [0, W−1], y ∈ [0, H−1] with pixel centres at integer indices, volumetric z ∈ [0, D−1].
   * `'normalized'`: divided by W−1, H−1, D−1.
   */
  coordinates?: KeypointCoordinates;
  /** Also output the 2D probability maps `[B, H, W, J]` (volumetric: summed over D). */
  returnProbabilities?: boolean;
}

/**
 * The keys of {@link SoftArgmax25DArgs} beyond tfjs's `LayerArgs`: the constructor accepts these, `getConfig()`
 * writes them.
 */
const ARGS_KEYS = {
  mode: true,
  numJoints: true,
  depthBins: true,
  beta: true,
  trainableBeta: true,
  coordinates: true,
  returnProbabilities: true,
} satisfies OwnArgsKeys<SoftArgmax25DArgs>;

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
export class SoftArgmax25D extends PhalanxLayer<SoftArgmax25DArgs> {
  /** Name under which the class is registered for serialisation. */
  static className = 'SoftArgmax25D';
  /** `'volumetric'` (one input `[B, H, W, J·D]`) or `'latent'` (inputs `[heatmaps, depthMaps]`). */
  readonly mode: SoftArgmax25DMode;
  /** Number of joints J. */
  readonly numJoints: number;
  /** Number of depth bins D (≥ 2); `undefined` in latent mode when not given. */
  readonly depthBins: number | undefined;
  /** Inverse temperature β of the softmax (with `trainableBeta`, the initial value of the weight `beta [J]`). */
  readonly beta: number;
  /** Whether β is a trainable per-joint weight `beta [J]`. */
  readonly trainableBeta: boolean;
  /** `'pixel'` (x ∈ [0, W−1], y ∈ [0, H−1], z ∈ [0, D−1]) or `'normalized'` (divided by W−1, H−1, D−1). */
  readonly coordinates: KeypointCoordinates;
  /** Whether the layer has a second output, the 2D probability maps `[B, H, W, J]`. */
  readonly returnProbabilities: boolean;
  private betaWeight: tfl.LayerVariable | null = null;

  constructor(args: SoftArgmax25DArgs) {
    super(args, ARGS_KEYS);
    this.mode = checkOneOf(COMPONENT, 'mode', args.mode ?? DEFAULTS.mode, ['volumetric', 'latent'] as const);
    this.numJoints = checkSize(COMPONENT, 'numJoints', args.numJoints, 1);
    if (this.mode === 'volumetric') {
      this.depthBins = checkSize(COMPONENT, 'depthBins', args.depthBins, 2);
    } else {
      this.depthBins = args.depthBins === undefined ? undefined : checkSize(COMPONENT, 'depthBins', args.depthBins, 2);
    }
    this.beta = checkBeta(COMPONENT, args.beta ?? DEFAULTS.beta);
    this.trainableBeta = checkBoolean(COMPONENT, 'trainableBeta', args.trainableBeta ?? DEFAULTS.trainableBeta);
    this.coordinates = checkOneOf(COMPONENT, 'coordinates', args.coordinates ?? DEFAULTS.coordinates, [
      'pixel',
      'normalized',
    ] as const);
    this.returnProbabilities = checkBoolean(
      COMPONENT,
      'returnProbabilities',
      args.returnProbabilities ?? DEFAULTS.returnProbabilities,
    );
  }

  /**
   * Checks the input shapes for `build`, `computeOutputShape` and `call`: one `[B, H, W, J·D]`
   * (volumetric) or two equal `[B, H, W, J]` (latent); returns them.
   */
  private checkShapes(shapes: tfl.Shape[]): tfl.Shape[] {
    const volumetric = this.mode === 'volumetric';
    checkInputCount(
      COMPONENT,
      shapes,
      [volumetric ? 1 : 2],
      volumetric
        ? 'one tensor [B, H, W, J·D] in volumetric mode'
        : 'a list [heatmaps, depthMaps] of two tensors in latent mode',
      `${shapes.length} input(s)`,
    );
    const J = this.numJoints;
    for (const [k, shape] of shapes.entries()) {
      const name = volumetric ? 'input' : k === 0 ? 'heatmaps' : 'depthMaps';
      const channels = volumetric ? J * (this.depthBins as number) : J;
      const what = volumetric ? `[B, H, W, numJoints·depthBins = ${channels}]` : `[B, H, W, numJoints = ${channels}]`;
      if (shape.length !== 4 || shape[3] !== channels) {
        throw new PhalanxShapeError(COMPONENT, `${name} shape`, what, shape);
      }
      const [, height, width] = shape;
      checkSpatialSize(COMPONENT, `${name} shape`, shape);
      if (this.coordinates === 'normalized' && ((height != null && height < 2) || (width != null && width < 2))) {
        throw new PhalanxShapeError(
          COMPONENT,
          `${name} shape`,
          'at least 2×2 pixels for normalized coordinates',
          shape,
        );
      }
    }
    if (!volumetric && !tf.util.arraysEqual(shapes[0] as number[], shapes[1] as number[])) {
      throw new PhalanxShapeError(
        COMPONENT,
        'depthMaps shape',
        `the heatmaps' shape ${JSON.stringify(shapes[0])}`,
        shapes[1],
      );
    }
    return shapes;
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    this.checkShapes(shapeList(inputShape));
    if (this.trainableBeta) {
      const initializer = tfl.initializers.constant({ value: this.beta });
      this.betaWeight = this.addWeight('beta', [this.numJoints], 'float32', initializer, undefined, true);
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    const [first] = this.checkShapes(shapeList(inputShape));
    const keypoints: tfl.Shape = [first[0], this.numJoints, 3];
    if (!this.returnProbabilities) return keypoints;
    return [keypoints, [first[0], first[1], first[2], this.numJoints]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    void kwargs;
    return tf.tidy(() => {
      this.checkShapes(tensorShapes(inputs));
      const list = tensorList(inputs);
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

/** The heatmap side `[H, W]` of a built latent layer (its first input `[B, H, W, J]`), or `null`. */
function heatmapSize(layer: tfl.layers.Layer): [number, number] | null {
  const node = (layer as unknown as { inboundNodes: { inputShapes: tfl.Shape | tfl.Shape[] }[] }).inboundNodes[0];
  if (node === undefined) return null; // not applied to a symbolic input yet
  const shape = node.inputShapes;
  const first = (Array.isArray(shape[0]) ? shape[0] : shape) as tfl.Shape;
  return first[1] != null && first[2] != null ? [first[1], first[2]] : null;
}

/**
 * The pixel grid of the official `SoftHeatmap`: `wx[i][k] = k`, `wy[i][k] = i` (`[H, W]`, float32), a
 * PyTorch buffer that this layer computes instead of storing.
 */
function pixelGrid(axis: 'wx' | 'wy', size: [number, number] | null): TorchBuffer {
  return {
    name: axis,
    value: () => {
      const [h, w] = size ?? [0, 0];
      return tf.tidy(() =>
        axis === 'wx'
          ? tf.tile(tf.reshape(tf.range(0, w, 1, 'float32'), [1, w]), [h, 1])
          : tf.tile(tf.reshape(tf.range(0, h, 1, 'float32'), [h, 1]), [1, w]),
      );
    },
    check: (grid) => {
      const [h, w] = grid.shape;
      if (grid.rank !== 2 || (size !== null && (h !== size[0] || w !== size[1]))) {
        return {
          expected: `the pixel grid of shape [${size ?? 'H, W'}]`,
          received: `shape [${grid.shape.join(', ')}]`,
        };
      }
      // eslint-disable-next-line no-restricted-syntax -- a one-off check of an imported buffer, not a forward pass
      const values = grid.dataSync();
      for (let i = 0; i < h; i++) {
        for (let k = 0; k < w; k++) {
          if (values[i * w + k] !== (axis === 'wx' ? k : i)) {
            return { expected: 'the pixel grid arange(0, size)', received: `${values[i * w + k]} at [${i}, ${k}]` };
          }
        }
      }
      return null;
    },
  };
}

// The official SoftHeatmap: β is a grouped 1×1 conv `beta.weight [J, 1, 1, 1]`; its `wx` / `wy` buffers
// are the pixel grid this layer computes (checked on import, written on export).
const softHeatmapWeights = perWeightConverter({ beta: reshapedRule('beta.weight', ([j]) => [j, 1, 1, 1]) });
registerTorchConverter(SoftArgmax25D, {
  ...softHeatmapWeights,
  buffers: (layer) => {
    if ((layer as SoftArgmax25D).mode !== 'latent' || layer.weights.length === 0) return [];
    const size = heatmapSize(layer);
    return [pixelGrid('wx', size), pixelGrid('wy', size)];
  },
});

/**
 * Creates a {@link SoftArgmax25D} layer.
 *
 * @example
 * const heatmaps = tf.randomNormal([2, 64, 64, 21]);
 * const depthMaps = tf.randomNormal([2, 64, 64, 21]);
 * const head = softArgmax25D({ mode: 'latent', numJoints: 21, trainableBeta: true });
 * const keypoints = head.apply([heatmaps, depthMaps]) as tf.Tensor; // [2, 21, 3]
 */
export function softArgmax25D(args: SoftArgmax25DArgs): SoftArgmax25D {
  return new SoftArgmax25D(args);
}
