/**
 * Keypoint-aware augmentation: crop to the hand box, scale, in-plane rotation, translation and colour jitter,
 * moving `uv`, `xyz` and `K` together so that `project(xyz', K') = uv'` still holds.
 *
 * The image transform is an affine map of pixel coordinates `q = A p` (3×3, last row `0 0 1`; pixel centres at
 * integer indices). With `rotateCamera` (default) the in-plane rotation `θ` of `A` is treated as a rotation of the
 * camera about its optical axis: `xyz' = R_z(θ) xyz` and `K' = A K R_z(θ)ᵀ`, which keeps `K'` a zero-skew pinhole
 * matrix when `fx = fy`. Without it `xyz` is unchanged and `K' = A K` (a general projective matrix).
 */
import { checkFinite, checkInteger, checkNonNegative, describeCompact, PhalanxConfigError } from '@phalanx/errors';
import { Rng } from './random';
import { inFrame } from './readers/common';
import { checkHandSample, type HandSample } from './types';

/** Options of `augment`. Ranges are sampled uniformly from the seed. */
export interface AugmentOptions {
  /** Seed of the random parameters (any number). */
  seed: number;
  /** Output image side in pixels (square). Integer ≥ 16. Default 256. */
  outputSize?: number;
  /** Crop to the hand's keypoint box (`true`, default) or keep the whole image in view (`false`). */
  crop?: boolean;
  /** Margin around the keypoint box, as a fraction of its longer side on each side. Default 0.2. */
  margin?: number;
  /** Zoom range multiplying the crop scale. Default `[0.85, 1.15]`. */
  scale?: [number, number];
  /** Maximum absolute in-plane rotation in degrees. Default 30. */
  rotation?: number;
  /** Maximum shift of the hand centre as a fraction of the output size. Default 0.05. */
  translation?: number;
  /** Colour jitter strengths: factors drawn from `[1 − x, 1 + x]`, hue shift from `[−hue, hue]` turns. */
  color?: {
    /** Brightness factor drawn from `[1 − brightness, 1 + brightness]`. Default 0.3. */
    brightness?: number;
    /** Contrast factor (about mid-grey) drawn from `[1 − contrast, 1 + contrast]`. Default 0.3. */
    contrast?: number;
    /** Saturation factor drawn from `[1 − saturation, 1 + saturation]`. Default 0.3. */
    saturation?: number;
    /** Hue rotation drawn from `[−hue, hue]` turns (1 turn = 360°). Default 0.03. */
    hue?: number;
  };
  /** Treat the rotation as a camera roll (`xyz` rotated, default) or keep `xyz` and fold it into `K`. */
  rotateCamera?: boolean;
}

/** The parameters of one augmentation (what `augment` draws, or what a caller sets directly). */
export interface WarpParams {
  /** 3×3 row-major pixel map `q = A p` from the source to the output image. */
  A: Float64Array;
  /** In-plane rotation angle (radians) contained in `A`, used to roll the camera. */
  theta: number;
  /** Width of the output image in pixels. */
  outputWidth: number;
  /** Height of the output image in pixels. */
  outputHeight: number;
  /**
   * true: the in-plane rotation θ rolls the camera, so `xyz` is rotated and `K` kept; false: `xyz` is kept and the
   * rotation is folded into `K`.
   */
  rotateCamera: boolean;
  /** 3×3 row-major colour matrix applied to RGB in [0, 1] (identity for none). */
  colorMatrix?: Float64Array;
  /** Contrast factor about mid-grey 0.5, applied before the brightness (1: unchanged). Default 1. */
  contrast?: number;
  /** Brightness factor applied after the contrast (1: unchanged). Default 1. */
  brightness?: number;
}

function mul3(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  const o = new Float64Array(9);
  for (let r = 0; r < 3; r++)
    for (let c = 0; c < 3; c++) o[3 * r + c] = a[3 * r] * b[c] + a[3 * r + 1] * b[3 + c] + a[3 * r + 2] * b[6 + c];
  return o;
}

/** Inverse of an affine 3×3 (last row `0 0 1`). */
function invertAffine(A: ArrayLike<number>): Float64Array {
  const det = A[0] * A[4] - A[1] * A[3];
  const a = A[4] / det;
  const b = -A[1] / det;
  const d = -A[3] / det;
  const e = A[0] / det;
  return Float64Array.from([a, b, -(a * A[2] + b * A[5]), d, e, -(d * A[2] + e * A[5]), 0, 0, 1]);
}

