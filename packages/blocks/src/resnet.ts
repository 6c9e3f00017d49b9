/**
 * ResNet backbones (He et al., CVPR 2016) with torchvision's module names (`conv1`, `bn1`,
 * `layer1.0.conv1`, `layer1.0.downsample.0`, …), so that torchvision's ImageNet `state_dict`s,
 * converted to safetensors, load by name with {@link @phalanx/layers!loadTorchStateDict}.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import {
  checkInteger,
  checkIntegerIn,
  checkKnownKeys,
  checkOneOf,
  checkOptionsObject,
  PhalanxConfigError,
} from '@phalanx/errors';
import { MODEL_LIMITS } from './limits';
import { torchName } from './naming';
import { checkBuilderOptions } from './options';
import { addAll, channelsOf, relu, torchBatchNorm, torchConv2d } from './torch-ops';

type SymbolicTensor = tfl.SymbolicTensor;

/** Residual block type: torchvision's `BasicBlock` (two 3×3) or `Bottleneck` (1×1, 3×3, 1×1, ×4). */
export type ResNetBlockType = 'basic' | 'bottleneck';

/** torchvision's standard depths. */
export type ResNetDepth = 18 | 34 | 50 | 101 | 152;

/** Block type and blocks per stage of torchvision's `resnet18 … resnet152`. */
export const RESNET_PRESETS: Readonly<
  Record<
    ResNetDepth,
    {
      /** Residual block type of every stage. */
      block: ResNetBlockType;
      /** Number of blocks in each of the four stages (`layer1 … layer4`). */
      layers: number[];
    }
  >
> = {
  18: { block: 'basic', layers: [2, 2, 2, 2] },
  34: { block: 'basic', layers: [3, 4, 6, 3] },
  50: { block: 'bottleneck', layers: [3, 4, 6, 3] },
  101: { block: 'bottleneck', layers: [3, 4, 23, 3] },
  152: { block: 'bottleneck', layers: [3, 8, 36, 3] },
};

/** Options of {@link resnetBackbone}. */
export interface ResNetOptions {
  /** A torchvision depth (18, 34, 50, 101, 152) giving `block` and `layers`. Default 50. */
  depth?: ResNetDepth;
  /** Block type; overrides the preset of `depth`. */
  block?: ResNetBlockType;
  /** Blocks per stage (`layer1 … layerN`, 1 to 4 stages, each ≥ 1); overrides the preset of `depth`. */
  layers?: number[];
  /** `planes` of each stage (torchvision: `[64, 128, 256, 512]`); one per entry of `layers`. */
  widths?: number[];
  /** Channels of the stem convolution `conv1` (torchvision: 64). Default 64. */
  stemChannels?: number;
  /** Module path prefix: `''` for torchvision's own names (`conv1`), `'backbone'` → `backbone.conv1`. Default `''`. */
  name?: string;
}

/** A resolved ResNet configuration (see {@link resolveResNet}). */
export interface ResolvedResNet {
  /** Residual block type of every stage. */
  block: ResNetBlockType;
  /** Blocks per stage, 1 to 4 stages. */
  layers: number[];
  /** Base width of each stage (a bottleneck stage outputs 4× its width). */
  widths: number[];
  /** Output channels of the stem convolution `conv1`. */
  stemChannels: number;
  /** Module path prefix of every layer name (`''`: torchvision's own names). */
  name: string;
  /** Output channels: last width × 4 (bottleneck) or × 1 (basic). */
  outChannels: number;
  /** Output stride: 4 · 2^(stages − 1) (32 for four stages). */
  outputStride: number;
}

const RESNET_OPTIONS = {
  depth: true,
  block: true,
  layers: true,
  widths: true,
  stemChannels: true,
  name: true,
} satisfies Record<keyof ResNetOptions, true>;

/**
 * Fills in the defaults of {@link ResNetOptions} and validates them: `options` must be an object whose
 * keys are options of {@link ResNetOptions} (a misspelt key is an error, not a silent ResNet-50),
 * `layers` and `widths` lists of positive integers of the same length.
 *
 * @param component The name errors carry (`resnetBackbone`, `createEhpe`).
 * @param argument The name of the options in errors about the object itself. Default `'options'`.
 * @example
 * resolveResNet({ depth: 18 }).outChannels; // 512
 */
