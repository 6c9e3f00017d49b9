/**
 * The mean adult hand the estimators assume when they turn 2.5D predictions into metres: the bone
 * lengths of the synthetic renderer's mean hand (`meanHandShape()` of `@phalanx/data`, the hands the
 * shipped models were trained on), in metres. The palm bones are the distances from the wrist to the
 * mean hand's finger bases (thumb CMC at (20, 24, 9) mm, index MCP at (24, 84, 3) mm, …).
 */
import { JOINT_PARENTS, NUM_JOINTS } from '@phalanx/skeleton';

/**
 * Length in metres of the bone that ends at joint j (`MEAN_HAND_BONE_METRES[j]`, from its parent
 * `JOINT_PARENTS[j]`; entry 0, the wrist, is 0) — FreiHAND joint order. The wrist→finger-base bones are
 * the palm (thumb CMC 32.5 mm, index MCP 87.4 mm, …); the middle finger's MCP→PIP bone, the hand scale
 * of the Learnable Groups targets, is 45 mm. The renderer draws hands from 0.85× to 1.15× this size, so
 * a real hand's metric size is known to about ±15 %.
 *
 * @example
 * ```ts
 * MEAN_HAND_BONE_METRES[10]; // 0.045 — middle MCP (9) → PIP (10)
 * ```
 */
// prettier-ignore
export const MEAN_HAND_BONE_METRES: readonly number[] = Object.freeze([
  0,
  Math.hypot(20, 24, 9) / 1000, 0.042, 0.032, 0.028, // thumb: wrist→CMC, CMC→MCP, MCP→IP, IP→TIP
  Math.hypot(24, 84, 3) / 1000, 0.040, 0.024, 0.021, // index: wrist→MCP, MCP→PIP, PIP→DIP, DIP→TIP
  Math.hypot(3, 87, 0) / 1000, 0.045, 0.028, 0.023,  // middle
  Math.hypot(15, 81, 2) / 1000, 0.042, 0.027, 0.022, // ring
  Math.hypot(31, 71, 6) / 1000, 0.033, 0.020, 0.019, // pinky
]);

/** The 20 bones as `[parent, child, length in metres]` of the mean hand. */
export const MEAN_HAND_BONES: readonly (readonly [number, number, number])[] = Object.freeze(
  Array.from({ length: NUM_JOINTS - 1 }, (_, i) =>
    Object.freeze([JOINT_PARENTS[i + 1], i + 1, MEAN_HAND_BONE_METRES[i + 1]] as const),
  ),
);
