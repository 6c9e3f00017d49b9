/**
 * The 2D encoder–decoder blocks of the Learnable-Groups release (`nets/Block_lib.py`, after V2V-PoseNet):
 * `Basic2DBlock`, `Res2DBlock`, `DownsampleConv2D_R`, `Upsample2DBlock_R`. Post-activation (conv → BN →
 * ReLU) with biased convolutions; layer names follow the PyTorch `nn.Sequential` indices.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { checkInteger, PhalanxConfigError } from '@phalanx/errors';
import { torchName } from './naming';
import { checkBuilderOptions } from './options';
import { addAll, channelsOf, relu, torchBatchNorm, torchConv2d, torchConvTranspose2d } from './torch-ops';

type SymbolicTensor = tfl.SymbolicTensor;

/** Options shared by the 2D blocks. */
export interface Block2DOptions {
  /** Output channels, an integer ≥ 1. Required. */
  outChannels: number;
  /** PyTorch module path of the block (`b_conv1.0`). Required. */
  name: string;
}

/** Options of {@link basic2dBlock}. */
export interface Basic2DBlockOptions extends Block2DOptions {
  /** Odd square kernel size; padding is (k−1)/2. Required. */
  kernelSize: number;
}

/** The keys of {@link Block2DOptions}: any other key is a named error. */
const BLOCK_2D_KEYS = { outChannels: true, name: true } satisfies Record<keyof Block2DOptions, true>;

/** The keys of {@link Basic2DBlockOptions}: any other key is a named error. */
const BASIC_2D_KEYS = { outChannels: true, kernelSize: true, name: true } satisfies Record<
  keyof Basic2DBlockOptions,
  true
>;

/**
 * `Basic2DBlock(C, N, k)`: `relu(bn(conv_k(x)))`, padding (k−1)/2. Layers `<name>.block.0` (conv),
 * `.block.1` (BN), `.block.2` (ReLU).
 *
 * **Shapes**: `[B, H, W, C]` → `[B, H, W, N]`.
 *
 * @example
 * const x = tfl.input({ shape: [64, 64, 16] });
 * const y = basic2dBlock(x, { outChannels: 32, kernelSize: 1, name: 'b_conv0.0' });
 */
export function basic2dBlock(x: SymbolicTensor, options: Basic2DBlockOptions): SymbolicTensor {
  checkBuilderOptions('basic2dBlock', options, BASIC_2D_KEYS, '{outChannels, kernelSize, name}');
  const { outChannels, kernelSize, name } = options;
  checkInteger('basic2dBlock', 'kernelSize', kernelSize, 1);
  if (kernelSize % 2 === 0) throw new PhalanxConfigError('basic2dBlock', 'kernelSize', 'an odd integer', kernelSize);
  const y = torchConv2d(x, {
    filters: outChannels,
    kernelSize,
    padding: (kernelSize - 1) / 2,
    name: torchName(name, 'block', 0),
  });
  return relu(torchBatchNorm(y, torchName(name, 'block', 1)), torchName(name, 'block', 2));
}

/**
 * `Res2DBlock(C, N)`: `relu(bn(conv3(relu(bn(conv3(x))))) + skip(x))` with `skip` the identity when
 * C = N, else `bn(conv1×1(x))`. Layers `<name>.res_branch.{0,1,2,3,4}` (conv, BN, ReLU, conv, BN),
 * `<name>.skip_con.{0,1}` (conv, BN), weightless `.add`, `.relu`.
 *
 * **Shapes**: `[B, H, W, C]` → `[B, H, W, N]`.
 *
 * @example
 * const x = tfl.input({ shape: [64, 64, 64] });
 * const y = res2dBlock(x, { outChannels: 128, name: 'backbone_conv.0' });
 */
