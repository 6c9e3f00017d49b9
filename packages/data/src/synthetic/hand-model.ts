/**
 * A minimal kinematic model of the human hand: 21 joints in FreiHAND/MANO order, anatomical bone lengths
 * (mm), and joint-angle limits, on the skeleton of `@phalanx/skeleton` (FreiHAND / MANO order):
 *
 * 0 wrist; thumb 1–4 (CMC, MCP, IP, TIP), index 5–8, middle 9–12, ring 13–16, pinky 17–20 (MCP, PIP, DIP, TIP).
 *
 * **Hand frame** (the frame `forwardKinematics` returns, mm): origin at the wrist, `+y` from the wrist towards the
 * middle finger, `+x` towards the thumb side (radial), `+z` out of the palm (palmar). For a right hand this frame
 * is right-handed; a left hand is its mirror image (`x → −x`).
 *
 * **Angles** (radians), four per finger, finger-major (`angles[4 f + k]`, `f` = 0 thumb … 4 pinky):
 * `k = 0` abduction at the finger base (positive towards the thumb side), `k = 1..3` flexion of the three
 * joints (positive towards the palm). For the thumb the base joint is the CMC with two axes of its own frame
 * (`k = 0` palmar abduction, turning the metacarpal out of the palm plane; `k = 1` flexion across the palm
 * towards the little finger), then MCP and IP flexion, which curl the thumb towards its pad.
 */
import type { Rng } from '../random';

const DEG = Math.PI / 180;

/** Lower and upper limit (radians) of each of the 20 angles, in the `angles` layout of this module. */
export const JOINT_LIMITS: readonly (readonly [number, number])[] = [
  // thumb: CMC abduction, CMC flexion, MCP flexion, IP flexion
  [-15 * DEG, 45 * DEG],
  [-20 * DEG, 50 * DEG],
  [-10 * DEG, 60 * DEG],
  [-15 * DEG, 80 * DEG],
  // index: MCP abduction, MCP flexion, PIP flexion, DIP flexion
  [-10 * DEG, 20 * DEG],
  [-20 * DEG, 90 * DEG],
  [0, 105 * DEG],
  [-5 * DEG, 80 * DEG],
  // middle
  [-12 * DEG, 12 * DEG],
  [-20 * DEG, 90 * DEG],
  [0, 105 * DEG],
  [-5 * DEG, 80 * DEG],
  // ring
  [-18 * DEG, 10 * DEG],
  [-20 * DEG, 90 * DEG],
  [0, 105 * DEG],
  [-5 * DEG, 80 * DEG],
  // pinky
  [-28 * DEG, 10 * DEG],
  [-25 * DEG, 90 * DEG],
  [0, 105 * DEG],
  [-5 * DEG, 80 * DEG],
];

/** Mean adult bone lengths (mm), indexed by the child joint of each finger bone (1..20; wrist bones come from the bases). */
const BASE_BONE_LENGTH: readonly number[] = [
  0,
  0,
  42,
  32,
  28, // thumb: (CMC base), metacarpal CMC→MCP, proximal MCP→IP, distal IP→TIP
  0,
  40,
  24,
  21, // index: MCP base, proximal, middle, distal
  0,
  45,
  28,
  23, // middle
  0,
  42,
  27,
  22, // ring
  0,
  33,
  20,
  19, // pinky
];

/** Finger base positions (thumb CMC, MCPs) in the hand frame, mm, for a mean right hand. */
const BASE_ROOTS: readonly (readonly [number, number, number])[] = [
  [20, 24, 9],
  [24, 84, 3],
  [3, 87, 0],
  [-15, 81, 2],
  [-31, 71, 6],
];

/** Capsule radii (mm) of [wrist→base, proximal, middle, distal] segments per finger, mean hand. */
const BASE_RADII: readonly (readonly number[])[] = [
  [13, 11.5, 10.2, 9.2],
  [11, 10.0, 9.0, 8.0],
  [11, 10.4, 9.4, 8.3],
  [11, 9.8, 8.8, 7.8],
  [10, 8.6, 7.7, 7.0],
];

/** Individual proportions of one synthetic hand. */
export interface HandShape {
  /** Bone length (mm) indexed by child joint (1..20), including wrist→base bones. */
  boneLengths: Float64Array;
  /** Finger base (thumb CMC, MCPs) positions in the hand frame, `[5 * 3]`, mm. */
  roots: Float64Array;
  /** Capsule radii (mm), `[5 * 4]`: wrist→base, proximal, middle, distal segment of each finger. */
  radii: Float64Array;
  /** Overall size factor relative to the mean hand (1). */
  size: number;
  /** `true` for a left hand (the mirror image of the right-hand model). */
  left: boolean;
}

/** The mean right hand (size 1, no jitter). */
export function meanHandShape(): HandShape {
  return makeShape(1, () => 1, false);
}

/**
 * Draws an individual hand: overall size uniform in `[0.85, 1.15]` of the mean adult hand, each bone and
 * radius jittered by up to ±6 %, and left or right as asked.
 */
export function sampleHandShape(rng: Rng, left = false): HandShape {
  const size = rng.uniform(0.85, 1.15);
  return makeShape(size, () => rng.uniform(0.94, 1.06), left);
}

