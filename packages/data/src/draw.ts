/**
 * Drawing helpers for looking at samples: a skeleton overlay and contact sheets (grids of images).
 */
import { NUM_JOINTS, SKELETON_EDGES } from '@phalanx/skeleton';
import { checkInteger, describeCompact, PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { checkRgbImage, type RgbImage } from './types';

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

/** The rows or columns `[from, to]` clipped to `[0, size − 1]` (empty when `from > to`). */
function span(from: number, to: number, size: number): [number, number] {
  return [Math.max(0, Math.floor(from)), Math.min(size - 1, Math.ceil(to))];
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
  if (!Number.isFinite(cx) || !Number.isFinite(cy)) return;
  // Only the pixels of the image: a joint far outside it costs nothing.
  const [top, bottom] = span(cy - r, cy + r, H);
  const [left, right] = span(cx - r, cx + r, W);
  for (let y = top; y <= bottom; y++) {
    for (let x = left; x <= right; x++) {
      const d = Math.hypot(x - cx, y - cy);
      if (d <= r && (!ring || d >= r - 1.2)) put(img, W, H, x, y, c);
    }
  }
}

/**
 * Paints the pixels within `width / 2` of the segment (x0, y0)–(x1, y1), the union of the discs along
 * it, visiting only the pixels of the image in the segment's bounding box: a bone of any length, or
 * with an end far outside the image, costs at most the image's area. An end that is not finite draws
 * nothing.
 */
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
  if (![x0, y0, x1, y1].every(Number.isFinite)) return;
  const r = width / 2;
  const [dx, dy] = [x1 - x0, y1 - y0];
  const length2 = dx * dx + dy * dy;
  const [top, bottom] = span(Math.min(y0, y1) - r, Math.max(y0, y1) + r, H);
  const [left, right] = span(Math.min(x0, x1) - r, Math.max(x0, x1) + r, W);
  for (let y = top; y <= bottom; y++) {
    for (let x = left; x <= right; x++) {
      const t = length2 > 0 ? Math.min(1, Math.max(0, ((x - x0) * dx + (y - y0) * dy) / length2)) : 0;
      if (Math.hypot(x - x0 - t * dx, y - y0 - t * dy) <= r) put(img, W, H, x, y, c);
    }
  }
}

/**
 * Returns a uint8 copy of `image` with the 21-joint skeleton drawn: bones coloured by finger, visible joints as
 * filled dots, invisible ones (occluded or out of frame) as rings. Joints outside the image are drawn where
 * their dots and bones cross it; joints that are not finite (NaN, ±Infinity) and their bones are left out.
 * The time taken is bounded by the image's area per bone and joint, wherever the joints are.
 */
export function drawSkeleton(image: RgbImage, uv: ArrayLike<number>, visible?: ArrayLike<number>): RgbImage {
  checkRgbImage('drawSkeleton', image);
  if (!(uv?.length >= 2 * NUM_JOINTS)) {
    throw new PhalanxShapeError('drawSkeleton', 'uv', '42 numbers (21 joints × (x, y))', uv?.length);
  }
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

/** The most bytes a contact sheet may take (`width × height × 3`): the largest `Uint8Array` every engine makes. */
const MAX_SHEET_BYTES = 2 ** 31 - 1;

/**
 * Tiles equally sized images into a `columns`-wide grid with a `gap`-pixel dark border, as uint8 (float32
 * images, 0–1, are scaled to 0–255, rounded and clamped like {@link drawSkeleton}'s). An empty list gives a
 * 0 × 0 image.
 *
 * Throws `PhalanxConfigError` for `images` that are not a list, a `columns` that is not an integer ≥ 1, a
 * `gap` that is not an integer ≥ 0, and a sheet over 2³¹ − 1 bytes; `PhalanxShapeError` for an image that
 * is not an RGB image or differs in size from `images[0]`.
 *
 * @example
 * ```ts
 * const tiles = [1, 2, 3].map((seed) => renderSyntheticHand(seed, { size: 64 }));
 * const sheet = contactSheet(tiles.map((t) => ({ data: t.image, width: 64, height: 64 })), 2, 4); // 140 × 140
 * ```
 */
export function contactSheet(images: readonly RgbImage[], columns = 4, gap = 4): RgbImage {
  if (!Array.isArray(images)) {
    throw new PhalanxConfigError('contactSheet', 'images', 'a list of RGB images', images, describeCompact);
  }
  checkInteger('contactSheet', 'columns', columns, 1);
  checkInteger('contactSheet', 'gap', gap, 0);
  if (images.length === 0) return { data: new Uint8Array(0), width: 0, height: 0 };
  const { width: w, height: h } = images[0] ?? {};
  images.forEach((img, k) => {
    checkRgbImage('contactSheet', img, `images[${k}]`);
    if (img.width !== w || img.height !== h) {
      throw new PhalanxShapeError('contactSheet', `images[${k}]`, `${w}×${h} like images[0]`, [img.width, img.height]);
    }
  });
  const rows = Math.ceil(images.length / columns);
  const W = columns * w + (columns + 1) * gap;
  const H = rows * h + (rows + 1) * gap;
  if (W * H * 3 > MAX_SHEET_BYTES) {
    const expected = `at most ${MAX_SHEET_BYTES} bytes (width × height × 3; fewer columns or a smaller gap)`;
    throw new PhalanxConfigError('contactSheet', 'sheet', expected, `${W} × ${H} pixels`);
  }
  const out = new Uint8Array(W * H * 3).fill(24);
  images.forEach((img, k) => {
    const ox = gap + (k % columns) * (w + gap);
    const oy = gap + Math.floor(k / columns) * (h + gap);
    const f = img.data instanceof Float32Array ? 255 : 1;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w * 3; x++) {
        const v = img.data[y * w * 3 + x] * f;
        out[3 * ((oy + y) * W + ox) + x] = v > 0 ? Math.min(255, Math.round(v)) : 0;
      }
    }
  });
  return { data: out, width: W, height: H };
}
