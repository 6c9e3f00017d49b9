/**
 * The host half of a batch: the six float32 arrays of a `HandBatch` before they become tensors (no tfjs
 * here), so that a worker thread can render a batch and hand its buffers to the training thread without
 * copying them.
 */
import { describeCompact, PhalanxConfigError } from '@phalanx/errors';
import { NUM_JOINTS } from '@phalanx/skeleton';
import { checkHandSample, type HandSample } from './types';

/** A batch of B samples of H×W on the host, every array float32 (layouts of `HandBatch`). */
export interface PackedBatch {
  /** `[B · H · W · 3]` RGB in [0, 1]. */
  images: Float32Array;
  /** `[B · 21 · 2]` joint pixel coordinates (x, y). */
  uv: Float32Array;
  /** `[B · 21 · 3]` camera-frame joint positions. */
  xyz: Float32Array;
  /** `[B · 9]` row-major camera matrices. */
  K: Float32Array;
  /** `[B]` hand scales. */
  scale: Float32Array;
  /** `[B · 21]` 1 where the joint is visible, else 0. */
  visible: Float32Array;
  /** Samples in the batch, B. */
  batchSize: number;
  /** Image height H in pixels. */
  height: number;
  /** Image width W in pixels. */
  width: number;
}

/** The buffers of a packed batch (what a worker transfers). */
export function packedBuffers(packed: PackedBatch): ArrayBuffer[] {
  return [packed.images, packed.uv, packed.xyz, packed.K, packed.scale, packed.visible].map(
    (a) => a.buffer as ArrayBuffer,
  );
}

/**
 * Packs samples of equal image size into float32 arrays (uint8 images divided by 255): `toBatch` without
 * the tensors.
 *
 * Throws, before allocating, `PhalanxConfigError` for an empty list (or anything but a list) or a sample whose image size differs
 * from `samples[0]`'s, and `PhalanxShapeError` naming the sample and field (e.g. `samples[2].uv`) for a
 * sample whose arrays do not hold what `HandSample` promises (`checkHandSample`: image `W × H × 3`, `uv` 42,
 * `xyz` 63, `K` 9, `visible` 21 values).
 *
 * @example
 * const packed = packSamples([renderSyntheticHand(1, { size: 64 })]);
 * console.log(packed.batchSize, packed.height, packed.images.length); // 1 64 12288
 */
export function packSamples(samples: readonly HandSample[]): PackedBatch {
  const B = Array.isArray(samples) ? samples.length : 0;
  if (B === 0) throw new PhalanxConfigError('toBatch', 'samples', 'a non-empty list', samples, describeCompact);
  samples.forEach((s, b) => {
    checkHandSample('toBatch', s, `samples[${b}]`);
    const first = samples[0]; // checked at b = 0
    if (s.width !== first.width || s.height !== first.height) {
      throw new PhalanxConfigError(
        'toBatch',
        `samples[${b}] image size`,
        `${first.width}×${first.height} like samples[0]`,
        `${s.width}×${s.height}`,
        describeCompact,
      );
    }
  });
  const { width: W, height: H } = samples[0];
  const images = new Float32Array(B * H * W * 3);
  const uv = new Float32Array(B * NUM_JOINTS * 2);
  const xyz = new Float32Array(B * NUM_JOINTS * 3);
  const K = new Float32Array(B * 9);
  const scale = new Float32Array(B);
  const visible = new Float32Array(B * NUM_JOINTS);
  samples.forEach((s, b) => {
    const n = H * W * 3;
    const o = b * n;
    if (s.image instanceof Float32Array) images.set(s.image, o);
    else for (let i = 0; i < n; i++) images[o + i] = s.image[i] / 255;
    uv.set(s.uv, b * NUM_JOINTS * 2);
    xyz.set(s.xyz, b * NUM_JOINTS * 3);
    K.set(s.K, b * 9);
    scale[b] = s.scale;
    for (let j = 0; j < NUM_JOINTS; j++) visible[b * NUM_JOINTS + j] = s.visible[j];
  });
  return { images, uv, xyz, K, scale, visible, batchSize: B, height: H, width: W };
}
