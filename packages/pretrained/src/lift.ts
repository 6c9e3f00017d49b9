/**
 * 2.5D → root-relative 3D in metres without a camera: a scaled orthographic (weak-perspective) camera
 * whose scale makes the hand's bones as long as the mean hand's.
 */
import { PhalanxConfigError } from '@phalanx/errors';
import { MEAN_HAND_BONES } from './mean-hand';

/** Options of {@link liftToMetres}. */
export interface LiftOptions {
  /** The bones `[parent, child, length in metres]` whose lengths fix the scale. Default {@link MEAN_HAND_BONES}. */
  bones?: readonly (readonly [number, number, number])[];
  /** The joint put at the origin. Default 0 (the wrist). */
  rootJoint?: number;
}

/**
 * Lifts 2D keypoints and relative depths to 3D, root-relative, in metres. Under a scaled orthographic
 * camera a joint is `(m·u, m·v, z)` with one unknown scale `m` (metres per pixel); `m` is the least-squares
 * fit of the bone equations `m²·|Δuv_e|² + Δz_e² = L_e²` over the bones e of the mean hand:
 *
 * `m² = Σ_e a_e·(L_e² − Δz_e²) / Σ_e a_e²`, `a_e = |Δuv_e|²` (clamped at 0),
 *
 * then `xyz_j = (m·(u_j − u_r), m·(v_j − v_r), z_j − z_r)` for the root r. Axes: x right, y down (as
 * image pixels), z away from the camera. The assumptions — the hand is as large as the mean adult hand
 * and far enough for perspective to be negligible — bound the accuracy: a hand 15 % smaller comes out
 * 15 % too large.
 *
 * **Shapes**: `uv [J][2]` pixels (any pixel grid with square pixels), `z [J]` metres (any origin) →
 * `[J][3]` metres. Throws `PhalanxConfigError` for `z` of another length, a `rootJoint` or bone outside
 * the J joints, a bone length ≤ 0, and values that are not finite.
 *
 * @example
 * ```ts
 * // A flat hand facing the camera, 1000 px per metre: bone e drawn |Δuv_e| = 1000·L_e pixels long.
 * const uv = [[0, 0]];
 * MEAN_HAND_BONES.forEach(([parent, child, length]) => uv.push([uv[parent][0] + 1000 * length, uv[parent][1]]));
 * const xyz = liftToMetres(uv, new Array(21).fill(0.5)); // xyz[0] = [0, 0, 0]: the wrist; xyz[1] = [0.0325, 0, 0]
 * ```
 */
export function liftToMetres(
  uv: readonly (readonly number[])[],
  z: readonly number[],
  options: LiftOptions = {},
): number[][] {
  const bones = options.bones ?? MEAN_HAND_BONES;
  const root = options.rootJoint ?? 0;
  checkLiftArgs(uv, z, bones, root);
  let numerator = 0;
  let denominator = 0;
  for (const [p, c, length] of bones) {
    const a = (uv[c][0] - uv[p][0]) ** 2 + (uv[c][1] - uv[p][1]) ** 2;
    numerator += a * (length * length - (z[c] - z[p]) ** 2);
    denominator += a * a;
  }
  const m = denominator > 0 ? Math.sqrt(Math.max(numerator / denominator, 0)) : 0;
  const [ur, vr] = uv[root];
  return uv.map(([u, v], j) => [m * (u - ur), m * (v - vr), z[j] - z[root]]);
}

/** Named errors for {@link liftToMetres}: lengths, root and bone indices in range, finite values. */
function checkLiftArgs(
  uv: readonly (readonly number[])[],
  z: readonly number[],
  bones: readonly (readonly [number, number, number])[],
  root: number,
): void {
  const name = 'liftToMetres';
  if (!Array.isArray(uv) || !uv.every((p) => Array.isArray(p))) {
    throw new PhalanxConfigError(name, 'uv', 'pixel coordinates [J][2]', Array.isArray(uv) ? [uv.length] : uv);
  }
  if (!Array.isArray(z)) throw new PhalanxConfigError(name, 'z', 'a list of depths', z);
  if (!Array.isArray(bones)) throw new PhalanxConfigError(name, 'bones', 'a list of [parent, child, metres]', bones);
  const joints = uv.length;
  if (z.length !== joints) throw new PhalanxConfigError(name, 'z', `${joints} depths (one per joint of uv)`, z.length);
  const isJoint = (j: unknown) => Number.isInteger(j) && (j as number) >= 0 && (j as number) < joints;
  if (!isJoint(root)) throw new PhalanxConfigError(name, 'rootJoint', `an integer in [0, ${joints - 1}]`, root);
  for (const bone of bones) {
    const [p, c, metres] = bone;
    if (!isJoint(p) || !isJoint(c) || !(metres > 0)) {
      const expected = `[parent, child, metres] with joints in [0, ${joints - 1}] and metres > 0`;
      throw new PhalanxConfigError(name, 'bones', expected, [...bone]);
    }
  }
  const badPoint = uv.find((p) => p.length < 2 || !Number.isFinite(p[0]) || !Number.isFinite(p[1]));
  if (badPoint !== undefined) {
    throw new PhalanxConfigError(name, 'uv', 'finite pixel coordinates [J][2]', [...badPoint]);
  }
  const badDepth = z.find((d) => !Number.isFinite(d));
  if (badDepth !== undefined) throw new PhalanxConfigError(name, 'z', 'finite depths', badDepth);
}
