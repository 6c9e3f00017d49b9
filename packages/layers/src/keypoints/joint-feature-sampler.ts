/**
 * JointFeatureSampler — bilinear read-out of a feature map at (sub-pixel) joint positions, the
 * `grid_sample(..., align_corners=True)` step of EHPE's PG stage, with its own gradient so that it
 * trains on every backend (wasm has no gather gradient).
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { LayerArgs } from '@tensorflow/tfjs-layers/dist/engine/topology';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types';
import { PhalanxShapeError } from '@phalanx/errors';
import { checkTensor, type OwnArgsKeys } from '../util/checks';
import { checkInputCount, PhalanxLayer, shapeList, tensorList, tensorShapes } from '../util/phalanx-layer';

const COMPONENT = 'JointFeatureSampler';

/**
 * Throws a `PhalanxShapeError` when a `[B, H, W, C]` map has H = 0 or W = 0 (unknown sizes pass): there is
 * no pixel to sample.
 */
function checkSpatialSize(component: string, argument: string, shape: readonly (number | null)[]): void {
  if (shape[1] === 0 || shape[2] === 0) {
    throw new PhalanxShapeError(component, argument, 'a map of at least 1×1 pixels (H, W ≥ 1)', shape);
  }
}

/**
 * Bilinear sampling as one custom-gradient op (PyTorch's `grid_sampler_2d` algorithm, in pixels).
 *
 * Forward: the four corners `(x0 + i, y0 + k)`, `x0 = ⌊x⌋`, `y0 = ⌊y⌋`, `i, k ∈ {0, 1}`, with weights
 * `(1 − f_x or f_x)·(1 − f_y or f_y)`, `f = t − ⌊t⌋`; corners outside the map get weight 0 (zero
 * padding). Their feature rows are gathered from `features` viewed as `[B·H·W, C]`.
 * Backward: `∂/∂features` scatters `w·dy` back to the corner rows (`scatterND`, which sums
 * duplicates); `∂/∂x = Σ_c dy·((ne − nw)(1 − f_y) + (se − sw) f_y)` and likewise for y — the
 * derivative of the floor-based weights, so at an integer coordinate it is the right-sided one,
 * exactly as PyTorch computes it.
 *
 * Indices are derived inside the op from `⌊points⌋` and never enter the tape; `GatherV2` and
 * `ScatterNd` exist on cpu, wasm and webgl, so the op trains on wasm (whose gather gradient,
 * `UnsortedSegmentSum`, is missing) without touching any memory proportional to `J·H·W`.
 */
