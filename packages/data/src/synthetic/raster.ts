/**
 * A small software rasteriser for the synthetic hands: shaded capsules (cylinders with spherical caps, drawn as
 * swept spheres in screen space) and flat convex polygons, with a per-pixel z-buffer. Colours are linear floats
 * in [0, 1], HWC; depth is the camera-frame `z` in mm (smaller is nearer). Pixel centres are at integer indices.
 */
import { checkImageSize } from '../types';

/** Colour and depth buffers of one image. */
export interface Canvas {
  /** Image width W in pixels. */
  width: number;
  /** Image height H in pixels. */
  height: number;
  /** `[H * W * 3]` RGB in [0, 1]. */
  color: Float32Array;
  /** `[H * W]` depth (mm); `Infinity` where nothing is drawn. */
  depth: Float32Array;
}

/** Lambert lighting with an ambient term and a weak specular highlight. */
export interface Light {
  /** Unit vector from the surface towards the light, camera frame (`z` forward, so a frontal light has `z < 0`). */
  dir: [number, number, number];
  /** Ambient intensity, added to every lit pixel (the renderer draws it from [0.2, 0.45]). */
  ambient: number;
  /** Lambert (diffuse) intensity, multiplied by max(0, n · dir) (drawn from [0.55, 0.9]). */
  diffuse: number;
  /** Strength of the specular highlight (drawn from [0, 0.12]). */
  specular: number;
  /** Light colour multiplier. */
  tint: [number, number, number];
}

/** A capsule end point after projection: pixel position, depth (mm), radius in pixels and in mm. */
export interface ScreenPoint {
  /** Pixel x of the projected point. */
  u: number;
  /** Pixel y of the projected point. */
  v: number;
  /** Camera-frame depth in mm. */
  z: number;
  /** Capsule radius at this end in pixels. */
  rPx: number;
  /** Capsule radius at this end in mm. */
  rMm: number;
}

/**
 * Allocates a canvas with depth cleared to `Infinity`. Throws `PhalanxConfigError` for sizes that are not
 * integers ≥ 1 or over 4096 × 4096 pixels (16 bytes a pixel).
 */
export function createCanvas(width: number, height: number): Canvas {
  checkImageSize('createCanvas', width, height, 1);
  const depth = new Float32Array(width * height);
  depth.fill(Infinity);
  return { width, height, color: new Float32Array(width * height * 3), depth };
}

function shade(
  canvas: Canvas,
  idx: number,
  nx: number,
  ny: number,
  nz: number,
  rgb: readonly number[],
  light: Light,
): void {
  const L = light.dir;
  let lam = nx * L[0] + ny * L[1] + nz * L[2];
  if (lam < 0) lam = 0;
  // Half vector between the light and the viewer (0, 0, -1).
  let hx = L[0];
  let hy = L[1];
  let hz = L[2] - 1;
  const hn = 1 / Math.sqrt(hx * hx + hy * hy + hz * hz);
  hx *= hn;
  hy *= hn;
  hz *= hn;
  let sp = nx * hx + ny * hy + nz * hz;
  sp = sp > 0 ? sp * sp : 0;
  sp *= sp;
  sp *= sp; // ^8
  const k = light.ambient + light.diffuse * lam;
  const s = light.specular * sp;
  const c = canvas.color;
  const o = 3 * idx;
  c[o] = rgb[0] * k * light.tint[0] + s;
  c[o + 1] = rgb[1] * k * light.tint[1] + s;
  c[o + 2] = rgb[2] * k * light.tint[2] + s;
}

/**
 * Draws a capsule between two projected end points: for each pixel of the bounding box, the nearest point of
 * the 2D axis gives the interpolated radius `r`; inside (`d < r`) the surface depth is
 * `z(t) − R(t)·√(1 − d²/r²)` and the normal `((p − c)/r, −√(1 − d²/r²))`. Pixels nearer than the z-buffer are shaded.
 */
