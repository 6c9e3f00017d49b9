import * as tf from '@tensorflow/tfjs-core';
import { checkOneOf, PhalanxShapeError } from '@phalanx/errors';
import { isInputGradientUnneeded } from './lean-backprop';
import {
  checkConvOperands,
  convGeometry,
  insertZeros,
  nchwToNhwcShape,
  padOrCrop,
  type ConvGeometry,
  type ConvPad,
} from './conv-geometry';
import { input, type KernelScope, withScope } from './kernel-scope';
import { pointer, simdKernels, type SimdKernels } from './simd';
import {
  WINOGRAD_MIN_PADDED_FILTER_GRAD_CHANNELS,
  WINOGRAD_MIN_PADDED_INPUT_GRAD_CHANNELS,
  winogradChannels,
  winogradConv,
  winogradFilterGrad,
} from './winograd';

/** How the filter gradient is computed; see {@link setConv2DBackpropFilterStrategy}. */
export type FilterGradStrategy = 'winograd' | 'shifted-gemm' | 'swapped-conv' | 'im2col';

/** Every {@link FilterGradStrategy}, in the order error messages list them. */
const FILTER_GRAD_STRATEGIES: readonly FilterGradStrategy[] = ['winograd', 'shifted-gemm', 'swapped-conv', 'im2col'];

let filterStrategy: FilterGradStrategy = 'winograd';

/** How the input gradient is computed; see {@link setConv2DBackpropInputStrategy}. */
export type InputGradStrategy = 'winograd' | 'convolution';

/** Every {@link InputGradStrategy}. */
const INPUT_GRAD_STRATEGIES: readonly InputGradStrategy[] = ['winograd', 'convolution'];

let inputStrategy: InputGradStrategy = 'winograd';

/**
 * Chooses how `Conv2DBackpropInput` runs on wasm: `'winograd'` (default) computes the 3×3 stride-1
 * convolution of the (spread) dy with the rotated filter by Winograd F(2×2, 3×3) on the package's SIMD
 * kernels when the channel counts are multiples of 4; everything else, and `'convolution'`, runs it as
 * one XNNPACK convolution. Any other value is a `PhalanxConfigError` (the strategy stays as it was).
 */
export function setConv2DBackpropInputStrategy(strategy: InputGradStrategy): void {
  inputStrategy = checkOneOf('setConv2DBackpropInputStrategy', 'strategy', strategy, INPUT_GRAD_STRATEGIES);
}

/** The strategy in use for `Conv2DBackpropInput`. */
export function getConv2DBackpropInputStrategy(): InputGradStrategy {
  return inputStrategy;
}

/**
 * Chooses how `Conv2DBackpropFilter` runs on wasm (all give the same numbers up to float32 rounding):
 * - `'winograd'` (default): 3×3 stride-1 filters with channel counts that are multiples of 4 by
 *   Winograd F(2×2, 3×3) (16 GEMMs over 2×2 output tiles, 16/36 of the multiply-adds); other filters
 *   take `'shifted-gemm'`.
 * - `'shifted-gemm'`: for stride 1, one GEMM per filter tap on the package's SIMD kernel,
 *   reading the zero-padded input at the tap's offset in place (no im2col copy; ≈ 1.2× the forward's
 *   time at B=8, 64×64, 64→64, vs ≈ 1.7× for the swapped convolution); other strides, or a runtime
 *   without the SIMD kernels, take `'swapped-conv'`.
 * - `'swapped-conv'` (≈ 1.5–3× faster than im2col at B=8, 64×64, 64→64 in
 *   `bench/src/wasm-training.ts`): one XNNPACK convolution of `xᵀ` (`Ci` as batch, `N` as channels)
 *   with `dyᵀ` as the filter (`[Ho, Wo, N, Co]`), dilation = forward stride, cropped to the filter size.
 * - `'im2col'`: the `kh·kw` strided views of the padded input are
 *   stacked into one `[kh·kw·Ci, N·Ho·Wo]` matrix, multiplied once by `dy` as `[N·Ho·Wo, Co]`
 *   through the wasm backend's XNNPACK matmul (the strided copies cost more than they save).
 *
 * Pointwise convolutions (1×1, stride 1, no padding) take neither: their filter gradient is one
 * matrix product `xᵀ·dy` (≈ 2× the forward's time instead of 6–9×).
 *
 * Any other value is a `PhalanxConfigError` (the strategy stays as it was).
 */
