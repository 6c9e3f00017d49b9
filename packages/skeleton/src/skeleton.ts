/**
 * The 21-joint hand skeleton in FreiHAND / MANO order — the one definition that the layers, the
 * geometry and metrics, the synthetic renderer and the reference models all read.
 *
 * Order: 0 wrist; then thumb 1–4, index 5–8, middle 9–12, ring 13–16, pinky 17–20, each finger from its
 * base to its tip (MCP, PIP, DIP, TIP; the thumb's CMC, MCP, IP, TIP take the same four slots).
 * Plain frozen arrays: no tensors, no dependencies, no side effects.
 */

/**
 * Number of hand joints in the FreiHAND / MANO skeleton.
 *
 * @example
 * ```ts
 * const uv = new Float32Array(NUM_JOINTS * 2); // one (x, y) per joint
 * ```
 */
export const NUM_JOINTS = 21;

/**
 * Joint names in FreiHAND / MANO order (the thumb named anatomically: CMC, MCP, IP, TIP).
 *
 * @example
 * ```ts
 * JOINT_NAMES[8]; // 'index_tip'
 * ```
 */
// prettier-ignore
export const JOINT_NAMES: readonly string[] = Object.freeze([
  'wrist',
  'thumb_cmc', 'thumb_mcp', 'thumb_ip', 'thumb_tip',
  'index_mcp', 'index_pip', 'index_dip', 'index_tip',
  'middle_mcp', 'middle_pip', 'middle_dip', 'middle_tip',
  'ring_mcp', 'ring_pip', 'ring_dip', 'ring_tip',
  'pinky_mcp', 'pinky_pip', 'pinky_dip', 'pinky_tip',
]);

/**
 * The five fingers, in joint order.
 *
 * @example
 * ```ts
 * FINGER_NAMES.indexOf('middle'); // 2: joints 9–12
 * ```
 */
export const FINGER_NAMES = Object.freeze(['thumb', 'index', 'middle', 'ring', 'pinky'] as const);

/**
 * Joints of each finger from base to tip: `FINGER_CHAINS[f] = [1+4f, 2+4f, 3+4f, 4+4f]` (wrist
 * excluded).
 *
 * @example
 * ```ts
 * FINGER_CHAINS[1]; // [5, 6, 7, 8]: index MCP, PIP, DIP, TIP
 * ```
 */
export const FINGER_CHAINS: readonly (readonly number[])[] = Object.freeze(
  [0, 1, 2, 3, 4].map((f) => Object.freeze([1 + 4 * f, 2 + 4 * f, 3 + 4 * f, 4 + 4 * f])),
);

/**
 * Parent of each joint in the kinematic tree (−1 for the wrist): finger bases hang from the wrist,
 * every other joint from the previous joint of its finger.
 *
 * @example
 * ```ts
 * JOINT_PARENTS[5]; // 0: index MCP → wrist
 * JOINT_PARENTS[6]; // 5: index PIP → index MCP
 * ```
 */
export const JOINT_PARENTS: readonly number[] = Object.freeze(
  Array.from({ length: NUM_JOINTS }, (_, j) => (j === 0 ? -1 : (j - 1) % 4 === 0 ? 0 : j - 1)),
);

/**
 * The 20 undirected bones as `[parent, child]` pairs, ordered by child joint: the wrist to each finger
 * base and the three bones of each finger, finger by finger.
 *
 * **Shapes**: `[20][2]`.
 *
 * @example
 * ```ts
 * SKELETON_EDGES[0]; // [0, 1]: wrist – thumb CMC
 * SKELETON_EDGES.length; // 20
 * ```
 */
export const SKELETON_EDGES: readonly (readonly [number, number])[] = Object.freeze(
  JOINT_PARENTS.flatMap((p, j) => (p < 0 ? [] : [Object.freeze([p, j] as const)])),
);

/**
 * The fingertips, thumb first: `[4, 8, 12, 16, 20]`.
 *
 * @example
 * ```ts
 * TIP_JOINTS.map((j) => JOINT_NAMES[j]); // ['thumb_tip', 'index_tip', …]
 * ```
 */
export const TIP_JOINTS: readonly number[] = Object.freeze(FINGER_CHAINS.map((chain) => chain[3]));

/**
 * EHPE's "TIP and wrist" set, the joints its TW-stage predicts: the wrist, then the five tips,
 * `[0, 4, 8, 12, 16, 20]`.
 *
 * @example
 * ```ts
 * TIP_AND_WRIST_JOINTS.length; // 6
 * ```
 */
export const TIP_AND_WRIST_JOINTS: readonly number[] = Object.freeze([0, ...TIP_JOINTS]);

/**
 * The bone whose length is the hand scale, `[root, ref]`: middle-finger MCP (9) → PIP (10) (Learnable
 * Groups' scale normalisation; the synthetic renderer's `scale`).
 *
 * @example
 * ```ts
 * const [root, ref] = SCALE_BONE; // 9, 10
 * ```
 */
export const SCALE_BONE: readonly [number, number] = Object.freeze([9, 10] as const);