export function drawCapsule(
  canvas: Canvas,
  a: ScreenPoint,
  b: ScreenPoint,
  rgb: readonly number[],
  light: Light,
): void {
  const W = canvas.width;
  const H = canvas.height;
  const x0 = Math.max(0, Math.floor(Math.min(a.u - a.rPx, b.u - b.rPx)));
  const x1 = Math.min(W - 1, Math.ceil(Math.max(a.u + a.rPx, b.u + b.rPx)));
  const y0 = Math.max(0, Math.floor(Math.min(a.v - a.rPx, b.v - b.rPx)));
  const y1 = Math.min(H - 1, Math.ceil(Math.max(a.v + a.rPx, b.v + b.rPx)));
  if (x0 > x1 || y0 > y1) return;
  const dx = b.u - a.u;
  const dy = b.v - a.v;
  const len2 = dx * dx + dy * dy;
  const inv = len2 > 1e-12 ? 1 / len2 : 0;
  const dr = b.rPx - a.rPx;
  const dz = b.z - a.z;
  const dR = b.rMm - a.rMm;
  const depth = canvas.depth;
  for (let y = y0; y <= y1; y++) {
    const py = y - a.v;
    let idx = y * W + x0;
    for (let x = x0; x <= x1; x++, idx++) {
      const px = x - a.u;
      let t = (px * dx + py * dy) * inv;
      if (t < 0) t = 0;
      else if (t > 1) t = 1;
      const ox = px - t * dx;
      const oy = py - t * dy;
      const r = a.rPx + t * dr;
      const d2 = ox * ox + oy * oy;
      const r2 = r * r;
      if (d2 >= r2) continue;
      const h = Math.sqrt(1 - d2 / r2);
      const z = a.z + t * dz - (a.rMm + t * dR) * h;
      if (z >= depth[idx]) continue;
      depth[idx] = z;
      const ir = 1 / r;
      shade(canvas, idx, ox * ir, oy * ir, -h, rgb, light);
    }
  }
}

/**
 * Fills a convex polygon of projected vertices with a flat normal. Depth is interpolated perspective-correctly
 * (`1/z` is affine in screen space), triangle by triangle as a fan from the first vertex.
 */
export function fillConvexPolygon(
  canvas: Canvas,
  pts: readonly { u: number; v: number; z: number }[],
  normal: readonly [number, number, number],
  rgb: readonly number[],
  light: Light,
): void {
  for (let i = 1; i + 1 < pts.length; i++) fillTriangle(canvas, pts[0], pts[i], pts[i + 1], normal, rgb, light);
}

function fillTriangle(
  canvas: Canvas,
  p0: { u: number; v: number; z: number },
  p1: { u: number; v: number; z: number },
  p2: { u: number; v: number; z: number },
  n: readonly [number, number, number],
  rgb: readonly number[],
  light: Light,
): void {
  const W = canvas.width;
  const H = canvas.height;
  const area = (p1.u - p0.u) * (p2.v - p0.v) - (p2.u - p0.u) * (p1.v - p0.v);
  if (Math.abs(area) < 1e-9) return;
  const x0 = Math.max(0, Math.ceil(Math.min(p0.u, p1.u, p2.u)));
  const x1 = Math.min(W - 1, Math.floor(Math.max(p0.u, p1.u, p2.u)));
  const y0 = Math.max(0, Math.ceil(Math.min(p0.v, p1.v, p2.v)));
  const y1 = Math.min(H - 1, Math.floor(Math.max(p0.v, p1.v, p2.v)));
  const iz0 = 1 / p0.z;
  const iz1 = 1 / p1.z;
  const iz2 = 1 / p2.z;
  const ia = 1 / area;
  const depth = canvas.depth;
  for (let y = y0; y <= y1; y++) {
    let idx = y * W + x0;
    for (let x = x0; x <= x1; x++, idx++) {
      const w1 = ((x - p0.u) * (p2.v - p0.v) - (p2.u - p0.u) * (y - p0.v)) * ia;
      const w2 = ((p1.u - p0.u) * (y - p0.v) - (x - p0.u) * (p1.v - p0.v)) * ia;
      const w0 = 1 - w1 - w2;
      if (w0 < 0 || w1 < 0 || w2 < 0) continue;
      const z = 1 / (w0 * iz0 + w1 * iz1 + w2 * iz2);
      if (z >= depth[idx]) continue;
      depth[idx] = z;
      shade(canvas, idx, n[0], n[1], n[2], rgb, light);
    }
  }
}