/** The affine map `q = s R(θ) (p − c) + o`: about centre `c`, scaled by `s`, rotated by `θ`, moved to `o`. */
export function similarityMatrix(
  cx: number,
  cy: number,
  s: number,
  theta: number,
  ox: number,
  oy: number,
): Float64Array {
  const co = Math.cos(theta) * s;
  const si = Math.sin(theta) * s;
  return Float64Array.from([co, -si, ox - co * cx + si * cy, si, co, oy - si * cx - co * cy, 0, 0, 1]);
}

/**
 * Bilinear sample of the HWC RGB `src` (`sw × sh`) at `(u, v)`, clamped to the border pixels, divided by
 * `unit` (255 for bytes), written into `px`.
 */
function sampleBilinear(
  src: Uint8Array | Float32Array,
  sw: number,
  sh: number,
  u: number,
  v: number,
  unit: number,
  px: number[],
): void {
  let x0 = Math.floor(u);
  let y0 = Math.floor(v);
  let fx = u - x0;
  let fy = v - y0;
  if (x0 < 0) {
    x0 = 0;
    fx = 0;
  }
  if (y0 < 0) {
    y0 = 0;
    fy = 0;
  }
  if (x0 >= sw - 1) {
    x0 = sw - 1;
    fx = 0;
  }
  if (y0 >= sh - 1) {
    y0 = sh - 1;
    fy = 0;
  }
  const x1 = Math.min(x0 + 1, sw - 1);
  const y1 = Math.min(y0 + 1, sh - 1);
  const i00 = 3 * (y0 * sw + x0);
  const i01 = 3 * (y0 * sw + x1);
  const i10 = 3 * (y1 * sw + x0);
  const i11 = 3 * (y1 * sw + x1);
  for (let c = 0; c < 3; c++) {
    const top = src[i00 + c] + (src[i01 + c] - src[i00 + c]) * fx;
    const bot = src[i10 + c] + (src[i11 + c] - src[i10 + c]) * fx;
    px[c] = (top + (bot - top) * fy) / unit;
  }
}

/** Colour jitter of a pixel `px` (in [0, 1]): the colour matrix `M`, then contrast about 0.5, then brightness. */
function jitterColor(px: number[], M: Float64Array | undefined, contrast: number, bright: number): void {
  const r = px[0];
  const g = px[1];
  const b = px[2];
  for (let c = 0; c < 3; c++) {
    const m = M ? M[3 * c] * r + M[3 * c + 1] * g + M[3 * c + 2] * b : px[c];
    px[c] = ((m - 0.5) * contrast + 0.5) * bright;
  }
}

/**
 * The warped image: each output pixel `q` samples the source at `A⁻¹ q` bilinearly (black outside the
 * source), with the colour jitter of `p`, clipped to [0, 1] and stored in the source's format.
 */
function warpImage(sample: HandSample, p: WarpParams): Uint8Array | Float32Array {
  const { outputWidth: W, outputHeight: H } = p;
  const { width: sw, height: sh, image: src } = sample;
  const inv = invertAffine(p.A);
  const isFloat = src instanceof Float32Array;
  const out = isFloat ? new Float32Array(W * H * 3) : new Uint8Array(W * H * 3);
  const M = p.colorMatrix;
  const contrast = p.contrast ?? 1;
  const bright = p.brightness ?? 1;
  const jitter = M !== undefined || contrast !== 1 || bright !== 1;
  const unit = isFloat ? 1 : 255;
  const px = [0, 0, 0];
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const u = inv[0] * x + inv[1] * y + inv[2];
      const v = inv[3] * x + inv[4] * y + inv[5];
      const o = 3 * (y * W + x);
      if (u < -0.5 || v < -0.5 || u > sw - 0.5 || v > sh - 0.5) continue;
      sampleBilinear(src, sw, sh, u, v, unit, px);
      if (jitter) jitterColor(px, M, contrast, bright);
      for (let c = 0; c < 3; c++) {
        const val = px[c] < 0 ? 0 : px[c] > 1 ? 1 : px[c];
        out[o + c] = isFloat ? val : Math.round(val * 255);
      }
    }
  }
  return out;
}

