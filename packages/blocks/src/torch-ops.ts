/**
 * PyTorch-shaped primitives for the functional API: each builder takes a SymbolicTensor `[B, H, W, C]`
 * and returns one, with PyTorch's arithmetic (padding, batch-norm epsilon, transposed-convolution
 * geometry, default initialisation), and names the layer that holds the parameters after the PyTorch
 * module (see `naming.ts`).
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { checkInteger, checkOptions, PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { leanBatchNormalization } from '@phalanx/layers';

type SymbolicTensor = tfl.SymbolicTensor;

/** Batch-norm epsilon of PyTorch's `BatchNorm2d`. */
export const TORCH_BN_EPSILON = 1e-5;
/** Keras-style batch-norm momentum equal to PyTorch's default `momentum=0.1`. */
export const TORCH_BN_MOMENTUM = 0.9;

/**
 * PyTorch's default initialiser of convolution and linear weights, `kaiming_uniform_(a=√5)`:
 * `U(−1/√fanIn, 1/√fanIn)`. TensorFlow.js computes fanIn of a transposed-convolution kernel
 * `[kh, kw, out, in]` as `kh·kw·out`, which is what PyTorch uses for `ConvTranspose2d` too.
 */
export function torchKernelInitializer() {
  return tfl.initializers.varianceScaling({ scale: 1 / 3, mode: 'fanIn', distribution: 'uniform' });
}

/** PyTorch's default bias initialiser `U(−1/√fanIn, 1/√fanIn)`. */
export function torchBiasInitializer(fanIn: number) {
  const bound = 1 / Math.sqrt(fanIn);
  return tfl.initializers.randomUniform({ minval: -bound, maxval: bound });
}

/** Channel count (last axis) of a `[B, H, W, C]` SymbolicTensor. */
export function channelsOf(x: SymbolicTensor, component = 'channelsOf'): number {
  if (!Array.isArray((x as { shape?: unknown } | null)?.shape)) {
    const received = x === null || typeof x !== 'object' ? x : 'an object without a shape';
    throw new PhalanxShapeError(
      component,
      'input',
      'a [B, H, W, C] SymbolicTensor (e.g. tfl.input({ shape }))',
      received,
    );
  }
  const c = x.shape[x.shape.length - 1];
  if (x.shape.length !== 4 || c == null) {
    throw new PhalanxShapeError(component, 'input', 'a [B, H, W, C] tensor with a known C', x.shape);
  }
  return c;
}

/** The keys of {@link TorchConv2dOptions} and {@link TorchConvTranspose2dOptions}: any other key is a named error. */
const TORCH_CONV_KEYS = {
  filters: true,
  kernelSize: true,
  stride: true,
  padding: true,
  useBias: true,
  name: true,
} satisfies Record<keyof TorchConv2dOptions & keyof TorchConvTranspose2dOptions, true>;

/** What the convolutions' options must be, in their errors. */
const TORCH_CONV_EXPECTED = 'an options object {filters, kernelSize, stride?, padding?, useBias?, name}';

/** A named error unless `xs` is a list of at least two tensors (what `add` and `concatenate` need). */
function checkTensorList(component: string, xs: unknown): void {
  if (!Array.isArray(xs) || xs.length < 2) {
    const received = Array.isArray(xs) ? `${xs.length} tensors` : xs;
    throw new PhalanxShapeError(component, 'xs', 'a list of at least 2 SymbolicTensors', received);
  }
}

/**
 * A named error unless every known spatial side `s` of `x` (`[B, H, W, C]`) gives `out(s) ≥ 1`: a kernel,
 * pooling or crop larger than the input built a layer with an empty (or negative) output map.
 */
function checkOutputSides(
  component: string,
  x: SymbolicTensor,
  out: (side: number) => number,
  rule: (smallest: number) => string,
): void {
  const sides = [x.shape[1], x.shape[2]].filter((s): s is number => s != null);
  const smallest = Math.min(...sides.map(out));
  if (smallest < 1) {
    throw new PhalanxShapeError(component, 'input', `[B, H, W, C] with ${rule(smallest)}`, x.shape);
  }
}

/** Options of {@link torchConv2d}. */
export interface TorchConv2dOptions {
  /** Output channels (PyTorch `out_channels`), an integer ≥ 1. Required. */
  filters: number;
  /** Square kernel size, an integer ≥ 1. Required. */
  kernelSize: number;
  /** Stride, an integer ≥ 1. Default 1. */
  stride?: number;
  /** PyTorch zero padding on every side, an integer ≥ 0. Default 0. */
  padding?: number;
  /** Add a bias. Default true. */
  useBias?: boolean;
  /** Layer name: the PyTorch module path (`backbone.conv1_`). Required. */
  name: string;
}

