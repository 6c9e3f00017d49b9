/**
 * Hand geometry, one module a topic: pinhole projection and 2.5D ↔ 3D (the Learnable Groups release's
 * `P2W`), the Learnable Groups scale/root normalisation, root-depth recovery from scale-normalised 2.5D
 * (Iqbal et al., ECCV 2018), Procrustes similarity alignment, and Gaussian heatmap targets (EHPE Eq. 1),
 * over the input plumbing they share.
 *
 * Conventions (docs/conventions.md): pixel centres at integer coordinates, x right, y down; camera frame with
 * z forward; intrinsics `K = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]`. The first two rows are read — a skew
 * `K[0][1]` and a `K[1][0]`, as an affine pixel warp `A·K` has them, included — and the third row is not, so the
 * Learnable Groups release's habit of storing the root depth in `K[2][2]` is harmless.
 *
 * Functions accept tensors (computed with tf ops, differentiable, tensors out) or nested number
 * arrays (computed in float64, arrays out). Batched `[B, J, C]` inputs take `K` as `[3, 3]` (shared)
 * or `[B, 3, 3]`; unbatched `[J, C]` inputs take `K [3, 3]`.
 *
 * Degenerate input is a `PhalanxConfigError` on the array paths (non-finite values, `fx` or `fy` = 0, a
 * point on the camera plane, a zero-length reference bone, root and ref joints on one pixel); the tensor
 * paths never read values (no GPU sync), so only an array `K` is checked there.
 */
export type { BoneOptions, Intrinsics, PerSample, Points } from './inputs';
export * from './projection';
export * from './normalize';
export * from './root-depth';
export * from './procrustes';
export * from './heatmaps';
