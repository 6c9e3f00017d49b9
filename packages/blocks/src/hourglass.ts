/**
 * Stacked-hourglass building blocks (Newell et al., ECCV 2016) in the variant of Ge et al. (CVPR 2019)
 * that the Learnable-Groups release uses as its backbone: pre-activation residual modules, a recursive
 * hourglass with nearest-neighbour upsampling, and the single- or multi-stack network `Net_HG`.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { checkInteger, checkIntegerIn, checkOptions, PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { MODEL_LIMITS } from './limits';
import { checkBuilderOptions } from './options';
import { torchName } from './naming';
import { addAll, channelsOf, nearestUpsample, relu, torchBatchNorm, torchConv2d, torchMaxPool } from './torch-ops';

type SymbolicTensor = tfl.SymbolicTensor;

/** Options of {@link preActResidual}. */
export interface PreActResidualOptions {
  /** Output channels N (even, ≥ 2); the bottleneck has N/2. Required. */
  outChannels: number;
  /** PyTorch module path of the block (`backbone.r1`). Required. */
  name: string;
}

/** The keys of {@link PreActResidualOptions}: any other key is a named error. */
const PRE_ACT_KEYS = { outChannels: true, name: true } satisfies Record<keyof PreActResidualOptions, true>;

/**
 * Pre-activation bottleneck residual module (the release's `_Residual_Module`):
 *
 * `y = conv3(relu(bn2(conv2(relu(bn1(conv1(relu(bn(x)))))))) + skip(x)`
 *
 * with `conv1` 1×1 C→N/2, `conv2` 3×3 N/2→N/2 (padding 1), `conv3` 1×1 N/2→N, all with bias, and
 * `skip = conv4` (1×1 C→N) when C ≠ N, else the identity. Layers: `<name>.bn`, `.conv1`, `.bn1`,
 * `.conv2`, `.bn2`, `.conv3`, `.conv4` (as in PyTorch) and the weightless `.relu`, `.relu1`, `.relu2`,
 * `.add`.
 *
 * **Shapes**: `[B, H, W, C]` → `[B, H, W, N]`.
 *
 * @example
 * const x = tfl.input({ shape: [64, 64, 64] });
 * const y = preActResidual(x, { outChannels: 128, name: 'backbone.r1' }); // [B, 64, 64, 128]
 */
export function preActResidual(x: SymbolicTensor, options: PreActResidualOptions): SymbolicTensor {
  const component = 'preActResidual';
  checkBuilderOptions(component, options, PRE_ACT_KEYS, '{outChannels, name}');
  const { outChannels, name } = options;
  checkInteger(component, 'outChannels', outChannels, 2);
  if (outChannels % 2 !== 0) throw new PhalanxConfigError(component, 'outChannels', 'an even integer', outChannels);
  const inChannels = channelsOf(x, component);
  const mid = outChannels / 2;
  let out = relu(torchBatchNorm(x, torchName(name, 'bn')), torchName(name, 'relu'));
  out = torchConv2d(out, { filters: mid, kernelSize: 1, name: torchName(name, 'conv1') });
  out = relu(torchBatchNorm(out, torchName(name, 'bn1')), torchName(name, 'relu1'));
  out = torchConv2d(out, { filters: mid, kernelSize: 3, padding: 1, name: torchName(name, 'conv2') });
  out = relu(torchBatchNorm(out, torchName(name, 'bn2')), torchName(name, 'relu2'));
  out = torchConv2d(out, { filters: outChannels, kernelSize: 1, name: torchName(name, 'conv3') });
  const skip =
    inChannels === outChannels
      ? x
      : torchConv2d(x, { filters: outChannels, kernelSize: 1, name: torchName(name, 'conv4') });
  return addAll([out, skip], torchName(name, 'add'));
}

/** Options of {@link hourglass}. */
export interface HourglassOptions {
  /** Recursion depth n (number of ×2 downsamplings), an integer in [1, 64]. Required. */
  depth: number;
  /** Residual modules per stage (`nModules`), an integer in [1, 64]. Default 2. */
  numModules?: number;
  /** PyTorch module path (`backbone.hourglass.0`). Required. */
  name: string;
}

/** The keys of {@link HourglassOptions}: any other key is a named error. */
const HOURGLASS_KEYS = { depth: true, numModules: true, name: true } satisfies Record<keyof HourglassOptions, true>;

/**
 * Recursive hourglass (the release's `Hourglass_LiuhaoGe_CVPR2019(n, nModules, nFeats)`), features
 * kept at the input's C channels:
 *
 * `up1 = R^m(x)`, `low1 = R^m(maxpool₂(x))`, `low2 = hourglass_{n−1}(low1)` (n > 1) or `R^m(low1)`,
 * `low3 = R^m(low2)`, `y = up1 + nearest×2(low3)` — `F.interpolate(low3, scale_factor=2)`.
 *
 * R is {@link preActResidual}. Layer names follow PyTorch: `<name>.up1_.j`, `.low1` (the pooling),
 * `.low1_.j`, `.low2` (the inner hourglass) or `.low2_.j`, `.low3_.j`, and weightless `.up2`, `.add`.
 *
 * **Shapes**: `[B, H, W, C]` → `[B, H, W, C]`; H and W must be divisible by 2ⁿ.
 *
 * @example
 * const x = tfl.input({ shape: [32, 32, 256] });
 * const y = hourglass(x, { depth: 4, numModules: 2, name: 'backbone.hourglass.0' });
 */
