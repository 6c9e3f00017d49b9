/**
 * The TIP-and-Wrist stage (EHPE §3.2): from backbone features to heatmaps, a 2.5D volume and the 2.5D
 * coordinates of the wrist and the five fingertips — the release's `TWStage` (`models/ehpe.py`),
 * layer for layer and with its module names.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import {
  checkBoolean,
  checkFinite,
  checkIntegerIn,
  checkOptions,
  checkPositiveFloat32,
  PhalanxConfigError,
} from '@phalanx/errors';
import { TW_STAGE_SHARED_KEYS } from './option-keys';
import { resizeBilinear, softArgmax25D } from '@phalanx/layers';
import {
  concatChannels,
  MODEL_LIMITS,
  refinementModule,
  relu,
  stackedHourglass,
  torchBatchNorm,
  torchConv2d,
  torchName,
} from '@phalanx/blocks';
import { TIP_AND_WRIST_JOINTS } from '@phalanx/skeleton';
import { checkJointList } from './init21';

type SymbolicTensor = tfl.SymbolicTensor;

const COMPONENT = 'createTwStage';

/** Configuration of {@link createTwStage} (the release's `TWStage` arguments). */
export interface TwStageConfig {
  /** Channels of the backbone features (`backbone_out_ch`; ResNet-50: 2048). Default 2048. */
  backboneChannels?: number;
  /** Spatial size h = w of the backbone features (256-pixel input at stride 32: 8). Default 8. */
  featureSize?: number;
  /** Hourglass channels (`hg_ch`), even. Default 256. */
  hourglassChannels?: number;
  /** Hourglass recursion depth; `heatmapSize` must be divisible by 2^depth. Default 4. */
  hourglassDepth?: number;
  /** Number of hourglass stacks. Default 2. */
  hourglassStacks?: number;
  /**
   * The joints the stage predicts: a count n (the release's `tw_joints`, 6) or the list of joint
   * indices (FreiHAND order; default `[0, 4, 8, 12, 16, 20]`, wrist and tips — other lists give the
   * segmented variants of the paper's Table 4). Only the count matters to this stage.
   */
  tipWristJoints?: number | number[];
  /** Heatmap size S (square). Default 64. */
  heatmapSize?: number;
  /** Channels of the refinement module (`refine_ch`). Default 256. */
  refineChannels?: number;
  /** Residual blocks of the refinement module (`num_residual`). Default 8. */
  refineBlocks?: number;
  /** Max-poolings in the refinement module (`num_pools`), ≤ `refineBlocks`. Default 4. */
  refinePools?: number;
  /** Batch norm in the refinement module (`use_bn`). Default true. */
  refineBatchNorm?: boolean;
  /** Depth bins D (≥ 2). Default 8. */
  depthBins?: number;
  /** Inverse temperature β of the soft-argmax, a positive normal float32 (1.1754944e-38 ≤ β ≤ 3.4028235e38). Default 1. */
  beta?: number;
  /** Model name, a string. Default `'tw_stage'`. */
  name?: string;
}

/** The configuration with every default filled in (`joints`: the predicted joint count). */
export interface ResolvedTwStageConfig extends Required<Omit<TwStageConfig, 'tipWristJoints'>> {
  /** Number n of joints the stage predicts (the length of `tipWristJoints`). */
  joints: number;
}

/** The keys of a {@link TwStageConfig}: any other key is a named error. */
const TW_STAGE_CONFIG_KEYS = {
  ...TW_STAGE_SHARED_KEYS,
  backboneChannels: true,
  featureSize: true,
  tipWristJoints: true,
  name: true,
} satisfies Record<keyof TwStageConfig, true>;

