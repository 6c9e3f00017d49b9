/**
 * The raster stage of the synthetic renderer: the forearm, the palm (a slab with rounded rims), three tapered
 * capsules per finger and the thumb web, drawn into the z-buffered canvas in that order.
 */
import type { Appearance } from './appearance';
import { handToCamera, toScreen, type HandCamera, type Vec3 } from './camera';
import type { HandShape } from './hand-model';
import type { HandPose } from './hand-pose';
import { drawCapsule, fillConvexPolygon, type Canvas } from './raster';

/** Hand-frame points of the palm outline: the wrist's two sides, the thumb CMC and the four finger MCPs. */
interface PalmPoints {
  /** Wrist corner at `x = 21 mm × size` (mirrored for a left hand). */
  wr: Vec3;
  /** Wrist corner at `x = −23 mm × size` (mirrored for a left hand). */
  wu: Vec3;
  /** Thumb CMC (joint 1). */
  cmc: Vec3;
  /** Index MCP (joint 5). */
  i: Vec3;
  /** Middle MCP (joint 9). */
  mi: Vec3;
  /** Ring MCP (joint 13). */
  r: Vec3;
  /** Pinky MCP (joint 17). */
  p: Vec3;
}

/** Hand-frame geometry that is not a joint: palm outline and forearm. */
function palmPoints(shape: HandShape, joints: Float64Array): PalmPoints {
  const s = shape.size;
  const m = shape.left ? -1 : 1;
  const j = (i: number): Vec3 => [joints[3 * i], joints[3 * i + 1], joints[3 * i + 2]];
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

/** Everything a part needs to draw itself. */
interface RasterContext {
  canvas: Canvas;
  camera: HandCamera;
  look: Appearance;
}

/** The forearm: a capsule from the wrist down the hand's −y axis, 20 mm → 25 mm thick (× hand size). */
function drawForearm({ canvas, camera, look }: RasterContext, pose: HandPose): void {
  const s = pose.shape.size;
  const a = handToCamera(camera, [0, 0, 0]);
  const b = handToCamera(camera, [0, -pose.forearmLength, 0]);
  drawCapsule(canvas, toScreen(camera, a, 20 * s), toScreen(camera, b, 25 * s), look.sleeve, look.light);
}

/** The palm's two flat faces, `±11.5 mm × size` off the hand's plane along its normal. */
function drawPalmFaces({ canvas, camera, look }: RasterContext, palm: PalmPoints, shape: HandShape): void {
  const { R, f, cx, cy } = camera;
  const thick = 11.5 * shape.size;
  const outline = [palm.wr, palm.i, palm.mi, palm.r, palm.p, palm.wu];
  for (const side of [1, -1]) {
    const pts = outline.map((q) => {
      const c = handToCamera(camera, [q[0], q[1], q[2] + side * thick]);
      return { u: (f * c[0]) / c[2] + cx, v: (f * c[1]) / c[2] + cy, z: c[2] };
    });
    const normal: Vec3 = [R[2] * side, R[5] * side, R[8] * side];
    fillConvexPolygon(canvas, pts, normal, look.skin, look.light);
  }
}

/** The palm's rounded rims: capsules around the outline, and from the wrist to the thumb CMC. */
function drawPalmRims({ canvas, camera, look }: RasterContext, palm: PalmPoints, shape: HandShape): void {
  const r = shape.radii;
  const s = shape.size;
  const rim = (a: keyof PalmPoints, b: keyof PalmPoints, ra: number, rb: number) =>
    drawCapsule(
      canvas,
      toScreen(camera, handToCamera(camera, palm[a]), ra),
      toScreen(camera, handToCamera(camera, palm[b]), rb),
      look.skin,
      look.light,
    );
  rim('wr', 'i', 12 * s, r[4]);
  rim('i', 'mi', r[4], r[8]);
  rim('mi', 'r', r[8], r[12]);
  rim('r', 'p', r[12], r[16]);
  rim('p', 'wu', r[16], 12.5 * s);
  rim('wu', 'wr', 12.5 * s, 12 * s);
  rim('wr', 'cmc', 13 * s, r[0]);
}

/** Camera-frame joint `i` of `xyz` `[21 * 3]`. */
function jointAt(xyz: Float64Array, i: number): Vec3 {
  return [xyz[3 * i], xyz[3 * i + 1], xyz[3 * i + 2]];
}

/** The end of a distal segment pulled back along the bone so that its cap of radius `rb` ends at the tip joint. */
function pullBackTip(a: Vec3, b: Vec3, rb: number): Vec3 {
  const d = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
  const len = Math.hypot(d[0], d[1], d[2]);
  const back = Math.min(rb, 0.6 * len) / len;
  return [b[0] - d[0] * back, b[1] - d[1] * back, b[2] - d[2] * back];
}

/** Fingers: three tapered segments each; the distal one ends with its cap exactly at the tip joint. */
function drawFingers({ canvas, camera, look }: RasterContext, shape: HandShape): void {
  const r = shape.radii;
  for (let fi = 0; fi < 5; fi++) {
    const base = 1 + 4 * fi;
    for (let k = 1; k < 4; k++) {
      const ra = k === 1 && fi === 0 ? r[0] : r[4 * fi + k];
      const rb = k < 3 ? r[4 * fi + k + 1] : r[4 * fi + 3] * 0.85;
      const a = jointAt(camera.xyz, base + k - 1);
      const tip = jointAt(camera.xyz, base + k);
      const b = k === 3 ? pullBackTip(a, tip, rb) : tip;
      drawCapsule(canvas, toScreen(camera, a, ra), toScreen(camera, b, rb), look.skin, look.light);
    }
  }
}

/** The thumb web: a capsule between the thumb MCP (joint 2) and the index MCP (joint 5). */
function drawThumbWeb({ canvas, camera, look }: RasterContext, shape: HandShape): void {
  const r = shape.radii;
  const a = toScreen(camera, jointAt(camera.xyz, 2), r[1] * 0.8);
  const b = toScreen(camera, jointAt(camera.xyz, 5), r[4] * 0.8);
  drawCapsule(canvas, a, b, look.skin, look.light);
}

/** The raster stage: draws the posed hand seen by `camera` with `look` into `canvas` (colour and depth). */
export function rasterizeHand(canvas: Canvas, pose: HandPose, camera: HandCamera, look: Appearance): void {
  const context: RasterContext = { canvas, camera, look };
  const palm = palmPoints(pose.shape, pose.joints);
  if (pose.forearm) drawForearm(context, pose);
  drawPalmFaces(context, palm, pose.shape);
  drawPalmRims(context, palm, pose.shape);
  drawFingers(context, pose.shape);
  drawThumbWeb(context, pose.shape);
}
