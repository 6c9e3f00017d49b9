import * as tf from '@tensorflow/tfjs-core';
import type { KernelScope } from './kernel-scope';

/** Padding accepted by the tfjs 2-D convolution kernels. */
export type ConvPad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;

/** The forward geometry (NHWC) of a 2-D convolution, as the tfjs kernels compute it. */
export interface ConvGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  outHeight: number;
  outWidth: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  dilationHeight: number;
  dilationWidth: number;
  padTop: number;
  padLeft: number;
}

/** Geometry of the forward convolution `x (NHWC) ⊛ filter` with tfjs's own padding rules. */
export function convGeometry(
  xShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  strides: number | [number, number],
  dilations: number | [number, number],
  pad: ConvPad,
  dimRoundingMode: 'floor' | 'round' | 'ceil' | undefined,
  depthwise: boolean,
): ConvGeometry {
  const info = tf.backend_util.computeConv2DInfo(
    xShape,
    filterShape,
    strides,
    dilations,
    pad,
    dimRoundingMode,
    depthwise,
    'channelsLast',
  );
  return {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    dilationHeight: info.dilationHeight,
    dilationWidth: info.dilationWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

/** NCHW ↔ NHWC shape helpers. */
export function nchwToNhwcShape(shape: readonly number[]): [number, number, number, number] {
  return [shape[0], shape[2], shape[3], shape[1]];
}

/**
 * Pads (positive) or crops (negative) the two spatial axes of an NHWC tensor:
 * `[top, bottom, left, right]`. Cropping keeps the convolution that follows exactly equivalent to
 * one with a negative padding.
 */
export function padOrCrop(
  scope: KernelScope,
  x: tf.TensorInfo,
  top: number,
  bottom: number,
  left: number,
  right: number,
): tf.TensorInfo {
  const [n, h, w, c] = x.shape;
  const cropT = Math.max(0, -top);
  const cropB = Math.max(0, -bottom);
  const cropL = Math.max(0, -left);
  const cropR = Math.max(0, -right);
  const cropped = scope.slice(x, [0, cropT, cropL, 0], [n, h - cropT - cropB, w - cropL - cropR, c]);
  return scope.pad(cropped, [
    [0, 0],
    [Math.max(0, top), Math.max(0, bottom)],
    [Math.max(0, left), Math.max(0, right)],
    [0, 0],
  ]);
}

/**
 * Spreads an NHWC tensor by inserting `sh − 1` zero rows and `sw − 1` zero columns after every
 * row and column: `[n, h, w, c] → [n, h·sh, w·sw, c]` (the trailing zeros included).
 */
export function insertZeros(scope: KernelScope, x: tf.TensorInfo, sh: number, sw: number): tf.TensorInfo {
  if (sh === 1 && sw === 1) return x;
  const [n, h, w, c] = x.shape;
  const six = scope.reshape(x, [n, h, 1, w, 1, c]);
  const padded = scope.pad(six, [
    [0, 0],
    [0, 0],
    [0, sh - 1],
    [0, 0],
    [0, sw - 1],
    [0, 0],
  ]);
  return scope.reshape(padded, [n, h * sh, w * sw, c]);
}
