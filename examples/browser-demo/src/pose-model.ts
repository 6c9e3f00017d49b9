import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { ConcreteJointSelector } from '@phalanx/layers';
import { ehpeModelInfo } from '@phalanx/ehpe';
import {
  CARD_METADATA_KEY,
  estimatorFromModel,
  letterboxGeometry,
  letterboxImage,
  loadHandPoseEstimator,
  type Hand,
  type HandPoseEstimator,
  type HandPoseModelName,
} from '@phalanx/pretrained';
// The shipped weights of @phalanx/pretrained, bundled by vite as assets (hashed file names; the weights
// file is passed to the loader explicitly because model.json names it plainly).
import lgModelUrl from '@phalanx/pretrained/models/learnable-groups/model.json?url';
import lgWeightsUrl from '@phalanx/pretrained/models/learnable-groups/weights.bin?url';
import ehpeModelUrl from '@phalanx/pretrained/models/ehpe/model.json?url';
import ehpeWeightsUrl from '@phalanx/pretrained/models/ehpe/weights.bin?url';

/** The shipped models the page offers, and the files vite bundled for them. */
export const SHIPPED_MODELS: Record<HandPoseModelName, { label: string; modelUrl: string; weightsUrl: string }> = {
  'learnable-groups': { label: 'Learnable Groups (shipped)', modelUrl: lgModelUrl, weightsUrl: lgWeightsUrl },
  ehpe: { label: 'EHPE (shipped)', modelUrl: ehpeModelUrl, weightsUrl: ehpeWeightsUrl },
};

/** An estimator and how the page colours its joints. */
export interface PoseModel {
  estimator: HandPoseEstimator;
  kind: HandPoseModelName;
  /** Side S of the model input. */
  inputSize: number;
  /** Learnable Groups: the joints the selector takes from each group; EHPE: TW-stage joints, the others. */
  groups: number[][];
  /** Legend of each group. */
  groupNames: string[];
  /** `jointGroup[j]`: the group joint j is coloured by. */
  jointGroup: number[];
}

export interface Prediction {
  /** The estimated hand: keypoints in the picture's pixels, keypoints3D in metres, score. */
  hand: Hand;
  /** Time of `estimateHands` (letterbox, model, reading the results back), in ms. */
  ms: number;
}

function describeGroups(kind: HandPoseModelName, model: tfl.LayersModel): Pick<PoseModel, 'groups' | 'groupNames'> {
  if (kind === 'ehpe') {
    const tw = ehpeModelInfo(model).tipWristJoints;
    const rest = Array.from({ length: 21 }, (_, j) => j).filter((j) => !tw.includes(j));
    return { groups: [tw, rest], groupNames: ['TW-stage joints', 'PG-stage joints'] };
  }
  const selector = model.layers.find((l) => l.getClassName() === 'ConcreteJointSelector') as ConcreteJointSelector;
  const groups = selector.groups();
  return { groups, groupNames: groups.map((_, g) => `group ${g + 1}`) };
}

function wrap(kind: HandPoseModelName, estimator: HandPoseEstimator): PoseModel {
  const { groups, groupNames } = describeGroups(kind, estimator.model);
  const jointGroup = new Array<number>(21).fill(0);
  groups.forEach((members, g) => members.forEach((j) => (jointGroup[j] = g)));
  return { estimator, kind, inputSize: estimator.inputSize, groups, groupNames, jointGroup };
}

/** Loads one of the shipped models from the bundled files. */
export async function loadShippedModel(kind: HandPoseModelName): Promise<PoseModel> {
  const { modelUrl, weightsUrl } = SHIPPED_MODELS[kind];
  const estimator = await loadHandPoseEstimator(kind, {
    url: modelUrl,
    loadOptions: { weightUrlConverter: async () => weightsUrl },
  });
  return wrap(kind, estimator);
}

/**
 * Loads another model of either network (a URL, or `tf.io.browserFiles([model.json, weights…])`): which
 * network it is comes from its card, or else from its layers (a `ConcreteJointSelector`: Learnable Groups).
 */
export async function loadModelFrom(source: string | tf.io.IOHandler): Promise<PoseModel> {
  const model = await tfl.loadLayersModel(source);
  const card = (model.getUserDefinedMetadata() as Record<string, { model?: HandPoseModelName }> | undefined)?.[
    CARD_METADATA_KEY
  ];
  const hasSelector = model.layers.some((l) => l.getClassName() === 'ConcreteJointSelector');
  const kind = card?.model ?? (hasSelector ? 'learnable-groups' : 'ehpe');
  try {
    return wrap(kind, estimatorFromModel(kind, model));
  } catch (error) {
    model.dispose();
    throw error;
  }
}

/**
 * Loads a PyTorch checkpoint (`.pth`/`.pt` or `.safetensors`, picked in the page) into a copy of the network
 * `current` runs; `current` is left as it is, also when the checkpoint does not fit.
 */
export async function loadCheckpointInto(current: PoseModel, bytes: Uint8Array, name: string): Promise<PoseModel> {
  // Loaded on demand: only a picked checkpoint needs the .pth reader.
  const { estimatorFromCheckpoint } = await import('./checkpoint');
  const estimator = await estimatorFromCheckpoint(current.kind, current.estimator.model, bytes, name);
  try {
    return wrap(current.kind, estimator);
  } catch (error) {
    estimator.dispose();
    throw error;
  }
}

/** The model input the estimator builds from a picture (letterboxed, RGB in [0, 1]), for the page's record. */
export function modelInputOf(picture: HTMLCanvasElement, inputSize: number): Promise<Float32Array> {
  const input = tf.tidy(() => {
    const pixels = tf.browser.fromPixels(picture);
    return letterboxImage(pixels, letterboxGeometry(picture.height, picture.width, inputSize));
  });
  return input.data().then((data) => (input.dispose(), data as Float32Array));
}

/** Runs the estimator on a picture. */
export async function predict(pose: PoseModel, picture: HTMLCanvasElement): Promise<Prediction> {
  const start = performance.now();
  const [hand] = await pose.estimator.estimateHands(picture);
  return { hand, ms: performance.now() - start };
}