export function hourglass(x: SymbolicTensor, options: HourglassOptions): SymbolicTensor {
  const component = 'hourglass';
  checkBuilderOptions(component, options, HOURGLASS_KEYS, '{depth, numModules?, name}');
  const { depth, numModules = 2, name } = options;
  // Bounded: on an input of unknown size nothing else stops the recursion (depth 1e9 built until the stack overflowed).
  checkIntegerIn(component, 'depth', depth, 1, MODEL_LIMITS.repeats);
  checkIntegerIn(component, 'numModules', numModules, 1, MODEL_LIMITS.repeats);
  const features = channelsOf(x, component);
  const [, h, w] = x.shape;
  const factor = 2 ** depth;
  if (h != null && w != null && (h % factor !== 0 || w % factor !== 0)) {
    throw new PhalanxShapeError(component, 'input', `a height and width divisible by 2^depth = ${factor}`, x.shape);
  }
  const modules = (input: SymbolicTensor, list: string) => {
    let y = input;
    for (let j = 0; j < numModules; j++)
      y = preActResidual(y, { outChannels: features, name: torchName(name, list, j) });
    return y;
  };
  const up1 = modules(x, 'up1_');
  const low1 = modules(torchMaxPool(x, 2, torchName(name, 'low1')), 'low1_');
  const low2 =
    depth > 1
      ? hourglass(low1, { depth: depth - 1, numModules, name: torchName(name, 'low2') })
      : modules(low1, 'low2_');
  const low3 = modules(low2, 'low3_');
  const up2 = nearestUpsample(low3, 2, torchName(name, 'up2'));
  return addAll([up1, up2], torchName(name, 'add'));
}

/** Options of {@link hourglassBackbone}. */
export interface HourglassBackboneOptions {
  /** Heatmap channels (`num_joints`), an integer ≥ 1. Required. */
  numJoints: number;
  /** Number of stacked hourglasses (`num_stages`), an integer ≥ 1. Default 2 (the release's default; Learnable Groups uses 1). */
  numStacks?: number;
  /** Residual modules per stage (`num_modules`). Default 2. */
  numModules?: number;
  /** Hourglass features (`num_feats`), even. Default 256. */
  features?: number;
  /** Hourglass recursion depth. Default 4. */
  depth?: number;
  /**
   * Channels of the stem `[conv1_, r1]` (the release hard-codes `[64, 128]`; r4 keeps the second, r5
   * maps it to `features`). Default `[64, 128]`.
   */
  stemChannels?: [number, number];
  /** PyTorch module path. Default `'backbone'`. */
  name?: string;
}

/** What {@link hourglassBackbone} returns: one entry per stack, as the release's `(out, encoding)`. */
export interface HourglassBackboneOutputs {
  /** `tmpOut` of each stack: heatmap logits `[B, S/4, S/4, numJoints]`. */
  heatmaps: SymbolicTensor[];
  /**
   * The features after each stack: for every stack but the last `x + ll_(ll) + tmpOut_(heatmap)` (the
   * next stack's input), for the last its `ll` (`[B, S/4, S/4, features]`).
   */
  encodings: SymbolicTensor[];
}

/** The keys of {@link HourglassBackboneOptions}: any other key is a named error. */
const HOURGLASS_BACKBONE_KEYS = {
  numJoints: true,
  numStacks: true,
  numModules: true,
  features: true,
  depth: true,
  stemChannels: true,
  name: true,
} satisfies Record<keyof HourglassBackboneOptions, true>;

/**
 * The options of {@link hourglassBackbone} with their defaults, every one checked — and the image's size
 * against the hourglass depth — before the first layer is built, so that a bad value leaves no weight
 * behind.
 */