/** `uv` `[J * 2]` mapped by the affine `A`. */
function warpUv(uvIn: ArrayLike<number>, A: ArrayLike<number>): Float64Array {
  const uv = new Float64Array(uvIn.length);
  for (let j = 0; j < uv.length / 2; j++) {
    const a = uvIn[2 * j];
    const b = uvIn[2 * j + 1];
    uv[2 * j] = A[0] * a + A[1] * b + A[2];
    uv[2 * j + 1] = A[3] * a + A[4] * b + A[5];
  }
  return uv;
}

/**
 * The camera after the warp: with `rotateCamera`, `xyz' = R_z(θ) xyz` and `K' = A K R_z(θ)ᵀ`; without it
 * `xyz` is kept and `K' = A K`.
 */
function warpCamera(sample: HandSample, p: WarpParams): { xyz: Float64Array; K: Float64Array } {
  const A = p.A;
  if (!p.rotateCamera) return { xyz: sample.xyz.slice(), K: mul3(A, sample.K) };
  const c = Math.cos(p.theta);
  const s = Math.sin(p.theta);
  const Rz = [c, -s, 0, s, c, 0, 0, 0, 1];
  const RzT = [c, s, 0, -s, c, 0, 0, 0, 1];
  const xyz = new Float64Array(sample.xyz.length);
  for (let j = 0; j < xyz.length / 3; j++) {
    const X = sample.xyz[3 * j];
    const Y = sample.xyz[3 * j + 1];
    xyz[3 * j] = Rz[0] * X + Rz[1] * Y;
    xyz[3 * j + 1] = Rz[3] * X + Rz[4] * Y;
    xyz[3 * j + 2] = sample.xyz[3 * j + 2];
  }
  return { xyz, K: mul3(mul3(A, sample.K), RzT) };
}

/**
 * Applies a fixed warp to a sample: resamples the image bilinearly (outside pixels black), maps `uv` by `A`,
 * updates `xyz` and `K` (see the module comment), marks joints leaving the image invisible, applies colour jitter.
 */
export function warpSample<S extends HandSample>(sample: S, p: WarpParams): S {
  const { outputWidth: W, outputHeight: H } = p;
  const image = warpImage(sample, p);
  const uv = warpUv(sample.uv, p.A);
  const { xyz, K } = warpCamera(sample, p);
  const frame = inFrame(uv, W, H);
  const visible = sample.visible.map((v, j) => v & frame[j]);
  return { ...sample, image, width: W, height: H, uv, xyz, K, visible };
}

/** Inverse of a general 3×3 (row-major) by cofactors. */
function invert3(m: readonly number[]): Float64Array {
  const [a, b, c, d, e, f, g, h, i] = m;
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  return Float64Array.from([
    A / det,
    -(b * i - c * h) / det,
    (b * f - c * e) / det,
    B / det,
    (a * i - c * g) / det,
    -(a * f - c * d) / det,
    C / det,
    -(a * h - b * g) / det,
    (a * e - b * d) / det,
  ]);
}

/** The colour matrix of a hue rotation by `turns` (YIQ chroma rotation) and a saturation factor. */
export function colorMatrix(hueTurns: number, saturation: number): Float64Array {
  const toYiq = [0.299, 0.587, 0.114, 0.596, -0.274, -0.322, 0.211, -0.523, 0.312];
  const fromYiq = invert3(toYiq);
  const c = Math.cos(2 * Math.PI * hueTurns) * saturation;
  const s = Math.sin(2 * Math.PI * hueTurns) * saturation;
  const rot = [1, 0, 0, 0, c, -s, 0, s, c];
  return mul3(mul3(fromYiq, rot), toYiq);
}

