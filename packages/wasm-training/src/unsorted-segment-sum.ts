import * as tf from '@tensorflow/tfjs-core';
import { PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { input, withScope } from './kernel-scope';

/** The component named in this kernel's errors. */
const KERNEL = '@phalanx/wasm-training UnsortedSegmentSum';

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
    throw new PhalanxConfigError(KERNEL, 'numSegments', 'an integer ≥ 0', numSegments);
  }
  const idsRank = segmentIds.shape.length;
  if (idsRank > x.shape.length || segmentIds.shape.some((d, i) => d !== x.shape[i])) {
    throw new PhalanxShapeError(
      KERNEL,
      'segmentIds',
      `of a shape that begins x's [${x.shape.join(', ')}]`,
      segmentIds.shape,
    );
  }
  // Float ids were truncated (0.5 summed into segment 0), where cpu matches none of them.
  if (segmentIds.dtype !== 'int32') throw new PhalanxShapeError(KERNEL, 'segmentIds', 'int32', segmentIds.dtype);
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
