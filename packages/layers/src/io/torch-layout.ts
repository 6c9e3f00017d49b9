/**
 * PyTorch ↔ TensorFlow.js weight layouts: PyTorch convolution weights are `[out, in, kh, kw]`, tfjs
 * kernels `[kh, kw, in, out]` (transposed convolutions `[kh, kw, out, in]`), linear weights `[out, in]`
 * against dense kernels `[in, out]`. Each function converts one PyTorch tensor; the converters of
 * `torch-converters.ts` use them for whole layers, in both directions.
 */
import * as tf from '@tensorflow/tfjs-core';
import { PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';

/** A named error unless `weight` is a tensor of `rank` dimensions (`layout` names them for the message). */
function checkWeight(component: string, weight: unknown, rank: number, layout: string): void {
  if (!(weight instanceof tf.Tensor) || weight.rank !== rank) {
    const received = weight instanceof tf.Tensor ? weight.shape : weight === null ? null : typeof weight;
    throw new PhalanxShapeError(component, 'weight', `a PyTorch weight ${layout}`, received);
  }
}

/**
 * PyTorch `nn.Conv2d` weight `[out, in, kh, kw]` → tfjs `conv2d` kernel `[kh, kw, in, out]`.
 *
 * **Shapes**: `[O, I, kh, kw]` → `[kh, kw, I, O]`.
 *
 * @example
 * torchConv2dKernel(tf.zeros([8, 3, 5, 5])).shape; // [5, 5, 3, 8]
 */
export function torchConv2dKernel(weight: tf.Tensor): tf.Tensor4D {
  checkWeight('torchConv2dKernel', weight, 4, '[O, I, kh, kw]');
  return tf.transpose(weight as tf.Tensor4D, [2, 3, 1, 0]);
}

/**
 * PyTorch `nn.ConvTranspose2d` weight `[in, out, kh, kw]` → tfjs `conv2dTranspose` kernel
 * `[kh, kw, out, in]`. Both frameworks compute the adjoint of a cross-correlation, so no spatial flip
 * is needed (padding conventions still differ: PyTorch `padding`/`output_padding` crop the full
 * output, tfjs offers `'valid'`/`'same'`).
 *
 * **Shapes**: `[I, O, kh, kw]` → `[kh, kw, O, I]`.
 *
 * @example
 * torchConv2dTransposeKernel(tf.zeros([16, 8, 4, 4])).shape; // [4, 4, 8, 16]
 */
export function torchConv2dTransposeKernel(weight: tf.Tensor): tf.Tensor4D {
  checkWeight('torchConv2dTransposeKernel', weight, 4, '[I, O, kh, kw]');
  return tf.transpose(weight as tf.Tensor4D, [2, 3, 1, 0]);
}

/**
 * PyTorch `nn.Linear` weight `[out, in]` → tfjs `dense` kernel `[in, out]`.
 *
 * **Shapes**: `[O, I]` → `[I, O]`.
 *
 * @example
 * torchDenseKernel(tf.zeros([10, 4])).shape; // [4, 10]
 */
export function torchDenseKernel(weight: tf.Tensor): tf.Tensor2D {
  checkWeight('torchDenseKernel', weight, 2, '[O, I]');
  return tf.transpose(weight as tf.Tensor2D, [1, 0]);
}

/**
 * PyTorch depthwise `nn.Conv2d` (`groups = in`) weight `[in·m, 1, kh, kw]` → tfjs
 * `depthwiseConv2d` kernel `[kh, kw, in, m]` (m = depth multiplier). Both order the output channels
 * as `c·m + j` for input channel `c` and multiplier index `j`.
 *
 * **Shapes**: `[I·m, 1, kh, kw]` → `[kh, kw, I, m]`.
 *
 * @example
 * torchDepthwiseKernel(tf.zeros([6, 1, 3, 3]), 3).shape; // [3, 3, 3, 2]
 */
export function torchDepthwiseKernel(weight: tf.Tensor, inChannels: number): tf.Tensor4D {
  checkWeight('torchDepthwiseKernel', weight, 4, '[I·m, 1, kh, kw]');
  const [outChannels, one, kh, kw] = weight.shape;
  if (weight.rank !== 4 || one !== 1 || outChannels % inChannels !== 0) {
    throw new PhalanxConfigError(
      'torchDepthwiseKernel',
      'weight',
      `of shape [${inChannels}·m, 1, kh, kw] (a depthwise PyTorch conv with groups = ${inChannels})`,
      weight.shape,
    );
  }
  return tf.tidy(() =>
    tf.reshape(tf.transpose(weight as tf.Tensor4D, [2, 3, 0, 1]), [kh, kw, inChannels, outChannels / inChannels]),
  );
}
