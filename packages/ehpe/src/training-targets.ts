/**
 * Training targets of the two EHPE stages, in the units of the model's outputs: the TW-stage's
 * Gaussian heatmaps and 2.5D coordinates (x, y in heatmap pixels, z in depth bins), the PG-stage's 21
 * joints (x, y in input pixels, z in depth bins, the units of the initial layout it refines), and the
 * way back from 2.5D to millimetres for evaluation.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  checkFinite,
  checkInteger,
  checkOptions,
  checkOptionsObject,
  checkPositive,
  checkPositiveFloat32,
  PhalanxConfigError,
  PhalanxShapeError,
} from '@phalanx/errors';
import { gaussianHeatmaps, uvdToXyz } from '@phalanx/pose';
import { TIP_AND_WRIST_JOINTS } from '@phalanx/skeleton';
import { checkJointList } from './init21';
import { checkTensorShape } from './tensor-checks';

/** The keypoint fields of a batch that the targets need (a `HandBatch` of `@phalanx/data` has them). */
export interface EhpeKeypoints {
  /** `[B, 21, 2]` joint pixel coordinates (x, y) in the input image, pixel centres at integers. */
  uv: tf.Tensor;
  /** `[B, 21, 3]` camera-frame joint positions (mm for the synthetic hands). */
  xyz: tf.Tensor;
}

/**
 * How relative depth becomes depth bins (the release's `z_mm_to_zbin`, `utils/geometry.py`): the depth
 * relative to the root joint, clamped to `±depthRange/2`, mapped linearly onto `[0, depthBins − 1]`:
 * `z_bin = (clamp(z − z_root, −R/2, R/2) / R + 1/2) · (D − 1)`.
 */
export interface DepthBinning {
  /** Depth bins D of the TW-stage volume (the model's `depthBins`). Integer ≥ 2; default 8. */
  depthBins?: number;
  /**
   * Relative depth range R covered by the bins, in the unit of `xyz` (mm), a positive normal float32.
   * Default 200 (the release's `rel_depth_range_mm`).
   */
  depthRange?: number;
  /** Root joint whose depth is bin (D − 1)/2. Default 0 (the wrist, the release's `use_wrist_as_root`). */
  rootJoint?: number;
}

/** The keys of {@link DepthBinning}: any other key of `depthToBins`'s options is a named error. */
const DEPTH_BINNING_KEYS = { depthBins: true, depthRange: true, rootJoint: true } satisfies Record<
  keyof DepthBinning,
  true
>;

function resolveBinning(component: string, o: DepthBinning = {}) {
  checkOptionsObject(component, 'options', o, 'an options object');
  return {
    depthBins: checkInteger(component, 'depthBins', o.depthBins ?? 8, 2),
    // A float32 range: one below the normal floats made R/2 and R zero on the device, and the bins NaN.
    depthRange: checkPositiveFloat32(component, 'depthRange', o.depthRange ?? 200),
    rootJoint: checkInteger(component, 'rootJoint', o.rootJoint ?? 0, 0),
  };
}

/**
 * Checks a batch's keypoints before anything is computed: `uv [B, J, 2]`, `xyz [B, J, 3]` (the same B and
 * J), and every joint the targets read (`joints`, then `rootJoint`) a joint of them.
 */
function checkKeypoints(component: string, k: EhpeKeypoints, joints: readonly number[], rootJoint: number): void {
  const uv = checkTensorShape(component, 'uv', k?.uv, 'a tensor [B, J, 2]', (s) => s.length === 3 && s[2] === 2);
  const [B, J] = uv.shape;
  checkTensorShape(component, 'xyz', k.xyz, `a tensor [${B}, ${J}, 3] (the batch and joints of uv)`, (s) => {
    return s.length === 3 && s[0] === B && s[1] === J && s[2] === 3;
  });
  if (joints.some((j) => j >= J)) {
    throw new PhalanxConfigError(component, 'tipWristJoints', `joints of uv (indices < ${J})`, [...joints]);
  }
  if (rootJoint >= J) {
    throw new PhalanxConfigError(component, 'rootJoint', `a joint of xyz (an integer < ${J})`, rootJoint);
  }
}

