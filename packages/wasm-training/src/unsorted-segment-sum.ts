import * as tf from '@tensorflow/tfjs-core';
import { input, withScope } from './kernel-scope';

/**
 * `UnsortedSegmentSum` for wasm: out[s, …] = Σ { x[i, …] : segmentIds[i] = s } for
 * `s ∈ [0, numSegments)`; ids outside that range (negative or too large) are dropped, as in
 * TensorFlow. Runs as one `ScatterNd` of the wasm backend (which adds duplicates) into
 * `numSegments + 1` rows, the extra row collecting the dropped ids, then a slice.
 *
 * **Shapes**: `x: [...idsShape, ...rest]`, `segmentIds: idsShape` (int32) → `[numSegments, ...rest]`.
 */
export function unsortedSegmentSum(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs: tf.NamedAttrMap;
}): tf.TensorInfo {
  const x = input(args.inputs, 'x');
  const segmentIds = input(args.inputs, 'segmentIds');
  const { numSegments } = args.attrs as unknown as tf.UnsortedSegmentSumAttrs;
  const backend = args.backend;
  if (!Number.isInteger(numSegments) || numSegments < 0) {
    throw new Error(
      `@phalanx/wasm-training UnsortedSegmentSum: numSegments must be an integer ≥ 0, but received ${numSegments}.`,
    );
  }
  const idsRank = segmentIds.shape.length;
  if (segmentIds.shape.some((d, i) => d !== x.shape[i])) {
    throw new Error(
      `@phalanx/wasm-training UnsortedSegmentSum: segmentIds shape [${segmentIds.shape.join(', ')}] must be a prefix of ` +
        `x shape [${x.shape.join(', ')}].`,
    );
  }
  return withScope(backend, (scope) => {
    const n = tf.util.sizeFromShape(segmentIds.shape);
    const rest = x.shape.slice(idsRank);
    // Ids live in host memory on wasm: remapping them here costs one pass over n integers.
    const ids = backend.readSync(segmentIds.dataId) as ArrayLike<number>;
    const indices = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const id = ids[i];
      indices[i] = id >= 0 && id < numSegments ? id : numSegments;
    }
    const idx = scope.write(indices, [n, 1], 'int32');
    const updates = scope.reshape(x, [n, ...rest]);
    const full = scope.run(tf.ScatterNd, { indices: idx, updates }, { shape: [numSegments + 1, ...rest] });
    return scope.slice(full, [0, ...rest.map(() => 0)], [numSegments, ...rest]);
  });
}