function resolveBackboneOptions(
  image: SymbolicTensor,
  options: HourglassBackboneOptions,
): Required<HourglassBackboneOptions> {
  const component = 'hourglassBackbone';
  checkOptions(
    component,
    'options',
    options,
    HOURGLASS_BACKBONE_KEYS,
    'an options object {numJoints, numStacks?, numModules?, features?, depth?, stemChannels?, name?}',
  );
  const { numStacks = 2, numModules = 2, features = 256, depth = 4, stemChannels = [64, 128] } = options;
  const { channels, joints, repeats } = MODEL_LIMITS;
  checkIntegerIn(component, 'numJoints', options.numJoints, 1, joints);
  checkIntegerIn(component, 'numStacks', numStacks, 1, repeats);
  checkIntegerIn(component, 'numModules', numModules, 1, repeats);
  checkIntegerIn(component, 'features', features, 2, channels);
  // The pre-activation residual modules halve `features` and the stem's second width.
  if (features % 2 !== 0) throw new PhalanxConfigError(component, 'features', 'an even integer', features);
  checkIntegerIn(component, 'depth', depth, 1, repeats);
  if (!Array.isArray(stemChannels) || stemChannels.length !== 2) {
    throw new PhalanxConfigError(component, 'stemChannels', 'a pair of even integers', stemChannels);
  }
  stemChannels.forEach((c) => checkIntegerIn(component, 'stemChannels', c, 1, channels));
  if (stemChannels[1] % 2 !== 0) {
    throw new PhalanxConfigError(component, 'stemChannels[1]', 'an even integer', stemChannels[1]);
  }
  channelsOf(image, component);
  // The stem (7×7/2 convolution with padding 3, then a 2×2 pooling) maps S to ⌊(⌊(S − 1)/2⌋ + 1)/2⌋.
  const factor = 2 ** depth;
  const stem = image.shape.slice(1, 3).map((s) => (s == null ? null : Math.floor((Math.floor((s - 1) / 2) + 1) / 2)));
  if (stem.some((s) => s != null && (s < factor || s % factor !== 0))) {
    throw new PhalanxShapeError(
      component,
      'image',
      `an image whose stem output (${stem.join(' × ')}) is divisible by 2^depth = ${factor}`,
      image.shape,
    );
  }
  return {
    numJoints: options.numJoints,
    numStacks,
    numModules,
    features,
    depth,
    stemChannels,
    name: options.name ?? 'backbone',
  };
}

/**
 * The stacked-hourglass heatmap network of Ge et al. (CVPR 2019) as released with Learnable Groups
 * (`Net_HG`): stem `conv1_` 7×7/2 (padding 3) → `bn1` → ReLU → `r1` → maxpool 2 → `r4` → `r5`, then per
 * stack i: `hourglass.i` (depth 4) → `Residual.(i·m + j)` → `lin_.i` (1×1 conv, BN, ReLU) → `tmpOut.i`
 * (1×1 conv to the heatmaps); between stacks `x ← x + ll_.i(ll) + tmpOut_.i(heatmaps)`.
 *
 * **Shapes**: `[B, S, S, 3]` (S divisible by 4·2^depth; exactly: the stem's output ⌊(⌊(S − 1)/2⌋ + 1)/2⌋
 * divisible by 2^depth) → per stack heatmaps `[B, S/4, S/4, J]` and encodings `[B, S/4, S/4, features]`.
 *
 * Every option, and the image size against `depth`, is checked before the first layer is built
 * (`PhalanxConfigError`, `PhalanxShapeError`; a key that is not an option is an error too).
 *
 * @example
 * const image = tfl.input({ shape: [256, 256, 3] });
 * const { heatmaps, encodings } = hourglassBackbone(image, { numJoints: 21, numStacks: 1 });
 */
export function hourglassBackbone(image: SymbolicTensor, options: HourglassBackboneOptions): HourglassBackboneOutputs {
  const { numJoints, numStacks, numModules, features, depth, stemChannels, name } = resolveBackboneOptions(
    image,
    options,
  );
  const n = (...parts: (string | number)[]) => torchName(name, ...parts);

  let x = torchConv2d(image, { filters: stemChannels[0], kernelSize: 7, stride: 2, padding: 3, name: n('conv1_') });
  x = relu(torchBatchNorm(x, n('bn1')), n('relu'));
  x = preActResidual(x, { outChannels: stemChannels[1], name: n('r1') });
  x = torchMaxPool(x, 2, n('maxpool'));
  x = preActResidual(x, { outChannels: stemChannels[1], name: n('r4') });
  x = preActResidual(x, { outChannels: features, name: n('r5') });

  const heatmaps: SymbolicTensor[] = [];
  const encodings: SymbolicTensor[] = [];
  for (let i = 0; i < numStacks; i++) {
    let ll = hourglass(x, { depth, numModules, name: n('hourglass', i) });
    for (let j = 0; j < numModules; j++) {
      ll = preActResidual(ll, { outChannels: features, name: n('Residual', i * numModules + j) });
    }
    ll = torchConv2d(ll, { filters: features, kernelSize: 1, name: n('lin_', i, 0) });
    ll = relu(torchBatchNorm(ll, n('lin_', i, 1)), n('lin_', i, 2));
    const tmpOut = torchConv2d(ll, { filters: numJoints, kernelSize: 1, name: n('tmpOut', i) });
    heatmaps.push(tmpOut);
    if (i < numStacks - 1) {
      const llBack = torchConv2d(ll, { filters: features, kernelSize: 1, name: n('ll_', i) });
      const outBack = torchConv2d(tmpOut, { filters: features, kernelSize: 1, name: n('tmpOut_', i) });
      x = addAll([x, llBack, outBack], n('merge', i));
      encodings.push(x);
    } else {
      encodings.push(ll);
    }
  }
  return { heatmaps, encodings };
}
