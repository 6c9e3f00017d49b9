/**
 * ResizeBilinear — bilinear resizing of NHWC feature maps to a fixed size with PyTorch's
 * `F.interpolate(x, size, mode='bilinear', align_corners=…)` arithmetic, in both directions (up- and
 * downsampling, no antialiasing) and with exact gradients on every backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { LayerArgs } from '@tensorflow/tfjs-layers/dist/engine/topology';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types';
import { checkBoolean, checkInteger, PhalanxShapeError } from '@phalanx/errors';
import { checkElements, checkSize, checkTensor, type OwnArgsKeys } from '../util/checks';
import { checkInputCount, PhalanxLayer, shapeList, tensorList, tensorShapes } from '../util/phalanx-layer';

const COMPONENT = 'ResizeBilinear';

/**
 * The default of every optional argument of {@link ResizeBilinearArgs}; {@link resizeBilinearTorch} uses
 * the same `alignCorners`. The single place it is written.
 */
export const RESIZE_BILINEAR_DEFAULTS = Object.freeze({
  /** {@link ResizeBilinearArgs.alignCorners} */
  alignCorners: false,
} as const);

/**
 * The `[outSize, inSize]` matrix of 1-D linear interpolation as PyTorch defines it. Output index o reads
 * the source coordinate `s = (o + ½)·in/out − ½` clamped below at 0 (`alignCorners` false: half-pixel
 * centres), or `s = o·(in − 1)/(out − 1)` (`alignCorners` true); row o holds `1 − λ` at `⌊s⌋` and `λ`
 * at `min(⌊s⌋ + 1, in − 1)` with `λ = s − ⌊s⌋`.
 *
 * Throws a `PhalanxConfigError` for sizes that are not integers ≥ 0 or a matrix of more than
 * {@link MAX_ELEMENTS} (2^28) entries, before allocating it.
 *
 * @example
 * interpolationMatrix(2, 4, false); // rows [1, 0], [0.75, 0.25], [0.25, 0.75], [0, 1]
 */
export function interpolationMatrix(inSize: number, outSize: number, alignCorners: boolean): Float32Array {
  checkInteger('interpolationMatrix', 'inSize', inSize, 0);
  checkInteger('interpolationMatrix', 'outSize', outSize, 0);
  checkElements('interpolationMatrix', 'matrix [outSize, inSize]', [outSize, inSize]);
  const m = new Float32Array(outSize * inSize);
  for (let o = 0; o < outSize; o++) {
    let s: number;
    if (alignCorners) s = outSize > 1 ? (o * (inSize - 1)) / (outSize - 1) : 0;
    else s = Math.max(((o + 0.5) * inSize) / outSize - 0.5, 0);
    const lo = Math.min(Math.floor(s), inSize - 1);
    const hi = Math.min(lo + 1, inSize - 1);
    const lambda = s - lo;
    m[o * inSize + lo] += 1 - lambda;
    m[o * inSize + hi] += lambda;
  }
  return m;
}

/**
 * Throws a `PhalanxConfigError` of `resizeBilinearTorch` unless resizing `[B, H, W, C]` to `[height, width]`
 * keeps every tensor it makes within {@link MAX_ELEMENTS}: the output, the intermediate of the row pass and
 * the two interpolation matrices (only built for an axis whose size changes).
 */
function checkResizeElements([b, h, w, c]: number[], height: number, width: number): void {
  const name = 'resizeBilinearTorch';
  checkElements(name, 'output [B, height, width, C]', [b, height, width, c]);
  if (h !== height) {
    checkElements(name, 'row interpolation matrix [height, H]', [height, h]);
    checkElements(name, 'intermediate [B, height, W, C]', [b, height, w, c]);
  }
  if (w !== width) checkElements(name, 'column interpolation matrix [width, W]', [width, w]);
}

/**
 * Bilinear resizing with PyTorch's arithmetic: `y = A_h · x · A_wᵀ` per image and channel, where `A_h`
 * and `A_w` are the {@link interpolationMatrix} of each axis — `F.interpolate(x, size=(height, width),
 * mode='bilinear', align_corners=alignCorners)` (antialias off), for up- and downsampling alike.
 * Computed as two dense matmuls, so the gradient is exact on every backend (tfjs' own
 * `ResizeBilinearGrad` on `cpu` ignores `halfPixelCenters`).
 *
 * **Shapes**: `[B, H, W, C]` → `[B, height, width, C]`.
 *
 * **Limits**: `height`, `width` integers ≥ 1; the output `[B, height, width, C]`, the intermediate
 * `[B, height, W, C]` (rows resized first) and the matrices `A_h [height, H]`, `A_w [width, W]` each of at most
 * {@link MAX_ELEMENTS} (2^28) elements (1 GiB of float32), checked before anything is allocated: a hostile size
 * is a `PhalanxConfigError`, not an out-of-memory crash.
 *
 * @example
 * const x = tf.randomNormal([2, 8, 8, 16]);
 * const y = resizeBilinearTorch(x, [64, 64]); // [2, 64, 64, 16], as F.interpolate(align_corners=False)
 */
