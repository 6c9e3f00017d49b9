/**
 * The camera stage of the synthetic renderer: a rotation of the hand into the camera frame, pinhole intrinsics
 * and a placement that keeps every joint inside the image; plus the projection they share with the labels.
 */
import type { Rng } from '../random';
import { NUM_JOINTS } from '@phalanx/skeleton';
import type { HandShape } from './hand-model';
import type { ScreenPoint } from './raster';

/** A point `[x, y, z]` in mm. */
export type Vec3 = [number, number, number];

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

/** Row-major 3×3 product `X·Y`. */
function matmul3(X: readonly number[], Y: readonly number[]): number[] {
  return Array.from({ length: 9 }, (_, k) => {
    const i = Math.floor(k / 3);
    const j = k % 3;
    return X[3 * i] * Y[j] + X[3 * i + 1] * Y[3 + j] + X[3 * i + 2] * Y[6 + j];
  });
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
  return Float64Array.from(matmul3(T, matmul3(Rz, B)));
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

/** What the camera stage needs besides the hand. */
export interface CameraRequest {
  /** Image width in pixels. */
  width: number;
  /** Image height in pixels. */
  height: number;
  /** Range of the fraction of `min(W, H)` the hand's projected diameter spans. */
  handExtent: readonly [number, number];
  /** Largest tilt of the palm away from the camera axis; `undefined` draws a uniformly random rotation. */
  maxTilt: number | undefined;
  /** A fixed hand → camera rotation (row-major 3×3) that replaces the drawn one (which is still drawn). */
  rotation: ArrayLike<number> | undefined;
}

/**
 * A placed camera: camera-frame point `p_c = R·(p_h − centre) + t` for a hand-frame point `p_h`, and
 * pixels `u = f·x/z + cx`, `v = f·y/z + cy`.
 */
export interface HandCamera {
  /** Hand → camera rotation, row-major 3×3. */
  R: Float64Array;
  /** The joints' centroid in the hand frame: the point the rotation turns about. */
  centre: Vec3;
  /** Translation `t` after the rotation (mm); `t[2]` is the distance of the centroid from the camera. */
  t: Vec3;
  /** Focal length in pixels. */
  f: number;
  /** Principal point x in pixels. */
  cx: number;
  /** Principal point y in pixels. */
  cy: number;
  /** Intrinsics `[[f, 0, cx], [0, f, cy], [0, 0, 1]]`, row-major. */
  K: Float64Array;
  /** `[21 * 3]` joints in the camera frame (mm). */
  xyz: Float64Array;
}

/** Mean of the 21 joints `[21 * 3]`, accumulated joint by joint. */
function jointCentroid(joints: Float64Array): Vec3 {
  let x = 0;
  let y = 0;
  let z = 0;
  for (let i = 0; i < NUM_JOINTS; i++) {
    x += joints[3 * i] / NUM_JOINTS;
    y += joints[3 * i + 1] / NUM_JOINTS;
    z += joints[3 * i + 2] / NUM_JOINTS;
  }
  return [x, y, z];
}

/** `R·(p − centre)` for the point at `p[o..o+3]`. */
function rotateAbout(R: ArrayLike<number>, centre: Vec3, p: ArrayLike<number>, o = 0): Vec3 {
  const x = p[o] - centre[0];
  const y = p[o + 1] - centre[1];
  const z = p[o + 2] - centre[2];
  return [R[0] * x + R[1] * y + R[2] * z, R[3] * x + R[4] * y + R[5] * z, R[6] * x + R[7] * y + R[8] * z];
}

/** The drawn (or fixed) rotation; the random one is drawn even when a fixed one replaces it. */
function drawRotation(rng: Rng, request: CameraRequest): Float64Array {
  const drawn = request.maxTilt === undefined ? randomRotation(rng) : tiltedRotation(rng, request.maxTilt);
  return request.rotation ? Float64Array.from(request.rotation) : drawn;
}

/** The rotated joints `[21 * 3]`, their radius around the view axis (mm) and their largest depth offset (mm). */
function rotateJoints(
  R: Float64Array,
  centre: Vec3,
  joints: Float64Array,
): { rotated: Float64Array; rho: number; depthExtent: number } {
  const rotated = new Float64Array(3 * NUM_JOINTS);
  let rho = 0;
  let depthExtent = 0;
  for (let i = 0; i < NUM_JOINTS; i++) {
    const p = rotateAbout(R, centre, joints, 3 * i);
    rotated.set(p, 3 * i);
    rho = Math.max(rho, Math.hypot(p[0], p[1]));
    depthExtent = Math.max(depthExtent, Math.abs(p[2]));
  }
  return { rotated, rho, depthExtent };
}

/** Writes `rotated + (tx, ty, tz)` into `xyz`. */
function translateJoints(xyz: Float64Array, rotated: Float64Array, tx: number, ty: number, tz: number): void {
  for (let i = 0; i < NUM_JOINTS; i++) {
    xyz[3 * i] = rotated[3 * i] + tx;
    xyz[3 * i + 1] = rotated[3 * i + 1] + ty;
    xyz[3 * i + 2] = rotated[3 * i + 2] + tz;
  }
}

/** Whether every projected joint lies at least `margin` pixels inside a `width × height` image. */
function insideImage(uv: Float64Array, width: number, height: number, margin: number): boolean {
  for (let i = 0; i < NUM_JOINTS; i++) {
    const u = uv[2 * i];
    const v = uv[2 * i + 1];
    if (!(u >= margin && u <= width - 1 - margin && v >= margin && v <= height - 1 - margin)) return false;
  }
  return true;
}

/**
 * Shifts the hand off the optical axis at random, up to 12 tries with shrinking shifts, until every joint
 * projects inside the image (2 px margin); when none fits the hand stays centred on the axis.
 */
function placeJoints(
  rng: Rng,
  rotated: Float64Array,
  Z: number,
  K: Float64Array,
  extent: number,
  request: CameraRequest,
): Float64Array {
  const { width: W, height: H } = request;
  const f = K[0];
  const xyz = new Float64Array(3 * NUM_JOINTS);
  for (let attempt = 0; attempt < 12; attempt++) {
    const shrink = 1 - attempt / 12;
    const du = rng.uniform(-0.5, 0.5) * (1 - extent) * W * shrink;
    const dv = rng.uniform(-0.5, 0.5) * (1 - extent) * H * shrink;
    translateJoints(xyz, rotated, (du * Z) / f, (dv * Z) / f, Z);
    if (insideImage(projectPoints(xyz, K), W, H, 2)) return xyz;
  }
  xyz.set(rotated);
  for (let i = 0; i < NUM_JOINTS; i++) xyz[3 * i + 2] = rotated[3 * i + 2] + Z;
  return xyz;
}

/**
 * The camera stage: draws a rotation, a focal length (0.9–2.4 × `min(W, H)`), a principal point near the
 * image centre and a hand extent, sets the distance `Z` so that the hand spans that extent (and stays
 * ≥ 60 mm in front of the camera), then places the hand inside the image.
 */
export function placeCamera(rng: Rng, joints: Float64Array, shape: HandShape, request: CameraRequest): HandCamera {
  const { width: W, height: H } = request;
  const R = drawRotation(rng, request);
  const centre = jointCentroid(joints);
  const { rotated, rho, depthExtent } = rotateJoints(R, centre, joints);
  const radius = rho + 12 * shape.size;
  const S = Math.min(W, H);
  const f = S * rng.uniform(0.9, 2.4);
  const cx = (W - 1) / 2 + rng.uniform(-0.04, 0.04) * W;
  const cy = (H - 1) / 2 + rng.uniform(-0.04, 0.04) * H;
  const extent = rng.uniform(request.handExtent[0], request.handExtent[1]);
  const Z = Math.max((f * radius) / ((extent * S) / 2), depthExtent + 60);
  const K = Float64Array.from([f, 0, cx, 0, f, cy, 0, 0, 1]);
  const xyz = placeJoints(rng, rotated, Z, K, extent, request);
  const t: Vec3 = [xyz[0] - rotated[0], xyz[1] - rotated[1], Z];
  return { R, centre, t, f, cx, cy, K, xyz };
}

/** A hand-frame point (mm) in the camera frame of `camera`. */
export function handToCamera(camera: HandCamera, p: ArrayLike<number>): Vec3 {
  const q = rotateAbout(camera.R, camera.centre, p);
  return [q[0] + camera.t[0], q[1] + camera.t[1], q[2] + camera.t[2]];
}

/** A camera-frame point as a capsule end: its pixel, depth, and the radius `rMm` (mm) in pixels at its depth. */
export function toScreen(camera: HandCamera, p: readonly number[], rMm: number): ScreenPoint {
  const { f, cx, cy } = camera;
  return { u: (f * p[0]) / p[2] + cx, v: (f * p[1]) / p[2] + cy, z: p[2], rPx: (f * rMm) / p[2], rMm };
}