export function setConv2DBackpropFilterStrategy(strategy: FilterGradStrategy): void {
  filterStrategy = checkOneOf('setConv2DBackpropFilterStrategy', 'strategy', strategy, FILTER_GRAD_STRATEGIES);
}

/** The strategy in use for `Conv2DBackpropFilter`. */
export function getConv2DBackpropFilterStrategy(): FilterGradStrategy {
  return filterStrategy;
}

/** Rows of the padded input the taps of the filter reach: bottom padding needed (≥ 0). */
function extraBottom(inSize: number, outSize: number, k: number, stride: number, dilation: number, before: number) {
  return Math.max(0, (k - 1) * dilation + (outSize - 1) * stride + 1 - inSize - before);
}

/**
 * `[Ci, kh·kw, M]`-free im2col: the strided view of tap `(i, j)` of the zero-padded, channel-major
 * input `xT: [C, N, H, W]` as `[C, N·Ho·Wo]`.
 */
export function tapViews(scope: KernelScope, xT: tf.TensorInfo, g: ConvGeometry): tf.TensorInfo[] {
  const [c, n] = xT.shape;
  const padded = scope.pad(xT, [
    [0, 0],
    [0, 0],
    [g.padTop, extraBottom(g.inHeight, g.outHeight, g.filterHeight, g.strideHeight, g.dilationHeight, g.padTop)],
    [g.padLeft, extraBottom(g.inWidth, g.outWidth, g.filterWidth, g.strideWidth, g.dilationWidth, g.padLeft)],
  ]);
  const m = n * g.outHeight * g.outWidth;
  const views: tf.TensorInfo[] = [];
  for (let i = 0; i < g.filterHeight; i++) {
    for (let j = 0; j < g.filterWidth; j++) {
      const top = i * g.dilationHeight;
      const left = j * g.dilationWidth;
      const view = scope.stridedSlice(
        padded,
        [0, 0, top, left],
        [c, n, top + (g.outHeight - 1) * g.strideHeight + 1, left + (g.outWidth - 1) * g.strideWidth + 1],
        [1, 1, g.strideHeight, g.strideWidth],
      );
      views.push(scope.reshape(view, [c, m]));
    }
  }
  return views;
}

function filterGradIm2col(
  scope: KernelScope,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  g: ConvGeometry,
  ci: number,
  co: number,
) {
  const xT = scope.transpose(x, [3, 0, 1, 2]); // [Ci, N, H, W]
  const views = tapViews(scope, xT, g);
  const m = g.batch * g.outHeight * g.outWidth;
  const cols =
    views.length === 1 ? views[0] : scope.run(tf.Concat, views as unknown as tf.NamedTensorInfoMap, { axis: 0 });
  const a = scope.reshape(cols, [1, g.filterHeight * g.filterWidth * ci, m]);
  const b = scope.reshape(dy, [1, m, co]);
  const prod = scope.run(tf.BatchMatMul, { a, b }, { transposeA: false, transposeB: false });
  return scope.reshape(prod, [g.filterHeight, g.filterWidth, ci, co]);
}

function filterGradSwappedConv(
  scope: KernelScope,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  g: ConvGeometry,
  ci: number,
  co: number,
) {
  const xT = scope.transpose(x, [3, 1, 2, 0]); // [Ci, H, W, N]: Ci as batch, N as channels
  const dyT = scope.transpose(dy, [1, 2, 0, 3]); // [Ho, Wo, N, Co]: a filter
  // Explicit padding so that the swapped convolution yields exactly kh × kw outputs.
  const bottom =
    (g.filterHeight - 1) * g.dilationHeight + (g.outHeight - 1) * g.strideHeight + 1 - g.inHeight - g.padTop;
  const right = (g.filterWidth - 1) * g.dilationWidth + (g.outWidth - 1) * g.strideWidth + 1 - g.inWidth - g.padLeft;
  if (g.inHeight + Math.min(0, bottom) <= 0 || g.inWidth + Math.min(0, right) <= 0) {
    // No tap reaches a row (or column) of the input: every product is with padding. XNNPACK refuses an
    // empty input and would leave the output uninitialised.
    return scope.run(tf.Fill, {}, { shape: [g.filterHeight, g.filterWidth, ci, co], value: 0, dtype: 'float32' });
  }
  const input = padOrCrop(scope, xT, 0, Math.min(0, bottom), 0, Math.min(0, right));
  const conv = scope.run(
    tf.Conv2D,
    { x: input, filter: dyT },
    {
      strides: [g.dilationHeight, g.dilationWidth],
      dilations: [g.strideHeight, g.strideWidth],
      pad: [
        [0, 0],
        [g.padTop, Math.max(0, bottom)],
        [g.padLeft, Math.max(0, right)],
        [0, 0],
      ],
      dataFormat: 'NHWC',
    },
  ); // [Ci, kh, kw, Co]
  return scope.transpose(conv, [1, 2, 0, 3]);
}