/**
 * `nn.Conv2d(C, filters, kernelSize, stride, padding)` on NHWC. Padding `p` is exact: `'same'` when
 * stride 1 and `p = (k−1)/2` (symmetric), otherwise a `zeroPadding2d(p)` layer (`<name>.pad`) followed
 * by a `'valid'` convolution — TensorFlow's `'same'` pads asymmetrically for strided convolutions.
 * Weights `kernel [k, k, C, filters]` (PyTorch's `[filters, C, k, k]` transposed), `bias [filters]`.
 *
 * **Shapes**: `[B, H, W, C]` → `[B, ⌊(H + 2p − k)/s⌋ + 1, …, filters]`.
 *
 * @example
 * const x = tfl.input({ shape: [128, 128, 3] });
 * const y = torchConv2d(x, { filters: 64, kernelSize: 7, stride: 2, padding: 3, name: 'conv1_' }); // [B, 64, 64, 64]
 */
export function torchConv2d(x: SymbolicTensor, options: TorchConv2dOptions): SymbolicTensor {
  const component = 'torchConv2d';
  checkOptions(component, 'options', options, TORCH_CONV_KEYS, TORCH_CONV_EXPECTED);
  const { filters, kernelSize, stride = 1, padding = 0, useBias = true, name } = options;
  checkInteger(component, 'filters', filters, 1);
  checkInteger(component, 'kernelSize', kernelSize, 1);
  checkInteger(component, 'stride', stride, 1);
  checkInteger(component, 'padding', padding, 0);
  const inChannels = channelsOf(x, component);
  const rule = () => `H + 2·padding and W + 2·padding ≥ kernelSize = ${kernelSize}`;
  checkOutputSides(component, x, (side) => Math.floor((side + 2 * padding - kernelSize) / stride) + 1, rule);
  const fanIn = inChannels * kernelSize * kernelSize;
  const same = padding > 0 && stride === 1 && 2 * padding === kernelSize - 1;
  let input = x;
  if (padding > 0 && !same) {
    input = tfl.layers
      .zeroPadding2d({
        padding: [
          [padding, padding],
          [padding, padding],
        ],
        name: `${name}.pad`,
      })
      .apply(x) as SymbolicTensor;
  }
  return tfl.layers
    .conv2d({
      filters,
      kernelSize,
      strides: stride,
      padding: same ? 'same' : 'valid',
      useBias,
      kernelInitializer: torchKernelInitializer(),
      biasInitializer: useBias ? torchBiasInitializer(fanIn) : undefined,
      name,
    })
    .apply(input) as SymbolicTensor;
}

/** Options of {@link torchConvTranspose2d}. */
export interface TorchConvTranspose2dOptions {
  /** Output channels (PyTorch `out_channels`), an integer ≥ 1. Required. */
  filters: number;
  /** Square kernel size, an integer ≥ 1. Required. */
  kernelSize: number;
  /** Stride, an integer ≥ 1. Required. */
  stride: number;
  /** PyTorch `padding` (cropped from every side of the full transposed convolution), ≥ 0. Default 0. */
  padding?: number;
  /** Add a bias. Default true. */
  useBias?: boolean;
  /** Layer name: the PyTorch module path. Required. */
  name: string;
}

/**
 * `nn.ConvTranspose2d(C, filters, k, s, p)` (output_padding 0) on NHWC: output size `(H−1)·s − 2p + k`.
 * When `2p = k − s` (e.g. k 4, s 2, p 1 → exactly ×2) this is TensorFlow's `'same'` transposed
 * convolution, whose padding is then symmetric and equal to p; otherwise a `'valid'` transposed
 * convolution followed by a `cropping2D(p)` layer (`<name>.crop`). Weights `kernel [k, k, filters, C]`
 * (PyTorch's `[C, filters, k, k]` permuted, no spatial flip), `bias [filters]`.
 *
 * **Shapes**: `[B, H, W, C]` → `[B, (H−1)·s − 2p + k, (W−1)·s − 2p + k, filters]`; an output side < 1 is a
 * `PhalanxShapeError`, before any layer is built.
 *
 * @example
 * const x = tfl.input({ shape: [8, 8, 32] });
 * const y = torchConvTranspose2d(x, { filters: 32, kernelSize: 4, stride: 2, padding: 1, name: 'up' }); // [B, 16, 16, 32]
 */