/** Fills in the defaults of a {@link TwStageConfig} and validates it. */
export function resolveTwStageConfig(config: TwStageConfig = {}, component = COMPONENT): ResolvedTwStageConfig {
  checkOptions(component, 'config', config, TW_STAGE_CONFIG_KEYS, 'an options object');
  const tw = config.tipWristJoints ?? [...TIP_AND_WRIST_JOINTS];
  const joints =
    typeof tw === 'number'
      ? checkIntegerIn(component, 'tipWristJoints', tw, 1, MODEL_LIMITS.joints)
      : checkJointList(component, 'tipWristJoints', tw).length;
  const { channels, imageSize, repeats } = MODEL_LIMITS;
  const c: ResolvedTwStageConfig = {
    backboneChannels: checkIntegerIn(component, 'backboneChannels', config.backboneChannels ?? 2048, 1, channels),
    featureSize: checkIntegerIn(component, 'featureSize', config.featureSize ?? 8, 1, imageSize),
    hourglassChannels: checkIntegerIn(component, 'hourglassChannels', config.hourglassChannels ?? 256, 2, channels),
    hourglassDepth: checkIntegerIn(component, 'hourglassDepth', config.hourglassDepth ?? 4, 1, repeats),
    hourglassStacks: checkIntegerIn(component, 'hourglassStacks', config.hourglassStacks ?? 2, 1, repeats),
    joints,
    heatmapSize: checkIntegerIn(component, 'heatmapSize', config.heatmapSize ?? 64, 2, imageSize),
    refineChannels: checkIntegerIn(component, 'refineChannels', config.refineChannels ?? 256, 1, channels),
    refineBlocks: checkIntegerIn(component, 'refineBlocks', config.refineBlocks ?? 8, 1, repeats),
    refinePools: checkIntegerIn(component, 'refinePools', config.refinePools ?? 4, 0, repeats),
    refineBatchNorm: checkBoolean(component, 'refineBatchNorm', config.refineBatchNorm ?? true),
    depthBins: checkIntegerIn(component, 'depthBins', config.depthBins ?? 8, 2, MODEL_LIMITS.depthBins),
    beta: checkFinite(component, 'beta', config.beta ?? 1),
    name: config.name ?? 'tw_stage',
  };
  if (c.hourglassChannels % 2 !== 0) {
    throw new PhalanxConfigError(component, 'hourglassChannels', 'an even integer', c.hourglassChannels);
  }
  if (c.heatmapSize % 2 ** c.hourglassDepth !== 0) {
    throw new PhalanxConfigError(
      component,
      'heatmapSize',
      `a multiple of 2^hourglassDepth = ${2 ** c.hourglassDepth}`,
      c.heatmapSize,
    );
  }
  if (c.refinePools > c.refineBlocks) {
    throw new PhalanxConfigError(component, 'refinePools', `at most refineBlocks (${c.refineBlocks})`, c.refinePools);
  }
  if (c.heatmapSize % 2 ** c.refinePools !== 0) {
    throw new PhalanxConfigError(
      component,
      'refinePools',
      `at most log2 of heatmapSize's power-of-two factor`,
      c.refinePools,
    );
  }
  if (!(c.beta > 0)) throw new PhalanxConfigError(component, 'beta', 'a number > 0', c.beta);
  checkPositiveFloat32(component, 'beta', c.beta); // the soft-argmax multiplies float32 logits by β
  if (typeof c.name !== 'string') throw new PhalanxConfigError(component, 'name', 'a string', c.name);
  return c;
}

/** The three outputs of the TW-stage. */
export interface TwStageOutputs {
  /** The last hourglass stack's heatmaps `[B, S, S, n]` (logits; the heatmap loss compares these). */
  heatmaps2d: SymbolicTensor;
  /** The 2.5D volume logits `[B, S, S, n·D]`, channel `j·D + d`. */
  volume: SymbolicTensor;
  /** `[B, n, 3]`: x, y in heatmap pixels, z in depth bins (soft-argmax of the volume). */
  coords25d: SymbolicTensor;
}