/** A 1×1 convolution with stride 1 and no padding: every output pixel is one input pixel. */
function isPointwise(g: ConvGeometry): boolean {
  return (
    g.filterHeight === 1 &&
    g.filterWidth === 1 &&
    g.strideHeight === 1 &&
    g.strideWidth === 1 &&
    g.outHeight === g.inHeight &&
    g.outWidth === g.inWidth
  );
}

/**
 * Filter gradient of a pointwise (1×1, stride 1, unpadded) convolution: `xᵀ·dy` over the `N·H·W`
 * pixels, one matrix product (the `BatchMatMul` of this package: explicit transpose, then XNNPACK).
 * The swapped convolution would run an `H×W` filter for it, ≈ 6–9× the forward's time.
 */
function filterGradPointwise(
  scope: KernelScope,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  g: ConvGeometry,
  ci: number,
  co: number,
) {
  const m = g.batch * g.outHeight * g.outWidth;
  const a = scope.reshape(x, [1, m, ci]);
  const b = scope.reshape(dy, [1, m, co]);
  const prod = scope.run(tf.BatchMatMul, { a, b }, { transposeA: true, transposeB: false });
  return scope.reshape(prod, [1, 1, ci, co]);
}

/**
 * Filter gradient of a stride-1 convolution on the package's SIMD GEMM, with no im2col copy. With the
 * input zero-padded to `xp [N, Hp, Wp, Ci]` and `dy` zero-extended to the same `[N, Hp, Wp, Co]` grid,
 * pixel `p` of the flattened grid and tap `(i, j)` meet at `xp[p + i·dh·Wp + j·dw]`, so
 * `∂W[i, j] = Σ_p xp[p + shift]ᵀ · dyExt[p]` — one GEMM per tap that reads `xp` at an offset (as
 * `[Ci, P]` through its strides) and `dyExt` in place. The extended grid adds (Hp·Wp)/(Ho·Wo) − 1 of
 * zero rows (6 % for 3×3 'same' at 64×64).
 */
function filterGradShifted(
  scope: KernelScope,
  simd: SimdKernels,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  g: ConvGeometry,
  ci: number,
  co: number,
): tf.TensorInfo {
  const kh = (g.filterHeight - 1) * g.dilationHeight + 1;
  const kw = (g.filterWidth - 1) * g.dilationWidth + 1;
  const hp = g.outHeight + kh - 1;
  const wp = g.outWidth + kw - 1;
  // xp: pad top/left, then pad or crop bottom/right to exactly hp × wp.
  const xp = padOrCrop(scope, x, g.padTop, hp - g.inHeight - g.padTop, g.padLeft, wp - g.inWidth - g.padLeft);
  const dyExt = scope.pad(dy, [
    [0, 0],
    [0, hp - g.outHeight],
    [0, wp - g.outWidth],
    [0, 0],
  ]);
  const out = scope.output([g.filterHeight, g.filterWidth, ci, co]);
  const pixels = g.batch * hp * wp;
  const [xPtr, dyPtr, outPtr] = [
    pointer(scope.backend, xp),
    pointer(scope.backend, dyExt),
    pointer(scope.backend, out),
  ];
  for (let i = 0; i < g.filterHeight; i++) {
    for (let j = 0; j < g.filterWidth; j++) {
      const shift = i * g.dilationHeight * wp + j * g.dilationWidth;
      const tap = (i * g.filterWidth + j) * ci * co;
      // C[ci, co] = Σ_p A(ci, p)·B[p, co], A(ci, p) = xp[(p + shift)·Ci + ci]: row stride 4 B, column 4·Ci.
      simd.gemm(
        1,
        xPtr + 4 * shift * ci,
        0,
        4,
        4 * ci,
        dyPtr,
        0,
        4 * co,
        outPtr + 4 * tap,
        0,
        4 * co,
        ci,
        co,
        pixels - shift,
        0,
      );
    }
  }
  return out;
}