export function torchConvTranspose2d(x: SymbolicTensor, options: TorchConvTranspose2dOptions): SymbolicTensor {
  const component = 'torchConvTranspose2d';
  checkOptions(component, 'options', options, TORCH_CONV_KEYS, TORCH_CONV_EXPECTED);
  const { filters, kernelSize, stride, padding = 0, useBias = true, name } = options;
  checkInteger(component, 'filters', filters, 1);
  checkInteger(component, 'kernelSize', kernelSize, 1);
  checkInteger(component, 'stride', stride, 1);
  checkInteger(component, 'padding', padding, 0);
  if (kernelSize < stride) {
    throw new PhalanxConfigError(component, 'kernelSize', `≥ stride (${stride})`, kernelSize);
  }
  channelsOf(x, component);
  const rule = (side: number) => `(H − 1)·stride − 2·padding + kernelSize ≥ 1 (here ${side})`;
  checkOutputSides(component, x, (side) => (side - 1) * stride - 2 * padding + kernelSize, rule);
  const same = 2 * padding === kernelSize - stride;
  const fanIn = filters * kernelSize * kernelSize;
  const y = tfl.layers
    .conv2dTranspose({
      filters,
      kernelSize,
      strides: stride,
      padding: same ? 'same' : 'valid',
      useBias,
      kernelInitializer: torchKernelInitializer(),
      biasInitializer: useBias ? torchBiasInitializer(fanIn) : undefined,
      name,
    })
    .apply(x) as SymbolicTensor;
  if (same || padding === 0) return y;
  return tfl.layers
    .cropping2D({
      cropping: [
        [padding, padding],
        [padding, padding],
      ],
      name: `${name}.crop`,
    })
    .apply(y) as SymbolicTensor;
}

/**
 * `nn.BatchNorm2d(C)` on NHWC: epsilon 1e-5, momentum 0.9 (PyTorch's 0.1). Weights in
 * `layer.weights` order: `gamma` (PyTorch `weight`), `beta` (`bias`), `moving_mean` (`running_mean`),
 * `moving_variance` (`running_var`). The layer is {@link @phalanx/layers!LeanBatchNormalization}:
 * tfjs-layers' `BatchNormalization` with a leaner training-mode backward pass, bitwise the same outputs.
 *
 * **Shapes**: `[B, H, W, C]` → same.
 *
 * @example
 * const x = tfl.input({ shape: [64, 64, 32] });
 * const y = torchBatchNorm(x, 'backbone.bn1');
 */
export function torchBatchNorm(x: SymbolicTensor, name: string): SymbolicTensor {
  return leanBatchNormalization({ axis: -1, epsilon: TORCH_BN_EPSILON, momentum: TORCH_BN_MOMENTUM, name }).apply(
    x,
  ) as SymbolicTensor;
}

/**
 * `nn.ReLU` as a named weightless layer.
 *
 * **Shapes**: any → same.
 */
export function relu(x: SymbolicTensor, name: string): SymbolicTensor {
  return tfl.layers.reLU({ name }).apply(x) as SymbolicTensor;
}

/**
 * `nn.MaxPool2d(k, k)` (kernel = stride, no padding, floor mode) as a `'valid'` max pooling.
 *
 * **Shapes**: `[B, H, W, C]` → `[B, ⌊H/k⌋, ⌊W/k⌋, C]`; H, W ≥ k (else a `PhalanxShapeError`).
 */
export function torchMaxPool(x: SymbolicTensor, size: number, name: string): SymbolicTensor {
  checkInteger('torchMaxPool', 'size', size, 1);
  channelsOf(x, 'torchMaxPool');
  checkOutputSides(
    'torchMaxPool',
    x,
    (side) => Math.floor(side / size),
    () => `H and W ≥ size = ${size}`,
  );
  return tfl.layers.maxPooling2d({ poolSize: size, strides: size, padding: 'valid', name }).apply(x) as SymbolicTensor;
}

/**
 * `F.interpolate(x, scale_factor=factor)` (mode 'nearest'): every pixel repeated factor×factor times.
 *
 * **Shapes**: `[B, H, W, C]` → `[B, factor·H, factor·W, C]`.
 */
export function nearestUpsample(x: SymbolicTensor, factor: number, name: string): SymbolicTensor {
  checkInteger('nearestUpsample', 'factor', factor, 1);
  return tfl.layers.upSampling2d({ size: [factor, factor], interpolation: 'nearest', name }).apply(x) as SymbolicTensor;
}

/** Element-wise sum of several tensors as a named `add` layer. */
export function addAll(xs: SymbolicTensor[], name: string): SymbolicTensor {
  checkTensorList('addAll', xs);
  return tfl.layers.add({ name }).apply(xs) as SymbolicTensor;
}

/** Channel concatenation (PyTorch `torch.cat(xs, 1)` on NCHW) as a named layer. */
export function concatChannels(xs: SymbolicTensor[], name: string): SymbolicTensor {
  checkTensorList('concatChannels', xs);
  return tfl.layers.concatenate({ axis: -1, name }).apply(xs) as SymbolicTensor;
}
