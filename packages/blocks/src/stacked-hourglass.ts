/**
 * The stacked hourglass and refinement module of the EHPE release (`SereinNout/EHPE`,
 * `models/hourglass.py`, `models/refinement.py`): post-activation bottleneck residuals without
 * convolution biases (unlike the pre-activation `_Residual_Module` of {@link preActResidual}), a
 * recursive hourglass, the multi-stack network with intermediate heatmaps, and a residual refinement
 * module that pools as it goes.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import {
  checkBoolean,
  checkInteger,
  checkIntegerIn,
  checkOptions,
  PhalanxConfigError,
  PhalanxShapeError,
} from '@phalanx/errors';
import { MODEL_LIMITS } from './limits';
import { checkBuilderOptions } from './options';
import { torchName } from './naming';
import { addAll, channelsOf, nearestUpsample, relu, torchBatchNorm, torchConv2d, torchMaxPool } from './torch-ops';

type SymbolicTensor = tfl.SymbolicTensor;

/** Options of {@link bottleneckResidual}. */
export interface BottleneckResidualOptions {
  /** Output channels N (even, ≥ 2); the bottleneck has N/2. Required. */
  outChannels: number;
  /** Module path (`hg.pre.3`). Required. */
  name: string;
}

/** The keys of {@link BottleneckResidualOptions}: any other key is a named error. */
const BOTTLENECK_KEYS = { outChannels: true, name: true } satisfies Record<keyof BottleneckResidualOptions, true>;

/**
 * Post-activation bottleneck residual (the EHPE release's `hourglass.Residual`):
 *
 * `y = relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x)))))))) + skip(x))`
 *
 * with `conv1` 1×1 C→N/2, `conv2` 3×3 N/2→N/2 (padding 1), `conv3` 1×1 N/2→N, all without bias, and
 * `skip = bn(conv1×1(x))` (`<name>.skip.0`, `.skip.1`) when C ≠ N, else the identity.
 *
 * **Shapes**: `[B, H, W, C]` → `[B, H, W, N]`.
 *
 * @example
 * const x = tfl.input({ shape: [64, 64, 128] });
 * const y = bottleneckResidual(x, { outChannels: 256, name: 'hg.features.0' });
 */
export function bottleneckResidual(x: SymbolicTensor, options: BottleneckResidualOptions): SymbolicTensor {
  const component = 'bottleneckResidual';
  checkBuilderOptions(component, options, BOTTLENECK_KEYS, '{outChannels, name}');
  const { outChannels, name } = options;
  checkInteger(component, 'outChannels', outChannels, 2);
  if (outChannels % 2 !== 0) throw new PhalanxConfigError(component, 'outChannels', 'an even integer', outChannels);
  const inChannels = channelsOf(x, component);
  const mid = outChannels / 2;
  let out = torchConv2d(x, { filters: mid, kernelSize: 1, useBias: false, name: torchName(name, 'conv1') });
  out = relu(torchBatchNorm(out, torchName(name, 'bn1')), torchName(name, 'relu1'));
  out = torchConv2d(out, { filters: mid, kernelSize: 3, padding: 1, useBias: false, name: torchName(name, 'conv2') });
  out = relu(torchBatchNorm(out, torchName(name, 'bn2')), torchName(name, 'relu2'));
  out = torchConv2d(out, { filters: outChannels, kernelSize: 1, useBias: false, name: torchName(name, 'conv3') });
  out = torchBatchNorm(out, torchName(name, 'bn3'));
  let skip = x;
  if (inChannels !== outChannels) {
    skip = torchConv2d(x, { filters: outChannels, kernelSize: 1, useBias: false, name: torchName(name, 'skip', 0) });
    skip = torchBatchNorm(skip, torchName(name, 'skip', 1));
  }
  return relu(addAll([out, skip], torchName(name, 'add')), torchName(name, 'relu'));
}

/** Options of {@link residualHourglass}. */
export interface ResidualHourglassOptions {
  /** Recursion depth n (number of ×2 max-poolings), an integer in [1, 64]. Required. */
  depth: number;
  /** Module path (`hg.hgs.0`). Required. */
  name: string;
}

