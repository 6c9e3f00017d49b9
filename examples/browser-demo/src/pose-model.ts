import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
// Registers every Phalanx layer class (a side effect of @phalanx/layers), so that tf.loadLayersModel can
// rebuild the network. @phalanx/learnable-groups is not needed to load a saved model.
import '@phalanx/layers';
import type { ConcreteJointSelector } from '@phalanx/layers';

/** A loaded Learnable Groups model and what the page needs to know about it. */
export interface PoseModel {
  model: tfl.LayersModel;
  /** Square input size S of `[B, S, S, 3]`. */
  inputSize: number;
  numJoints: number;
  /** `groups[g]`: the joints the selector takes from group g (hard assignment). */
  groups: number[][];
  /** `jointGroup[j]`: the group joint j is taken from. */
  jointGroup: number[];
}

export interface Prediction {
  /** `[J][2]` keypoints in model-input pixels (align-corners, x right, y down). */
  uv: number[][];
  /** `[J]` root-relative depth divided by the hand scale (the model's second output). */
  depth: number[];
  /** Time of `predict` + reading the results back, in ms. */
  ms: number;
}

/** Loads a model (a URL, or `tf.io.browserFiles([model.json, weights…])`) and reads its selector's groups. */
export async function loadPoseModel(source: string | tf.io.IOHandler): Promise<PoseModel> {
  return describePoseModel(await tfl.loadLayersModel(source));
}

/** Checks a Learnable Groups model's input and outputs and reads its selector's groups. */
export function describePoseModel(model: tfl.LayersModel): PoseModel {
  const shape = model.inputs[0].shape;
  if (shape.length !== 4 || shape[1] !== shape[2] || shape[3] !== 3 || typeof shape[1] !== 'number') {
    throw new Error(`expected a model with input [B, S, S, 3], got [${shape.join(', ')}]`);
  }
  if (model.outputs.length !== 2) {
    throw new Error(`expected two outputs (uv [B, J, 2], depth [B, J]), got ${model.outputs.length}`);
  }
  const numJoints = model.outputs[0].shape[1] as number;
  const selector = model.layers.find((l) => l.getClassName() === 'ConcreteJointSelector') as
    ConcreteJointSelector | undefined;
  const groups = selector !== undefined ? selector.groups() : [Array.from({ length: numJoints }, (_, j) => j)];
  const jointGroup = new Array<number>(numJoints).fill(0);
  groups.forEach((members, g) => members.forEach((j) => (jointGroup[j] = g)));
  return { model, inputSize: shape[1], numJoints, groups, jointGroup };
}

/**
 * The model input for a square image: resized to S×S (bilinear, align corners, so that model pixel
 * x maps to image pixel x·(M−1)/(S−1)), RGB scaled to [0, 1] — what the official network receives.
 */
export function modelInput(square: HTMLCanvasElement, inputSize: number): tf.Tensor4D {
  return tf.tidy(() => {
    const pixels = tf.cast(tf.browser.fromPixels(square), 'float32');
    const resized = tf.image.resizeBilinear(pixels as tf.Tensor3D, [inputSize, inputSize], true);
    return tf.expandDims(tf.div(resized, 255), 0) as tf.Tensor4D;
  });
}

/** Runs the model on one input `[1, S, S, 3]`. */
export async function predict(pose: PoseModel, input: tf.Tensor4D): Promise<Prediction> {
  const start = performance.now();
  const [uvT, depthT] = pose.model.predict(input) as tf.Tensor[];
  const [uvFlat, depthFlat] = await Promise.all([uvT.data(), depthT.data()]);
  const ms = performance.now() - start;
  tf.dispose([uvT, depthT]);
  const uv = Array.from({ length: pose.numJoints }, (_, j) => [uvFlat[2 * j], uvFlat[2 * j + 1]]);
  return { uv, depth: Array.from(depthFlat), ms };
}
