/**
 * The model card: what the estimator needs to know about a model beyond its layers (how its depth
 * output becomes metres) and what is known about how well it works. Stored in `model.json` under
 * `userDefinedMetadata.phalanx`, so that every way of loading the model brings it along.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { checkInteger, checkOneOf, checkPositiveFloat32, PhalanxConfigError } from '@phalanx/errors';
import { ehpeModelInfo } from '@phalanx/ehpe';
import { MEAN_HAND_BONE_METRES } from './mean-hand';

/** The models `loadHandPoseEstimator` knows. */
export type HandPoseModelName = 'learnable-groups' | 'ehpe';

/** Every {@link HandPoseModelName}, in the order the docs list them. */
export const HAND_POSE_MODELS: readonly HandPoseModelName[] = Object.freeze(['learnable-groups', 'ehpe']);

/**
 * How a model's depth output becomes metres.
 * - `'bone'` (Learnable Groups): `z = d · boneMetres`, `d` the root-relative depth divided by the
 *   middle-finger MCP–PIP bone (the root: the middle MCP, joint 9);
 * - `'bins'` (EHPE): `z = (b / (bins − 1) − ½) · rangeMetres`, `b` the depth bin (the root: the wrist).
 */
export type DepthEncoding = BoneDepth | BinnedDepth;

/** Learnable Groups' depth: root-relative, in units of the middle-finger MCP–PIP bone. */
export interface BoneDepth {
  /** `'bone'`. */
  unit: 'bone';
  /** The bone's assumed length in metres: `z = d · boneMetres`. */
  boneMetres: number;
}

/** EHPE's depth: bins over a range centred on the wrist's depth. */
export interface BinnedDepth {
  /** `'bins'`. */
  unit: 'bins';
  /** Number of bins D. */
  bins: number;
  /** The range the bins cover in metres: `z = (b / (D − 1) − ½) · rangeMetres`. */
  rangeMetres: number;
}

/** A held-out measurement of a model through the estimator (the shipped models carry one). */
export interface HeldOutEvaluation {
  /** What was measured on, e.g. `'synthetic hands (@phalanx/data renderSyntheticHand)'`. */
  dataset: string;
  /** Seed of the held-out hands (never used in training). */
  seed: number;
  /** Number of hands. */
  count: number;
  /** Side of the square test images in pixels. */
  imageSize: number;
  /** Mean 2D end-point error over the visible joints, image pixels. */
  epe2dPx: number;
  /** The same error with every joint at the true centre of the hand (the centroid of its visible joints). */
  handCentrePx: number;
  /** The same error with one fixed pose for every image (the training stream's per-joint mean). */
  meanPosePx: number;
  /** `epe2dPx / handCentrePx`. */
  ratioToHandCentre: number;
}

/** What is known about a model: see the module comment. */
export interface ModelCard {
  /** Which network this is. */
  model: HandPoseModelName;
  /** How its depth output becomes metres. */
  depth: DepthEncoding;
  /** Where the weights come from: the training run, its command and length. Free-form, for people. */
  training?: Record<string, unknown>;
  /** Held-out accuracy measured through the estimator. */
  evaluation?: HeldOutEvaluation;
}

/** The key under `userDefinedMetadata` that holds the card. */
export const CARD_METADATA_KEY = 'phalanx';

function defaultDepth(name: HandPoseModelName, model: tfl.LayersModel): DepthEncoding {
  if (name === 'learnable-groups') return { unit: 'bone', boneMetres: MEAN_HAND_BONE_METRES[10] };
  // The release's rel_depth_range_mm, the default of @phalanx/ehpe's depth binning.
  return { unit: 'bins', bins: ehpeModelInfo(model).depthBins, rangeMetres: 0.2 };
}

/** A stored depth encoding, checked: keypoints in metres are computed from it. */
function checkDepth(depth: unknown): DepthEncoding {
  const component = 'readModelCard';
  if (depth === null || typeof depth !== 'object') {
    throw new PhalanxConfigError(component, 'card.depth', 'an object {unit, …}', depth);
  }
  const d = depth as Record<string, unknown>;
  if (checkOneOf(component, 'card.depth.unit', d.unit, ['bone', 'bins'] as const) === 'bone') {
    return { unit: 'bone', boneMetres: checkPositiveFloat32(component, 'card.depth.boneMetres', d.boneMetres) };
  }
  return {
    unit: 'bins',
    bins: checkInteger(component, 'card.depth.bins', d.bins, 2),
    rangeMetres: checkPositiveFloat32(component, 'card.depth.rangeMetres', d.rangeMetres),
  };
}

/**
 * The card of a loaded model: the one stored in its `model.json`, or — for a model saved without one,
 * e.g. straight from a training example — the defaults (`'bone'` depth with the mean hand's 45 mm bone;
 * EHPE's bins over the release's 200 mm). Throws `PhalanxConfigError` (labelled `readModelCard`, also when a
 * loader calls it) for a `name` that is not one of {@link HAND_POSE_MODELS} or a `model` that is not a
 * `tf.LayersModel`, when the stored card names another model than `name`, and when its depth encoding is not
 * `{unit: 'bone', boneMetres > 0}` or `{unit: 'bins', bins: an integer ≥ 2, rangeMetres > 0}`.
 *
 * @example
 * ```ts
 * const estimator = await loadHandPoseEstimator('ehpe');
 * readModelCard('ehpe', estimator.model).depth; // {unit: 'bins', bins: 8, rangeMetres: 0.2}
 * ```
 */
export function readModelCard(name: HandPoseModelName, model: tfl.LayersModel): ModelCard {
  checkOneOf('readModelCard', 'name', name, HAND_POSE_MODELS);
  if (typeof (model as Partial<tfl.LayersModel> | null)?.getUserDefinedMetadata !== 'function') {
    throw new PhalanxConfigError('readModelCard', 'model', 'a tf.LayersModel', model === null ? null : typeof model);
  }
  const meta = model.getUserDefinedMetadata() as Record<string, unknown> | undefined;
  const stored = meta?.[CARD_METADATA_KEY] as Partial<ModelCard> | undefined;
  if (stored?.model !== undefined && stored.model !== name) {
    throw new PhalanxConfigError('readModelCard', 'model', `the files of a '${name}' model`, stored.model);
  }
  return {
    model: name,
    depth: stored?.depth === undefined ? defaultDepth(name, model) : checkDepth(stored.depth),
    training: stored?.training,
    evaluation: stored?.evaluation,
  };
}
