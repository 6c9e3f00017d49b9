/**
 * JointFeatureSampler — bilinear read-out of a feature map at (sub-pixel) joint positions, the
 * `grid_sample(..., align_corners=True)` step of EHPE's PG stage, computed densely so that it trains on
 * every backend (wasm has no gather gradient).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayerArgs } from '@tensorflow/tfjs-layers/dist/engine/topology';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types';
import { PhalanxShapeError } from '../errors';

const COMPONENT = 'JointFeatureSampler';

/**
 * One-dimensional bilinear ("tent") weights of every grid index `0 … size−1` for the positions `t`
 * `[B, J, 1]`: `(1 − f)` at `floor(t)`, `f` at `floor(t) + 1`, zero elsewhere (also for indices
 * outside the map — zero padding), with `f = t − floor(t)`. Returns `[B, J, size]`.
 *
 * The indicator of index k being `floor(t)` is built as `relu(1 − |k − floor(t)|)` (exactly 0 or 1,
 * and `floor` passes no gradient), so the only gradient path is through `f`: `∂w/∂t` is `−1` at
 * `floor(t)` and `+1` at `floor(t) + 1`. At an integer `t` this is the right-sided derivative, the
 * same convention as PyTorch's `grid_sample` backward (which also uses `floor`).
 */
function tentWeights(t: tf.Tensor, size: number): tf.Tensor {
  const grid = tf.range(0, size, 1, 'float32');
  const t0 = tf.floor(t);
  const frac = tf.sub(t, t0);
  const at0 = tf.relu(tf.sub(1, tf.abs(tf.sub(grid, t0))));
  const at1 = tf.relu(tf.sub(1, tf.abs(tf.sub(tf.sub(grid, 1), t0))));
  return tf.add(tf.mul(tf.sub(1, frac), at0), tf.mul(frac, at1));
}

/**
 * Samples `features` at the points `(x, y)` by bilinear interpolation with align-corners pixel centres
 * (pixel (i, j) is the point x = j, y = i) and zeros outside the map:
 *
 * `out[b, j, c] = Σ_{h,w} max(0, 1 − |x_bj − w|) · max(0, 1 − |y_bj − h|) · features[b, h, w, c]`
 *
 * identical to PyTorch `F.grid_sample(features, grid, mode='bilinear', padding_mode='zeros',
 * align_corners=True)` with `grid = 2·(x, y)/(W−1, H−1) − 1`. Differentiable in both inputs; the
 * gradient with respect to a point lying exactly on an integer coordinate is the right-sided
 * derivative, as in PyTorch. Computed densely — the interpolation weights `[B, J, H·W]` times the
 * features `[B, H·W, C]` as one batched matmul — so no gather is involved and it trains on wasm.
 *
 * **Shapes**: `features [B, H, W, C]`, `points [B, J, 2]` (x, y in the feature map's pixels) →
 * `[B, J, C]`.
 *
 * @example
 * const features = tf.randomNormal([2, 64, 64, 256]);
 * const points = tf.randomUniform([2, 21, 2], 0, 63);
 * const perJoint = sampleJointFeatures(features, points); // [2, 21, 256]
 */
export function sampleJointFeatures(features: tf.Tensor, points: tf.Tensor): tf.Tensor3D {
  if (features.rank !== 4) {
    throw new PhalanxShapeError('sampleJointFeatures', 'features', 'a [B, H, W, C] tensor', features.shape);
  }
  if (points.rank !== 3 || points.shape[2] !== 2 || points.shape[0] !== features.shape[0]) {
    throw new PhalanxShapeError(
      'sampleJointFeatures',
      'points',
      `a [B = ${features.shape[0]}, J, 2] tensor`,
      points.shape,
    );
  }
  return tf.tidy(() => {
    const [batch, height, width, channels] = features.shape as number[];
    const joints = points.shape[1] as number;
    const [x, y] = tf.split(points, 2, 2); // each [B, J, 1]
    const wx = tentWeights(x, width); // [B, J, W]
    const wy = tentWeights(y, height); // [B, J, H]
    const weights = tf.reshape(tf.mul(tf.expandDims(wy, 3), tf.expandDims(wx, 2)), [batch, joints, height * width]);
    return tf.matMul(weights, tf.reshape(features, [batch, height * width, channels])) as tf.Tensor3D;
  });
}

/** Configuration of {@link JointFeatureSampler} (no options beyond the base layer's). */
export type JointFeatureSamplerArgs = LayerArgs;

/**
 * Reads a feature vector for every joint from a feature map by bilinear interpolation at the joint's
 * (sub-pixel) position — {@link sampleJointFeatures} as a layer (PyTorch
 * `grid_sample(..., align_corners=True)`, zeros outside the map). No weights.
 *
 * **Shapes**: inputs `[features [B, H, W, C], points [B, J, 2]]` (x, y in the feature map's pixel
 * coordinates, pixel centres at integers) → output `[B, J, C]`.
 *
 * @example
 * const sampler = jointFeatureSampler();
 * const perJoint = sampler.apply([featureMap, keypointsXY]) as tf.Tensor; // [B, J, C]
 */
export class JointFeatureSampler extends tfl.layers.Layer {
  static className = 'JointFeatureSampler';

  constructor(args: JointFeatureSamplerArgs = {}) {
    super(args);
  }

  private checkShapes(inputShape: tfl.Shape | tfl.Shape[]): [tfl.Shape, tfl.Shape] {
    if (!Array.isArray(inputShape[0]) || inputShape.length !== 2) {
      throw new PhalanxShapeError(COMPONENT, 'inputs', 'a list [features, points] of two tensors', inputShape);
    }
    const [features, points] = inputShape as tfl.Shape[];
    if (features.length !== 4) {
      throw new PhalanxShapeError(COMPONENT, 'features shape', 'rank 4 [B, H, W, C]', features);
    }
    if (points.length !== 3 || points[2] !== 2) {
      throw new PhalanxShapeError(COMPONENT, 'points shape', '[B, J, 2] (x, y per joint)', points);
    }
    if (features[0] != null && points[0] != null && features[0] !== points[0]) {
      throw new PhalanxShapeError(COMPONENT, 'points shape', `the features' batch size ${features[0]}`, points);
    }
    return [features, points];
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    this.checkShapes(inputShape);
    this.built = true;
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const [features, points] = this.checkShapes(inputShape);
    return [features[0] ?? points[0], points[1], features[3]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    void kwargs;
    return tf.tidy(() => {
      const list = Array.isArray(inputs) ? inputs : [inputs];
      if (list.length !== 2) {
        throw new PhalanxShapeError(COMPONENT, 'inputs', 'a list [features, points] of two tensors', `${list.length} tensor(s)`);
      }
      return sampleJointFeatures(list[0], list[1]);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig() };
  }
}
tf.serialization.registerClass(JointFeatureSampler);

/**
 * Creates a {@link JointFeatureSampler} layer.
 *
 * @example
 * const perJoint = jointFeatureSampler().apply([featureMap, keypointsXY]) as tf.Tensor; // [B, J, C]
 */
export function jointFeatureSampler(args: JointFeatureSamplerArgs = {}): JointFeatureSampler {
  return new JointFeatureSampler(args);
}
