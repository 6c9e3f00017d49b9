/**
 * The synthetic hand sampler: one call draws an individual hand, a pose, a viewpoint, a camera, a skin tone,
 * lighting and a background from a seed, renders the RGB image with a z-buffer, and returns exact labels.
 */
import { Rng } from '../random';
import { checkImageSize, type HandSample, type ImageFormat } from '../types';
import { fillBackground, hsvToRgb, randomColor, type BackgroundKind } from './background';
import { NUM_JOINTS, SCALE_BONE } from '@phalanx/skeleton';
import { forwardKinematics, sampleHandShape, type HandShape } from './hand-model';
import { clampToLimits, samplePose, type PoseKind } from './poses';
import { describeCompact, PhalanxConfigError } from '@phalanx/errors';
import { createCanvas, drawCapsule, fillConvexPolygon, type Canvas, type Light, type ScreenPoint } from './raster';

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

/** Skin tones (linear RGB, light to dark) that skin colours are interpolated between. */
const SKIN_TONES: readonly (readonly [number, number, number])[] = [
  [0.98, 0.85, 0.74],
  [0.94, 0.76, 0.6],
  [0.86, 0.64, 0.47],
  [0.73, 0.5, 0.34],
  [0.55, 0.35, 0.22],
  [0.36, 0.23, 0.15],
];

function skinColor(rng: Rng): [number, number, number] {
  const t = rng.uniform(0, SKIN_TONES.length - 1);
  const i = Math.min(Math.floor(t), SKIN_TONES.length - 2);
  const f = t - i;
  const a = SKIN_TONES[i];
  const b = SKIN_TONES[i + 1];
  const j = () => rng.uniform(0.95, 1.05);
  return [(a[0] + (b[0] - a[0]) * f) * j(), (a[1] + (b[1] - a[1]) * f) * j(), (a[2] + (b[2] - a[2]) * f) * j()];
}

/** Uniformly random rotation matrix (row-major 3×3) from a uniform unit quaternion (Shoemake). */
export function randomRotation(rng: Rng): Float64Array {
  const u1 = rng.next();
  const u2 = rng.next() * 2 * Math.PI;
  const u3 = rng.next() * 2 * Math.PI;
  const a = Math.sqrt(1 - u1);
  const b = Math.sqrt(u1);
  const w = a * Math.sin(u2);
  const x = a * Math.cos(u2);
  const y = b * Math.sin(u3);
  const z = b * Math.cos(u3);
  return Float64Array.from([
    1 - 2 * (y * y + z * z),
    2 * (x * y - z * w),
    2 * (x * z + y * w),
    2 * (x * y + z * w),
    1 - 2 * (x * x + z * z),
    2 * (y * z - x * w),
    2 * (x * z - y * w),
    2 * (y * z + x * w),
    1 - 2 * (x * x + y * y),
  ]);
}

/**
 * A random rotation (row-major 3×3) that tilts the palm's normal (hand +z) at most `maxTilt` radians away
 * from the camera axis: `R = T(ψ, θ)·Rz(φ)·B`, with `B` the palm (or, with probability ½, the back) facing the
 * camera fingers up, `Rz(φ)` a uniform in-plane roll, and `T` a rotation by θ (cos θ uniform in
 * `[cos maxTilt, 1]`) about the in-plane axis `(cos ψ, sin ψ, 0)`, ψ uniform.
 */
export function tiltedRotation(rng: Rng, maxTilt: number): Float64Array {
  const back = rng.chance(0.5);
  const B = back ? [-1, 0, 0, 0, -1, 0, 0, 0, 1] : [1, 0, 0, 0, -1, 0, 0, 0, -1];
  const phi = rng.uniform(0, 2 * Math.PI);
  const Rz = [Math.cos(phi), -Math.sin(phi), 0, Math.sin(phi), Math.cos(phi), 0, 0, 0, 1];
  const cosT = rng.uniform(Math.cos(maxTilt), 1);
  const sinT = Math.sqrt(Math.max(0, 1 - cosT * cosT));
  const psi = rng.uniform(0, 2 * Math.PI);
  const a = [Math.cos(psi), Math.sin(psi), 0];
  // Rodrigues: T = cos θ·I + sin θ·[a]× + (1 − cos θ)·a·aᵀ.
  const cross = [0, -a[2], a[1], a[2], 0, -a[0], -a[1], a[0], 0];
  const T = Array.from({ length: 9 }, (_, k) => {
    const i = Math.floor(k / 3);
    const j = k % 3;
    return (i === j ? cosT : 0) + sinT * cross[k] + (1 - cosT) * a[i] * a[j];
  });
  const mul = (X: number[], Y: number[]) =>
    Array.from({ length: 9 }, (_, k) => {
      const i = Math.floor(k / 3);
      const j = k % 3;
      return X[3 * i] * Y[j] + X[3 * i + 1] * Y[3 + j] + X[3 * i + 2] * Y[6 + j];
    });
  return Float64Array.from(mul(T, mul(Rz, B)));
}