export function resolveResNet(
  options: ResNetOptions = {},
  component = 'resnetBackbone',
  argument = 'options',
): ResolvedResNet {
  checkOptionsObject(component, argument, options, 'a ResNet options object such as { depth: 18 }');
  checkKnownKeys(component, argument, options, RESNET_OPTIONS, 'a ResNet option');
  const depth = options.depth ?? 50;
  const preset = RESNET_PRESETS[depth];
  if (preset === undefined) {
    throw new PhalanxConfigError(component, 'depth', 'one of 18, 34, 50, 101, 152', depth);
  }
  const block = checkOneOf(component, 'block', options.block ?? preset.block, ['basic', 'bottleneck'] as const);
  const layers = options.layers ?? preset.layers;
  if (!Array.isArray(layers) || layers.length < 1 || layers.length > 4) {
    throw new PhalanxConfigError(component, 'layers', 'a list of 1 to 4 block counts', layers);
  }
  layers.forEach((n) => checkIntegerIn(component, 'layers', n, 1, MODEL_LIMITS.repeats));
  const widths = options.widths ?? [64, 128, 256, 512].slice(0, layers.length);
  if (!Array.isArray(widths) || widths.length !== layers.length) {
    throw new PhalanxConfigError(component, 'widths', `a list of ${layers.length} widths (one per stage)`, widths);
  }
  widths.forEach((w) => checkIntegerIn(component, 'widths', w, 1, MODEL_LIMITS.channels));
  const stemChannels = checkIntegerIn(component, 'stemChannels', options.stemChannels ?? 64, 1, MODEL_LIMITS.channels);
  const expansion = block === 'bottleneck' ? 4 : 1;
  return {
    block,
    layers,
    widths,
    stemChannels,
    name: options.name ?? '',
    outChannels: widths[widths.length - 1] * expansion,
    outputStride: 4 * 2 ** (layers.length - 1),
  };
}

/** Options of {@link resnetBlock}. */
export interface ResNetBlockOptions {
  /** `'basic'` or `'bottleneck'`. Required. */
  block: ResNetBlockType;
  /** torchvision's `planes` (bottleneck output: 4·planes). Required. */
  planes: number;
  /** Stride of the block (torchvision puts it on `conv2` of a bottleneck, `conv1` of a basic block). Default 1. */
  stride?: number;
  /** Module path, e.g. `backbone.layer2.0`. Required. */
  name: string;
}

/** The keys of {@link ResNetBlockOptions}: any other key is a named error. */
const RESNET_BLOCK_KEYS = { block: true, planes: true, stride: true, name: true } satisfies Record<
  keyof ResNetBlockOptions,
  true
>;

/**
 * torchvision's `BasicBlock` / `Bottleneck` (v1.5: stride on the 3×3 convolution), convolutions
 * without bias, batch norm after each, `relu(out + identity)`; `downsample = conv1×1(stride) + BN`
 * (`<name>.downsample.0`, `.1`) when the stride or channel count changes.
 *
 * - basic: `out = bn2(conv2(relu(bn1(conv1₃ₓ₃(x)))))`;
 * - bottleneck: `out = bn3(conv3₁ₓ₁(relu(bn2(conv2₃ₓ₃(relu(bn1(conv1₁ₓ₁(x))))))))`.
 *
 * **Shapes**: `[B, H, W, C]` → `[B, ⌈H/s⌉, ⌈W/s⌉, planes·expansion]`.
 *
 * @example
 * const x = tfl.input({ shape: [64, 64, 64] });
 * const y = resnetBlock(x, { block: 'bottleneck', planes: 64, name: 'layer1.0' }); // 256 channels
 */