/**
 * Builds the TW-stage on backbone features with the functional API (module paths under `name`):
 *
 * 1. `upsample_to_hm`: 1×1 convolution (no bias) → BN → ReLU, then bilinear resizing to S×S with
 *    half-pixel centres (`F.interpolate(align_corners=False)`, the
 *    {@link @phalanx/layers!ResizeBilinear} layer);
 * 2. `hg`: stacked hourglass; its last stack's output is `heatmaps2d` — the hourglass logits, not a
 *    marginal of the volume (as the release returns them);
 * 3. `refine`: the refinement module on `[x, heatmaps2d]` (channels concatenated), resized back to S×S;
 * 4. `to_25d`: 1×1 convolution to n·D channels (`volume`);
 * 5. volumetric {@link @phalanx/layers!SoftArgmax25D}: `p = softmax(β·V_j)` over each joint's S×S×D
 *    volume, `coords25d = Σ p·(x, y, d)` (EHPE Eq. 2). For β = 1 this is exactly the release's logsumexp
 *    marginals followed by 2D and 1D soft-argmaxes; for β ≠ 1 the release applies β to the marginal
 *    logits instead, which is not a softmax of one volume (see the README).
 *
 * **Shapes**: `[B, h, w, backboneChannels]` → {@link TwStageOutputs}.
 *
 * @example
 * const feats = tfl.input({ shape: [8, 8, 2048] });
 * const { heatmaps2d, volume, coords25d } = twStage(feats, resolveTwStageConfig(), 'tw');
 */
export function twStage(features: SymbolicTensor, c: ResolvedTwStageConfig, name = ''): TwStageOutputs {
  const S = c.heatmapSize;
  const n = c.joints;
  let x = torchConv2d(features, {
    filters: c.hourglassChannels,
    kernelSize: 1,
    useBias: false,
    name: torchName(name, 'upsample_to_hm', 0),
  });
  x = relu(torchBatchNorm(x, torchName(name, 'upsample_to_hm', 1)), torchName(name, 'upsample_to_hm', 2));
  x = resizeBilinear({ height: S, width: S, name: torchName(name, 'upsample_to_hm', 'resize') }).apply(
    x,
  ) as SymbolicTensor;
  const { heatmaps } = stackedHourglass(x, {
    channels: c.hourglassChannels,
    depth: c.hourglassDepth,
    stacks: c.hourglassStacks,
    outChannels: n,
    name: torchName(name, 'hg'),
  });
  const heatmaps2d = heatmaps[heatmaps.length - 1];
  let latent = refinementModule(concatChannels([x, heatmaps2d], torchName(name, 'refine', 'cat')), {
    channels: c.refineChannels,
    numResidual: c.refineBlocks,
    numPools: c.refinePools,
    useBatchNorm: c.refineBatchNorm,
    name: torchName(name, 'refine'),
  });
  if (c.refinePools > 0) {
    latent = resizeBilinear({ height: S, width: S, name: torchName(name, 'refine', 'resize') }).apply(
      latent,
    ) as SymbolicTensor;
  }
  const volume = torchConv2d(latent, { filters: n * c.depthBins, kernelSize: 1, name: torchName(name, 'to_25d') });
  const coords25d = softArgmax25D({
    mode: 'volumetric',
    numJoints: n,
    depthBins: c.depthBins,
    beta: c.beta,
    coordinates: 'pixel',
    name: torchName(name, 'soft_argmax'),
  }).apply(volume) as SymbolicTensor;
  return { heatmaps2d, volume, coords25d };
}

/**
 * The release's `TWStage` as a model, from backbone features to
 * `[heatmaps2d [B,S,S,n], volume [B,S,S,n·D], coords25d [B,n,3]]` (x, y in heatmap pixels, z in bins);
 * see {@link twStage}. Layer names are the `TWStage` state_dict's module paths (`upsample_to_hm.0`,
 * `hg.hgs.0.low2.up1.conv1`, `refine.blocks.3.bn2`, `to_25d`), so {@link importTorchStateDict} loads
 * its weights.
 *
 * **Shapes**: input `[B, featureSize, featureSize, backboneChannels]`; outputs as above.
 *
 * @example
 * const tw = createTwStage({ backboneChannels: 2048, hourglassChannels: 256, heatmapSize: 64, depthBins: 8 });
 * const [heatmaps, volume, coords] = tw.predict(tf.zeros([1, 8, 8, 2048])) as tf.Tensor[]; // coords [1, 6, 3]
 */
export function createTwStage(config: TwStageConfig = {}): tfl.LayersModel {
  const c = resolveTwStageConfig(config);
  const features = tfl.input({ shape: [c.featureSize, c.featureSize, c.backboneChannels], name: 'features' });
  const out = twStage(features, c);
  return tfl.model({ inputs: features, outputs: [out.heatmaps2d, out.volume, out.coords25d], name: c.name });
}
