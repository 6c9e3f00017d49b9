import * as tf from '@tensorflow/tfjs-core';
import { checkConvOperands, convGeometry } from './conv-geometry';
import { checkShape, float32Operand, tapViews, transposedConv, zerosIfEmpty } from './conv2d-backprop';
import { input, withScope } from './kernel-scope';

/**
 * `DepthwiseConv2dNativeBackpropFilter` for wasm: ∂L/∂W of `depthwiseConv2d(x, W)` (filter
 * `[kh, kw, C, M]`, channel multiplier `M`) given `dy: [N, Ho, Wo, C·M]`.
 *
 * dW[i, j, c, m] = Σₙ,ₚ x̃ᵢⱼ[c, p] · dy[p, c, m] over the `P = N·Ho·Wo` output positions, where x̃ᵢⱼ is
 * the strided view of tap (i, j): all taps are stacked into `[C, kh·kw, P]` and multiplied with
 * `dy` as `[C, P, M]` in one batched matmul (batch = channel).
 */
export function depthwiseConv2dNativeBackpropFilter(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs: tf.NamedAttrMap;
}): tf.TensorInfo {
  const attrs = args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
  checkConvOperands('DepthwiseConv2dNativeBackpropFilter', {
    input: input(args.inputs, 'x').shape,
    inputName: 'x',
    filter: attrs.filterShape,
    filterName: 'filterShape',
    dy: input(args.inputs, 'dy').shape,
    channelAxis: 3,
    strides: attrs.strides,
    dilations: attrs.dilations ?? 1,
  });
  return withScope(args.backend, (scope) => {
    const x = float32Operand(scope, input(args.inputs, 'x'));
    const dy = float32Operand(scope, input(args.inputs, 'dy'));
    const [kh, kw, c, m] = attrs.filterShape;
    const g = convGeometry(
      x.shape as [number, number, number, number],
      attrs.filterShape,
      attrs.strides,
      attrs.dilations ?? 1,
      attrs.pad,
      attrs.dimRoundingMode,
      true,
    );
    checkShape('DepthwiseConv2dNativeBackpropFilter', 'dy', dy.shape, [g.batch, g.outHeight, g.outWidth, c * m]);
    const empty = zerosIfEmpty(scope, [x, dy], attrs.filterShape);
    if (empty != null) return empty;
    const p = g.batch * g.outHeight * g.outWidth;
    const xT = scope.transpose(x, [3, 0, 1, 2]); // [C, N, H, W]
    const views = tapViews(scope, xT, g).map((v) => scope.reshape(v, [c, 1, p]));
    const cols =
      views.length === 1 ? views[0] : scope.run(tf.Concat, views as unknown as tf.NamedTensorInfoMap, { axis: 1 }); // [C, kh·kw, P]
    const dyT = scope.transpose(scope.reshape(dy, [p, c, m]), [1, 0, 2]); // [C, P, M]
    const prod = scope.run(tf.BatchMatMul, { a: cols, b: dyT }, { transposeA: false, transposeB: false }); // [C, kh·kw, M]
    const perm = scope.transpose(prod, [1, 0, 2]); // [kh·kw, C, M]
    return scope.reshape(perm, [kh, kw, c, m]);
  });
}

/**
 * `DepthwiseConv2dNativeBackpropInput` for wasm: ∂L/∂x of `depthwiseConv2d(x, W)` given `dy`, as
 * one XNNPACK depthwise convolution of the zero-spread `dy` (channels `C·M`, multiplier 1) with
 * the 180°-rotated filter, followed by a sum over the channel multiplier.
 */
export function depthwiseConv2dNativeBackpropInput(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs: tf.NamedAttrMap;
}): tf.TensorInfo {
  const attrs = args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
  checkConvOperands('DepthwiseConv2dNativeBackpropInput', {
    input: attrs.inputShape,
    inputName: 'inputShape',
    filter: input(args.inputs, 'filter').shape,
    filterName: 'filter',
    dy: input(args.inputs, 'dy').shape,
    channelAxis: 3,
    strides: attrs.strides,
    dilations: attrs.dilations ?? 1,
  });
  return withScope(args.backend, (scope) => {
    const dy = float32Operand(scope, input(args.inputs, 'dy'));
    const filter = float32Operand(scope, input(args.inputs, 'filter'));
    const [kh, kw, c, m] = filter.shape;
    const g = convGeometry(
      attrs.inputShape,
      filter.shape as [number, number, number, number],
      attrs.strides,
      attrs.dilations ?? 1,
      attrs.pad,
      attrs.dimRoundingMode,
      true,
    );
    checkShape('DepthwiseConv2dNativeBackpropInput', 'dy', dy.shape, [g.batch, g.outHeight, g.outWidth, c * m]);
    const empty = zerosIfEmpty(scope, [dy, filter], attrs.inputShape);
    if (empty != null) return empty;
    const flipped = scope.reshape(scope.run(tf.Reverse, { x: filter }, { dims: [0, 1] }), [kh, kw, c * m, 1]);
    const dx = transposedConv(scope, dy, flipped, g, c * m, (input, f, pads) =>
      scope.run(
        tf.DepthwiseConv2dNative,
        { x: input, filter: f },
        { strides: 1, dilations: [g.dilationHeight, g.dilationWidth], pad: pads },
      ),
    ); // [N, H, W, C·M]
    if (m === 1) return dx;
    const split = scope.reshape(dx, [g.batch, g.inHeight, g.inWidth, c, m]);
    return scope.run(tf.Sum, { x: split }, { axis: [4], keepDims: false });
  });
}
