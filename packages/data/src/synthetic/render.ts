/**
 * The synthetic hand sampler: one call draws an individual hand, a pose, a viewpoint, a camera, a skin tone,
 * lighting and a background from a seed, renders the RGB image with a z-buffer, and returns exact labels.
 */
import { Rng } from '../random';
import { checkImageSize, type HandSample, type ImageFormat } from '../types';
import { BACKGROUND_KINDS, type BackgroundKind } from './background';
import { NUM_JOINTS, SCALE_BONE } from '@phalanx/skeleton';
import type { HandShape } from './hand-model';
import { POSE_KINDS, type PoseKind } from './poses';
import { checkFinite, checkOneOf, checkOptions, describe, describeCompact, PhalanxConfigError } from '@phalanx/errors';
import { createCanvas, type Canvas } from './raster';
import { drawAppearance } from './appearance';
import { placeCamera, projectPoints, type CameraRequest } from './camera';
import { drawHandPose, type PoseRequest } from './hand-pose';
import { rasterizeHand } from './hand-raster';
import { RENDER_OPTION_KEYS } from './option-keys';

/** Options of `renderSyntheticHand` and `syntheticHands`. */
export interface SyntheticHandOptions {
  /** Image width and height in pixels (square images). Integer ≥ 16. Default 256. */
  size?: number;
  /** Image width in pixels, overriding `size`. */
  width?: number;
  /** Image height in pixels, overriding `size`. */
  height?: number;
  /** `'uint8'` (0–255, default) or `'float32'` (0–1) pixels. */
  format?: ImageFormat;
  /** Restricts poses to one family; by default each sample draws one of `POSE_KINDS` uniformly. */
  poseKind?: PoseKind;
  /** Restricts backgrounds to one family; by default random. */
  background?: BackgroundKind;
  /** `'right'` (default, as FreiHAND), `'left'`, or `'random'` (each with probability ½). */
  handedness?: 'right' | 'left' | 'random';
  /** Fixed joint angles (20 finite radians, layout of `forwardKinematics`) instead of a sampled pose; clamped to the limits. */
  angles?: ArrayLike<number>;
  /**
   * Fixed rotation from the hand frame to the camera frame (row-major 3×3) instead of a uniformly random one.
   * E.g. `[1, 0, 0, 0, -1, 0, 0, 0, -1]` shows a right palm upright, facing the camera. Must be a proper
   * rotation (`RᵀR = I`, `det R = +1`, within 1e-4): a reflection would mirror the hand; `handedness` does that.
   */
  rotation?: ArrayLike<number>;
  /** Fraction of `min(W, H)` that the hand's projected diameter spans, `[min, max]`, finite, `0 < min ≤ max`. Default `[0.45, 0.9]`. */
  handExtent?: [number, number];
  /**
   * Largest tilt of the hand away from the camera (radians, in [0, π/2]): the angle between the palm's normal
   * and the viewing axis is drawn uniformly on the spherical cap `cos θ ∈ [cos maxTilt, 1]`, the palm or the
   * back faces the camera with probability ½ each, the in-plane roll is uniform. Small values give easier
   * views (few edge-on hands, fewer self-occlusions). Default: a uniformly random rotation (the same
   * distribution as `maxTilt = π/2`, other draws).
   */
  maxTilt?: number;
}

/** Extra information about how a synthetic sample was drawn (not needed for training). */
export interface SyntheticMeta {
  /** Seed the sample was rendered from; the same seed and options give the same sample. */
  seed: number;
  /** Pose family the joint angles were drawn from. */
  poseKind: PoseKind;
  /** Background family drawn behind the hand. */
  background: BackgroundKind;
  /** Whether a left hand was drawn (mirrored geometry; joints keep the FreiHAND order). */
  left: boolean;
  /** The 20 joint angles (radians) of `forwardKinematics`. */
  angles: Float64Array;
  /** The sampled hand proportions. */
  shape: HandShape;
}

