/**
 * The model-specific part of an estimator: run the network on a letterboxed input and return, as one
 * tensor, the 21 keypoints in model pixels, their relative depth in metres and a confidence score.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { PhalanxConfigError } from '@phalanx/errors';
import { volumetricSoftArgmax25D, type ConcreteJointSelector } from '@phalanx/layers';
import { ehpeModelInfo } from '@phalanx/ehpe';
import { NUM_JOINTS } from '@phalanx/skeleton';
import type { ModelCard } from './card';

/** A network behind an estimator. */
export interface PoseHead {
  /** Side S of the square model input `[B, S, S, 3]`. */
  readonly inputSize: number;
  /**
   * Runs the network (inference mode). **Shapes**: `input [B, S, S, 3]` in [0, 1] → `[B, 21·3 + 1]`:
   * per image and joint (x, y) in model pixels and z in metres (relative to any root), then the score.
   */
  run(input: tf.Tensor4D): tf.Tensor2D;
  /** Frees the head's own tensors (not the model's weights). */
  dispose(): void;
}

/**
 * Confidence of soft-argmax distributions: for each joint the largest probability mass in a 3×3 window
 * of its 2D distribution, averaged over the joints. 1 when every joint's mass sits in one window; a
 * flat map over H×W gives 9/(H·W).
 *
 * **Shapes**: `probabilities [B, H, W, J]` (each map sums to 1) → `[B]`, one score per image.
 */
export function peakMass(probabilities: tf.Tensor4D): tf.Tensor1D {
  return tf.tidy(() => {
    const joints = probabilities.shape[3];
    const window = tf.depthwiseConv2d(probabilities, tf.ones([3, 3, joints, 1]), 1, 'same');
    return tf.mean(tf.max(window, [1, 2]), 1) as tf.Tensor1D;
  });
}

/** `xy [B, 21, 2]`, `z [B, 21, 1]`, `score [B]` → `[B, 21·3 + 1]`. */
function packed(xy: tf.Tensor, z: tf.Tensor, score: tf.Tensor1D): tf.Tensor2D {
  const batch = score.shape[0];
  const joints = tf.concat([tf.reshape(xy, [batch, NUM_JOINTS, 2]), tf.reshape(z, [batch, NUM_JOINTS, 1])], 2);
  return tf.concat([tf.reshape(joints, [batch, -1]), tf.reshape(score, [batch, 1])], 1) as tf.Tensor2D;
}

function layerOrThrow(model: tfl.LayersModel, name: string, what: string): tfl.layers.Layer {
  try {
    return model.getLayer(name);
  } catch {
    throw new PhalanxConfigError('loadHandPoseEstimator', 'model', `${what} (layer '${name}')`, model.name);
  }
}

/** A named error unless output `index` of `model` is `[B, 21, …]`: the heads read the 21 hand joints. */
function checkJointCount(model: tfl.LayersModel, index: number): void {
  const shape = model.outputs[index]?.shape;
  if (shape?.[1] !== NUM_JOINTS) {
    throw new PhalanxConfigError(
      'loadHandPoseEstimator',
      'model',
      `a model of the ${NUM_JOINTS} hand joints (output ${index} of shape [B, ${NUM_JOINTS}, …])`,
      shape ?? model.name,
    );
  }
}

function inputSizeOf(model: tfl.LayersModel): number {
  const shape = model.inputs[0].shape;
  if (shape.length !== 4 || shape[1] !== shape[2] || shape[3] !== 3 || typeof shape[1] !== 'number') {
    throw new PhalanxConfigError('loadHandPoseEstimator', 'model', 'a model with one input [B, S, S, 3]', shape);
  }
  return shape[1];
}

/**
 * The head of a Learnable Groups model (`createLearnableGroups`): `uv` (model pixels), depth `d·bone`
 * (relative to the middle MCP), and as score the {@link peakMass} of each joint's soft-argmax
 * distribution `softmax(β_j·h_{g(j),j})` in the group `g(j)` the hard selector takes it from.
 */