export function resizeBilinearTorch(
  x: tf.Tensor,
  size: [number, number],
  alignCorners: boolean = RESIZE_BILINEAR_DEFAULTS.alignCorners,
): tf.Tensor4D {
  checkTensor('resizeBilinearTorch', 'x', x);
  if (x.rank !== 4) throw new PhalanxShapeError('resizeBilinearTorch', 'x', 'a [B, H, W, C] tensor', x.shape);
  if (!Array.isArray(size)) throw new PhalanxShapeError('resizeBilinearTorch', 'size', '[height, width]', size);
  const [height, width] = size;
  checkInteger('resizeBilinearTorch', 'height', height, 1);
  checkInteger('resizeBilinearTorch', 'width', width, 1);
  checkBoolean('resizeBilinearTorch', 'alignCorners', alignCorners);
  const [b, h, w, c] = x.shape as number[];
  checkResizeElements([b, h, w, c], height, width);
  return tf.tidy(() => {
    let y = tf.cast(x, 'float32');
    if (h !== height) {
      // Rows: [H, B·W·C] ← A_h [height, H]
      const ah = tf.tensor2d(interpolationMatrix(h, height, alignCorners), [height, h]);
      const rows = tf.reshape(tf.transpose(y, [1, 0, 2, 3]), [h, b * w * c]);
      y = tf.transpose(tf.reshape(tf.matMul(ah, rows), [height, b, w, c]), [1, 0, 2, 3]);
    }
    if (w !== width) {
      // Columns: [W, B·height·C] ← A_w [width, W]
      const aw = tf.tensor2d(interpolationMatrix(w, width, alignCorners), [width, w]);
      const cols = tf.reshape(tf.transpose(y, [2, 0, 1, 3]), [w, b * height * c]);
      y = tf.transpose(tf.reshape(tf.matMul(aw, cols), [width, b, height, c]), [1, 2, 0, 3]);
    }
    return y as tf.Tensor4D;
  });
}

/**
 * Configuration of {@link ResizeBilinear}. Optional fields default to {@link RESIZE_BILINEAR_DEFAULTS};
 * `height`·`width` is at most {@link MAX_ELEMENTS}.
 */
export interface ResizeBilinearArgs extends LayerArgs {
  /** Output height (integer ≥ 1). Required. */
  height: number;
  /** Output width (integer ≥ 1). Required. */
  width: number;
  /**
   * PyTorch's `align_corners`. `false`: half-pixel centres, `F.interpolate(..., align_corners=False)`
   * (TensorFlow's `half_pixel_centers=True`). `true`: corner pixels aligned.
   */
  alignCorners?: boolean;
}

/**
 * The keys of {@link ResizeBilinearArgs} beyond tfjs's `LayerArgs`: the constructor accepts these, `getConfig()`
 * writes them.
 */
const ARGS_KEYS = { height: true, width: true, alignCorners: true } satisfies OwnArgsKeys<ResizeBilinearArgs>;

/**
 * Resizes feature maps to `[height, width]` by bilinear interpolation with PyTorch's arithmetic
 * ({@link resizeBilinearTorch}): `y = A_h · x · A_wᵀ` per image and channel, with `A_h [height, H]`,
 * `A_w [width, W]` the {@link interpolationMatrix} of each axis — `F.interpolate(x, size=(height,
 * width), mode='bilinear', align_corners=alignCorners)`. tfjs-layers' `upSampling2d` and `resizing` layers use other pixel
 * conventions (no half-pixel centres), so a PyTorch model that resizes with `align_corners=False`
 * needs this layer. No weights.
 *
 * **Shapes**: `[B, H, W, C]` → `[B, height, width, C]`.
 *
 * @example
 * const resize = resizeBilinear({ height: 64, width: 64 });
 * const y = resize.apply(tf.randomNormal([1, 8, 8, 32])) as tf.Tensor; // [1, 64, 64, 32]
 */
export class ResizeBilinear extends PhalanxLayer<ResizeBilinearArgs> {
  /** Name under which the class is registered for serialisation. */
  static className = 'ResizeBilinear';
  /** Output height in pixels. */
  readonly height: number;
  /** Output width in pixels. */
  readonly width: number;
  /** PyTorch's `align_corners`: false for half-pixel centres, true to align the corner pixels. */
  readonly alignCorners: boolean;

  constructor(args: ResizeBilinearArgs) {
    super(args, ARGS_KEYS);
    this.height = checkSize(COMPONENT, 'height', args.height, 1);
    this.width = checkSize(COMPONENT, 'width', args.width, 1);
    checkElements(COMPONENT, 'output map [height, width]', [this.height, this.width]);
    this.alignCorners = checkBoolean(
      COMPONENT,
      'alignCorners',
      args.alignCorners ?? RESIZE_BILINEAR_DEFAULTS.alignCorners,
    );
  }

  /** Checks the input shapes (one `[B, H, W, C]`) for `build`, `computeOutputShape` and `call`. */
  private checkShape(shapes: tfl.Shape[]): tfl.Shape {
    checkInputCount(COMPONENT, shapes, [1], 'a single tensor [B, H, W, C]');
    const [shape] = shapes;
    if (shape.length !== 4 || shape[1] == null || shape[2] == null) {
      throw new PhalanxShapeError(COMPONENT, 'input shape', '[B, H, W, C] with known H and W', shape);
    }
    return shape;
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    this.checkShape(shapeList(inputShape));
    this.built = true;
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const s = this.checkShape(shapeList(inputShape));
    return [s[0], this.height, this.width, s[3]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    void kwargs;
    return tf.tidy(() => {
      this.checkShape(tensorShapes(inputs));
      const [x] = tensorList(inputs);
      return resizeBilinearTorch(x, [this.height, this.width], this.alignCorners);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { height: this.height, width: this.width, alignCorners: this.alignCorners, ...super.getConfig() };
  }
}
tf.serialization.registerClass(ResizeBilinear);

/**
 * Creates a {@link ResizeBilinear} layer.
 *
 * @example
 * const features = tf.randomNormal([2, 16, 16, 32]);
 * const y = resizeBilinear({ height: 64, width: 64 }).apply(features); // F.interpolate(..., align_corners=False)
 */
export function resizeBilinear(args: ResizeBilinearArgs): ResizeBilinear {
  return new ResizeBilinear(args);
}