/**
 * Relative depth → depth bins ({@link DepthBinning}).
 *
 * **Shapes**: `xyz [B, J, 3]` → `[B, J]` (bins, in `[0, D − 1]`).
 *
 * Throws `PhalanxShapeError` for `xyz` that is not a `[B, J, 3]` tensor, and `PhalanxConfigError` for options
 * that are not an object of {@link DepthBinning}'s keys or values, and a `rootJoint` ≥ J.
 *
 * @example
 * const batch = { xyz: tf.tensor3d([Array.from({ length: 21 }, (_, j) => [0, 0, 500 + (j === 0 ? 0 : 10)])]) };
 * depthToBins(batch.xyz, { depthBins: 8, depthRange: 200 }); // the root at 3.5
 */
export function depthToBins(xyz: tf.Tensor, options: DepthBinning = {}): tf.Tensor2D {
  checkOptions('depthToBins', 'options', options, DEPTH_BINNING_KEYS, 'an options object');
  const { depthBins, depthRange, rootJoint } = resolveBinning('depthToBins', options);
  if (!(xyz instanceof tf.Tensor) || xyz.rank !== 3 || xyz.shape[2] !== 3) {
    throw new PhalanxShapeError('depthToBins', 'xyz', 'a tensor [B, J, 3]', xyz instanceof tf.Tensor ? xyz.shape : xyz);
  }
  const joints = xyz.shape[1] as number;
  if (rootJoint >= joints) {
    throw new PhalanxConfigError('depthToBins', 'rootJoint', `a joint of xyz (an integer < ${joints})`, rootJoint);
  }
  return tf.tidy(() => {
    const z = tf.squeeze(tf.slice(xyz, [0, 0, 2], [-1, -1, 1]), [2]);
    const root = tf.slice(z, [0, rootJoint], [-1, 1]);
    const rel = tf.clipByValue(tf.sub(z, root), -depthRange / 2, depthRange / 2);
    return tf.mul(tf.add(tf.div(rel, depthRange), 0.5), depthBins - 1) as tf.Tensor2D;
  });
}

/** Options of {@link twStageTargets}. */
export interface TwStageTargetOptions extends DepthBinning {
  /** The joints the TW-stage predicts (the model's `tipWristJoints`). Default `[0, 4, 8, 12, 16, 20]`. */
  tipWristJoints?: number[];
  /** Input image side S_in in pixels. Required. */
  inputSize: number;
  /** Heatmap side S_hm in pixels (the model's `heatmapSize`). Required. */
  heatmapSize: number;
  /** σ of the Gaussian heatmaps in heatmap pixels. Default 2 (the release's `heatmap_sigma`). */
  sigma?: number;
  /**
   * Scale of the Gaussian heatmaps: `'gaussian'` (default) — the normalised density of EHPE Eq. 1, peak
   * 1/(2πσ²) ≈ 0.04 for σ = 2; `'peak'` — peak 1 (the usual pose-estimation target; 2πσ² ≈ 25× larger).
   */
  heatmapNormalize?: 'gaussian' | 'peak';
}

/** The keys of {@link TwStageTargetOptions}. */
const TW_STAGE_TARGET_KEYS = {
  ...DEPTH_BINNING_KEYS,
  tipWristJoints: true,
  inputSize: true,
  heatmapSize: true,
  sigma: true,
  heatmapNormalize: true,
} satisfies Record<keyof TwStageTargetOptions, true>;

function checkNormalize(component: string, value: unknown): 'gaussian' | 'peak' {
  if (value !== 'gaussian' && value !== 'peak') {
    throw new PhalanxConfigError(
      component,
      'heatmapNormalize',
      "'gaussian' or 'peak' (how to normalize the Gaussians)",
      value,
    );
  }
  return value;
}

/**
 * Fills in the defaults of {@link TwStageTargetOptions} and validates every option with a named error
 * (errors name `twStageTargets`), without computing anything — what {@link twStageTargets} and the
 * TW-stage recipe check before they run.
 *
 * @example
 * resolveTwStageTargetOptions({ inputSize: 256, heatmapSize: 64 }).sigma; // 2
 */
export function resolveTwStageTargetOptions(options: TwStageTargetOptions): {
  /** The joints the TW-stage predicts. */
  joints: number[];
  /** Input side in pixels. */
  inputSize: number;
  /** Heatmap side in pixels. */
  heatmapSize: number;
  /** σ of the heatmaps (heatmap pixels). */
  sigma: number;
  /** Scale of the heatmaps. */
  heatmapNormalize: 'gaussian' | 'peak';
  /** Depth binning with its defaults. */
  binning: Required<DepthBinning>;
} {
  const name = 'twStageTargets';
  checkOptions(name, 'options', options, TW_STAGE_TARGET_KEYS, '{inputSize, heatmapSize, …}');
  return {
    joints: checkJointList(name, 'tipWristJoints', options.tipWristJoints ?? [...TIP_AND_WRIST_JOINTS]),
    inputSize: checkInteger(name, 'inputSize', options.inputSize, 2),
    heatmapSize: checkInteger(name, 'heatmapSize', options.heatmapSize, 2),
    sigma: checkPositive(name, 'sigma', options.sigma ?? 2),
    heatmapNormalize: checkNormalize(name, options.heatmapNormalize ?? 'gaussian'),
    binning: resolveBinning(name, options),
  };
}

