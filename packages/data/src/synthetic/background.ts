/**
 * Random textured backgrounds: linear gradients, value noise, stripes and blobs, each with random colours, an
 * optional low-frequency brightness modulation and a global brightness.
 */
import type { Rng } from '../random';
import type { Canvas } from './raster';

/** The background families `fillBackground` draws from. */
export const BACKGROUND_KINDS = ['gradient', 'noise', 'stripes', 'blobs'] as const;
/** One background family. */
export type BackgroundKind = (typeof BACKGROUND_KINDS)[number];

/** A random colour from hue, saturation and value drawn uniformly within the given ranges. */
export function randomColor(
  rng: Rng,
  sat: [number, number] = [0, 1],
  val: [number, number] = [0.1, 1],
): [number, number, number] {
  return hsvToRgb(rng.next(), rng.uniform(sat[0], sat[1]), rng.uniform(val[0], val[1]));
}

/** HSV (all in [0, 1]) to RGB in [0, 1]. */
export function hsvToRgb(h: number, s: number, v: number): [number, number, number] {
  const i = Math.floor(h * 6) % 6;
  const f = h * 6 - Math.floor(h * 6);
  const p = v * (1 - s);
  const q = v * (1 - f * s);
  const t = v * (1 - (1 - f) * s);
  switch (i) {
    case 0:
      return [v, t, p];
    case 1:
      return [q, v, p];
    case 2:
      return [p, v, t];
    case 3:
      return [p, q, v];
    case 4:
      return [t, p, v];
    default:
      return [v, p, q];
  }
}

/** Smooth value noise in [0, 1] on a grid of `cell` pixels, written into `out` (`[H * W]`). */
function valueNoise(rng: Rng, W: number, H: number, cell: number, out: Float32Array, weight: number): void {
  const gw = Math.ceil(W / cell) + 2;
  const gh = Math.ceil(H / cell) + 2;
  const g = new Float32Array(gw * gh);
  for (let i = 0; i < g.length; i++) g[i] = rng.next();
  const inv = 1 / cell;
  for (let y = 0; y < H; y++) {
    const gy = y * inv;
    const iy = Math.floor(gy);
    let fy = gy - iy;
    fy = fy * fy * (3 - 2 * fy);
    const r0 = iy * gw;
    const r1 = r0 + gw;
    for (let x = 0; x < W; x++) {
      const gx = x * inv;
      const ix = Math.floor(gx);
      let fx = gx - ix;
      fx = fx * fx * (3 - 2 * fx);
      const top = g[r0 + ix] + (g[r0 + ix + 1] - g[r0 + ix]) * fx;
      const bot = g[r1 + ix] + (g[r1 + ix + 1] - g[r1 + ix]) * fx;
      out[y * W + x] += weight * (top + (bot - top) * fy);
    }
  }
}

/** A linear ramp in [0, 1] across the image at a random angle, written into `t` (`[H * W]`). */
function gradientField(rng: Rng, W: number, H: number, t: Float32Array): void {
  const S = Math.max(W, H);
  const th = rng.uniform(0, 2 * Math.PI);
  const cx = Math.cos(th) / S;
  const cy = Math.sin(th) / S;
  const off = 0.5 - (cx * (W - 1) + cy * (H - 1)) / 2;
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) t[y * W + x] = cx * x + cy * y + off;
}

/** Two octaves of value noise (cell 3–25 % of the image, then 3.7 × finer), written into `t`. */
function noiseField(rng: Rng, W: number, H: number, t: Float32Array): void {
  const cell = rng.uniform(0.03, 0.25) * Math.max(W, H);
  valueNoise(rng, W, H, cell, t, 0.7);
  valueNoise(rng, W, H, cell / 3.7, t, 0.3);
}

/** Stripes: a clipped, sharpened sine wave at a random angle and period, written into `t`. */
function stripeField(rng: Rng, W: number, H: number, t: Float32Array): void {
  const th = rng.uniform(0, Math.PI);
  const period = rng.uniform(0.02, 0.18) * Math.max(W, H);
  const w = (2 * Math.PI) / period;
  const cx = Math.cos(th) * w;
  const cy = Math.sin(th) * w;
  const sharp = rng.uniform(1, 6);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const s = Math.sin(cx * x + cy * y) * sharp;
      t[y * W + x] = 0.5 + 0.5 * (s > 1 ? 1 : s < -1 ? -1 : s);
    }
  }
}

