import * as tf from '@tensorflow/tfjs-core';
import { convGeometry, type ConvGeometry, type ConvPad } from './conv-geometry';
import { input, WASM, withScope } from './kernel-scope';
import { simdKernels, simdKernelThreads } from './simd';
import { installKernel, requireStockKernel, restoreStockKernel, stockKernel } from './stock-kernels';
import { winogradChannels, winogradConv, type WinogradEpilogue } from './winograd';

/**
 * Forward 3×3 convolutions by Winograd F(4×4, 3×3) on the wasm backend, as an explicit opt-in
 * ({@link enableWinogradConvolution}): the `Conv2D` and `FusedConv2D` kernels of `wasm` are replaced by
 * ones that send every 3×3, stride-1, dilation-1 NHWC float32 convolution (with at most a bias and a
 * ReLU fused) through the package's Winograd route, `Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A`, whose 36 GEMMs
 * do 1/4 of the direct method's multiply-adds, and hand everything else to the backend's own kernels.
 *
 * The results differ from XNNPACK's in the low bits (the transforms round differently): the opt-in
 * changes numbers, which is why importing the package does not turn it on.
 */

/**
 * The smallest input channel count that is rounded up to a multiple of 4 for the forward route (the
 * zero channels add nothing to the sums): the Learnable Groups network's 277-channel convolution pads to
 * 280 (≈ 1 % more work), while a 3-channel image stays on XNNPACK.
 */
export const WINOGRAD_MIN_PADDED_FORWARD_CHANNELS = 16;

/**
 * The smallest product of input and output channels that takes the forward route: below it the
 * transforms cost about what the GEMMs save (B = 16, 64², 16 → 16 channels on one thread: 14 ms either way).
 */
export const WINOGRAD_MIN_FORWARD_CHANNEL_PRODUCT = 32 * 32;

/**
 * With more than one thread, the smallest convolution (direct multiply-adds `N·Ho·Wo·9·C·K`) that takes the
 * forward route: XNNPACK splits small convolutions over the threads better than the route's transforms and
 * GEMMs do. Measured on 2 threads (XNNPACK against Winograd, ms): 38 M multiply-adds (`[1, 16, 16, 128] → 128`)
 * 1.6 against 2.3, 75 M (`[1, 64, 64, 64] → 32`) 3.1 against 3.1, 151 M (`[1, 32, 32, 128] → 128`) 6.0 against
 * 4.8, 604 M (`[1, 64, 64, 128] → 128`) 25 against 11.
 */
export const WINOGRAD_MIN_FORWARD_MACS_THREADED = 2 ** 27;

/** The attributes of `FusedConv2D` (those of `Conv2D` and the fused activation). */
interface ConvAttrs {
  strides: number | [number, number];
  pad: ConvPad;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  activation?: string;
}

/** The explicit `[[0,0],[top,bottom],[left,right],[0,0]]` padding of a forward geometry. */
function explicitPads(g: ConvGeometry): tf.backend_util.ExplicitPadding {
  const bottom = g.outHeight + g.filterHeight - 1 - g.inHeight - g.padTop;
  const right = g.outWidth + g.filterWidth - 1 - g.inWidth - g.padLeft;
  return [
    [0, 0],
    [g.padTop, bottom],
    [g.padLeft, right],
    [0, 0],
  ];
}

/**
 * The Winograd result of one convolution, or `null` when it does not take that route (other filter,
 * stride, dilation, layout, dtype, activation, bias shape, or channel counts).
 */
function winogradForward(
  backend: tf.KernelBackend,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  attrs: ConvAttrs,
  bias: tf.TensorInfo | undefined,
): tf.TensorInfo | null {
  const activation = attrs.activation ?? 'linear';
  if ((attrs.dataFormat ?? 'NHWC') !== 'NHWC' || x.dtype !== 'float32' || filter.dtype !== 'float32') return null;
  if (activation !== 'linear' && activation !== 'relu') return null;
  const [, , ci, co] = filter.shape;
  // Shapes the op would have refused (a kernel run directly): the backend's kernel answers for them.
  if (x.shape.length !== 4 || filter.shape.length !== 4 || x.shape[3] !== ci) return null;
  if (ci * co < WINOGRAD_MIN_FORWARD_CHANNEL_PRODUCT) return null;
  if (bias != null && (bias.dtype !== 'float32' || bias.shape.length !== 1 || bias.shape[0] !== co)) return null;
  const g = convGeometry(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
  );
  const padded = winogradChannels(g, ci, co, WINOGRAD_MIN_PADDED_FORWARD_CHANNELS);
  const simd = padded != null ? simdKernels(backend) : null;
  if (padded == null || simd == null || g.outHeight === 0 || g.outWidth === 0) return null;
  const macs = g.batch * g.outHeight * g.outWidth * 9 * ci * co;
  if (simdKernelThreads(backend) > 1 && macs < WINOGRAD_MIN_FORWARD_MACS_THREADED) return null;
  const [ci4, co4] = padded;
  return withScope(backend, (scope) => {
    const xp = scope.padTrailing(x, [ci4 - ci]);
    const fp = scope.padTrailing(filter, [ci4 - ci, co4 - co]);
    const epilogue: WinogradEpilogue = { relu: activation === 'relu' };
    if (bias != null) epilogue.bias = scope.padTrailing(bias, [co4 - co]);
    const y = winogradConv(scope, simd, xp, fp, explicitPads(g), epilogue, 4);
    return scope.slice(y, [0, 0, 0, 0], [g.batch, g.outHeight, g.outWidth, co]);
  });
}