/**
 * `t` as float32: int32 (or bool) operands are cast, as the cpu backend computes them, instead of
 * XNNPACK and the SIMD kernels reading their bits as floats (zeros or NaN) or the backend's `BatchMatMul`
 * refusing them. A float32 operand is returned as it is.
 */
export function float32Operand(scope: KernelScope, t: tf.TensorInfo): tf.TensorInfo {
  return t.dtype === 'float32' ? t : scope.run(tf.Cast, { x: t }, { dtype: 'float32' });
}

/**
 * Zeros of `shape` when one of `operands` has no elements (a batch or channel count of 0): the gradient
 * is an empty sum. XNNPACK refuses such convolutions and products (leaving the output buffer
 * uninitialised) and the backend's depthwise kernel divides by the channel count; `null` otherwise.
 */
export function zerosIfEmpty(
  scope: KernelScope,
  operands: readonly tf.TensorInfo[],
  shape: readonly number[],
): tf.TensorInfo | null {
  if (operands.every((t) => tf.util.sizeFromShape(t.shape) > 0)) return null;
  return scope.run(tf.Fill, {}, { shape: [...shape], value: 0, dtype: 'float32' });
}

/** Pads attribute in NHWC order when the kernel was called with NCHW. */
function nhwcPad(pad: ConvPad, dataFormat: 'NHWC' | 'NCHW'): ConvPad {
  if (dataFormat === 'NCHW' && Array.isArray(pad)) return [pad[0], pad[2], pad[3], pad[1]] as ConvPad;
  return pad;
}

/** `Conv2DBackpropFilter` for wasm: ∂L/∂W of `conv2d(x, W)` given `dy`. */
export function conv2DBackpropFilter(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs: tf.NamedAttrMap;
}): tf.TensorInfo {
  const x = input(args.inputs, 'x');
  const dy = input(args.inputs, 'dy');
  const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const dataFormat = attrs.dataFormat ?? 'NHWC';
  checkConvOperands('Conv2DBackpropFilter', {
    input: x.shape,
    inputName: 'x',
    filter: attrs.filterShape,
    filterName: 'filterShape',
    dy: dy.shape,
    channelAxis: dataFormat === 'NCHW' ? 1 : 3,
    strides: attrs.strides,
    dilations: 1,
  });
  return withScope(args.backend, (scope) => {
    const [xf, dyf] = [float32Operand(scope, x), float32Operand(scope, dy)];
    const xs = dataFormat === 'NCHW' ? scope.transpose(xf, [0, 2, 3, 1]) : xf;
    const dys = dataFormat === 'NCHW' ? scope.transpose(dyf, [0, 2, 3, 1]) : dyf;
    const filterShape = attrs.filterShape;
    const g = convGeometry(
      xs.shape as [number, number, number, number],
      filterShape,
      attrs.strides,
      1,
      nhwcPad(attrs.pad, dataFormat),
      attrs.dimRoundingMode,
      false,
    );
    checkShape('Conv2DBackpropFilter', 'dy', dys.shape, [g.batch, g.outHeight, g.outWidth, filterShape[3]]);
    const empty = zerosIfEmpty(scope, [xs, dys], filterShape);
    if (empty != null) return empty;
    const [, , ci, co] = filterShape;
    if (isPointwise(g)) return filterGradPointwise(scope, xs, dys, g, ci, co);
    const onSimd = filterStrategy === 'winograd' || filterStrategy === 'shifted-gemm';
    const shifted = onSimd && g.strideHeight === 1 && g.strideWidth === 1;
    const simd = shifted && xs.dtype === 'float32' ? simdKernels(args.backend) : null;
    const padded =
      simd != null && filterStrategy === 'winograd'
        ? winogradChannels(g, ci, co, WINOGRAD_MIN_PADDED_FILTER_GRAD_CHANNELS)
        : null;
    if (simd != null && padded != null) {
      // Zero channels up to the padded counts; their rows and columns of the gradient are sliced off.
      const [ci4, co4] = padded;
      const xp = scope.padTrailing(xs, [ci4 - ci]);
      const dyp = scope.padTrailing(dys, [co4 - co]);
      const dw = winogradFilterGrad(scope, simd, xp, dyp, g, ci4, co4);
      return scope.slice(dw, [0, 0, 0, 0], filterShape);
    }
    if (simd != null) return filterGradShifted(scope, simd, xs, dys, g, ci, co);
    return filterStrategy === 'im2col'
      ? filterGradIm2col(scope, xs, dys, g, ci, co)
      : filterGradSwappedConv(scope, xs, dys, g, ci, co);
  });
}