/** The keys of {@link ResidualHourglassOptions}: any other key is a named error. */
const RESIDUAL_HOURGLASS_KEYS = { depth: true, name: true } satisfies Record<keyof ResidualHourglassOptions, true>;

/**
 * Recursive hourglass of the EHPE release (`hourglass.Hourglass(depth, ch)`), one
 * {@link bottleneckResidual} per stage, channels kept:
 *
 * `up1 = R(x)`, `low = R_low3(inner(R_low1(maxpool₂(x))))` with `inner` the hourglass of depth n − 1
 * (n > 1) or a residual `R_low2`, `y = up1 + nearest×2(low)`.
 *
 * Layers: `<name>.up1`, `.low1`, `.low2` (inner hourglass or residual), `.low3`; weightless `.pool`,
 * `.up2`, `.add`.
 *
 * **Shapes**: `[B, H, W, C]` → `[B, H, W, C]`; H and W divisible by 2ⁿ, C even.
 *
 * @example
 * const x = tfl.input({ shape: [64, 64, 256] });
 * const y = residualHourglass(x, { depth: 4, name: 'hg.hgs.0' }); // [B, 64, 64, 256]
 */
export function residualHourglass(x: SymbolicTensor, options: ResidualHourglassOptions): SymbolicTensor {
  const component = 'residualHourglass';
  checkBuilderOptions(component, options, RESIDUAL_HOURGLASS_KEYS, '{depth, name}');
  const { depth, name } = options;
  // Bounded as stackedHourglass's: 2^depth beyond 2^64 divides no size, and the check below needs a finite power.
  checkIntegerIn(component, 'depth', depth, 1, MODEL_LIMITS.repeats);
  const c = channelsOf(x, component);
  const [h, w] = [x.shape[1], x.shape[2]];
  if (h == null || w == null || h % 2 ** depth !== 0 || w % 2 ** depth !== 0) {
    throw new PhalanxShapeError(component, 'input', `[B, H, W, C] with H and W divisible by 2^${depth}`, x.shape);
  }
  const up1 = bottleneckResidual(x, { outChannels: c, name: torchName(name, 'up1') });
  let low = torchMaxPool(x, 2, torchName(name, 'pool'));
  low = bottleneckResidual(low, { outChannels: c, name: torchName(name, 'low1') });
  low =
    depth > 1
      ? residualHourglass(low, { depth: depth - 1, name: torchName(name, 'low2') })
      : bottleneckResidual(low, { outChannels: c, name: torchName(name, 'low2') });
  low = bottleneckResidual(low, { outChannels: c, name: torchName(name, 'low3') });
  const up2 = nearestUpsample(low, 2, torchName(name, 'up2'));
  return addAll([up1, up2], torchName(name, 'add'));
}

/** Options of {@link stackedHourglass}. */
export interface StackedHourglassOptions {
  /** Hourglass channels (`hg_ch`), even, ≥ 2. Required. */
  channels: number;
  /** Recursion depth of each hourglass, ≥ 1. Required. */
  depth: number;
  /** Number of stacks, ≥ 1. Required. */
  stacks: number;
  /** Heatmap channels per stack (`out_joints`), ≥ 1. Required. */
  outChannels: number;
  /** Module path (`hg`). Required. */
  name: string;
}

/** The keys of {@link StackedHourglassOptions}: any other key is a named error. */
const STACKED_HOURGLASS_KEYS = {
  channels: true,
  depth: true,
  stacks: true,
  outChannels: true,
  name: true,
} satisfies Record<keyof StackedHourglassOptions, true>;

