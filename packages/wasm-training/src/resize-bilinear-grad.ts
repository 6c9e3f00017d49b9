import * as tf from '@tensorflow/tfjs-core';
import { PhalanxShapeError } from '@phalanx/errors';
import { input, withScope } from './kernel-scope';

/**
 * The `[outSize, inSize]` matrix of 1-D bilinear interpolation as TensorFlow defines it
 * (`align_corners`, `half_pixel_centers`, else legacy): row o holds weights 1 − λ at ⌊s⌋ and λ at
 * ⌈s⌉ (both clamped to the input) for the source coordinate s of output o.
 */
export function bilinearMatrix(
  inSize: number,
  outSize: number,
  alignCorners: boolean,
  halfPixelCenters: boolean,
): Float32Array {
  const m = new Float32Array(outSize * inSize);
  const scale = alignCorners && outSize > 1 ? (inSize - 1) / (outSize - 1) : inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const s = halfPixelCenters ? (o + 0.5) * scale - 0.5 : o * scale;
    const f = Math.floor(s);
    const lo = Math.min(Math.max(f, 0), inSize - 1);
    const hi = Math.min(Math.max(Math.ceil(s), 0), inSize - 1);
    const lambda = s - f;
    m[o * inSize + lo] += 1 - lambda;
    m[o * inSize + hi] += lambda;
  }
  return m;
}

/**
 * The `[outSize, inSize]` 0/1 matrix of nearest-neighbour resizing as tfjs computes it: source
 * `s = scale·(o + ½ if halfPixelCenters)`, rounded when `alignCorners`, else floored, clamped.
 */
export function nearestMatrix(
  inSize: number,
  outSize: number,
  alignCorners: boolean,
  halfPixelCenters: boolean,
): Float32Array {
  const m = new Float32Array(outSize * inSize);
  const scale = alignCorners && outSize > 1 ? (inSize - 1) / (outSize - 1) : inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const s = halfPixelCenters ? (o + 0.5) * scale : o * scale;
    const i = Math.max(0, Math.min(inSize - 1, alignCorners ? Math.round(s) : Math.floor(s)));
    m[o * inSize + i] = 1;
  }
  return m;
}

/**
 * Throws a `PhalanxShapeError` unless `images` and `dy` are of rank 4 with the same batch and channels
 * (without it a mismatch failed in a tfjs reshape, e.g. "Size(32) must match the product of shape 1,4,4").
 */
function checkResizeOperands(kernel: string, images: tf.TensorInfo, dy: tf.TensorInfo): void {
  const component = `@phalanx/wasm-training ${kernel}`;
  if (images.shape.length !== 4)
    throw new PhalanxShapeError(component, 'images', 'of rank 4 [N, H, W, C]', images.shape);
  const [n, , , c] = images.shape;
  if (dy.shape.length !== 4 || dy.shape[0] !== n || dy.shape[3] !== c) {
    throw new PhalanxShapeError(
      component,
      'dy',
      `of shape [${n}, H', W', ${c}] (the images' batch and channels)`,
      dy.shape,
    );
  }
}

/**
 * ∂x = A_hᵀ · dy · A_w for a separable resize `y = A_h · x · A_wᵀ` (per image and channel), as two
 * XNNPACK matmuls. `dy: [N, H', W', C]` → `[N, H, W, C]`.
 */
function separableResizeGrad(
  args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.NamedAttrMap },
  matrix: typeof bilinearMatrix,
  kernel: string,
): tf.TensorInfo {
  const images = input(args.inputs, 'images');
  const dy = input(args.inputs, 'dy');
  checkResizeOperands(kernel, images, dy);
  const { alignCorners, halfPixelCenters } = args.attrs as unknown as {
    alignCorners: boolean;
    halfPixelCenters?: boolean;
  };
  const [n, h, w, c] = images.shape;
  const [, oh, ow] = dy.shape;
  return withScope(args.backend, (scope) => {
    const ah = matrix(h, oh, alignCorners, halfPixelCenters ?? false);
    const aw = matrix(w, ow, alignCorners, halfPixelCenters ?? false);
    const ahT = scope.transpose(scope.write(ah, [oh, h], 'float32'), [1, 0]); // [H, H']
    const awT = scope.transpose(scope.write(aw, [ow, w], 'float32'), [1, 0]); // [W, W']
    const rows = scope.reshape(scope.transpose(dy, [1, 0, 2, 3]), [1, oh, n * ow * c]);
    const byH = scope.run(
      tf.BatchMatMul,
      { a: scope.reshape(ahT, [1, h, oh]), b: rows },
      { transposeA: false, transposeB: false },
    );
    const cols = scope.reshape(scope.transpose(scope.reshape(byH, [h, n, ow, c]), [2, 1, 0, 3]), [1, ow, n * h * c]);
    const byW = scope.run(
      tf.BatchMatMul,
      { a: scope.reshape(awT, [1, w, ow]), b: cols },
      { transposeA: false, transposeB: false },
    );
    return scope.transpose(scope.reshape(byW, [w, n, h, c]), [1, 2, 0, 3]);
  });
}

/**
 * `ResizeNearestNeighborGrad` for wasm (replacing the backend's kernel): the same separable
 * formulation as {@link resizeBilinearGrad} with 0/1 nearest-neighbour matrices.
 */
export function resizeNearestNeighborGrad(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs: tf.NamedAttrMap;
}): tf.TensorInfo {
  return separableResizeGrad(args, nearestMatrix, tf.ResizeNearestNeighborGrad);
}

/**
 * `ResizeBilinearGrad` for wasm, replacing the backend's kernel, which (like the cpu one) ignores
 * `halfPixelCenters`. Bilinear resizing is separable, y = A_h · x · A_wᵀ per image and channel, so
 * ∂x = A_hᵀ · dy · A_w: two XNNPACK matmuls with host-built interpolation matrices.
 *
 * **Shapes**: `images: [N, H, W, C]`, `dy: [N, H', W', C]` → `[N, H, W, C]`.
 */
export function resizeBilinearGrad(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs: tf.NamedAttrMap;
}): tf.TensorInfo {
  return separableResizeGrad(args, bilinearMatrix, tf.ResizeBilinearGrad);
}