/**
 * `Conv2DBackpropInput` for wasm: ∂L/∂x of `conv2d(x, W)` given `dy`, as one XNNPACK convolution
 * of `dy` (zeros inserted between rows/columns when the stride is > 1) with the filter rotated by
 * 180° and its channel axes swapped. Replaces the wasm backend's scalar loop.
 */
export function conv2DBackpropInput(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs: tf.NamedAttrMap;
}): tf.TensorInfo {
  const attrs = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
  const dataFormat = attrs.dataFormat ?? 'NHWC';
  checkConvOperands('Conv2DBackpropInput', {
    input: attrs.inputShape,
    inputName: 'inputShape',
    filter: input(args.inputs, 'filter').shape,
    filterName: 'filter',
    dy: input(args.inputs, 'dy').shape,
    channelAxis: dataFormat === 'NCHW' ? 1 : 3,
    strides: attrs.strides,
    dilations: 1,
  });
  return withScope(args.backend, (scope) => {
    const dy = float32Operand(scope, input(args.inputs, 'dy'));
    const filter = float32Operand(scope, input(args.inputs, 'filter'));
    const inShape = dataFormat === 'NCHW' ? nchwToNhwcShape(attrs.inputShape) : attrs.inputShape;
    const dys = dataFormat === 'NCHW' ? scope.transpose(dy, [0, 2, 3, 1]) : dy;
    const fShape = filter.shape as [number, number, number, number];
    const g = convGeometry(
      inShape,
      fShape,
      attrs.strides,
      1,
      nhwcPad(attrs.pad, dataFormat),
      attrs.dimRoundingMode,
      false,
    );
    checkShape('Conv2DBackpropInput', 'dy', dys.shape, [g.batch, g.outHeight, g.outWidth, fShape[3]]);
    const empty = zerosIfEmpty(scope, [dys, filter], attrs.inputShape);
    if (empty != null) return empty;
    if (isInputGradientUnneeded()) {
      // The gradient of an input nothing differentiates (the image into the first convolution).
      return scope.run(tf.Fill, {}, { shape: attrs.inputShape, value: 0, dtype: 'float32' });
    }
    const flipped = flippedFilter(scope, filter);
    const [, , ci, co] = fShape;
    const inner = { ...g, strideHeight: 1, strideWidth: 1 }; // the convolution of the spread dy
    // The inner convolution reads co channels and writes ci: padded with zero channels for Winograd.
    const padded =
      inputStrategy === 'winograd' && dys.dtype === 'float32'
        ? winogradChannels(inner, co, ci, WINOGRAD_MIN_PADDED_INPUT_GRAD_CHANNELS)
        : null;
    const simd = padded != null ? simdKernels(args.backend) : null;
    const dx = transposedConv(scope, dys, flipped, g, ci, (input, f, pads) => {
      if (simd == null || padded == null) {
        return scope.run(
          tf.Conv2D,
          { x: input, filter: f },
          { strides: 1, dilations: 1, pad: pads, dataFormat: 'NHWC' },
        );
      }
      const [co4, ci4] = padded;
      const xp = scope.padTrailing(input, [co4 - co]);
      const fp = scope.padTrailing(f, [co4 - co, ci4 - ci]);
      const y = winogradConv(scope, simd, xp, fp, pads);
      return scope.slice(y, [0, 0, 0, 0], [y.shape[0], y.shape[1], y.shape[2], ci]);
    });
    return dataFormat === 'NCHW' ? scope.transpose(dx, [0, 3, 1, 2]) : dx;
  });
}

