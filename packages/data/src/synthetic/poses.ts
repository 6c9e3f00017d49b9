/**
 * Pose sampling over the whole range of hand articulations: open hands, fists, pinches, pointing, uniform
 * random angles, and per-finger mixtures of these. Every sampled angle lies within `JOINT_LIMITS`.
 */
import type { Rng } from '../random';
import { JOINT_LIMITS } from './hand-model';

/** The pose families `samplePose` draws from. */
export const POSE_KINDS = ['open', 'fist', 'pinch', 'point', 'random', 'mixture'] as const;
/** One pose family. */
export type PoseKind = (typeof POSE_KINDS)[number];

const DEG = Math.PI / 180;

type FingerState = 'straight' | 'relaxed' | 'curled' | 'random';

/** Clamps each of the 20 angles into its limits, in place, and returns the array. */
export function clampToLimits(angles: Float64Array): Float64Array {
  for (let i = 0; i < 20; i++) {
    const [lo, hi] = JOINT_LIMITS[i];
    if (angles[i] < lo) angles[i] = lo;
    else if (angles[i] > hi) angles[i] = hi;
  }
  return angles;
}

function fingerAngles(rng: Rng, f: number, state: FingerState, out: Float64Array): void {
  const o = 4 * f;
  const lim = (k: number) => JOINT_LIMITS[o + k];
  const spread = (lo: number, hi: number) => rng.uniform(lo, hi) * DEG;
  if (state === 'random') {
    for (let k = 0; k < 4; k++) out[o + k] = rng.uniform(lim(k)[0], lim(k)[1]);
    return;
  }
  // Finger spreading scales with how straight the finger is.
  const abdCentre = f === 0 ? 10 * DEG : [0, 6, 0, -6, -12][f] * DEG;
  if (f === 0) {
    if (state === 'straight') {
      out[o] = rng.uniform(0, 40) * DEG;
      out[o + 1] = rng.uniform(-20, 5) * DEG;
      out[o + 2] = rng.uniform(-10, 10) * DEG;
      out[o + 3] = rng.uniform(-15, 15) * DEG;
    } else if (state === 'relaxed') {
      out[o] = rng.uniform(5, 35) * DEG;
      out[o + 1] = rng.uniform(0, 30) * DEG;
      out[o + 2] = rng.uniform(5, 35) * DEG;
      out[o + 3] = rng.uniform(10, 45) * DEG;
    } else {
      out[o] = rng.uniform(-10, 20) * DEG;
      out[o + 1] = rng.uniform(30, 50) * DEG;
      out[o + 2] = rng.uniform(30, 60) * DEG;
      out[o + 3] = rng.uniform(40, 80) * DEG;
    }
    return;
  }
  if (state === 'straight') {
    out[o] = abdCentre * rng.uniform(0.5, 2.2) + spread(-4, 4);
    out[o + 1] = rng.uniform(-15, 12) * DEG;
    out[o + 2] = rng.uniform(0, 12) * DEG;
    out[o + 3] = rng.uniform(-5, 10) * DEG;
  } else if (state === 'relaxed') {
    out[o] = abdCentre * rng.uniform(0.2, 1.2) + spread(-3, 3);
    out[o + 1] = rng.uniform(10, 50) * DEG;
    out[o + 2] = rng.uniform(20, 65) * DEG;
    out[o + 3] = rng.uniform(10, 45) * DEG;
  } else {
    out[o] = abdCentre * rng.uniform(-0.3, 0.5);
    out[o + 1] = rng.uniform(60, 90) * DEG;
    out[o + 2] = rng.uniform(80, 105) * DEG;
    out[o + 3] = rng.uniform(40, 80) * DEG;
  }
}

/**
 * Draws the 20 joint angles (radians, layout of `forwardKinematics`) of one pose of the given family
 * (a uniformly chosen one when `kind` is omitted). Each family adds its own random variation; the result is
 * clamped to `JOINT_LIMITS`.
 */
export function samplePose(
  rng: Rng,
  kind?: PoseKind,
): {
  /** The pose family used (the one given, or the one drawn). */
  kind: PoseKind;
  /** `[20]` joint angles in radians, in the layout of `forwardKinematics`. */
  angles: Float64Array;
} {
  const k: PoseKind = kind ?? rng.pick(POSE_KINDS);
  const a = new Float64Array(20);
  const states: FingerState[] = [];
  switch (k) {
    case 'open':
      for (let f = 0; f < 5; f++) states.push(rng.chance(0.8) ? 'straight' : 'relaxed');
      break;
    case 'fist':
      for (let f = 0; f < 5; f++) states.push(rng.chance(0.85) ? 'curled' : 'relaxed');
      break;
    case 'point':
      states.push(rng.pick<FingerState>(['curled', 'straight', 'relaxed']), 'straight');
      for (let f = 2; f < 5; f++) states.push(rng.chance(0.85) ? 'curled' : 'relaxed');
      break;
    case 'pinch':
      states.push('relaxed', 'relaxed');
      for (let f = 2; f < 5; f++) states.push(rng.pick<FingerState>(['straight', 'relaxed', 'curled']));
      break;
    case 'random':
      for (let f = 0; f < 5; f++) states.push('random');
      break;
    case 'mixture':
      for (let f = 0; f < 5; f++) states.push(rng.pick<FingerState>(['straight', 'relaxed', 'curled', 'random']));
      break;
  }
  for (let f = 0; f < 5; f++) fingerAngles(rng, f, states[f], a);
  if (k === 'pinch') {
    // Thumb and index bend towards each other so that their tips meet near the index's front.
    a[0] = rng.uniform(15, 40) * DEG;
    a[1] = rng.uniform(15, 40) * DEG;
    a[2] = rng.uniform(10, 35) * DEG;
    a[3] = rng.uniform(10, 40) * DEG;
    a[5] = rng.uniform(30, 60) * DEG;
    a[6] = rng.uniform(30, 60) * DEG;
    a[7] = rng.uniform(10, 40) * DEG;
  }
  return { kind: k, angles: clampToLimits(a) };
}
