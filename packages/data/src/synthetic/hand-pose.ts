/**
 * The pose stage of the synthetic renderer: handedness, the individual's proportions, joint angles and the
 * forearm, drawn in that order, and the joints in the hand frame.
 */
import type { Rng } from '../random';
import { forwardKinematics, sampleHandShape, type HandShape } from './hand-model';
import { clampToLimits, samplePose, type PoseKind } from './poses';

/** What the pose stage may fix instead of drawing. */
export interface PoseRequest {
  /** `'right'`, `'left'`, or `'random'` (each with probability ½). */
  handedness: 'right' | 'left' | 'random';
  /** One pose family, or `undefined` to draw one. */
  poseKind: PoseKind | undefined;
  /** 20 fixed joint angles (radians) that replace the drawn ones (which are still drawn), clamped to the limits. */
  angles: ArrayLike<number> | undefined;
}

/** A drawn hand in its own frame. */
export interface HandPose {
  /** Whether it is a left hand. */
  left: boolean;
  /** The individual's proportions. */
  shape: HandShape;
  /** The pose family the angles came from. */
  kind: PoseKind;
  /** The 20 joint angles (radians) of `forwardKinematics`. */
  angles: Float64Array;
  /** `[21 * 3]` joints in the hand frame (mm). */
  joints: Float64Array;
  /** Whether a forearm is drawn (75 %). */
  forearm: boolean;
  /** Length of the forearm (mm), drawn whether or not it is shown. */
  forearmLength: number;
}

/** The pose stage: draws handedness, proportions, a pose and a forearm, and runs the forward kinematics. */
export function drawHandPose(rng: Rng, request: PoseRequest): HandPose {
  const handed = request.handedness;
  const left = handed === 'left' || (handed === 'random' && rng.chance(0.5));
  const shape = sampleHandShape(rng, left);
  const pose = samplePose(rng, request.poseKind);
  const angles = request.angles ? clampToLimits(Float64Array.from(request.angles)) : pose.angles;
  const joints = forwardKinematics(shape, angles);
  const forearm = rng.chance(0.75);
  const forearmLength = rng.uniform(60, 160) * shape.size;
  return { left, shape, kind: pose.kind, angles, joints, forearm, forearmLength };
}