/**
 * The filter of the input gradient's convolution: `f` rotated by 180° with its channel axes swapped,
 * `out[a][b][o][i] = f[kh−1−a][kw−1−b][i][o]`. With the SIMD kernels, one transpose per tap straight
 * into its mirrored place (the backend's `Reverse` walks every element with index arithmetic: ≈ 0.6 ms
 * for a 3×3×32×32 filter, against ≈ 0.03 ms here); otherwise `Reverse` then `Transpose`.
 *
 * **Shapes**: `[kh, kw, ci, co]` → `[kh, kw, co, ci]`.
 */
function flippedFilter(scope: KernelScope, filter: tf.TensorInfo): tf.TensorInfo {
  const simd = filter.dtype === 'float32' ? simdKernels(scope.backend) : null;
  if (simd == null) return scope.transpose(scope.run(tf.Reverse, { x: filter }, { dims: [0, 1] }), [0, 1, 3, 2]);
  const [kh, kw, ci, co] = filter.shape;
  const out = scope.output([kh, kw, co, ci]);
  const tapBytes = 4 * ci * co;
  const [src, dst] = [pointer(scope.backend, filter), pointer(scope.backend, out)];
  for (let a = 0; a < kh; a++) {
    for (let b = 0; b < kw; b++) {
      const from = (kh - 1 - a) * kw + (kw - 1 - b);
      simd.transpose(1, src + from * tapBytes, ci, co, dst + (a * kw + b) * tapBytes);
    }
  }
  return out;
}

/**
 * The input gradient of a convolution with geometry `g` as a stride-1 convolution (`conv`) of the
 * zero-spread `dy` with an already flipped filter: pads `(k−1)·d − pad` before and whatever makes
 * the output exactly `H × W` after (negative pads crop).
 */
export function transposedConv(
  scope: KernelScope,
  dy: tf.TensorInfo,
  flipped: tf.TensorInfo,
  g: ConvGeometry,
  outChannels: number,
  conv: (input: tf.TensorInfo, filter: tf.TensorInfo, pads: tf.backend_util.ExplicitPadding) => tf.TensorInfo,
): tf.TensorInfo {
  const spread = insertZeros(scope, dy, g.strideHeight, g.strideWidth); // [N, Ho·sh, Wo·sw, C]
  const kh = (g.filterHeight - 1) * g.dilationHeight + 1;
  const kw = (g.filterWidth - 1) * g.dilationWidth + 1;
  const top = kh - 1 - g.padTop;
  const left = kw - 1 - g.padLeft;
  const bottom = g.inHeight + kh - 1 - spread.shape[1] - top;
  const right = g.inWidth + kw - 1 - spread.shape[2] - left;
  if (
    spread.shape[1] + Math.min(0, top) + Math.min(0, bottom) <= 0 ||
    spread.shape[2] + Math.min(0, left) + Math.min(0, right) <= 0
  ) {
    // No row (or column) of dy reaches the input (numeric paddings of non-square filters, whose output
    // tfjs sizes from the filter's height, give such geometries): ∂x is zeros.
    const shape = [g.batch, g.inHeight, g.inWidth, outChannels];
    return scope.run(tf.Fill, {}, { shape, value: 0, dtype: 'float32' });
  }
  // Crop where a pad is negative; pass the positive parts to the convolution itself.
  const input = padOrCrop(scope, spread, Math.min(0, top), Math.min(0, bottom), Math.min(0, left), Math.min(0, right));
  return conv(input, flipped, [
    [0, 0],
    [Math.max(0, top), Math.max(0, bottom)],
    [Math.max(0, left), Math.max(0, right)],
    [0, 0],
  ]);
}

/** Throws a `PhalanxShapeError` when `actual` differs from the shape the forward geometry implies. */
export function checkShape(kernel: string, name: string, actual: readonly number[], expected: readonly number[]): void {
  if (actual.length !== expected.length || actual.some((v, i) => v !== expected[i])) {
    const shape = `of shape [${expected.join(', ')}] (the forward's output)`;
    throw new PhalanxShapeError(`@phalanx/wasm-training ${kernel}`, name, shape, actual);
  }
}
