/**
 * Keypoint-aware augmentation: crop to the hand box, scale, in-plane rotation, translation and colour jitter,
 * moving `uv`, `xyz` and `K` together so that `project(xyz', K') = uv'` still holds.
 *
 * The image transform is an affine map of pixel coordinates `q = A p` (3×3, last row `0 0 1`; pixel centres at
 * integer indices). With `rotateCamera` (default) the in-plane rotation `θ` of `A` is treated as a rotation of the
 * camera about its optical axis: `xyz' = R_z(θ) xyz` and `K' = A K R_z(θ)ᵀ`, which keeps `K'` a zero-skew pinhole
 * matrix when `fx = fy`. Without it `xyz` is unchanged and `K' = A K` (a general projective matrix).
 */
import { checkFinite, checkInteger, checkOptions, describeCompact, PhalanxConfigError } from '@phalanx/errors';
import { Rng } from './random';
import { inFrame } from './readers/common';
import { checkHandSample, type HandSample } from './types';

/** Options of `augment`. Ranges are sampled uniformly from the seed. */
export interface AugmentOptions {
  /** Seed of the random parameters (any number). */
  seed: number;
  /** Output image side in pixels (square). Integer in [16, 4096]. Default 256. */
  outputSize?: number;
  /** Crop to the hand's keypoint box (`true`, default) or keep the whole image in view (`false`). */
  crop?: boolean;
  /** Margin around the keypoint box, as a fraction of its longer side on each side; in [0, 10]. Default 0.2. */
  margin?: number;
  /** Zoom range `[min, max]` multiplying the crop scale, `0.01 ≤ min ≤ max ≤ 100`. Default `[0.85, 1.15]`. */
  scale?: [number, number];
  /** Maximum absolute in-plane rotation in degrees, in [0, 180]. Default 30. */
  rotation?: number;
  /** Maximum shift of the hand centre as a fraction of the output size, in [0, 1]. Default 0.05. */
  translation?: number;
  /**
   * Colour jitter strengths: factors drawn from `[1 − x, 1 + x]` (x in [0, 1]), hue shift from `[−hue, hue]`
   * turns (hue in [0, 0.5]).
   */
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
  /**
   * Treat the rotation as a camera roll (`xyz` rotated, default) or keep `xyz` and fold it into `K`. Folded, `K'`
   * has off-diagonal entries (`K'[0][1] = −s·fy·sin θ`, `K'[1][0] = s·fx·sin θ`), which this package's
   * `projectPoints` and `@phalanx/pose`'s geometry (`projectPoints`, `xyzToUvd`, `uvdToXyz`) both read.
   */
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
 * The largest output image of {@link warpSample} (and so of `augment`): `outputWidth × outputHeight` at most
 * 4096 × 4096 = 16 777 216 pixels (48 MiB as bytes, 192 MiB as float32), the budget of `renderSyntheticHand`
 * and `decodeImage`.
 */
export const MAX_WARP_PIXELS = 4096 * 4096;

/** `true` for an array-like of exactly 9 finite numbers (a row-major 3×3). */
function isFinite3x3(m: unknown): m is ArrayLike<number> {
  if (m === null || typeof m !== 'object' || (m as ArrayLike<unknown>).length !== 9) return false;
  return Array.from(m as ArrayLike<unknown>).every((v) => typeof v === 'number' && Number.isFinite(v));
}

/** `m` as a plain array for an error message when it is a typed array. */
const shown = (m: unknown): unknown => (ArrayBuffer.isView(m) ? Array.from(m as Float64Array) : m);

/**
 * Throws a `PhalanxConfigError` of `component` unless `p` is a usable warp: `outputWidth`, `outputHeight`
 * integers ≥ 1 with at most {@link MAX_WARP_PIXELS} pixels; `A` 9 finite numbers, last row `0 0 1`, with a
 * finite inverse; a finite `theta`; a `colorMatrix` (if given) of 9 finite numbers; finite `contrast` and
 * `brightness` (if given). Run before anything is allocated.
 */
function checkWarpParams(component: string, p: WarpParams): void {
  if (p === null || typeof p !== 'object') {
    throw new PhalanxConfigError(component, 'params', 'a WarpParams object', p, describeCompact);
  }
  const W = checkInteger(component, 'outputWidth', p.outputWidth, 1);
  const H = checkInteger(component, 'outputHeight', p.outputHeight, 1);
  if (W * H > MAX_WARP_PIXELS) {
    const expected = `at most ${MAX_WARP_PIXELS} pixels (4096 × 4096)`;
    throw new PhalanxConfigError(component, 'outputWidth × outputHeight', expected, `${W} × ${H} = ${W * H}`);
  }
  const A = p.A;
  if (!isFinite3x3(A) || A[6] !== 0 || A[7] !== 0 || A[8] !== 1 || !invertAffine(A).every(Number.isFinite)) {
    const expected = 'an invertible affine 3×3 of finite numbers (last row 0 0 1)';
    throw new PhalanxConfigError(component, 'A', expected, shown(A), describeCompact);
  }
  checkFinite(component, 'theta', p.theta);
  if (p.colorMatrix !== undefined && !isFinite3x3(p.colorMatrix)) {
    throw new PhalanxConfigError(component, 'colorMatrix', '9 finite numbers', shown(p.colorMatrix), describeCompact);
  }
  if (p.contrast !== undefined) checkFinite(component, 'contrast', p.contrast);
  if (p.brightness !== undefined) checkFinite(component, 'brightness', p.brightness);
}

/**
 * Throws a `PhalanxConfigError` of `component` if a group of `size` values of `after` (a joint's `uv` or
 * `xyz`, or all of `K`) is not finite although the same group of `before` is: the warp overflowed it.
 * Non-finite input values are the sample's own and pass through.
 */
function checkStaysFinite(
  component: string,
  field: string,
  before: ArrayLike<number>,
  after: ArrayLike<number>,
  size: number,
): void {
  for (let g = 0; g < after.length; g += size) {
    let finiteBefore = true;
    let finiteAfter = true;
    for (let i = g; i < g + size; i++) {
      finiteBefore &&= Number.isFinite(before[i]);
      finiteAfter &&= Number.isFinite(after[i]);
    }
    if (finiteBefore && !finiteAfter) {
      const expected = 'values that stay finite under the warp (it overflowed them)';
      const received = Array.from(before).slice(g, g + size);
      throw new PhalanxConfigError(component, `sample.${field}`, expected, received, describeCompact);
    }
  }
}

/**
 * {@link warpSample} with errors named after `component`, for a sample and parameters its caller has checked
 * (`checkHandSample`, `checkWarpParams`): `warpSample` checks both, `augment` the sample once before it reads
 * `uv` to frame the crop.
 */
function applyWarp<S extends HandSample>(component: string, sample: S, p: WarpParams): S {
  const { outputWidth: W, outputHeight: H } = p;
  const uv = warpUv(sample.uv, p.A);
  const { xyz, K } = warpCamera(sample, p);
  checkStaysFinite(component, 'uv', sample.uv, uv, 2);
  checkStaysFinite(component, 'xyz', sample.xyz, xyz, 3);
  checkStaysFinite(component, 'K', sample.K, K, 9);
  const image = warpImage(sample, p);
  const frame = inFrame(uv, W, H);
  const visible = sample.visible.map((v, j) => v & frame[j]);
  return { ...sample, image, width: W, height: H, uv, xyz, K, visible };
}

/**
 * Applies a fixed warp to a sample: resamples the image bilinearly (outside pixels black), maps `uv` by `A`,
 * updates `xyz` and `K` (see the module comment), marks joints leaving the image invisible, applies colour jitter.
 *
 * **Shapes**: `image` `[sh · sw · 3]` → `[outputHeight · outputWidth · 3]` (same type);
 * `uv' = A·uv` `[21 · 2]`; `xyz'` `[21 · 3]` (`R_z(θ)·xyz` with `rotateCamera`, else unchanged);
 * `K'` `[9]` (`A·K·R_z(θ)ᵀ` with `rotateCamera`, else `A·K`).
 *
 * Throws `PhalanxConfigError`, before anything is allocated, for `outputWidth`/`outputHeight` that are not
 * integers ≥ 1 or exceed {@link MAX_WARP_PIXELS} (4096 × 4096) together, an `A` that is not an invertible
 * affine 3×3 of finite numbers, a non-finite `theta`, `colorMatrix`, `contrast` or `brightness`; and when a
 * finite label of the sample would come out non-finite (overflow). `PhalanxShapeError` for a malformed sample.
 *
 * @example
 * const s = renderSyntheticHand(1, { size: 64 });
 * const A = similarityMatrix(32, 32, 0.5, 0, 15.5, 15.5); // halve about the centre
 * const out = warpSample(s, { A, theta: 0, outputWidth: 32, outputHeight: 32, rotateCamera: true });
 */
export function warpSample<S extends HandSample>(sample: S, p: WarpParams): S {
  checkWarpParams('warpSample', p);
  checkHandSample('warpSample', sample);
  return applyWarp('warpSample', sample, p);
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

/**
 * The accepted ranges of the {@link AugmentOptions}, inclusive. Each keeps every warped label finite and
 * meaningful: `margin` and `scale` bound the zoom `s = outputSize / side · zoom` (so the pixel map `A` stays
 * invertible), `rotation` covers every roll (±180°), `translation` at most one output size, and a colour
 * strength x ≤ 1 keeps its factor `1 ± x` non-negative. Larger values gave infinite or NaN `uv`, `xyz`, `K`.
 */
export const AUGMENT_RANGES = Object.freeze({
  /** {@link AugmentOptions.margin}: fraction of the keypoint box on each side. */
  margin: [0, 10],
  /** Bounds of the {@link AugmentOptions.scale} zoom range `[min, max]`. */
  scale: [0.01, 100],
  /** {@link AugmentOptions.rotation}, degrees. */
  rotation: [0, 180],
  /** {@link AugmentOptions.translation}, fraction of the output size. */
  translation: [0, 1],
  /** `color.brightness`, `color.contrast`, `color.saturation`. */
  colorStrength: [0, 1],
  /** `color.hue`, turns. */
  hue: [0, 0.5],
} as const);

/** Returns `value` if it is a number in `[lo, hi]`; throws a `PhalanxConfigError` of `augment` otherwise. */
function checkRange(argument: string, value: unknown, [lo, hi]: readonly [number, number], unit = ''): number {
  if (typeof value !== 'number' || !(value >= lo && value <= hi)) {
    throw new PhalanxConfigError('augment', argument, `a number in [${lo}, ${hi}]${unit}`, value, describeCompact);
  }
  return value;
}

/** The keys of {@link AugmentOptions}: any other key is a named error. */
const AUGMENT_OPTION_KEYS = {
  seed: true,
  outputSize: true,
  crop: true,
  margin: true,
  scale: true,
  rotation: true,
  translation: true,
  color: true,
  rotateCamera: true,
} satisfies Record<keyof AugmentOptions, true>;

/** The keys of `AugmentOptions.color`. */
const COLOR_JITTER_KEYS = { brightness: true, contrast: true, saturation: true, hue: true } satisfies Record<
  keyof NonNullable<AugmentOptions['color']>,
  true
>;

/** The options of {@link augment} with their defaults, checked against {@link AUGMENT_RANGES}. */
function checkAugmentOptions(options: AugmentOptions) {
  const name = 'augment';
  checkOptions(name, 'options', options, AUGMENT_OPTION_KEYS, 'an object {seed, …}');
  checkFinite(name, 'seed', options.seed);
  const size = checkInteger(name, 'outputSize', options.outputSize ?? 256, 16);
  if (size > 4096) throw new PhalanxConfigError(name, 'outputSize', 'an integer in [16, 4096]', size);
  const margin = checkRange('margin', options.margin ?? 0.2, AUGMENT_RANGES.margin);
  const [zLo, zHi] = AUGMENT_RANGES.scale;
  const range: unknown = options.scale ?? [0.85, 1.15];
  const [zMin, zMax] = Array.isArray(range) ? (range as unknown[]) : [];
  if (!(typeof zMin === 'number' && typeof zMax === 'number' && zMin >= zLo && zMax >= zMin && zMax <= zHi))
    throw new PhalanxConfigError(
      name,
      'scale',
      `a range [min, max] with ${zLo} ≤ min ≤ max ≤ ${zHi}`,
      options.scale,
      describeCompact,
    );
  const rotDeg = checkRange('rotation', options.rotation ?? 30, AUGMENT_RANGES.rotation, ' (degrees)');
  const shift = checkRange('translation', options.translation ?? 0.05, AUGMENT_RANGES.translation);
  const col = checkOptions(
    name,
    'color',
    options.color ?? {},
    COLOR_JITTER_KEYS,
    'an object {brightness?, contrast?, saturation?, hue?}',
  );
  for (const key of ['saturation', 'contrast', 'brightness'] as const) {
    if (col[key] !== undefined) checkRange(`color.${key}`, col[key], AUGMENT_RANGES.colorStrength);
  }
  if (col.hue !== undefined) checkRange('color.hue', col.hue, AUGMENT_RANGES.hue, ' (turns)');
  return { size, margin, zMin, zMax, rotDeg, shift, col };
}

/**
 * Draws augmentation parameters from `options.seed` and applies them (`warpSample`). Deterministic for a seed.
 *
 * Throws `PhalanxConfigError` for options outside their {@link AUGMENT_RANGES} (`margin` [0, 10], `scale`
 * within [0.01, 100], `rotation` [0, 180]°, `translation` [0, 1], colour strengths [0, 1], `hue` [0, 0.5]; NaN
 * and ±Infinity included) or not finite (`seed`), an `outputSize` outside [16, 4096], (with `crop`, the
 * default) a sample whose `uv` is not finite, and a warp that would turn a finite label (`uv`, `xyz`, `K`) of
 * the sample non-finite (see {@link warpSample}), so no NaN or Infinity label escapes; `PhalanxShapeError` for
 * a sample whose arrays do not hold what `HandSample` promises (`checkHandSample`: `width`, `height` integers ≥ 1, `image`
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
  const params: WarpParams = {
    A,
    theta,
    outputWidth: size,
    outputHeight: size,
    rotateCamera: options.rotateCamera ?? true,
    colorMatrix: colorMatrix(rng.uniform(-hue, hue), rng.uniform(1 - sat, 1 + sat)),
    contrast: rng.uniform(1 - con, 1 + con),
    brightness: rng.uniform(1 - bri, 1 + bri),
  };
  checkWarpParams('augment', params);
  return applyWarp('augment', sample, params);
}