function makeShape(size: number, jitter: () => number, left: boolean): HandShape {
  const roots = new Float64Array(15);
  for (let f = 0; f < 5; f++) {
    const j = jitter();
    for (let c = 0; c < 3; c++) roots[3 * f + c] = BASE_ROOTS[f][c] * size * (c === 1 ? j : 1);
  }
  const boneLengths = new Float64Array(21);
  for (let f = 0; f < 5; f++) {
    const base = 1 + 4 * f;
    boneLengths[base] = Math.hypot(roots[3 * f], roots[3 * f + 1], roots[3 * f + 2]);
    for (let k = 1; k < 4; k++) boneLengths[base + k] = BASE_BONE_LENGTH[base + k] * size * jitter();
  }
  const radii = new Float64Array(20);
  for (let f = 0; f < 5; f++) for (let k = 0; k < 4; k++) radii[4 * f + k] = BASE_RADII[f][k] * size * jitter();
  if (left) for (let f = 0; f < 5; f++) roots[3 * f] = -roots[3 * f];
  return { boneLengths, roots, radii, size, left };
}

/**
 * Rest frame of each finger's base as three column vectors `[ex, ey, ez]` (right hand): `ey` the rest bone
 * direction, `ez` the flexion direction, `ex = ey × ez` the abduction direction.
 */
const REST_FRAMES: readonly Float64Array[] = (() => {
  const frames: Float64Array[] = [];
  const dirs: [number, number, number][] = [
    [0.5, 0.75, 0.42], // thumb metacarpal: distal, radial and palmar
    [0.1, 1, 0],
    [0, 1, 0],
    [-0.08, 1, 0],
    [-0.2, 1, 0.04],
  ];
  const flexHints: [number, number, number][] = [
    [-0.8, 0.1, 0.5], // thumb flexes across the palm (its pad faces ulnar and palmar)
    [0, 0, 1],
    [0, 0, 1],
    [0, 0, 1],
    [0, 0, 1],
  ];
  for (let f = 0; f < 5; f++) {
    const ey = normalize(dirs[f]);
    let ez = flexHints[f];
    const d = dot(ez, ey);
    ez = normalize([ez[0] - d * ey[0], ez[1] - d * ey[1], ez[2] - d * ey[2]]);
    const ex = cross(ey, ez);
    frames.push(Float64Array.from([ex[0], ey[0], ez[0], ex[1], ey[1], ez[1], ex[2], ey[2], ez[2]]));
  }
  return frames;
})();

/**
 * Joint positions (mm, hand frame, `[21 * 3]`) of `shape` posed with `angles` (20 radians, layout in the module
 * comment). Rotations are applied to unit bone directions, so every bone keeps its length exactly.
 */
export function forwardKinematics(shape: HandShape, angles: ArrayLike<number>): Float64Array {
  const out = new Float64Array(63);
  const frame = new Float64Array(9);
  const tmp = new Float64Array(9);
  for (let f = 0; f < 5; f++) {
    const base = 1 + 4 * f;
    const rx = shape.left ? -shape.roots[3 * f] : shape.roots[3 * f];
    let px = rx;
    let py = shape.roots[3 * f + 1];
    let pz = shape.roots[3 * f + 2];
    out[3 * base] = px;
    out[3 * base + 1] = py;
    out[3 * base + 2] = pz;
    frame.set(REST_FRAMES[f]);
    // Abduction: rotate ey towards ex in the rest frame.
    rotateColumns(frame, 0, 1, angles[4 * f], tmp);
    for (let k = 1; k < 4; k++) {
      // Flexion: rotate ey towards ez.
      rotateColumns(frame, 2, 1, angles[4 * f + k], tmp);
      const len = shape.boneLengths[base + k];
      px += frame[1] * len;
      py += frame[4] * len;
      pz += frame[7] * len;
      out[3 * (base + k)] = px;
      out[3 * (base + k) + 1] = py;
      out[3 * (base + k) + 2] = pz;
    }
  }
  if (shape.left) for (let j = 0; j < 21; j++) out[3 * j] = -out[3 * j];
  return out;
}

/**
 * Rotates, in place, the frame (3×3 row-major, columns = axes) about its third axis so that column `b`
 * turns towards column `a` by `theta`: `b' = cos θ b + sin θ a`, `a' = cos θ a − sin θ b`.
 */
function rotateColumns(m: Float64Array, a: number, b: number, theta: number, _tmp: Float64Array): void {
  const c = Math.cos(theta);
  const s = Math.sin(theta);
  for (let r = 0; r < 3; r++) {
    const va = m[3 * r + a];
    const vb = m[3 * r + b];
    m[3 * r + b] = c * vb + s * va;
    m[3 * r + a] = c * va - s * vb;
  }
}

function normalize(v: readonly number[]): [number, number, number] {
  const n = Math.hypot(v[0], v[1], v[2]);
  return [v[0] / n, v[1] / n, v[2] / n];
}
function dot(a: readonly number[], b: readonly number[]): number {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}
function cross(a: readonly number[], b: readonly number[]): [number, number, number] {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}
