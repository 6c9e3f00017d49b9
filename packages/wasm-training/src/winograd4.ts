import type * as tf from '@tensorflow/tfjs-core';
import { padOrCrop } from './conv-geometry';
import type { KernelScope } from './kernel-scope';
import { pointer, type SimdKernels } from './simd';
import type { WinogradEpilogue } from './winograd';

/**
 * Winograd F(4×4, 3×3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", interpolation
 * points 0, ±1, ±2, ∞): each 4×4 output tile from a 6×6 input tile as `Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A`, so
 * the channel sums become 36 GEMMs with 36/144 = 1/4 of the direct method's multiply-adds (F(2×2, 3×3):
 * 16/36). The price is rounding: the transforms scale by up to 8 and 1/24, so results carry ≈ 1e-6–1e-5
 * relative error against ≈ 1e-7–1e-6 for F(2×2, 3×3).
 */

/** G of F(4×4, 3×3): the filter transform, U = G g Gᵀ. */
const G4 = [
  [1 / 4, 0, 0],
  [-1 / 6, -1 / 6, -1 / 6],
  [-1 / 6, 1 / 6, -1 / 6],
  [1 / 24, 1 / 12, 1 / 6],
  [1 / 24, -1 / 12, 1 / 6],
  [0, 0, 1],
];

/** `KRON4[(u·6 + w)·9 + a·3 + b] = G4[u][a]·G4[w][b]`: U (36 values) = KRON4 · g (9 taps), per channel pair. */
const KRON4 = new Float32Array(36 * 9);
for (let u = 0; u < 6; u++)
  for (let w = 0; w < 6; w++)
    for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) KRON4[(u * 6 + w) * 9 + a * 3 + b] = G4[u][a] * G4[w][b];

/**
 * `conv2d(x, filter)` with explicit paddings `pads` (NHWC, 3×3, stride 1) by Winograd F(4×4, 3×3):
 * `U = G g Gᵀ` (one small GEMM), `V = Bᵀ d B` per 6×6 tile, 36 GEMMs `V[ξ]·U[ξ]`, `Y = Aᵀ M A`, then
 * `max(Y + bias, 0)` as far as `epilogue` asks. Channel counts must be multiples of 4.
 *
 * **Shapes**: `x [N, H, W, C]`, `filter [3, 3, C, K]`, `bias [K]` →
 * `[N, H + top + bottom − 2, W + left + right − 2, K]`.
 */
export function winograd4Conv(
  scope: KernelScope,
  simd: SimdKernels,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  pads: tf.backend_util.ExplicitPadding,
  epilogue: WinogradEpilogue = {},
): tf.TensorInfo {
  const [n, h, w, c] = x.shape;
  const k = filter.shape[3];
  const ho = h + pads[1][0] + pads[1][1] - 2;
  const wo = w + pads[2][0] + pads[2][1] - 2;
  const [th, tw] = [Math.ceil(ho / 4), Math.ceil(wo / 4)];
  const [hp, wp] = [4 * th + 2, 4 * tw + 2];
  const tiles = n * th * tw;
  const ptr = (t: tf.TensorInfo) => pointer(scope.backend, t);
  const kron = scope.write(KRON4, [36, 9], 'float32');
  const u = scope.output([36, c, k]); // U = KRON4 · g, g viewed as [9, C·K]
  simd.gemm(1, ptr(kron), 0, 36, 4, ptr(filter), 0, 4 * c * k, ptr(u), 0, 4 * c * k, 36, c * k, 9, 0);
  const [top, left] = [pads[1][0], pads[2][0]];
  const xp = padOrCrop(scope, x, top, hp - h - top, left, wp - w - left);
  const v = scope.output([36, tiles, c]);
  simd.winograd4Input(ptr(xp), n, hp, wp, c, th, tw, ptr(v), 0, n * th);
  const m = scope.output([36, tiles, k]); // M[ξ] = V[ξ] · U[ξ]
  const [vStride, uStride, mStride] = [4 * tiles * c, 4 * c * k, 4 * tiles * k];
  simd.gemm(36, ptr(v), vStride, 4 * c, 4, ptr(u), uStride, 4 * k, ptr(m), mStride, 4 * k, tiles, k, c, 0);
  const y = scope.output([n, ho, wo, k]);
  const bias = epilogue.bias == null ? 0 : ptr(epilogue.bias);
  simd.winograd4Output(ptr(m), n, th, tw, k, ho, wo, ptr(y), bias, epilogue.relu === true ? 1 : 0, 0, n * th);
  return y;
}