/** The TW-stage targets: what {@link twStageLoss} compares the stage's outputs with. */
export interface TwStageTargets {
  /** `[B, S_hm, S_hm, n]` Gaussian heatmaps (EHPE Eq. 1, normalised density), one per predicted joint. */
  heatmaps: tf.Tensor4D;
  /** `[B, n, 3]`: x, y in heatmap pixels, z in depth bins — the model's `coords25d` convention. */
  coords25d: tf.Tensor3D;
}

/**
 * Targets of the TW-stage for the joints `tipWristJoints`: x, y scaled from input to heatmap pixels
 * with the align-corners map `x_hm = x_in · (S_hm − 1)/(S_in − 1)` (the inverse of `createEhpe`'s
 * `xyScale`), z in depth bins ({@link depthToBins}), and Gaussian heatmaps centred on x, y (EHPE Eq. 1,
 * `gaussianHeatmaps` of `@phalanx/pose`, σ = 2 by default).
 *
 * **Shapes**: `uv [B, 21, 2]`, `xyz [B, 21, 3]` → `heatmaps [B, S_hm, S_hm, n]`, `coords25d [B, n, 3]`.
 *
 * Throws before computing anything: `PhalanxShapeError` for `uv` / `xyz` that are not live `[B, J, 2]` /
 * `[B, J, 3]` tensors of one B and J, `PhalanxConfigError` for bad options and for `tipWristJoints` or a
 * `rootJoint` that is not a joint of them (≥ J).
 *
 * @example
 * const batch = { uv: tf.randomUniform([2, 21, 2], 0, 255), xyz: tf.randomUniform([2, 21, 3], 400, 600) };
 * const t = twStageTargets(batch, { inputSize: 256, heatmapSize: 64, depthBins: 8 });
 * // t.heatmaps [B, 64, 64, 6], t.coords25d [B, 6, 3]
 */
export function twStageTargets(batch: EhpeKeypoints, options: TwStageTargetOptions): TwStageTargets {
  const name = 'twStageTargets';
  const { joints, inputSize, heatmapSize, sigma, heatmapNormalize, binning } = resolveTwStageTargetOptions(options);
  checkKeypoints(name, batch, joints, binning.rootJoint);
  return tf.tidy(() => {
    const index = tf.tensor1d(joints, 'int32');
    const xy = tf.mul(tf.gather(batch.uv, index, 1), (heatmapSize - 1) / (inputSize - 1));
    const z = tf.gather(depthToBins(batch.xyz, binning), index, 1);
    const coords25d = tf.concat([xy, tf.expandDims(z, 2)], 2) as tf.Tensor3D;
    const heatmaps = gaussianHeatmaps(xy, {
      height: heatmapSize,
      width: heatmapSize,
      sigma,
      normalize: heatmapNormalize,
    }) as tf.Tensor4D;
    return { heatmaps, coords25d };
  });
}

/**
 * Targets of the PG-stage: all 21 joints as (x, y) in input pixels and z in depth bins — the units of
 * the initial layout (`init21`) the PG-stage starts from, so its output refines the layout in place.
 *
 * **Shapes**: `uv [B, 21, 2]`, `xyz [B, 21, 3]` → `[B, 21, 3]`.
 *
 * Throws before computing anything: `PhalanxShapeError` for `uv` / `xyz` that are not live `[B, J, 2]` /
 * `[B, J, 3]` tensors of one B and J, `PhalanxConfigError` for bad options and a `rootJoint` ≥ J.
 *
 * @example
 * const batch = { uv: tf.randomUniform([2, 21, 2], 0, 255), xyz: tf.randomUniform([2, 21, 3], 400, 600) };
 * const target = pgStageTargets(batch, { depthBins: 8 }); // [2, 21, 3]
 */
