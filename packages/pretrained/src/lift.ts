/**
 * 2.5D → root-relative 3D in metres without a camera: a scaled orthographic (weak-perspective) camera
 * whose scale makes the hand's bones as long as the mean hand's.
 */
import { checkOptions, PhalanxConfigError } from '@phalanx/errors';
import { MEAN_HAND_BONES } from './mean-hand';

/** Options of {@link liftToMetres}. */
export interface LiftOptions {
  /** The bones `[parent, child, length in metres]` whose lengths fix the scale. Default {@link MEAN_HAND_BONES}. */
  bones?: readonly (readonly [number, number, number])[];
  /** The joint put at the origin. Default 0 (the wrist). */
  rootJoint?: number;
}

/** The keys of {@link LiftOptions}: any other key is a named error. */
const LIFT_OPTION_KEYS = { bones: true, rootJoint: true } satisfies Record<keyof LiftOptions, true>;

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
 * `[J][3]` metres. Any finite coordinates work: the fit runs on the pixel coordinates divided by a power of
 * two that brings the largest to about 1 — exact, so the result is that of the formula above, and no square
 * overflows (coordinates of 1e300 px) or underflows. Throws `PhalanxConfigError` for `options` that are not an
 * object or have another key than `bones` and `rootJoint`, `z` of another length, a `rootJoint` or bone outside
 * the J joints, a bone length that is not a finite number > 0, values that are not finite, and depths whose
 * differences from the root's are not finite.
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
  checkOptions('liftToMetres', 'options', options, LIFT_OPTION_KEYS, 'an object {bones?, rootJoint?}');
  const bones = options.bones ?? MEAN_HAND_BONES;
  const root = options.rootJoint ?? 0;
  checkLiftArgs(uv, z, bones, root);
  // Dividing by a power of two is exact: a_e, the sums and m scale by exact powers of two, and m · (u − u_r)
  // is bit for bit the unscaled product — but |Δuv|⁴ of coordinates near 1e300 no longer overflows to NaN.
  const scale = powerOfTwoAbove(uv.reduce((top, [u, v]) => Math.max(top, Math.abs(u), Math.abs(v)), 0));
  const scaled = uv.map(([u, v]) => [u / scale, v / scale]);
  let numerator = 0;
  let denominator = 0;
  for (const [p, c, length] of bones) {
    const a = (scaled[c][0] - scaled[p][0]) ** 2 + (scaled[c][1] - scaled[p][1]) ** 2;
    // A bone drawn as one point says nothing about the scale (and 0 · an overflowing Δz² would be NaN).
    if (a === 0) continue;
    numerator += a * (length * length - (z[c] - z[p]) ** 2);
    denominator += a * a;
  }
  const m = denominator > 0 ? Math.sqrt(Math.max(numerator / denominator, 0)) : 0;
  if (!Number.isFinite(m)) {
    // Only bones of ~1e73 m drawn a few pixels long get here.
    throw new PhalanxConfigError('liftToMetres', 'bones', 'lengths whose fitted scale is finite', [...bones[0]]);
  }
  const [ur, vr] = scaled[root];
  return scaled.map(([u, v], j) => [m * (u - ur), m * (v - vr), z[j] - z[root]]);
}

/** The power of two 2^k ≥ `x` closest to it (1 for 0), k within the normal float64 exponents. */
function powerOfTwoAbove(x: number): number {
  if (x === 0) return 1;
  return 2 ** Math.min(1023, Math.max(-1022, Math.ceil(Math.log2(x))));
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
    // Squared in the fit: a length whose square overflows is no length.
    if (!isJoint(p) || !isJoint(c) || !(metres > 0 && Number.isFinite(metres * metres))) {
      const expected = `[parent, child, metres] with joints in [0, ${joints - 1}] and finite metres > 0`;
      throw new PhalanxConfigError(name, 'bones', expected, [...bone]);
    }
  }
  const badPoint = uv.find((p) => p.length < 2 || !Number.isFinite(p[0]) || !Number.isFinite(p[1]));
  if (badPoint !== undefined) {
    throw new PhalanxConfigError(name, 'uv', 'finite pixel coordinates [J][2]', [...badPoint]);
  }
  const badDepth = z.find((d) => !Number.isFinite(d));
  if (badDepth !== undefined) throw new PhalanxConfigError(name, 'z', 'finite depths', badDepth);
  const farDepth = z.find((d) => !Number.isFinite(d - z[root]));
  if (farDepth !== undefined) {
    throw new PhalanxConfigError(
      name,
      'z',
      `depths whose differences from the root's (${z[root]}) are finite`,
      farDepth,
    );
  }
}