export function res2dBlock(x: SymbolicTensor, options: Block2DOptions): SymbolicTensor {
  checkBuilderOptions('res2dBlock', options, BLOCK_2D_KEYS, '{outChannels, name}');
  const { outChannels, name } = options;
  const inChannels = channelsOf(x, 'res2dBlock');
  const branch = (i: number) => torchName(name, 'res_branch', i);
  let res = torchConv2d(x, { filters: outChannels, kernelSize: 3, padding: 1, name: branch(0) });
  res = relu(torchBatchNorm(res, branch(1)), branch(2));
  res = torchConv2d(res, { filters: outChannels, kernelSize: 3, padding: 1, name: branch(3) });
  res = torchBatchNorm(res, branch(4));
  let skip = x;
  if (inChannels !== outChannels) {
    skip = torchConv2d(x, { filters: outChannels, kernelSize: 1, name: torchName(name, 'skip_con', 0) });
    skip = torchBatchNorm(skip, torchName(name, 'skip_con', 1));
  }
  return relu(addAll([res, skip], torchName(name, 'add')), torchName(name, 'relu'));
}

/**
 * `DownsampleConv2D_R(C, N)`: a strided residual block,
 * `relu(relu(bn(conv3(relu(bn(conv3/2(x)))))) + bn(conv1×1/2(x)))` — the 3×3 stride-2 convolution has
 * PyTorch padding 1 (zero padding + 'valid'), the skip is always a 1×1 stride-2 convolution and BN.
 * Layers `<name>.res_branch.{0..5}` (conv, BN, ReLU, conv, BN, ReLU), `<name>.skip_con.{0,1}`,
 * weightless `.add`, `.relu`.
 *
 * **Shapes**: `[B, H, W, C]` → `[B, ⌈H/2⌉, ⌈W/2⌉, N]`.
 *
 * @example
 * const x = tfl.input({ shape: [64, 64, 16] });
 * const y = downsampleConv2dR(x, { outChannels: 32, name: 'b_down1.0' }); // [B, 32, 32, 32]
 */
export function downsampleConv2dR(x: SymbolicTensor, options: Block2DOptions): SymbolicTensor {
  checkBuilderOptions('downsampleConv2dR', options, BLOCK_2D_KEYS, '{outChannels, name}');
  const { outChannels, name } = options;
  channelsOf(x, 'downsampleConv2dR');
  const branch = (i: number) => torchName(name, 'res_branch', i);
  let res = torchConv2d(x, { filters: outChannels, kernelSize: 3, stride: 2, padding: 1, name: branch(0) });
  res = relu(torchBatchNorm(res, branch(1)), branch(2));
  res = torchConv2d(res, { filters: outChannels, kernelSize: 3, padding: 1, name: branch(3) });
  res = relu(torchBatchNorm(res, branch(4)), branch(5));
  let skip = torchConv2d(x, { filters: outChannels, kernelSize: 1, stride: 2, name: torchName(name, 'skip_con', 0) });
  skip = torchBatchNorm(skip, torchName(name, 'skip_con', 1));
  return relu(addAll([res, skip], torchName(name, 'add')), torchName(name, 'relu'));
}

/**
 * `Upsample2DBlock_R(C, N, 4, 2)`: `relu(bn(convTranspose_{k4,s2,p1}(x)))`, an exact ×2 upsampling.
 * Layers `<name>.block.0` (transposed conv, kernel `[4, 4, N, C]`), `.block.1` (BN), `.block.2` (ReLU).
 *
 * **Shapes**: `[B, H, W, C]` → `[B, 2H, 2W, N]`.
 *
 * @example
 * const x = tfl.input({ shape: [16, 16, 64] });
 * const y = upsample2dBlockR(x, { outChannels: 32, name: 'b_up2.0.0' }); // [B, 32, 32, 32]
 */
export function upsample2dBlockR(x: SymbolicTensor, options: Block2DOptions): SymbolicTensor {
  checkBuilderOptions('upsample2dBlockR', options, BLOCK_2D_KEYS, '{outChannels, name}');
  const { outChannels, name } = options;
  const y = torchConvTranspose2d(x, {
    filters: outChannels,
    kernelSize: 4,
    stride: 2,
    padding: 1,
    name: torchName(name, 'block', 0),
  });
  return relu(torchBatchNorm(y, torchName(name, 'block', 1)), torchName(name, 'block', 2));
}
