import * as tf from '@tensorflow/tfjs-core';
import { input, withScope } from './kernel-scope';

/**
 * `MaxPoolGrad` for wasm, replacing the backend's kernel: in tfjs-backend-wasm 4.22 it (and
 * `MaxPoolWithArgmax`) starts each window's maximum at FLT_MIN (the smallest *positive* float), so
 * windows whose values are all ≤ 0 get no gradient (or a wrong one). Here the input is first
 * shifted to be ≥ 1 (x − min x + 1, which keeps the order), channels are moved to the batch axis
 * (`[N·C, H, W, 1]`), the wasm `MaxPoolWithArgmax` gives per output the flat input index of its
 * maximum (first one on ties, as TensorFlow), and one `ScatterNd` (which adds duplicates from
 * overlapping windows) sends `dy` there. Values closer than the float spacing of the shifted
 * input count as ties.
 *
 * **Shapes**: `x: [N, H, W, C]`, `dy: [N, H', W', C]` → `[N, H, W, C]`.
 */
export function maxPoolGrad(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs: tf.NamedAttrMap;
}): tf.TensorInfo {
  const dy = input(args.inputs, 'dy');
  const x = input(args.inputs, 'input');
  const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as tf.MaxPoolGradAttrs;
  if (dimRoundingMode != null) {
    throw new Error(
      '@phalanx/wasm-training MaxPoolGrad: dimRoundingMode is not supported on wasm; use an integer-exact padding.',
    );
  }
  return withScope(args.backend, (scope) => {
    const config = tf.getKernel(tf.MaxPoolWithArgmax, 'wasm');
    if (config == null) throw new Error('@phalanx/wasm-training: the wasm backend has no MaxPoolWithArgmax kernel.');
    const [n, h, w, c] = x.shape;
    const [, oh, ow] = dy.shape;
    const low = scope.run(tf.Min, { x }, { axis: [0, 1, 2, 3], keepDims: false });
    const one = scope.write(Float32Array.of(1), [], 'float32');
    const shifted = scope.run(tf.Add, { a: scope.run(tf.Sub, { a: x, b: low }), b: one });
    const xb = scope.reshape(scope.transpose(shifted, [0, 3, 1, 2]), [n * c, h, w, 1]);
    const dyb = scope.transpose(dy, [0, 3, 1, 2]); // [N, C, H', W']
    const outs = config.kernelFunc({
      inputs: { x: xb },
      backend: scope.backend,
      attrs: { filterSize, strides, pad, includeBatchInIndex: true },
    }) as tf.TensorInfo[];
    scope.adopt(outs[0]);
    const argmax = scope.adopt(outs[1]);
    const m = n * c * oh * ow;
    const indices = scope.reshape(
      argmax.dtype === 'int32' ? argmax : scope.run(tf.Cast, { x: argmax }, { dtype: 'int32' }),
      [m, 1],
    );
    const flat = scope.run(tf.ScatterNd, { indices, updates: scope.reshape(dyb, [m]) }, { shape: [n * c * h * w] });
    return scope.transpose(scope.reshape(flat, [n, c, h, w]), [0, 2, 3, 1]);
  });
}