/** Sets every pixel to `c1 + (c2 − c1)·t`. */
function mixColors(color: Float32Array, t: Float32Array, c1: readonly number[], c2: readonly number[]): void {
  for (let i = 0, o = 0; i < t.length; i++, o += 3) {
    const a = t[i];
    color[o] = c1[0] + (c2[0] - c1[0]) * a;
    color[o + 1] = c1[1] + (c2[1] - c1[1]) * a;
    color[o + 2] = c1[2] + (c2[2] - c1[2]) * a;
  }
}

/** One solid ellipse of colour `col`, centre `(bx, by)` and radii `(rx, ry)` in pixels. */
function fillEllipse(canvas: Canvas, col: readonly number[], bx: number, by: number, rx: number, ry: number): void {
  const { width: W, height: H, color } = canvas;
  const x0 = Math.max(0, Math.floor(bx - rx));
  const x1 = Math.min(W - 1, Math.ceil(bx + rx));
  const y0 = Math.max(0, Math.floor(by - ry));
  const y1 = Math.min(H - 1, Math.ceil(by + ry));
  for (let y = y0; y <= y1; y++) {
    const ey = (y - by) / ry;
    for (let x = x0; x <= x1; x++) {
      const ex = (x - bx) / rx;
      if (ex * ex + ey * ey > 1) continue;
      const o = 3 * (y * W + x);
      color[o] = col[0];
      color[o + 1] = col[1];
      color[o + 2] = col[2];
    }
  }
}

/** 4–14 solid ellipses of random colours, sizes and places over what is drawn. */
function drawBlobs(canvas: Canvas, rng: Rng): void {
  const { width: W, height: H } = canvas;
  const S = Math.max(W, H);
  const n = rng.int(4, 14);
  for (let b = 0; b < n; b++) {
    const col = randomColor(rng);
    const bx = rng.uniform(0, W - 1);
    const by = rng.uniform(0, H - 1);
    const rx = rng.uniform(0.03, 0.25) * S;
    const ry = rx * rng.uniform(0.4, 1.6);
    fillEllipse(canvas, col, bx, by, rx, ry);
  }
}

/** Uneven illumination of the scene: a global level, times a low-frequency brightness field (60 %). */
function illuminate(canvas: Canvas, rng: Rng): void {
  const { width: W, height: H, color } = canvas;
  const level = rng.uniform(0.55, 1.15);
  if (rng.chance(0.6)) {
    const m = new Float32Array(W * H);
    valueNoise(rng, W, H, rng.uniform(0.3, 0.8) * Math.max(W, H), m, 1);
    const amp = rng.uniform(0.2, 0.6);
    for (let i = 0, o = 0; i < W * H; i++, o += 3) {
      const f = level * (1 - amp / 2 + amp * m[i]);
      color[o] *= f;
      color[o + 1] *= f;
      color[o + 2] *= f;
    }
  } else {
    for (let i = 0; i < color.length; i++) color[i] *= level;
  }
}

/**
 * Fills the colour buffer of `canvas` with a random background of `kind` (random when omitted): a field
 * `t ∈ [0, 1]` (a gradient for `'gradient'` and `'blobs'`, value noise, or stripes) mixes two random
 * colours, `'blobs'` adds ellipses, and an uneven illumination scales it all.
 */
export function fillBackground(canvas: Canvas, rng: Rng, kind?: BackgroundKind): BackgroundKind {
  const { width: W, height: H } = canvas;
  const k: BackgroundKind = kind ?? rng.pick(BACKGROUND_KINDS);
  const c1 = randomColor(rng);
  const c2 = randomColor(rng);
  const t = new Float32Array(W * H);
  if (k === 'gradient' || k === 'blobs') gradientField(rng, W, H, t);
  else if (k === 'noise') noiseField(rng, W, H, t);
  else stripeField(rng, W, H, t);
  mixColors(canvas.color, t, c1, c2);
  if (k === 'blobs') drawBlobs(canvas, rng);
  illuminate(canvas, rng);
  return k;
}
