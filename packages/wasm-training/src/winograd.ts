import type * as tf from '@tensorflow/tfjs-core';
import { padOrCrop, type ConvGeometry } from './conv-geometry';
import type { KernelScope } from './kernel-scope';
import { pointer, type SimdKernels } from './simd';

/**
 * Winograd F(2×2, 3×3) and F(4×4, 3×3) on the package's SIMD kernels (Lavin & Gray, "Fast Algorithms for
 * Convolutional Neural Networks"): a 3×3 stride-1 convolution computes each m×m output tile from an
 * (m+2)×(m+2) input tile as `Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A`, so the channel sums become (m+2)² GEMMs with
 * 16/36 (m = 2; additions-only transforms) or 36/144 (m = 4) of the direct method's multiply-adds. The
 * gradients use F(2×2, 3×3); the forward opt-in (`enableWinogradConvolution`) F(4×4, 3×3).
 */

/** G of F(2×2, 3×3): the filter transform, U = G g Gᵀ. */
const G = [
  [1, 0, 0],
  [0.5, 0.5, 0.5],
  [0.5, -0.5, 0.5],
  [0, 0, 1],
];

/**
 * `K[(ξ·r + ν)·9 + a·3 + b] = g[ξ][a]·g[ν][b]` of a filter transform `g` with r rows: U (r² values) = K · filter
 * (9 taps), per channel pair.
 */
function kronecker(g: number[][]): Float32Array {
  const r = g.length;
  const out = new Float32Array(r * r * 9);
  for (let xi = 0; xi < r; xi++)
    for (let nu = 0; nu < r; nu++)
      for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) out[(xi * r + nu) * 9 + a * 3 + b] = g[xi][a] * g[nu][b];
  return out;
}

/** G ⊗ G of F(2×2, 3×3). */
const KRON = kronecker(G);

/**
 * Whether a convolution takes the Winograd route: 3×3, stride 1, dilation 1, channel counts multiples
 * of 4 (the transforms work on 4 channels at a time).
 */
export function winogradApplies(g: ConvGeometry, inChannels: number, outChannels: number): boolean {
  return (
    g.filterHeight === 3 &&
    g.filterWidth === 3 &&
    g.strideHeight === 1 &&
    g.strideWidth === 1 &&
    g.dilationHeight === 1 &&
    g.dilationWidth === 1 &&
    inChannels % 4 === 0 &&
    outChannels % 4 === 0
  );
}

/**
 * The smallest channel count that is rounded up to a multiple of 4 for Winograd's filter gradient:
 * padding 17 → 20 adds 18 % of the work against a route ≈ 1.3–2.8× faster than the shifted GEMM
 * (B = 16, 16², 1 thread: 85 → 64 channels 46.9 → 20.6 ms, 16 → 21 5.3 → 2.7 ms, 17 → 32 4.6 → 3.5 ms).
 */
export const WINOGRAD_MIN_PADDED_FILTER_GRAD_CHANNELS = 16;

/**
 * The same for the input gradient, whose other route is XNNPACK's convolution: it wins on thin maps
 * (21 → 16 channels: 2.5 ms against 3.5 padded; 17 → 32: equal) and loses on wide ones (85 → 64:
 * 31.8 → 22.6 ms padded).
 */
export const WINOGRAD_MIN_PADDED_INPUT_GRAD_CHANNELS = 32;

/**
 * The channel counts a convolution runs Winograd with, or `null` when it does not take that route:
 * 3×3, stride 1, dilation 1, and each count a multiple of 4 or, when at least `minPadded`, rounded up
 * to one (the caller pads with zero channels, which add nothing to the sums of the real ones, and
 * slices them off).
 */
export function winogradChannels(
  g: ConvGeometry,
  inChannels: number,
  outChannels: number,
  minPadded: number,
): [number, number] | null {
  const round = (c: number) => (c % 4 === 0 ? c : c >= minPadded ? Math.ceil(c / 4) * 4 : -1);
  const [ci, co] = [round(inChannels), round(outChannels)];
  return ci > 0 && co > 0 && winogradApplies(g, ci, co) ? [ci, co] : null;
}

/**
 * The (m+2)² transformed input tiles `V [(m+2)², T, C]` of `x` padded by `top`/`left` to `m·th + 2` ×
 * `m·tw + 2`, m = `tile`.
 */
function inputTiles(
  scope: KernelScope,
  simd: SimdKernels,
  x: tf.TensorInfo,
  top: number,
  left: number,
  th: number,
  tw: number,
  tile: WinogradTile = 2,
): tf.TensorInfo {
  const [n, h, w, c] = x.shape;
  const hp = tile * th + 2;
  const wp = tile * tw + 2;
  const xp = padOrCrop(scope, x, top, hp - h - top, left, wp - w - left);
  const v = scope.output([(tile + 2) ** 2, n * th * tw, c]);
  const input = tile === 2 ? simd.winogradInput : simd.winograd4Input;
  input(pointer(scope.backend, xp), n, hp, wp, c, th, tw, pointer(scope.backend, v), 0, n * th);
  return v;
}

/** What the output transform adds to a convolution: a bias `[K]` and a ReLU after it. */
export interface WinogradEpilogue {
  bias?: tf.TensorInfo;
  relu?: boolean;
}

/** G of F(4×4, 3×3) (interpolation points 0, ±1, ±2, ∞): the filter transform, U = G g Gᵀ. */
const G4 = [
  [1 / 4, 0, 0],
  [-1 / 6, -1 / 6, -1 / 6],
  [-1 / 6, 1 / 6, -1 / 6],
  [1 / 24, 1 / 12, 1 / 6],
  [1 / 24, -1 / 12, 1 / 6],
  [0, 0, 1],
];