/**
 * The EHPE release's `StackedHourglass(in_ch, hg_ch, depth, stacks, out_joints)`:
 *
 * `x = R(relu(bn(conv1×1(input))))` (`pre.0`, `pre.1`, `pre.3`), then for each stack i
 * `y = R_features.i(hourglass_i(x))`, `pred_i = outs.i(y)` (1×1 with bias), and between stacks
 * `x = x + merge_features.i(y) + merge_preds.i(pred_i)` (1×1, no bias).
 *
 * **Shapes**: `[B, H, W, C]` → `heatmaps`: `stacks` tensors `[B, H, W, outChannels]` (the last is the
 * network's prediction); `features`: the last stack's `y` `[B, H, W, channels]`.
 *
 * @example
 * const x = tfl.input({ shape: [64, 64, 256] });
 * const { heatmaps } = stackedHourglass(x, { channels: 256, depth: 4, stacks: 2, outChannels: 6, name: 'tw.hg' });
 */
export function stackedHourglass(
  input: SymbolicTensor,
  options: StackedHourglassOptions,
): {
  /** One `[B, H, W, outChannels]` prediction per stack; the last is the network's output. */
  heatmaps: SymbolicTensor[];
  /** The last stack's features `y`, `[B, H, W, channels]`. */
  features: SymbolicTensor;
} {
  const component = 'stackedHourglass';
  checkOptions(
    component,
    'options',
    options,
    STACKED_HOURGLASS_KEYS,
    'an options object {channels, depth, stacks, outChannels, name}',
  );
  const { channels, depth, stacks, outChannels, name } = options;
  // Everything the inner blocks would refuse, refused before the first layer is built.
  checkIntegerIn(component, 'channels', channels, 2, MODEL_LIMITS.channels);
  if (channels % 2 !== 0) throw new PhalanxConfigError(component, 'channels', 'an even integer', channels);
  checkIntegerIn(component, 'depth', depth, 1, MODEL_LIMITS.repeats);
  checkIntegerIn(component, 'stacks', stacks, 1, MODEL_LIMITS.repeats);
  checkIntegerIn(component, 'outChannels', outChannels, 1, MODEL_LIMITS.channels);
  channelsOf(input, component);
  const [h, w] = [input.shape[1], input.shape[2]];
  if (h == null || w == null || h % 2 ** depth !== 0 || w % 2 ** depth !== 0) {
    throw new PhalanxShapeError(component, 'input', `[B, H, W, C] with H and W divisible by 2^${depth}`, input.shape);
  }
  let x = torchConv2d(input, { filters: channels, kernelSize: 1, useBias: false, name: torchName(name, 'pre', 0) });
  x = relu(torchBatchNorm(x, torchName(name, 'pre', 1)), torchName(name, 'pre', 2));
  x = bottleneckResidual(x, { outChannels: channels, name: torchName(name, 'pre', 3) });
  const heatmaps: SymbolicTensor[] = [];
  let y = x;
  for (let i = 0; i < stacks; i++) {
    y = residualHourglass(x, { depth, name: torchName(name, 'hgs', i) });
    y = bottleneckResidual(y, { outChannels: channels, name: torchName(name, 'features', i) });
    const pred = torchConv2d(y, { filters: outChannels, kernelSize: 1, name: torchName(name, 'outs', i) });
    heatmaps.push(pred);
    if (i < stacks - 1) {
      const mf = torchConv2d(y, {
        filters: channels,
        kernelSize: 1,
        useBias: false,
        name: torchName(name, 'merge_features', i),
      });
      const mp = torchConv2d(pred, {
        filters: channels,
        kernelSize: 1,
        useBias: false,
        name: torchName(name, 'merge_preds', i),
      });
      x = addAll([x, mf, mp], torchName(name, 'merge', i));
    }
  }
  return { heatmaps, features: y };
}

/** Options of {@link refinementModule}. */
export interface RefinementModuleOptions {
  /** Channels of the module (`ch`), ≥ 1. Required. */
  channels: number;
  /** Residual blocks (`num_residual`), ≥ 1. Default 8. */
  numResidual?: number;
  /** Max-poolings (`num_pools`), ≥ 0, at most `numResidual`. Default 4. */
  numPools?: number;
  /** Batch norm after each convolution (else convolutions with bias). Default true. */
  useBatchNorm?: boolean;
  /** Module path (`tw.refine`). Required. */
  name: string;
}