const bilinearSample = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const features = args[0] as tf.Tensor4D;
  const points = args[1] as tf.Tensor3D;
  const save = args[2] as tf.GradSaveFunc;
  const [batch, height, width, channels] = features.shape;
  const joints = points.shape[1];
  const corners = batch * joints * 4;
  const [out, gathered, weights, fx, fy, index] = tf.tidy(() => {
    const [x, y] = tf.unstack(points, 2); // each [B, J]
    const x0 = tf.floor(x);
    const y0 = tf.floor(y);
    const fracX = tf.sub(x, x0);
    const fracY = tf.sub(y, y0);
    // Corner order: nw (x0, y0), ne (x0+1, y0), sw (x0, y0+1), se (x0+1, y0+1); each [B, J, 4].
    const x1 = tf.add(x0, 1);
    const y1 = tf.add(y0, 1);
    const cx = tf.stack([x0, x1, x0, x1], 2);
    const cy = tf.stack([y0, y0, y1, y1], 2);
    const oneMinusX = tf.sub(1, fracX);
    const oneMinusY = tf.sub(1, fracY);
    const inside = tf.logicalAnd(
      tf.logicalAnd(tf.greaterEqual(cx, 0), tf.lessEqual(cx, width - 1)),
      tf.logicalAnd(tf.greaterEqual(cy, 0), tf.lessEqual(cy, height - 1)),
    );
    const w = tf.where(
      inside,
      tf.mul(tf.stack([oneMinusX, fracX, oneMinusX, fracX], 2), tf.stack([oneMinusY, oneMinusY, fracY, fracY], 2)),
      tf.zerosLike(cx),
    );
    // Row of every corner in the [B·H·W, C] view (clamped; weight 0 when outside), in int32.
    const ix = tf.cast(tf.clipByValue(cx, 0, width - 1), 'int32');
    const iy = tf.cast(tf.clipByValue(cy, 0, height - 1), 'int32');
    const base = tf.reshape(tf.mul(tf.range(0, batch, 1, 'int32'), tf.scalar(height * width, 'int32')), [batch, 1, 1]);
    const row = tf.reshape(tf.add(base, tf.add(tf.mul(iy, tf.scalar(width, 'int32')), ix)), [corners]);
    const g = tf.reshape(tf.gather(tf.reshape(features, [batch * height * width, channels]), row), [
      batch,
      joints,
      4,
      channels,
    ]);
    const gInside = tf.mul(g, tf.expandDims(tf.cast(inside, 'float32'), 3));
    const value = tf.sum(tf.mul(g, tf.expandDims(w, 3)), 2);
    return [value, gInside, w, fracX, fracY, row];
  });
  save([gathered, weights, fx, fy, index]);
  return {
    value: out,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [g, w, sx, sy, rows] = saved;
      const dyCorners = tf.expandDims(dy, 2); // [B, J, 1, C]
      const updates = tf.reshape(tf.mul(tf.expandDims(w, 3), dyCorners), [corners, channels]);
      const dFeatures = tf.reshape(
        tf.scatterND(tf.reshape(rows, [corners, 1]), updates, [batch * height * width, channels]),
        [batch, height, width, channels],
      );
      const [nw, ne, sw, se] = tf.unstack(tf.sum(tf.mul(g, dyCorners), 3), 2); // each [B, J]
      const dX = tf.add(tf.mul(tf.sub(ne, nw), tf.sub(1, sy)), tf.mul(tf.sub(se, sw), sy));
      const dY = tf.add(tf.mul(tf.sub(sw, nw), tf.sub(1, sx)), tf.mul(tf.sub(se, ne), sx));
      return [dFeatures, tf.stack([dX, dY], 2)];
    },
  };
});

/**
 * Samples `features` at the points `(x, y)` by bilinear interpolation with align-corners pixel centres
 * (pixel (i, j) is the point x = j, y = i) and zeros outside the map:
 *
 * `out[b, j, c] = Σ_{h,w} max(0, 1 − |x_bj − w|) · max(0, 1 − |y_bj − h|) · features[b, h, w, c]`
 *
 * identical to PyTorch `F.grid_sample(features, grid, mode='bilinear', padding_mode='zeros',
 * align_corners=True)` with `grid = 2·(x, y)/(W−1, H−1) − 1`, gradients included. Differentiable in
 * both inputs; for a point exactly on an integer coordinate the gradient is the right-sided
 * derivative (PyTorch's convention: its weights are built from `floor`). Only the four neighbouring
 * pixels of each point are read (gather) and written in the backward pass (`scatterND`), inside one
 * `tf.customGrad`, so it is fast and trains on wasm (which has no gather gradient).
 *
 * **Shapes**: `features [B, H, W, C]` with H, W ≥ 1, `points [B, J, 2]` (x, y in the feature map's
 * pixels) → `[B, J, C]`.
 *
 * @example
 * const features = tf.randomNormal([2, 64, 64, 256]);
 * const points = tf.randomUniform([2, 21, 2], 0, 63);
 * const perJoint = sampleJointFeatures(features, points); // [2, 21, 256]
 */
export function sampleJointFeatures(features: tf.Tensor, points: tf.Tensor): tf.Tensor3D {
  checkTensor('sampleJointFeatures', 'features', features);
  checkTensor('sampleJointFeatures', 'points', points);
  if (features.rank !== 4) {
    throw new PhalanxShapeError('sampleJointFeatures', 'features', 'a [B, H, W, C] tensor', features.shape);
  }
  checkSpatialSize('sampleJointFeatures', 'features', features.shape);
  if (points.rank !== 3 || points.shape[2] !== 2 || points.shape[0] !== features.shape[0]) {
    throw new PhalanxShapeError(
      'sampleJointFeatures',
      'points',
      `a [B = ${features.shape[0]}, J, 2] tensor`,
      points.shape,
    );
  }
  // In a tidy: a cast returns a new tensor even from float32, and those two would outlive the call.
  return tf.tidy(() => bilinearSample(tf.cast(features, 'float32'), tf.cast(points, 'float32')) as tf.Tensor3D);
}