/** G4 ⊗ G4 of F(4×4, 3×3). */
const KRON4 = kronecker(G4);

/** The output tile side of a Winograd F(m×m, 3×3): 2 (16 products, exact to ≈ 1e-6) or 4 (36, ≈ 1e-5). */
export type WinogradTile = 2 | 4;

/**
 * `conv2d(x, filter)` with explicit paddings `pads` (NHWC, 3×3, stride 1) by Winograd F(m×m, 3×3), m = `tile`:
 * `U = G g Gᵀ` (one small GEMM), `V = Bᵀ d B` per (m+2)×(m+2) input tile, (m+2)² GEMMs `V[ξ]·U[ξ]`,
 * `Y = Aᵀ M A`, then `max(Y + bias, 0)` as far as `epilogue` asks. F(2×2, 3×3) does 16/36 of the direct
 * method's multiply-adds; F(4×4, 3×3) 36/144, at the price of rounding: its transforms scale by up to 8
 * and 1/24, so its results carry ≈ 1e-5 relative error against ≈ 1e-6. Channel counts must be multiples of 4.
 *
 * **Shapes**: `x [N, H, W, C]`, `filter [3, 3, C, K]`, `bias [K]` →
 * `[N, H + top + bottom − 2, W + left + right − 2, K]`.
 */
export function winogradConv(
  scope: KernelScope,
  simd: SimdKernels,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  pads: tf.backend_util.ExplicitPadding,
  epilogue: WinogradEpilogue = {},
  tile: WinogradTile = 2,
): tf.TensorInfo {
  const [n, h, w, c] = x.shape;
  const k = filter.shape[3];
  const ho = h + pads[1][0] + pads[1][1] - 2;
  const wo = w + pads[2][0] + pads[2][1] - 2;
  const [th, tw] = [Math.ceil(ho / tile), Math.ceil(wo / tile)];
  const tiles = n * th * tw;
  const planes = (tile + 2) ** 2;
  const ptr = (t: tf.TensorInfo) => pointer(scope.backend, t);
  const kron = scope.write(tile === 2 ? KRON : KRON4, [planes, 9], 'float32');
  const u = scope.output([planes, c, k]); // U = KRON · g, g viewed as [9, C·K]
  simd.gemm(1, ptr(kron), 0, 36, 4, ptr(filter), 0, 4 * c * k, ptr(u), 0, 4 * c * k, planes, c * k, 9, 0);
  const v = inputTiles(scope, simd, x, pads[1][0], pads[2][0], th, tw, tile);
  const m = scope.output([planes, tiles, k]); // M[ξ] = V[ξ] · U[ξ]
  const [vStride, uStride, mStride] = [4 * tiles * c, 4 * c * k, 4 * tiles * k];
  simd.gemm(planes, ptr(v), vStride, 4 * c, 4, ptr(u), uStride, 4 * k, ptr(m), mStride, 4 * k, tiles, k, c, 0);
  const y = scope.output([n, ho, wo, k]);
  const bias = epilogue.bias == null ? 0 : ptr(epilogue.bias);
  const output = tile === 2 ? simd.winogradOutput : simd.winograd4Output;
  output(ptr(m), n, th, tw, k, ho, wo, ptr(y), bias, epilogue.relu === true ? 1 : 0, 0, n * th);
  return y;
}

/**
 * The filter gradient of a 3×3 stride-1 convolution by Winograd F(2×2, 3×3): with `V = Bᵀ d B` of the
 * padded input's tiles and `∂M = A ∂Y Aᵀ` of dy's 2×2 tiles, `∂U[ξ] = V[ξ]ᵀ·∂M[ξ]` (16 GEMMs over the
 * tiles) and `∂g = Gᵀ ∂U G` (one small GEMM).
 *
 * **Shapes**: `x [N, H, W, Ci]`, `dy [N, Ho, Wo, Co]` → `[3, 3, Ci, Co]`.
 */
export function winogradFilterGrad(
  scope: KernelScope,
  simd: SimdKernels,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  g: ConvGeometry,
  ci: number,
  co: number,
): tf.TensorInfo {
  const [th, tw] = [Math.ceil(g.outHeight / 2), Math.ceil(g.outWidth / 2)];
  const tiles = g.batch * th * tw;
  const ptr = (t: tf.TensorInfo) => pointer(scope.backend, t);
  const v = inputTiles(scope, simd, x, g.padTop, g.padLeft, th, tw);
  const dm = scope.output([16, tiles, co]);
  simd.winogradOutputGrad(ptr(dy), g.batch, th, tw, co, g.outHeight, g.outWidth, ptr(dm));
  const du = scope.output([16, ci, co]); // ∂U[ξ] = V[ξ]ᵀ · ∂M[ξ]: A(c, t) at V + t·4Ci + c·4
  simd.gemm(
    16,
    ptr(v),
    4 * tiles * ci,
    4,
    4 * ci,
    ptr(dm),
    4 * tiles * co,
    4 * co,
    ptr(du),
    4 * ci * co,
    4 * co,
    ci,
    co,
    tiles,
    0,
  );
  const kron = scope.write(KRON, [16, 9], 'float32');
  const dg = scope.output([3, 3, ci, co]); // ∂g = KRONᵀ · ∂U: A(tap, ξν) = KRON[ξν][tap] at ξν·36 + tap·4
  simd.gemm(1, ptr(kron), 0, 4, 36, ptr(du), 0, 4 * ci * co, ptr(dg), 0, 4 * ci * co, 9, ci * co, 16, 0);
  return dg;
}