/** `Conv2D` on wasm with the Winograd route for 3×3 stride-1 filters, the backend's kernel otherwise. */
export function winogradConv2D(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs: tf.NamedAttrMap;
}): tf.TensorInfo {
  const attrs = args.attrs as unknown as ConvAttrs;
  const y = winogradForward(args.backend, input(args.inputs, 'x'), input(args.inputs, 'filter'), attrs, undefined);
  return y ?? (requireStockKernel(tf.Conv2D).kernelFunc(args) as tf.TensorInfo);
}

/** `FusedConv2D` on wasm with the Winograd route (bias and ReLU in its output transform), else the backend's. */
export function winogradFusedConv2D(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs: tf.NamedAttrMap;
}): tf.TensorInfo {
  const attrs = args.attrs as unknown as ConvAttrs;
  const y =
    args.inputs.preluActivationWeights == null
      ? winogradForward(args.backend, input(args.inputs, 'x'), input(args.inputs, 'filter'), attrs, args.inputs.bias)
      : null;
  return y ?? (requireStockKernel(tf.FusedConv2D).kernelFunc(args) as tf.TensorInfo);
}

/** The stock kernel's setup (binding its wasm function), for when the backend starts after the opt-in. */
function setupStock(name: string): tf.KernelSetupFunc {
  return (backend) => stockKernel(name)?.setupFunc?.(backend);
}

/** The two kernels {@link enableWinogradConvolution} registers. */
const WINOGRAD_CONVOLUTION_KERNELS: readonly tf.KernelConfig[] = [
  {
    kernelName: tf.Conv2D,
    backendName: WASM,
    kernelFunc: winogradConv2D as unknown as tf.KernelFunc,
    setupFunc: setupStock(tf.Conv2D),
  },
  {
    kernelName: tf.FusedConv2D,
    backendName: WASM,
    kernelFunc: winogradFusedConv2D as unknown as tf.KernelFunc,
    setupFunc: setupStock(tf.FusedConv2D),
  },
];

/**
 * Sends the wasm backend's 3×3, stride-1 convolutions (`Conv2D`, and `FusedConv2D` with no activation or a
 * ReLU) through Winograd F(4×4, 3×3): `Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A` over 4×4 output tiles, 1/4 of the
 * direct method's multiply-adds, the 36 GEMMs and both transforms on every thread of the backend's pool.
 * Other convolutions, the NCHW layout, other dtypes and activations keep the backend's XNNPACK kernels, and
 * so do convolutions below {@link WINOGRAD_MIN_FORWARD_MACS_THREADED} multiply-adds on a threaded backend.
 *
 * It changes results in the low bits (relative differences ≈ 1e-5 of the largest output against XNNPACK),
 * so it is an opt-in and {@link disableWinogradConvolution} restores the backend's kernels. Gradients are
 * unaffected: they have kernels of their own. Measured in `docs/training-on-wasm.md`.
 *
 * **Shapes**: `x [N, H, W, C]`, `filter [3, 3, C, K]`, `bias [K]` → `[N, Ho, Wo, K]`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { enableWinogradConvolution, disableWinogradConvolution } from '@phalanx/wasm-training';
 *
 * enableWinogradConvolution();
 * await tf.setBackend('wasm');
 * const y = tf.conv2d(tf.ones([1, 8, 8, 32]) as tf.Tensor4D, tf.ones([3, 3, 32, 32]) as tf.Tensor4D, 1, 'same');
 * disableWinogradConvolution();
 * ```
 */
export function enableWinogradConvolution(): void {
  for (const config of WINOGRAD_CONVOLUTION_KERNELS) {
    if (tf.getKernel(config.kernelName, WASM) == null) {
      throw new Error(`@phalanx/wasm-training: the wasm backend has no '${config.kernelName}' kernel.`);
    }
    installKernel(config);
  }
}

/** Gives `Conv2D` and `FusedConv2D` back to the wasm backend's own kernels (undoes {@link enableWinogradConvolution}). */
export function disableWinogradConvolution(): void {
  for (const config of WINOGRAD_CONVOLUTION_KERNELS) restoreStockKernel(config);
}

/** Whether {@link enableWinogradConvolution} is in effect. */
export function isWinogradConvolutionEnabled(): boolean {
  return WINOGRAD_CONVOLUTION_KERNELS.every((config) => tf.getKernel(config.kernelName, WASM) === config);
}