export function pgStageTargets(batch: EhpeKeypoints, options: DepthBinning = {}): tf.Tensor3D {
  const name = 'pgStageTargets';
  checkOptions(name, 'options', options, DEPTH_BINNING_KEYS, 'an options object {depthBins?, depthRange?, rootJoint?}');
  const binning = resolveBinning(name, options);
  checkKeypoints(name, batch, [], binning.rootJoint);
  return tf.tidy(
    () =>
      tf.concat([tf.cast(batch.uv, 'float32'), tf.expandDims(depthToBins(batch.xyz, binning), 2)], 2) as tf.Tensor3D,
  );
}

/** Options of {@link joints25dToXyz}. */
export interface Joints25dToXyzOptions extends DepthBinning {
  /**
   * Factor from the joints' x, y unit to input pixels: 1 for PG-stage joints and layouts (input pixels,
   * the default), `(S_in − 1)/(S_hm − 1)` for the TW-stage's `coords25d` (heatmap pixels).
   */
  xyScale?: number;
}

/** The keys of {@link Joints25dToXyzOptions}. */
const JOINTS_25D_TO_XYZ_KEYS = { ...DEPTH_BINNING_KEYS, xyScale: true } satisfies Record<
  keyof Joints25dToXyzOptions,
  true
>;

/**
 * 2.5D joints → camera-frame 3D, with the ground-truth root depth (the usual 2.5D protocol, as the
 * Learnable Groups example): `u = s·x`, `v = s·y`, relative depth `(z/(D − 1) − 1/2)·R`, then
 * `uvdToXyz` of `@phalanx/pose` (the release's `P2W`) with `z_root` the root joint's ground-truth depth.
 * Relative depths beyond ±R/2 were clamped in the targets, so they cannot be recovered.
 *
 * **Shapes**: `joints [B, J, 3]`, `xyz [B, 21, 3]` (ground truth, for the root depth), `K [B, 3, 3]` →
 * `[B, J, 3]` in the unit of `xyz`.
 *
 * Throws before computing anything: `PhalanxShapeError` for `joints` that is not a live `[B, J, 3]` tensor
 * and `xyz` that is not one of `[B, J', 3]` (or `[1, J', 3]`) with J' > `rootJoint`; `PhalanxConfigError`
 * for bad options; `uvdToXyz`'s errors for a bad `K`.
 *
 * @example
 * const K = tf.tile(tf.tensor3d([[[300, 0, 128], [0, 300, 128], [0, 0, 1]]]), [2, 1, 1]);
 * const batch = { xyz: tf.randomUniform([2, 21, 3], 400, 600), K };
 * const pgJoints = tf.randomUniform([2, 21, 3], 0, 7); // the PG-stage's (u, v, depth bin)
 * const predXyz = joints25dToXyz(pgJoints, batch.xyz, batch.K, { depthBins: 8 }); // mm
 */
export function joints25dToXyz(
  joints: tf.Tensor,
  xyz: tf.Tensor,
  K: tf.Tensor,
  options: Joints25dToXyzOptions = {},
): tf.Tensor3D {
  const name = 'joints25dToXyz';
  checkOptions(name, 'options', options, JOINTS_25D_TO_XYZ_KEYS, 'an options object {depthBins?, …, xyScale?}');
  const { depthBins, depthRange, rootJoint } = resolveBinning(name, options);
  const xyScale = checkFinite(name, 'xyScale', options.xyScale ?? 1);
  const [B] = checkTensorShape(name, 'joints', joints, 'a tensor [B, J, 3]', (s) => s.length === 3 && s[2] === 3).shape;
  const expected = `a tensor [${B}, J, 3] or [1, J, 3] (the batch of joints; J > rootJoint = ${rootJoint})`;
  const fits = (s: number[]) => s.length === 3 && (s[0] === B || s[0] === 1) && s[1] > rootJoint && s[2] === 3;
  checkTensorShape(name, 'xyz', xyz, expected, fits);
  return tf.tidy(() => {
    const xy = tf.mul(tf.slice(joints, [0, 0, 0], [-1, -1, 2]), xyScale);
    const d = tf.sub(tf.slice(joints, [0, 0, 2], [-1, -1, 1]), (depthBins - 1) / 2);
    const rootDepth = tf.reshape(tf.slice(xyz, [0, rootJoint, 2], [-1, 1, 1]), [-1]);
    return uvdToXyz(tf.concat([xy, d], 2), K, { rootDepth, scale: depthRange / (depthBins - 1) }) as tf.Tensor3D;
  });
}
