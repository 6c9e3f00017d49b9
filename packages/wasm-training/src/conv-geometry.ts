import * as tf from '@tensorflow/tfjs-core';
import { PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
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

/** The operands of a convolution gradient kernel that {@link checkConvOperands} checks. */
export interface ConvOperands {
  /** The forward's input (`x`, or the `inputShape` attribute) and what the kernel calls it. */
  input: readonly number[];
  inputName: 'x' | 'inputShape';
  /** The forward's filter (the `filter` input, or the `filterShape` attribute), `[kh, kw, Ci, …]`. */
  filter: readonly number[];
  filterName: 'filter' | 'filterShape';
  /** The gradient of the forward's output. */
  dy: readonly number[];
  /** The input's channel axis: 3 for NHWC, 1 for NCHW. */
  channelAxis: number;
  strides: unknown;
  dilations: unknown;
}

/** Whether `v` is a positive integer or a pair of them (tfjs's strides and dilations). */
function isPositivePair(v: unknown): boolean {
  const ok = (n: unknown) => Number.isInteger(n) && (n as number) >= 1;
  return ok(v) || (Array.isArray(v) && v.length === 2 && v.every(ok));
}

/**
 * Checks a convolution gradient kernel's operands before any work, with named errors: the input, filter
 * and `dy` of rank 4, the filter's input channels (`filter[2]`) those of the input, and strides and
 * dilations positive integers (one or a pair). Without it, mismatched channels gave a gradient of the
 * wrong shape or values read past the operands, and a stride of 0 an output size of Infinity.
 */
export function checkConvOperands(kernel: string, o: ConvOperands): void {
  const component = `@phalanx/wasm-training ${kernel}`;
  for (const [name, shape] of [
    [o.inputName, o.input],
    [o.filterName, o.filter],
    ['dy', o.dy],
  ] as const) {
    if (!Array.isArray(shape) || shape.length !== 4) {
      throw new PhalanxShapeError(component, name, 'of rank 4', shape);
    }
  }
  if (o.input[o.channelAxis] !== o.filter[2]) {
    const expected = `of shape [kh, kw, ${o.input[o.channelAxis]}, …] (the channels of ${o.inputName})`;
    throw new PhalanxShapeError(component, o.filterName, expected, o.filter);
  }
  for (const [name, value] of [
    ['strides', o.strides],
    ['dilations', o.dilations],
  ] as const) {
    if (!isPositivePair(value)) {
      throw new PhalanxConfigError(component, name, 'a positive integer or a pair of them', value);
    }
  }
}

/** NCHW ↔ NHWC shape helpers. */
export function nchwToNhwcShape(shape: readonly number[]): [number, number, number, number] {
  return [shape[0], shape[2], shape[3], shape[1]];
}

/**
 * Pads (positive) or crops (negative) the two spatial axes of an NHWC tensor:
 * `[top, bottom, left, right]`. Cropping keeps the convolution that follows exactly equivalent to
 * one with a negative padding. The result is rows `−top … h + bottom` and columns `−left … w + right`
 * of `x`, zeros where they fall outside it — also when a crop reaches past the other edge (numeric
 * paddings of non-square filters give such geometries: tfjs sizes both output axes from the filter's
 * height), where a slice of negative size once took every row to the end, or the whole of `x` is cropped
 * away (then the result is zeros, without a slice).
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
  const outH = Math.max(0, h + top + bottom);
  const outW = Math.max(0, w + left + right);
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  // The rows and columns of x that the result keeps: [r0, r1) and [c0, c1).
  const r0 = clamp(-top, 0, h);
  const r1 = clamp(h + bottom, r0, h);
  const c0 = clamp(-left, 0, w);
  const c1 = clamp(w + right, c0, w);
  if (r1 === r0 || c1 === c0 || outH === 0 || outW === 0) {
    return scope.run(tf.Fill, {}, { shape: [n, outH, outW, c], value: 0, dtype: x.dtype });
  }
  const cropped = scope.slice(x, [0, r0, c0, 0], [n, r1 - r0, c1 - c0, c]);
  const padTop = r0 + top;
  const padLeft = c0 + left;
  return scope.pad(cropped, [
    [0, 0],
    [padTop, outH - padTop - (r1 - r0)],
    [padLeft, outW - padLeft - (c1 - c0)],
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