/** The keys of {@link RefinementModuleOptions}: any other key is a named error. */
const REFINEMENT_KEYS = {
  channels: true,
  numResidual: true,
  numPools: true,
  useBatchNorm: true,
  name: true,
} satisfies Record<keyof RefinementModuleOptions, true>;

/**
 * The EHPE release's `RefinementModule(in_ch, ch, num_residual, num_pools, use_bn)`:
 * `x = relu(bn(conv1×1(input)))` (`proj.0`, `proj.1`), then `numResidual` blocks
 * `x = relu(bn2(conv2(relu(bn1(conv1(x))))) + x)` (3×3, padding 1; `blocks.i`), with a 2×2 max-pooling
 * after block i (1-based) whenever i is a multiple of `max(1, ⌊numResidual / numPools⌋)` and fewer
 * than `numPools` poolings were done.
 *
 * **Shapes**: `[B, H, W, C]` → `[B, H/2^p, W/2^p, channels]` with p = `numPools` (floor division per
 * pooling); H, W ≥ 2^p (else a `PhalanxShapeError`, before any layer is built).
 *
 * @example
 * const x = tfl.input({ shape: [64, 64, 256] });
 * const latent = refinementModule(x, { channels: 256, numResidual: 8, numPools: 4, name: 'tw.refine' }); // 64 → 4
 */
export function refinementModule(input: SymbolicTensor, options: RefinementModuleOptions): SymbolicTensor {
  const component = 'refinementModule';
  checkOptions(
    component,
    'options',
    options,
    REFINEMENT_KEYS,
    'an options object {channels, numResidual?, numPools?, useBatchNorm?, name}',
  );
  const { channels, numResidual = 8, numPools = 4, useBatchNorm = true, name } = options;
  checkInteger(component, 'channels', channels, 1);
  checkInteger(component, 'numResidual', numResidual, 1);
  checkInteger(component, 'numPools', numPools, 0);
  checkBoolean(component, 'useBatchNorm', useBatchNorm);
  if (numPools > numResidual) {
    throw new PhalanxConfigError(component, 'numPools', `at most numResidual (${numResidual})`, numPools);
  }
  channelsOf(input, component);
  // Each pooling halves (floor) H and W: fewer than 2^numPools pixels would pool down to an empty map.
  if ([input.shape[1], input.shape[2]].some((s) => s != null && s < 2 ** numPools)) {
    throw new PhalanxShapeError(
      component,
      'input',
      `[B, H, W, C] with H and W ≥ 2^numPools = ${2 ** numPools}`,
      input.shape,
    );
  }
  const bn = (t: SymbolicTensor, n: string) => (useBatchNorm ? torchBatchNorm(t, n) : t);
  let x = torchConv2d(input, {
    filters: channels,
    kernelSize: 1,
    useBias: !useBatchNorm,
    name: torchName(name, 'proj', 0),
  });
  x = relu(bn(x, torchName(name, 'proj', 1)), torchName(name, 'proj', 2));
  const every = Math.max(1, Math.floor(numResidual / numPools));
  let pools = 0;
  for (let i = 0; i < numResidual; i++) {
    const b = torchName(name, 'blocks', i);
    let y = torchConv2d(x, {
      filters: channels,
      kernelSize: 3,
      padding: 1,
      useBias: !useBatchNorm,
      name: torchName(b, 'conv1'),
    });
    y = relu(bn(y, torchName(b, 'bn1')), torchName(b, 'relu1'));
    y = torchConv2d(y, {
      filters: channels,
      kernelSize: 3,
      padding: 1,
      useBias: !useBatchNorm,
      name: torchName(b, 'conv2'),
    });
    y = bn(y, torchName(b, 'bn2'));
    x = relu(addAll([y, x], torchName(b, 'add')), torchName(b, 'relu'));
    if ((i + 1) % every === 0 && pools < numPools) {
      x = torchMaxPool(x, 2, torchName(name, 'pool', pools));
      pools += 1;
    }
  }
  return x;
}