export function learnableGroupsHead(model: tfl.LayersModel, card: ModelCard): PoseHead {
  const inputSize = inputSizeOf(model);
  if (card.depth.unit !== 'bone')
    throw new PhalanxConfigError('learnableGroupsHead', 'card.depth.unit', "'bone'", card.depth.unit);
  const boneMetres = card.depth.boneMetres;
  const selector = model.layers.find((l) => l.getClassName() === 'ConcreteJointSelector') as
    ConcreteJointSelector | undefined;
  if (selector === undefined || model.outputs.length !== 2) {
    throw new PhalanxConfigError(
      'loadHandPoseEstimator',
      'model',
      'a Learnable Groups model (a ConcreteJointSelector, outputs [uv, depth])',
      model.name,
    );
  }
  checkJointCount(model, 0);
  const groups = selector.groups();
  const maps = groups.map((_, g) => layerOrThrow(model, `b_htmaps_conv.${g}.2`, 'a Learnable Groups heatmap head'));
  const betas = groups.map((_, g) => layerOrThrow(model, `b_get_uv.${g}`, 'a Learnable Groups soft-argmax'));
  const view = tfl.model({
    inputs: model.inputs,
    outputs: [...model.outputs, ...maps.map((l) => l.output as tfl.SymbolicTensor)],
  });
  const jointGroup = new Array<number>(NUM_JOINTS).fill(0);
  groups.forEach((members, g) => members.forEach((j) => (jointGroup[j] = g)));
  const selection = tf.tidy(() => tf.oneHot(tf.tensor1d(jointGroup, 'int32'), groups.length)); // [J, G]
  return {
    inputSize,
    run: (input) =>
      tf.tidy(() => {
        const [uv, depth, ...heatmaps] = view.predict(input) as tf.Tensor[];
        // Logits of the selected group per joint, scaled by that group's per-joint β: [B, H, W, J].
        const logits = tf.addN(
          heatmaps.map((h, g) => {
            const beta = betas[g].weights.length > 0 ? betas[g].weights[0].read() : tf.ones([NUM_JOINTS]);
            const mask = tf.squeeze(tf.slice(selection, [0, g], [-1, 1]), [1]);
            return tf.mul(h, tf.mul(beta, mask));
          }),
        );
        const [batch, h, w] = logits.shape;
        const flat = tf.transpose(tf.reshape(logits, [batch, h * w, NUM_JOINTS]), [0, 2, 1]); // [B, J, H·W]
        const p = tf.reshape(tf.transpose(tf.softmax(flat), [0, 2, 1]), [batch, h, w, NUM_JOINTS]) as tf.Tensor4D;
        return packed(uv, tf.mul(depth, boneMetres), peakMass(p));
      }),
    dispose: () => selection.dispose(),
  };
}

/**
 * The head of an EHPE model (`createEhpe`): the PG-stage's 21 joints (model pixels, depth bins → metres
 * relative to the wrist), and as score the {@link peakMass} of the TW-stage's volumetric soft-argmax
 * distributions (wrist and tips), summed over depth.
 */
export function ehpeHead(model: tfl.LayersModel, card: ModelCard): PoseHead {
  const inputSize = inputSizeOf(model);
  if (card.depth.unit !== 'bins')
    throw new PhalanxConfigError('ehpeHead', 'card.depth.unit', "'bins'", card.depth.unit);
  const { bins, rangeMetres } = card.depth;
  const info = ehpeModelInfo(model);
  checkJointCount(model, 2);
  const volume = layerOrThrow(model, 'tw.to_25d', 'an EHPE TW-stage volume');
  const beta = Number(
    (layerOrThrow(model, 'tw.soft_argmax', 'an EHPE TW-stage soft-argmax').getConfig().beta as number) ?? 1,
  );
  const view = tfl.model({ inputs: model.inputs, outputs: [model.outputs[2], volume.output as tfl.SymbolicTensor] });
  return {
    inputSize,
    run: (input) =>
      tf.tidy(() => {
        const [joints, v] = view.predict(input) as tf.Tensor[];
        const xy = tf.slice(joints, [0, 0, 0], [-1, NUM_JOINTS, 2]);
        const b = tf.slice(joints, [0, 0, 2], [-1, NUM_JOINTS, 1]);
        const z = tf.mul(tf.sub(tf.div(b, bins - 1), 0.5), rangeMetres);
        const { probabilities } = volumetricSoftArgmax25D(v, info.tipWristJoints.length, info.depthBins, {
          beta,
          returnProbabilities: true,
        });
        return packed(xy, z, peakMass(probabilities as tf.Tensor4D));
      }),
    dispose: () => undefined,
  };
}