/** A synthetic sample: the common `HandSample` fields plus how it was drawn. */
export interface SyntheticHandSample extends HandSample {
  /** How the sample was drawn. */
  meta: SyntheticMeta;
}

export { projectPoints, randomRotation, tiltedRotation } from './camera';

/** The options after defaults, checked: what the three stages and the labels read. */
interface ResolvedOptions {
  width: number;
  height: number;
  format: ImageFormat;
  pose: PoseRequest;
  camera: CameraRequest;
  background: BackgroundKind | undefined;
}

const COMPONENT = 'renderSyntheticHand';
const IMAGE_FORMATS = ['uint8', 'float32'] as const;
const HANDEDNESS = ['right', 'left', 'random'] as const;
/** Largest deviation of `RᵀR` from `I` and of `det R` from +1 that a fixed `rotation` may have. */
const ROTATION_TOLERANCE = 1e-4;

/** Whether `value` is an array-like of `length` finite numbers. */
function isFiniteList(value: unknown, length: number): value is ArrayLike<number> {
  if (typeof value !== 'object' || value === null) return false;
  const list = value as ArrayLike<unknown>;
  if (list.length !== length) return false;
  for (let i = 0; i < length; i++) {
    const v = list[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) return false;
  }
  return true;
}

/** `angles`: 20 finite radians (clamped later); throws `PhalanxConfigError` otherwise. */
function checkAngles(angles: unknown): void {
  if (typeof angles !== 'object' || angles === null || (angles as ArrayLike<unknown>).length !== 20) {
    const received = typeof angles === 'object' && angles !== null ? (angles as ArrayLike<unknown>).length : angles;
    throw new PhalanxConfigError(COMPONENT, 'angles', 'an array of 20 joint angles', received, describeCompact);
  }
  if (!isFiniteList(angles, 20)) {
    const bad = Array.from(angles as ArrayLike<unknown>).find((v) => typeof v !== 'number' || !Number.isFinite(v));
    throw new PhalanxConfigError(COMPONENT, 'angles', 'an array of 20 finite joint angles', bad);
  }
}

/**
 * `rotation`: 9 finite numbers forming a proper rotation (`RᵀR = I` and `det R = +1` within 1e-4). A
 * reflection (`det R = −1`) is refused: it would mirror the hand, and mirroring is what `handedness` selects.
 */
function checkRotation(rotation: unknown): void {
  const expected = 'a 3×3 row-major matrix (9 numbers)';
  if (typeof rotation !== 'object' || rotation === null || (rotation as ArrayLike<unknown>).length !== 9) {
    const received =
      typeof rotation === 'object' && rotation !== null ? (rotation as ArrayLike<unknown>).length : rotation;
    throw new PhalanxConfigError(COMPONENT, 'rotation', expected, received, describeCompact);
  }
  const R = Array.from(rotation as ArrayLike<unknown>);
  if (!isFiniteList(R, 9)) {
    throw new PhalanxConfigError(COMPONENT, 'rotation', `${expected} of finite numbers`, R);
  }
  let error = 0;
  for (let a = 0; a < 3; a++) {
    for (let b = 0; b < 3; b++) {
      const dot = R[a] * R[b] + R[3 + a] * R[3 + b] + R[6 + a] * R[6 + b];
      error = Math.max(error, Math.abs(dot - (a === b ? 1 : 0)));
    }
  }
  const det =
    R[0] * (R[4] * R[8] - R[5] * R[7]) - R[1] * (R[3] * R[8] - R[5] * R[6]) + R[2] * (R[3] * R[7] - R[4] * R[6]);
  if (!(error <= ROTATION_TOLERANCE && Math.abs(det - 1) <= ROTATION_TOLERANCE)) {
    const proper = 'a rotation matrix (RᵀR = I and det R = +1 within 1e-4; use handedness to mirror the hand)';
    throw new PhalanxConfigError(COMPONENT, 'rotation', proper, R);
  }
}