/**
 * Pinhole projection of camera-frame points `[N * 3]` with `K` (row-major 3×3, last row `0 0 1`):
 * `u = (K₀·p)/z`, `v = (K₁·p)/z`. Returns `[N * 2]` pixel coordinates (pixel centres at integers).
 */
export function projectPoints(xyz: ArrayLike<number>, K: ArrayLike<number>): Float64Array {
  const n = xyz.length / 3;
  const out = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    const x = xyz[3 * i];
    const y = xyz[3 * i + 1];
    const z = xyz[3 * i + 2];
    const w = K[6] * x + K[7] * y + K[8] * z;
    out[2 * i] = (K[0] * x + K[1] * y + K[2] * z) / w;
    out[2 * i + 1] = (K[3] * x + K[4] * y + K[5] * z) / w;
  }
  return out;
}

/** Hand-frame geometry that is not a joint: palm outline and forearm. */
function palmPoints(shape: HandShape, joints: Float64Array): Record<string, [number, number, number]> {
  const s = shape.size;
  const m = shape.left ? -1 : 1;
  const j = (i: number): [number, number, number] => [joints[3 * i], joints[3 * i + 1], joints[3 * i + 2]];
  return {
    wr: [m * 21 * s, 3 * s, 0],
    wu: [-m * 23 * s, 3 * s, 0],
    cmc: j(1),
    i: j(5),
    mi: j(9),
    r: j(13),
    p: j(17),
  };
}

/**
 * Renders one synthetic hand sample, a pure function of `seed` and `options`.
 *
 * **Outputs**: `image` `[H * W * 3]` HWC RGB; `uv` `[21 * 2]` pixels (align-corners: pixel centres at integers);
 * `xyz` `[21 * 3]` mm in the camera frame (x right, y down, z forward); `K` row-major 3×3 with
 * `uv = project(xyz, K)` exactly; `scale` the middle-finger MCP–PIP bone length (joints 9–10, mm); `visible`
 * `[21]`, 0 when a joint is out of frame or hidden behind another part of the hand (z-buffer test).
 *
 * @example
 * const s = renderSyntheticHand(7, { size: 128 });
 * s.image.length; // 128 * 128 * 3
 */