/** The options of {@link augment} with their defaults, checked: finite numbers, a bounded output size. */
function checkAugmentOptions(options: AugmentOptions) {
  const name = 'augment';
  checkFinite(name, 'seed', options.seed);
  const size = checkInteger(name, 'outputSize', options.outputSize ?? 256, 16);
  if (size > 4096) throw new PhalanxConfigError(name, 'outputSize', 'an integer in [16, 4096]', size);
  const margin = options.margin ?? 0.2;
  if (!(margin >= 0)) throw new PhalanxConfigError(name, 'margin', 'a number ≥ 0', margin, describeCompact);
  checkNonNegative(name, 'margin', margin);
  const [zMin, zMax] = options.scale ?? [0.85, 1.15];
  if (!(zMin > 0 && zMax >= zMin && Number.isFinite(zMax)))
    throw new PhalanxConfigError(
      name,
      'scale',
      'a range [min, max] with 0 < min ≤ max',
      options.scale,
      describeCompact,
    );
  const rotDeg = checkFinite(name, 'rotation', options.rotation ?? 30);
  const shift = checkFinite(name, 'translation', options.translation ?? 0.05);
  const col = options.color ?? {};
  for (const key of ['hue', 'saturation', 'contrast', 'brightness'] as const) {
    if (col[key] !== undefined) checkFinite(name, `color.${key}`, col[key]);
  }
  return { size, margin, zMin, zMax, rotDeg, shift, col };
}

/**
 * Draws augmentation parameters from `options.seed` and applies them (`warpSample`). Deterministic for a seed.
 *
 * Throws `PhalanxConfigError` for options that are not finite numbers, an `outputSize` outside [16, 4096],
 * and (with `crop`, the default) a sample whose `uv` is not finite; `PhalanxShapeError` for a sample whose
 * arrays do not hold what `HandSample` promises (`checkHandSample`: `width`, `height` integers ≥ 1, `image`
 * of `width × height × 3` values, `uv` 42, `xyz` 63, `K` 9, `visible` 21).
 *
 * @example
 * const sample = renderSyntheticHand(7, { size: 256 });
 * const a = augment(sample, { seed: 3, outputSize: 128 });
 * // project(a.xyz, a.K) equals a.uv (up to float rounding)
 */
export function augment<S extends HandSample>(sample: S, options: AugmentOptions): S {
  const { size, margin, zMin, zMax, rotDeg, shift, col } = checkAugmentOptions(options);
  checkHandSample('augment', sample);
  const rng = new Rng(options.seed, 0x5eed);
  let cx: number;
  let cy: number;
  let side: number;
  if (options.crop ?? true) {
    const bad = Array.from(sample.uv).find((v) => !Number.isFinite(v));
    if (bad !== undefined) {
      throw new PhalanxConfigError('augment', 'sample.uv', 'finite pixel coordinates (crop: true frames them)', bad);
    }
    let x0 = Infinity;
    let y0 = Infinity;
    let x1 = -Infinity;
    let y1 = -Infinity;
    for (let j = 0; j < sample.uv.length / 2; j++) {
      x0 = Math.min(x0, sample.uv[2 * j]);
      x1 = Math.max(x1, sample.uv[2 * j]);
      y0 = Math.min(y0, sample.uv[2 * j + 1]);
      y1 = Math.max(y1, sample.uv[2 * j + 1]);
    }
    cx = (x0 + x1) / 2;
    cy = (y0 + y1) / 2;
    side = Math.max(x1 - x0, y1 - y0, 8) * (1 + 2 * margin);
  } else {
    cx = (sample.width - 1) / 2;
    cy = (sample.height - 1) / 2;
    side = Math.max(sample.width, sample.height);
  }
  const zoom = rng.uniform(zMin, zMax);
  const theta = (rng.uniform(-rotDeg, rotDeg) * Math.PI) / 180;
  const s = (size / side) * zoom;
  const ox = (size - 1) / 2 + rng.uniform(-shift, shift) * size;
  const oy = (size - 1) / 2 + rng.uniform(-shift, shift) * size;
  const A = similarityMatrix(cx, cy, s, theta, ox, oy);
  const hue = col.hue ?? 0.03;
  const sat = col.saturation ?? 0.3;
  const con = col.contrast ?? 0.3;
  const bri = col.brightness ?? 0.3;
  return warpSample(sample, {
    A,
    theta,
    outputWidth: size,
    outputHeight: size,
    rotateCamera: options.rotateCamera ?? true,
    colorMatrix: colorMatrix(rng.uniform(-hue, hue), rng.uniform(1 - sat, 1 + sat)),
    contrast: rng.uniform(1 - con, 1 + con),
    brightness: rng.uniform(1 - bri, 1 + bri),
  });
}