/** `handExtent`: two finite fractions `0 < min ≤ max`; throws `PhalanxConfigError` otherwise. */
function checkHandExtent(handExtent: unknown): void {
  const ok = isFiniteList(handExtent, 2) && handExtent[0] > 0 && handExtent[0] <= handExtent[1];
  if (!ok) {
    const expected = 'a pair [min, max] of finite fractions with 0 < min ≤ max';
    const pair =
      typeof handExtent === 'object' && handExtent !== null && (handExtent as ArrayLike<unknown>).length === 2;
    const received = pair ? Array.from(handExtent as ArrayLike<unknown>) : handExtent;
    throw new PhalanxConfigError(COMPONENT, 'handExtent', expected, received, pair ? describe : describeCompact);
  }
}

/**
 * Applies the defaults and checks the options, before any random draw: size, the enumerations (`format`,
 * `handedness`, `poseKind`, `background`), `angles`, `maxTilt`, `rotation` and `handExtent`.
 */
function resolveOptions(options: SyntheticHandOptions): ResolvedOptions {
  checkOptions(COMPONENT, 'options', options, RENDER_OPTION_KEYS, 'an options object');
  const width = options.width ?? options.size ?? 256;
  const height = options.height ?? options.size ?? 256;
  checkImageSize(COMPONENT, width, height);
  const format = checkOneOf(COMPONENT, 'format', options.format ?? 'uint8', IMAGE_FORMATS);
  const handedness = checkOneOf(COMPONENT, 'handedness', options.handedness ?? 'right', HANDEDNESS);
  const { poseKind, background, angles, rotation, maxTilt } = options;
  if (poseKind !== undefined) checkOneOf(COMPONENT, 'poseKind', poseKind, POSE_KINDS);
  if (background !== undefined) checkOneOf(COMPONENT, 'background', background, BACKGROUND_KINDS);
  if (angles) checkAngles(angles);
  if (maxTilt !== undefined && !(typeof maxTilt === 'number' && maxTilt >= 0 && maxTilt <= Math.PI / 2)) {
    throw new PhalanxConfigError(COMPONENT, 'maxTilt', 'a number of radians in [0, π/2]', maxTilt, describeCompact);
  }
  if (rotation) checkRotation(rotation);
  const handExtent = options.handExtent ?? [0.45, 0.9];
  checkHandExtent(handExtent);
  return {
    width,
    height,
    format,
    pose: { handedness, poseKind, angles },
    camera: { width, height, handExtent, maxTilt, rotation },
    background,
  };
}

/** Length (mm) of the scale bone (middle MCP → PIP) in the camera-frame joints `[21 * 3]`. */
function scaleBoneLength(xyz: Float64Array): number {
  const [a, b] = SCALE_BONE;
  return Math.hypot(xyz[3 * b] - xyz[3 * a], xyz[3 * b + 1] - xyz[3 * a + 1], xyz[3 * b + 2] - xyz[3 * a + 2]);
}

/**
 * Renders one synthetic hand sample, a pure function of `seed` and `options`.
 *
 * Three stages draw from one random stream in turn: the pose (hand, proportions, angles), the camera
 * (rotation, intrinsics, placement) and the raster (background, skin, light, then the hand's parts into a
 * z-buffer); the labels follow from the camera and the z-buffer, and sensor noise finishes the image.
 *
 * **Outputs**: `image` `[H * W * 3]` HWC RGB; `uv` `[21 * 2]` pixels (align-corners: pixel centres at integers);
 * `xyz` `[21 * 3]` mm in the camera frame (x right, y down, z forward); `K` row-major 3×3 with
 * `uv = project(xyz, K)` exactly; `scale` the middle-finger MCP–PIP bone length (joints 9–10, mm); `visible`
 * `[21]`, 0 when a joint is out of frame or hidden behind another part of the hand (z-buffer test).
 *
 * Throws `PhalanxConfigError` for a seed that is not a finite number and for options out of range, before
 * anything is allocated: sizes below 16 or over 4096 × 4096 pixels; an unknown `format`, `handedness`,
 * `poseKind` or `background`; `angles` that are not 20 finite numbers; `maxTilt` outside [0, π/2]; a
 * `rotation` that is not a finite proper rotation (`RᵀR = I`, `det R = +1`, within 1e-4; a reflection is
 * refused, `handedness` mirrors the hand); a `handExtent` that is not finite with `0 < min ≤ max`.
 *
 * @example
 * const s = renderSyntheticHand(7, { size: 128 });
 * s.image.length; // 128 * 128 * 3
 */
