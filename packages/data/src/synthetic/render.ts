/**
 * The synthetic hand sampler: one call draws an individual hand, a pose, a viewpoint, a camera, a skin tone,
 * lighting and a background from a seed, renders the RGB image with a z-buffer, and returns exact labels.
 */
import { Rng } from '../random';
import { checkImageSize, type HandSample, type ImageFormat } from '../types';
import type { BackgroundKind } from './background';
import { NUM_JOINTS, SCALE_BONE } from '@phalanx/skeleton';
import type { HandShape } from './hand-model';
import type { PoseKind } from './poses';
import { checkFinite, describeCompact, PhalanxConfigError } from '@phalanx/errors';
import { createCanvas, type Canvas } from './raster';
import { drawAppearance } from './appearance';
import { placeCamera, projectPoints, type CameraRequest } from './camera';
import { drawHandPose, type PoseRequest } from './hand-pose';
import { rasterizeHand } from './hand-raster';

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
  /** Fixed joint angles (20 radians, layout of `forwardKinematics`) instead of a sampled pose; clamped to the limits. */
  angles?: ArrayLike<number>;
  /**
   * Fixed rotation from the hand frame to the camera frame (row-major 3×3) instead of a uniformly random one.
   * E.g. `[1, 0, 0, 0, -1, 0, 0, 0, -1]` shows a right palm upright, facing the camera.
   */
  rotation?: ArrayLike<number>;
  /** Fraction of `min(W, H)` that the hand's projected diameter spans, `[min, max]`. Default `[0.45, 0.9]`. */
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

/** Applies the defaults and checks the options, before any random draw (size, angles, tilt, rotation). */
function resolveOptions(options: SyntheticHandOptions): ResolvedOptions {
  const width = options.width ?? options.size ?? 256;
  const height = options.height ?? options.size ?? 256;
  checkImageSize('renderSyntheticHand', width, height);
  if (options.angles && options.angles.length !== 20) {
    throw new PhalanxConfigError(
      'renderSyntheticHand',
      'angles',
      'an array of 20 joint angles',
      options.angles.length,
      describeCompact,
    );
  }
  const { maxTilt } = options;
  if (maxTilt !== undefined && !(typeof maxTilt === 'number' && maxTilt >= 0 && maxTilt <= Math.PI / 2)) {
    throw new PhalanxConfigError(
      'renderSyntheticHand',
      'maxTilt',
      'a number of radians in [0, π/2]',
      maxTilt,
      describeCompact,
    );
  }
  if (options.rotation && options.rotation.length !== 9) {
    throw new PhalanxConfigError(
      'renderSyntheticHand',
      'rotation',
      'a 3×3 row-major matrix (9 numbers)',
      options.rotation.length,
      describeCompact,
    );
  }
  return {
    width,
    height,
    format: options.format ?? 'uint8',
    pose: { handedness: options.handedness ?? 'right', poseKind: options.poseKind, angles: options.angles },
    camera: {
      width,
      height,
      handExtent: options.handExtent ?? [0.45, 0.9],
      maxTilt,
      rotation: options.rotation,
    },
    background: options.background,
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
 * Throws `PhalanxConfigError` for a seed that is not a finite number and for options out of range (sizes
 * below 16 or over 4096 × 4096 pixels, `angles`, `maxTilt`, `rotation`), before anything is allocated.
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