export function renderSyntheticHand(seed: number, options: SyntheticHandOptions = {}): SyntheticHandSample {
  const W = options.width ?? options.size ?? 256;
  const H = options.height ?? options.size ?? 256;
  checkImageSize('renderSyntheticHand', W, H);
  const format = options.format ?? 'uint8';
  const [extMin, extMax] = options.handExtent ?? [0.45, 0.9];
  const rng = new Rng(seed);
  const canvas = createCanvas(W, H);

  // --- the hand ---
  const handed = options.handedness ?? 'right';
  const left = handed === 'left' || (handed === 'random' && rng.chance(0.5));
  const shape = sampleHandShape(rng, left);
  const pose = samplePose(rng, options.poseKind);
  if (options.angles) {
    if (options.angles.length !== 20) {
      throw new PhalanxConfigError(
        'renderSyntheticHand',
        'angles',
        'an array of 20 joint angles',
        options.angles.length,
        describeCompact,
      );
    }
    pose.angles = clampToLimits(Float64Array.from(options.angles));
  }
  const local = forwardKinematics(shape, pose.angles);
  const palm = palmPoints(shape, local);
  const forearm = rng.chance(0.75);
  const forearmLen = rng.uniform(60, 160) * shape.size;

  // --- viewpoint and camera ---
  if (
    options.maxTilt !== undefined &&
    !(typeof options.maxTilt === 'number' && options.maxTilt >= 0 && options.maxTilt <= Math.PI / 2)
  ) {
    throw new PhalanxConfigError(
      'renderSyntheticHand',
      'maxTilt',
      'a number of radians in [0, π/2]',
      options.maxTilt,
      describeCompact,
    );
  }
  const Rr = options.maxTilt === undefined ? randomRotation(rng) : tiltedRotation(rng, options.maxTilt);
  if (options.rotation && options.rotation.length !== 9) {
    throw new PhalanxConfigError(
      'renderSyntheticHand',
      'rotation',
      'a 3×3 row-major matrix (9 numbers)',
      options.rotation.length,
      describeCompact,
    );
  }
  const R = options.rotation ? Float64Array.from(options.rotation) : Rr;
  let cx0 = 0;
  let cy0 = 0;
  let cz0 = 0;
  for (let i = 0; i < NUM_JOINTS; i++) {
    cx0 += local[3 * i] / NUM_JOINTS;
    cy0 += local[3 * i + 1] / NUM_JOINTS;
    cz0 += local[3 * i + 2] / NUM_JOINTS;
  }
  const rot = (p: ArrayLike<number>, o = 0): [number, number, number] => {
    const x = p[o] - cx0;
    const y = p[o + 1] - cy0;
    const z = p[o + 2] - cz0;
    return [R[0] * x + R[1] * y + R[2] * z, R[3] * x + R[4] * y + R[5] * z, R[6] * x + R[7] * y + R[8] * z];
  };
  const rotated = new Float64Array(63);
  let rho = 0;
  let depthExtent = 0;
  for (let i = 0; i < NUM_JOINTS; i++) {
    const p = rot(local, 3 * i);
    rotated.set(p, 3 * i);
    rho = Math.max(rho, Math.hypot(p[0], p[1]));
    depthExtent = Math.max(depthExtent, Math.abs(p[2]));
  }
  rho += 12 * shape.size;
  const S = Math.min(W, H);
  const f = S * rng.uniform(0.9, 2.4);
  const cx = (W - 1) / 2 + rng.uniform(-0.04, 0.04) * W;
  const cy = (H - 1) / 2 + rng.uniform(-0.04, 0.04) * H;
  const extent = rng.uniform(extMin, extMax);
  const Z = Math.max((f * rho) / ((extent * S) / 2), depthExtent + 60);
  const K = Float64Array.from([f, 0, cx, 0, f, cy, 0, 0, 1]);
  const xyz = new Float64Array(63);
  const margin = 2;
  let placed = false;
  for (let attempt = 0; attempt < 12 && !placed; attempt++) {
    const shrink = 1 - attempt / 12;
    const du = rng.uniform(-0.5, 0.5) * (1 - extent) * W * shrink;
    const dv = rng.uniform(-0.5, 0.5) * (1 - extent) * H * shrink;
    const tx = (du * Z) / f;
    const ty = (dv * Z) / f;
    placed = true;
    for (let i = 0; i < NUM_JOINTS; i++) {
      xyz[3 * i] = rotated[3 * i] + tx;
      xyz[3 * i + 1] = rotated[3 * i + 1] + ty;
      xyz[3 * i + 2] = rotated[3 * i + 2] + Z;
    }
    const uvTry = projectPoints(xyz, K);
    for (let i = 0; i < NUM_JOINTS && placed; i++) {
      const u = uvTry[2 * i];
      const v = uvTry[2 * i + 1];
      if (!(u >= margin && u <= W - 1 - margin && v >= margin && v <= H - 1 - margin)) placed = false;
    }
  }
  if (!placed) {
    for (let i = 0; i < NUM_JOINTS; i++) {
      xyz[3 * i] = rotated[3 * i];
      xyz[3 * i + 1] = rotated[3 * i + 1];
      xyz[3 * i + 2] = rotated[3 * i + 2] + Z;
    }
  }
  const tx = xyz[0] - rotated[0];
  const ty = xyz[1] - rotated[1];
  const toCam = (p: ArrayLike<number>, o = 0): [number, number, number] => {
    const q = rot(p, o);
    return [q[0] + tx, q[1] + ty, q[2] + Z];
  };
  const screen = (p: readonly number[], rMm: number): ScreenPoint => ({
    u: (f * p[0]) / p[2] + cx,
    v: (f * p[1]) / p[2] + cy,
    z: p[2],
    rPx: (f * rMm) / p[2],
    rMm,
  });

  // --- appearance ---
  const background = fillBackground(canvas, rng, options.background);
  const skin = skinColor(rng);
  const ld = [rng.uniform(-1, 1), rng.uniform(-1, 1), -rng.uniform(0.3, 1.2)];
  const ln = Math.hypot(ld[0], ld[1], ld[2]);
  const tintH = rng.next();
  const tint = hsvToRgb(tintH, rng.uniform(0, 0.15), 1);
  const light: Light = {
    dir: [ld[0] / ln, ld[1] / ln, ld[2] / ln],
    ambient: rng.uniform(0.2, 0.45),
    diffuse: rng.uniform(0.55, 0.9),
    specular: rng.uniform(0, 0.12),
    tint,
  };
  const sleeve = rng.chance(0.35) ? randomColor(rng, [0, 0.8], [0.15, 0.9]) : skin;

  // --- geometry in the camera frame ---
  const J: [number, number, number][] = [];
  for (let i = 0; i < NUM_JOINTS; i++) J.push([xyz[3 * i], xyz[3 * i + 1], xyz[3 * i + 2]]);
  const P = (name: string) => toCam(palm[name]);
  const r = shape.radii;
  const s = shape.size;
  const thick = 11.5 * s;

  // Forearm.
  if (forearm) {
    const a = toCam([0, 0, 0]);
    const b = toCam([0, -forearmLen, 0]);
    drawCapsule(canvas, screen(a, 20 * s), screen(b, 25 * s), sleeve, light);
  }
  // Palm: two faces of a slab and rounded rims.
  const outline = ['wr', 'i', 'mi', 'r', 'p', 'wu'].map((n) => palm[n]);
  for (const side of [1, -1]) {
    const pts = outline.map((q) => {
      const c = toCam([q[0], q[1], q[2] + side * thick]);
      return { u: (f * c[0]) / c[2] + cx, v: (f * c[1]) / c[2] + cy, z: c[2] };
    });
    const nz = side;
    const n: [number, number, number] = [R[2] * nz, R[5] * nz, R[8] * nz];
    fillConvexPolygon(canvas, pts, n, skin, light);
  }
  const rim = (a: string, b: string, ra: number, rb: number) =>
    drawCapsule(canvas, screen(P(a), ra), screen(P(b), rb), skin, light);
  rim('wr', 'i', 12 * s, r[4]);
  rim('i', 'mi', r[4], r[8]);
  rim('mi', 'r', r[8], r[12]);
  rim('r', 'p', r[12], r[16]);
  rim('p', 'wu', r[16], 12.5 * s);
  rim('wu', 'wr', 12.5 * s, 12 * s);
  rim('wr', 'cmc', 13 * s, r[0]);
  // Fingers: three tapered segments each; the distal one ends with its cap exactly at the tip joint.
  for (let fi = 0; fi < 5; fi++) {
    const base = 1 + 4 * fi;
    for (let k = 1; k < 4; k++) {
      const ra = k === 1 && fi === 0 ? r[0] : r[4 * fi + k];
      const rb = k < 3 ? r[4 * fi + k + 1] : r[4 * fi + 3] * 0.85;
      const a = J[base + k - 1];
      let b = J[base + k];
      if (k === 3) {
        const d = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
        const len = Math.hypot(d[0], d[1], d[2]);
        const back = Math.min(rb, 0.6 * len) / len;
        b = [b[0] - d[0] * back, b[1] - d[1] * back, b[2] - d[2] * back];
      }
      drawCapsule(canvas, screen(a, ra), screen(b, rb), skin, light);
    }
  }
  // Thumb web between the CMC and the index MCP.
  drawCapsule(canvas, screen(J[2], r[1] * 0.8), screen(J[5], r[4] * 0.8), skin, light);

  // --- labels ---
  const uv = projectPoints(xyz, K);
  const visible = jointVisibility(canvas, uv, xyz, jointRadii(shape, forearm));
  const image = finishImage(canvas, rng, format);
  const a9 = J[SCALE_BONE[0]];
  const a10 = J[SCALE_BONE[1]];
  const scale = Math.hypot(a10[0] - a9[0], a10[1] - a9[1], a10[2] - a9[2]);
  return {
    image,
    width: W,
    height: H,
    uv,
    xyz,
    K,
    scale,
    visible,
    meta: { seed, poseKind: pose.kind, background, left, angles: pose.angles, shape },
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