export function renderSyntheticHand(seed: number, options: SyntheticHandOptions = {}): SyntheticHandSample {
  checkFinite('renderSyntheticHand', 'seed', seed);
  const resolved = resolveOptions(options);
  const { width, height } = resolved;
  const rng = new Rng(seed);
  const canvas = createCanvas(width, height);
  const pose = drawHandPose(rng, resolved.pose);
  const camera = placeCamera(rng, pose.joints, pose.shape, resolved.camera);
  const look = drawAppearance(rng, canvas, resolved.background);
  rasterizeHand(canvas, pose, camera, look);
  const { xyz, K } = camera;
  const uv = projectPoints(xyz, K);
  const visible = jointVisibility(canvas, uv, xyz, jointRadii(pose.shape, pose.forearm));
  const image = finishImage(canvas, rng, resolved.format);
  const { left, kind: poseKind, angles, shape } = pose;
  return {
    image,
    width,
    height,
    uv,
    xyz,
    K,
    scale: scaleBoneLength(xyz),
    visible,
    meta: { seed, poseKind, background: look.background, left, angles, shape },
  };
}

/** The surface radius (mm) around each joint, used as the depth tolerance of the visibility test. */
function jointRadii(shape: HandShape, forearm: boolean): Float64Array {
  const out = new Float64Array(NUM_JOINTS);
  out[0] = (forearm ? 22 : 14) * shape.size;
  for (let f = 0; f < 5; f++) {
    for (let k = 0; k < 4; k++) out[1 + 4 * f + k] = shape.radii[4 * f + k];
    if (f > 0) out[1 + 4 * f] = 13 * shape.size; // MCPs sit inside the palm slab
  }
  return out;
}

/**
 * A joint is visible when it projects inside the image and the z-buffer at its pixel is not nearer than the
 * joint's own surface (`z − 1.5·r − 3 mm`, `r` the surface radius around the joint).
 */
export function jointVisibility(canvas: Canvas, uv: Float64Array, xyz: Float64Array, radii: Float64Array): Uint8Array {
  const vis = new Uint8Array(NUM_JOINTS);
  for (let i = 0; i < NUM_JOINTS; i++) {
    const u = Math.round(uv[2 * i]);
    const v = Math.round(uv[2 * i + 1]);
    if (u < 0 || v < 0 || u >= canvas.width || v >= canvas.height) continue;
    const zb = canvas.depth[v * canvas.width + u];
    vis[i] = zb >= xyz[3 * i + 2] - 1.5 * radii[i] - 3 ? 1 : 0;
  }
  return vis;
}

/** Converts the float canvas to the output format, adding a little sensor noise. */
function finishImage(canvas: Canvas, rng: Rng, format: ImageFormat): Uint8Array | Float32Array {
  const src = canvas.color;
  const n = src.length;
  const amp = rng.uniform(0, 0.035);
  let state = rng.nextUint32() | 1;
  if (format === 'float32') {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      const v = src[i] + amp * ((state >>> 0) / 4294967296 - 0.5);
      out[i] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
    return out;
  }
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const v = (src[i] + amp * ((state >>> 0) / 4294967296 - 0.5)) * 255 + 0.5;
    out[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return out;
}
