/**
 * Drawing helpers for looking at samples: a skeleton overlay and contact sheets (grids of images).
 */
import { NUM_JOINTS, SKELETON_EDGES } from '@phalanx/skeleton';
import type { RgbImage } from './types';

/** One colour per finger (thumb … pinky), 0–255. */
export const FINGER_COLORS: readonly (readonly [number, number, number])[] = [
  [255, 64, 64],
  [255, 200, 0],
  [64, 220, 64],
  [0, 170, 255],
  [220, 64, 255],
];

function put(img: Uint8Array, W: number, H: number, x: number, y: number, c: readonly number[]): void {
  if (x < 0 || y < 0 || x >= W || y >= H) return;
  const o = 3 * (y * W + x);
  img[o] = c[0];
  img[o + 1] = c[1];
  img[o + 2] = c[2];
}

function disc(
  img: Uint8Array,
  W: number,
  H: number,
  cx: number,
  cy: number,
  r: number,
  c: readonly number[],
  ring = false,
): void {
  for (let y = Math.floor(cy - r); y <= Math.ceil(cy + r); y++) {
    for (let x = Math.floor(cx - r); x <= Math.ceil(cx + r); x++) {
      const d = Math.hypot(x - cx, y - cy);
      if (d <= r && (!ring || d >= r - 1.2)) put(img, W, H, x, y, c);
    }
  }
}

function line(
  img: Uint8Array,
  W: number,
  H: number,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  c: readonly number[],
  width: number,
): void {
  const n = Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0)) * 2) + 1;
  for (let i = 0; i <= n; i++) {
    const t = i / n;
    disc(img, W, H, x0 + (x1 - x0) * t, y0 + (y1 - y0) * t, width / 2, c);
  }
}

/**
 * Returns a uint8 copy of `image` with the 21-joint skeleton drawn: bones coloured by finger, visible joints as
 * filled dots, invisible ones (occluded or out of frame) as rings.
 */
export function drawSkeleton(image: RgbImage, uv: ArrayLike<number>, visible?: ArrayLike<number>): RgbImage {
  const { width: W, height: H } = image;
  const out = new Uint8Array(W * H * 3);
  const f = image.data instanceof Float32Array ? 255 : 1;
  for (let i = 0; i < out.length; i++) out[i] = Math.max(0, Math.min(255, Math.round(image.data[i] * f)));
  const lw = Math.max(1, W / 160);
  for (const [p, c] of SKELETON_EDGES) {
    const col = FINGER_COLORS[Math.floor((c - 1) / 4)];
    line(out, W, H, uv[2 * p], uv[2 * p + 1], uv[2 * c], uv[2 * c + 1], col, lw);
  }
  for (let j = 0; j < NUM_JOINTS; j++) {
    const col = j === 0 ? [255, 255, 255] : FINGER_COLORS[Math.floor((j - 1) / 4)];
    const vis = visible ? visible[j] > 0 : true;
    disc(out, W, H, uv[2 * j], uv[2 * j + 1], lw * 1.8, vis ? [0, 0, 0] : [255, 255, 255]);
    disc(out, W, H, uv[2 * j], uv[2 * j + 1], lw * 1.8 - 0.8, col, !vis);
  }
  return { data: out, width: W, height: H };
}

/** Tiles equally sized images into a `columns`-wide grid with a `gap`-pixel dark border. */
export function contactSheet(images: readonly RgbImage[], columns = 4, gap = 4): RgbImage {
  if (images.length === 0) return { data: new Uint8Array(0), width: 0, height: 0 };
  const { width: w, height: h } = images[0];
  const rows = Math.ceil(images.length / columns);
  const W = columns * w + (columns + 1) * gap;
  const H = rows * h + (rows + 1) * gap;
  const out = new Uint8Array(W * H * 3).fill(24);
  images.forEach((img, k) => {
    const ox = gap + (k % columns) * (w + gap);
    const oy = gap + Math.floor(k / columns) * (h + gap);
    const f = img.data instanceof Float32Array ? 255 : 1;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w * 3; x++) out[3 * ((oy + y) * W + ox) + x] = img.data[y * w * 3 + x] * f;
    }
  });
  return { data: out, width: W, height: H };
}