/** Configuration of {@link JointFeatureSampler} (no options beyond the base layer's). */
export type JointFeatureSamplerArgs = LayerArgs;

/** {@link JointFeatureSamplerArgs} is tfjs's `LayerArgs`: no keys of its own. */
const ARGS_KEYS = {} satisfies OwnArgsKeys<JointFeatureSamplerArgs>;

/**
 * Reads a feature vector for every joint from a feature map by bilinear interpolation at the joint's
 * (sub-pixel) position — {@link sampleJointFeatures} as a layer (PyTorch
 * `grid_sample(..., align_corners=True)`, zeros outside the map):
 *
 * `out[b, j, c] = Σ_{h,w} max(0, 1 − |x_bj − w|) · max(0, 1 − |y_bj − h|) · features[b, h, w, c]`
 *
 * No weights.
 *
 * **Shapes**: inputs `[features [B, H, W, C], points [B, J, 2]]` (x, y in the feature map's pixel
 * coordinates, pixel centres at integers) → output `[B, J, C]`.
 *
 * @example
 * const sampler = jointFeatureSampler();
 * const featureMap = tf.randomNormal([2, 64, 64, 256]);
 * const keypointsXY = tf.randomUniform([2, 21, 2], 0, 63);
 * const perJoint = sampler.apply([featureMap, keypointsXY]) as tf.Tensor; // [2, 21, 256]
 */
export class JointFeatureSampler extends PhalanxLayer<JointFeatureSamplerArgs> {
  /** Name under which the class is registered for serialisation. */
  static className = 'JointFeatureSampler';

  constructor(args: JointFeatureSamplerArgs = {}) {
    super(args, ARGS_KEYS);
  }

  /** Checks the input shapes (`[features, points]`) for `build`, `computeOutputShape` and `call`. */
  private checkShapes(shapes: tfl.Shape[]): [tfl.Shape, tfl.Shape] {
    // One shape is shown as itself, a list of another length as the list.
    checkInputCount(
      COMPONENT,
      shapes,
      [2],
      'a list [features, points] of two tensors',
      shapes.length === 1 ? shapes[0] : shapes,
    );
    const [features, points] = shapes;
    if (features.length !== 4) {
      throw new PhalanxShapeError(COMPONENT, 'features shape', 'rank 4 [B, H, W, C]', features);
    }
    checkSpatialSize(COMPONENT, 'features shape', features);
    if (points.length !== 3 || points[2] !== 2) {
      throw new PhalanxShapeError(COMPONENT, 'points shape', '[B, J, 2] (x, y per joint)', points);
    }
    if (features[0] != null && points[0] != null && features[0] !== points[0]) {
      throw new PhalanxShapeError(COMPONENT, 'points shape', `the features' batch size ${features[0]}`, points);
    }
    return [features, points];
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    this.checkShapes(shapeList(inputShape));
    this.built = true;
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const [features, points] = this.checkShapes(shapeList(inputShape));
    return [features[0] ?? points[0], points[1], features[3]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    void kwargs;
    return tf.tidy(() => {
      this.checkShapes(tensorShapes(inputs));
      const [features, points] = tensorList(inputs);
      return sampleJointFeatures(features, points);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return super.getConfig();
  }
}
tf.serialization.registerClass(JointFeatureSampler);

/**
 * Creates a {@link JointFeatureSampler} layer.
 *
 * @example
 * const featureMap = tf.randomNormal([2, 32, 32, 64]); // [B, H, W, C]
 * const keypointsXY = tf.randomUniform([2, 21, 2], 0, 31); // [B, J, 2] in pixels
 * const perJoint = jointFeatureSampler().apply([featureMap, keypointsXY]) as tf.Tensor; // [2, 21, 64]
 */
export function jointFeatureSampler(args: JointFeatureSamplerArgs = {}): JointFeatureSampler {
  return new JointFeatureSampler(args);
}