export function resnetBlock(x: SymbolicTensor, options: ResNetBlockOptions): SymbolicTensor {
  const component = 'resnetBlock';
  checkBuilderOptions(component, options, RESNET_BLOCK_KEYS, '{block, planes, stride?, name}');
  const { planes, stride = 1, name } = options;
  // Any other string built a bottleneck with a basic block's output width.
  const block = checkOneOf(component, 'block', options.block, ['basic', 'bottleneck'] as const);
  checkInteger(component, 'planes', planes, 1);
  checkInteger(component, 'stride', stride, 1);
  const inChannels = channelsOf(x, component);
  const outChannels = block === 'bottleneck' ? 4 * planes : planes;
  let out: SymbolicTensor;
  if (block === 'basic') {
    out = torchConv2d(x, {
      filters: planes,
      kernelSize: 3,
      stride,
      padding: 1,
      useBias: false,
      name: torchName(name, 'conv1'),
    });
    out = relu(torchBatchNorm(out, torchName(name, 'bn1')), torchName(name, 'relu1'));
    out = torchConv2d(out, {
      filters: planes,
      kernelSize: 3,
      padding: 1,
      useBias: false,
      name: torchName(name, 'conv2'),
    });
    out = torchBatchNorm(out, torchName(name, 'bn2'));
  } else {
    out = torchConv2d(x, { filters: planes, kernelSize: 1, useBias: false, name: torchName(name, 'conv1') });
    out = relu(torchBatchNorm(out, torchName(name, 'bn1')), torchName(name, 'relu1'));
    out = torchConv2d(out, {
      filters: planes,
      kernelSize: 3,
      stride,
      padding: 1,
      useBias: false,
      name: torchName(name, 'conv2'),
    });
    out = relu(torchBatchNorm(out, torchName(name, 'bn2')), torchName(name, 'relu2'));
    out = torchConv2d(out, { filters: outChannels, kernelSize: 1, useBias: false, name: torchName(name, 'conv3') });
    out = torchBatchNorm(out, torchName(name, 'bn3'));
  }
  let identity = x;
  if (stride !== 1 || inChannels !== outChannels) {
    identity = torchConv2d(x, {
      filters: outChannels,
      kernelSize: 1,
      stride,
      useBias: false,
      name: torchName(name, 'downsample', 0),
    });
    identity = torchBatchNorm(identity, torchName(name, 'downsample', 1));
  }
  return relu(addAll([out, identity], torchName(name, 'add')), torchName(name, 'relu'));
}

/**
 * A ResNet feature extractor (torchvision's `ResNet` up to `layer4`, without `avgpool` / `fc`):
 * stem `conv1` 7×7/2 (padding 3, no bias) → `bn1` → ReLU → `maxpool` 3×3/2 (padding 1), then the
 * stages `layer1 … layerN` of {@link resnetBlock}s (stride 1 for `layer1`, 2 for the others). The
 * max pooling pads with zeros, which equals PyTorch's −∞ padding because its input is ≥ 0 (after ReLU).
 * This is the EHPE release's `ResNet50Backbone` (its `stem` Sequential holds `conv1`, `bn1`) at output
 * stride 32: a 256-pixel image gives `[B, 8, 8, 2048]`.
 *
 * **Shapes**: `[B, H, W, 3]` → `[B, ⌈H/32⌉, ⌈W/32⌉, outChannels]` (four stages; stride 4·2^(N−1) for N).
 *
 * @example
 * const image = tfl.input({ shape: [256, 256, 3] });
 * const features = resnetBackbone(image, { depth: 50, name: 'backbone' }); // [B, 8, 8, 2048]
 * // torchvision weights: loadTorchStateDict(model, prefixKeys(readSafetensors(bytes), 'backbone.'), …)
 */
export function resnetBackbone(image: SymbolicTensor, options: ResNetOptions = {}): SymbolicTensor {
  return resolvedResNetBackbone(image, resolveResNet(options));
}

/**
 * {@link resnetBackbone} from an already resolved configuration ({@link resolveResNet}), for callers
 * that resolve their whole configuration once.
 *
 * **Shapes**: `[B, H, W, 3]` → `[B, H/r.outputStride, W/r.outputStride, r.outChannels]`.
 *
 * @example
 * const image = tfl.input({ shape: [128, 128, 3] });
 * const features = resolvedResNetBackbone(image, resolveResNet({ depth: 18, name: 'backbone' })); // [B, 4, 4, 512]
 */
export function resolvedResNetBackbone(image: SymbolicTensor, r: ResolvedResNet): SymbolicTensor {
  const name = r.name;
  let x = torchConv2d(image, {
    filters: r.stemChannels,
    kernelSize: 7,
    stride: 2,
    padding: 3,
    useBias: false,
    name: torchName(name, 'conv1'),
  });
  x = relu(torchBatchNorm(x, torchName(name, 'bn1')), torchName(name, 'relu'));
  x = tfl.layers
    .zeroPadding2d({
      padding: [
        [1, 1],
        [1, 1],
      ],
      name: torchName(name, 'maxpool', 'pad'),
    })
    .apply(x) as SymbolicTensor;
  x = tfl.layers
    .maxPooling2d({ poolSize: 3, strides: 2, padding: 'valid', name: torchName(name, 'maxpool') })
    .apply(x) as SymbolicTensor;
  r.layers.forEach((blocks, s) => {
    for (let i = 0; i < blocks; i++) {
      x = resnetBlock(x, {
        block: r.block,
        planes: r.widths[s],
        stride: i === 0 && s > 0 ? 2 : 1,
        name: torchName(name, `layer${s + 1}`, i),
      });
    }
  });
  return x;
}
