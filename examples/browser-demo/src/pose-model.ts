import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { ConcreteJointSelector } from '@phalanx/layers';
import { ehpeModelInfo } from '@phalanx/ehpe';
import {
  CARD_METADATA_KEY,
  estimatorFromModel,
  letterboxGeometry,
  loadHandPoseModel,
  letterboxImage,
  type Hand,
  type HandPoseEstimator,
  type HandPoseModelName,
  type TestRotations,
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

/** A network's topology as `model.toJSON` gives it (layers and connections, no weights). */
export type NetworkTopology = tf.io.ModelJSON['modelTopology'];

/** The topology of `model`, to build fresh copies of it later. */
function topologyOf(model: tfl.LayersModel): NetworkTopology {
  return model.toJSON(undefined, false) as NetworkTopology;
}

/** An estimator and how the page colours its joints. */
export interface PoseModel {
  estimator: HandPoseEstimator;
  kind: HandPoseModelName;
  /**
   * The network's topology as loaded, batch norms and all (the estimator runs a copy with them folded
   * away): a PyTorch checkpoint loads into a fresh model of this topology.
   */
  topology: NetworkTopology;
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
  /** The test-time rotations it averaged over. */
  rotations: TestRotations;
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

/** The page's model of an estimator (the estimator is disposed when this throws). */
function wrap(kind: HandPoseModelName, estimator: HandPoseEstimator, topology: NetworkTopology): PoseModel {
  try {
    const { groups, groupNames } = describeGroups(kind, estimator.model);
    const jointGroup = new Array<number>(21).fill(0);
    groups.forEach((members, g) => members.forEach((j) => (jointGroup[j] = g)));
    return { estimator, kind, topology, inputSize: estimator.inputSize, groups, groupNames, jointGroup };
  } catch (error) {
    estimator.dispose();
    throw error;
  }
}

/** The estimator of a loaded `kind` model, which it takes over (disposed when this throws). */
function poseModelOf(kind: HandPoseModelName, model: tfl.LayersModel): PoseModel {
  const topology = topologyOf(model); // before the estimator folds the model's batch norms away
  let estimator: HandPoseEstimator;
  try {
    estimator = estimatorFromModel(kind, model);
  } catch (error) {
    model.dispose();
    throw error;
  }
  return wrap(kind, estimator, topology);
}

/** Loads one of the shipped models from the bundled files. */
export async function loadShippedModel(kind: HandPoseModelName): Promise<PoseModel> {
  const { modelUrl, weightsUrl } = SHIPPED_MODELS[kind];
  const model = await loadHandPoseModel(kind, {
    url: modelUrl,
    loadOptions: { weightUrlConverter: async () => weightsUrl },
  });
  return poseModelOf(kind, model);
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
  return poseModelOf(kind, model);
}

/**
 * Loads a PyTorch checkpoint (`.pth`/`.pt` or `.safetensors`, picked in the page) into a copy of the network
 * `current` runs; `current` is left as it is, also when the checkpoint does not fit.
 */
export async function loadCheckpointInto(current: PoseModel, bytes: Uint8Array, name: string): Promise<PoseModel> {
  // Loaded on demand: only a picked checkpoint needs the .pth reader.
  const { estimatorFromCheckpoint } = await import('./checkpoint');
  const metadata = current.estimator.model.getUserDefinedMetadata() as Record<string, unknown> | undefined;
  const estimator = await estimatorFromCheckpoint(current.kind, current.topology, metadata, bytes, name);
  return wrap(current.kind, estimator, current.topology);
}

/** The model input the estimator builds from a picture (letterboxed, RGB in [0, 1]), for the page's record. */
export function modelInputOf(picture: HTMLCanvasElement, inputSize: number): Promise<Float32Array> {
  const input = tf.tidy(() => {
    const pixels = tf.browser.fromPixels(picture);
    return letterboxImage(pixels, letterboxGeometry(picture.height, picture.width, inputSize));
  });
  return input.data().then((data) => (input.dispose(), data as Float32Array));
}

/** Runs the estimator on a picture, averaging over `rotations` quarter-turned views (the estimator's option). */
export async function predict(
  pose: PoseModel,
  picture: HTMLCanvasElement,
  rotations: TestRotations = 1,
): Promise<Prediction> {
  const start = performance.now();
  const [hand] = await pose.estimator.estimateHands(picture, { rotations });
  return { hand, ms: performance.now() - start, rotations };
}
