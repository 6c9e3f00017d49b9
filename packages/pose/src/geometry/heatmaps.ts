/** Gaussian heatmap targets (EHPE Eq. 1), as tensors or as a plain `Float32Array`. */
import * as tf from '@tensorflow/tfjs-core';
import { checkArray, checkFiniteEntries, indexed, readPoints } from '../arrays';
import {
  FLOAT32_MIN_NORMAL,
  PhalanxConfigError,
  PhalanxShapeError,
  checkInteger,
  describe,
  checkOptions,
  checkPositive,
} from '@phalanx/errors';
import { batchArray, channel, checkTensorInput } from './inputs';

/** Options of {@link gaussianHeatmaps}. */
export interface HeatmapOptions {
  /** Heatmap height H in pixels. Integer ≥ 1; `H·W` and the maps' `B·H·W·J` at most 2²⁸ (268 435 456). */
  height: number;
  /** Heatmap width W in pixels. Integer ≥ 1; `H·W` and the maps' `B·H·W·J` at most 2²⁸ (268 435 456). */
  width: number;
  /**
   * Standard deviation in heatmap pixels: one number for both axes, or exactly two `[σx, σy]` (an array of
   * another length is a `PhalanxConfigError`). Default 2 (the EHPE release's `heatmap_sigma`).
   */
  sigma?: number | [number, number];
  /**
   * `'gaussian'` (default): EHPE Eq. 1, the normalised density `1/(2π σx σy) · exp(−…)`;
   * `'peak'`: the unnormalised `exp(−…)`, 1 at the keypoint.
   */
  normalize?: 'gaussian' | 'peak';
  /**
   * Per-joint visibility `[B, J]` / `[J]` (exactly the batch of `uv`): invisible joints get an all-zero map.
   * Arrays hold 0/1 or booleans, anything else is a `PhalanxConfigError` naming the entry. A tensor (bool,
   * float32 or int32) is not read by {@link gaussianHeatmaps} — no GPU sync in a training step — but
   * thresholded on the device: an entry > 0.5 is visible, any other (NaN included) is not, so 0/1 tensors give
   * what 0/1 arrays give. {@link gaussianHeatmapsArray} reads it and checks its values as an array's.
   */
  visible?: tf.Tensor | number[] | number[][] | boolean[] | boolean[][];
}

const HEATMAP_KEYS = { height: true, width: true, sigma: true, normalize: true, visible: true } satisfies Record<
  keyof HeatmapOptions,
  true
>;

/**
 * The most values one set of heatmaps may have, and one map `H·W` alike: 2²⁸ = 268 435 456 (1 GiB of float32,
 * as `MAX_ELEMENTS` of `@phalanx/layers`). A larger `height`, `width` or batch is a `PhalanxConfigError` before
 * anything is allocated, not a `RangeError` of the allocation (or an exhausted heap).
 */
const MAX_HEATMAP_ELEMENTS = 2 ** 28;

/** Throws unless `shape` (the maps `[B, H, W, J]`, or one map `[H, W]`) has ≤ {@link MAX_HEATMAP_ELEMENTS} values. */
function checkHeatmapSize(component: string, argument: string, shape: readonly number[]): void {
  const count = shape.reduce((product, size) => product * size, 1);
  if (count > MAX_HEATMAP_ELEMENTS) {
    const received = `${describe([...shape])}: ${count} elements`;
    throw new PhalanxConfigError(component, argument, `of at most ${MAX_HEATMAP_ELEMENTS} (2^28) elements`, received);
  }
}

/**
 * `sigma` as `[σx, σy]`, each checked `> 0`: a number for both axes or a pair; anything else (`[1, 2, 3]`, a
 * string) is a `PhalanxConfigError`.
 */
/** The name of the maps `[B, H, W, J]` in the size error. */
const MAPS = 'the heatmaps [B, H, W, J]';

/** The shape `[B, H, W, J]` of the maps of keypoints `uv` of shape `[J, 2]` or `[B, J, 2]`. */
function mapsShape(uvShape: readonly number[], height: number, width: number): number[] {
  const b = uvShape.length === 3 ? uvShape[0] : 1;
  return [b, height, width, uvShape[uvShape.length - 2]];
}

function sigmaPair(component: string, sigma: unknown): [number, number] {
  if (typeof sigma === 'number') {
    const s = checkPositive(component, 'sigma', sigma);
    return [s, s];
  }
  if (!Array.isArray(sigma) || sigma.length !== 2) {
    throw new PhalanxConfigError(component, 'sigma', 'a number > 0 or a pair [σx, σy] of them', sigma);
  }
  return [checkPositive(component, 'sigma', sigma[0]), checkPositive(component, 'sigma', sigma[1])];
}

function heatmapParams(component: string, options: HeatmapOptions) {
  checkOptions(component, 'options', options, HEATMAP_KEYS, '{height, width, …}');
  const height = checkInteger(component, 'height', options.height, 1);
  const width = checkInteger(component, 'width', options.width, 1);
  checkHeatmapSize(component, 'one map [height, width]', [height, width]);
  const [sx, sy] = sigmaPair(component, options.sigma ?? 2);
  for (const s of [sx, sy]) {
    // exp(−d² / 2σ²) in float32: a subnormal 2σ² rounds to 0 and the map to NaN at its centre.
    if (!(2 * s * s >= FLOAT32_MIN_NORMAL)) {
      throw new PhalanxConfigError(component, 'sigma', 'a number ≥ 1e-19 (2σ² a normal float32)', s);
    }
  }
  const normalize = options.normalize ?? 'gaussian';
  if (normalize !== 'gaussian' && normalize !== 'peak') {
    throw new PhalanxConfigError(component, 'normalize', "'gaussian' or 'peak'", normalize);
  }
  const amplitude = normalize === 'gaussian' ? 1 / (2 * Math.PI * sx * sy) : 1;
  return { height, width, sx, sy, amplitude };
}

/** The shape `visible` must have for `b` samples of `j` joints, in errors. */
function visibleShape(b: number, j: number, batched: boolean): string {
  return batched ? `[${b}, ${j}] (one flag per sample and joint)` : `[${j}] (one flag per joint)`;
}

/**
 * `visible` (an array, or a tensor, read) as `b·j` flags 0/1 in `[B, J]` order, checked: exactly the shape
 * `[b, j]` (`[j]` unbatched) and every entry 0, 1, true or false (a `PhalanxConfigError` naming it).
 */
function hostVisible(name: string, visible: unknown, b: number, j: number, batched: boolean): number[] {
  const expected = visibleShape(b, j, batched);
  const { value, shape } = readPoints(name, 'visible', visible, [batched ? 2 : 1], expected);
  if (shape[0] !== (batched ? b : j) || (batched && shape[1] !== j)) {
    throw new PhalanxShapeError(name, 'visible', expected, shape);
  }
  const rows = (batched ? value : [value]) as unknown[][];
  return rows.flatMap((row, i) =>
    row.map((v, k) => {
      if (v === 1 || v === true) return 1;
      if (v === 0 || v === false) return 0;
      throw new PhalanxConfigError(name, indexed('visible', batched ? [i, k] : [k]), '0, 1, true or false', v);
    }),
  );
}

/**
 * The visibility `[b, 1, 1, j]` of {@link gaussianHeatmaps}, inside its tidy: an array checked on the host, a
 * tensor checked by shape and dtype and thresholded on the device (`> 0.5`), its values not read.
 */
function visibleMask(name: string, visible: unknown, b: number, j: number, batched: boolean): tf.Tensor {
  if (!(visible instanceof tf.Tensor)) {
    return tf.tensor4d(hostVisible(name, visible, b, j, batched), [b, 1, 1, j]);
  }
  const t: tf.Tensor = visible;
  checkTensorInput(name, 'visible', t, ['bool', 'float32', 'int32']);
  const exact = batched ? [b, j] : [j];
  if (t.rank !== exact.length || t.shape.some((d, i) => d !== exact[i])) {
    throw new PhalanxShapeError(name, 'visible', visibleShape(b, j, batched), t.shape);
  }
  return tf.reshape(tf.cast(tf.greater(t, 0.5), 'float32'), [b, 1, 1, j]);
}

/**
 * Gaussian heatmap targets (EHPE Eq. 1): `H_j(y, x) = A · exp(−(x_j − x)²/2σx² − (y_j − y)²/2σy²)` on
 * the pixel grid `x = 0 … W−1`, `y = 0 … H−1` (pixel centres at integers), `A = 1/(2π σx σy)` or 1.
 * Keypoints `uv` are in heatmap pixels (scale image pixels by `(W−1)/(S−1)` first). Separable and
 * differentiable with respect to `uv` when given a tensor.
 *
 * **Shapes**: `uv [B, J, 2]` → `[B, H, W, J]`; `uv [J, 2]` → `[H, W, J]` (float32 tensor). An array `uv`
 * with a coordinate that is not finite is a `PhalanxConfigError` naming it (its map would be NaN); a tensor
 * `uv` is not read. `visible` must have exactly the shape `[B, J]` (`[J]`); an array's entries must be 0/1 or
 * booleans, a tensor's are thresholded on the device (> 0.5 visible), not read (see {@link HeatmapOptions}).
 * Maps of more than 2²⁸ values (`B·H·W·J`, or one map's `H·W`) and a `sigma` that is neither a number nor a
 * pair `[σx, σy]` are a `PhalanxConfigError`, before anything is allocated.
 * @example
 * const uvHeatmap = tf.randomUniform([4, 21, 2], 0, 63); // joints in heatmap pixels
 * const targets = gaussianHeatmaps(uvHeatmap, { height: 64, width: 64, sigma: 2 }); // [4, 64, 64, 21]
 */
export function gaussianHeatmaps(uv: tf.Tensor | number[][] | number[][][], options: HeatmapOptions): tf.Tensor {
  const name = 'gaussianHeatmaps';
  const { height, width, sx, sy, amplitude } = heatmapParams(name, options);
  let t: tf.Tensor;
  if (uv instanceof tf.Tensor) {
    if ((uv.rank !== 2 && uv.rank !== 3) || uv.shape[uv.rank - 1] !== 2) {
      throw new PhalanxShapeError(name, 'uv', 'a tensor [J, 2] or [B, J, 2]', uv.shape);
    }
    checkHeatmapSize(name, MAPS, mapsShape(uv.shape, height, width));
    t = uv;
  } else {
    const shape = checkArray(name, 'uv', uv, [2, 3], 'an array [J][2] or [B][J][2]', [2]);
    checkHeatmapSize(name, MAPS, mapsShape(shape, height, width));
    checkFiniteEntries(name, 'uv', uv);
    t = tf.tensor(uv as number[][]);
  }
  try {
    return heatmapsOf(t, { height, width, sx, sy, amplitude }, options.visible, name);
  } finally {
    if (!(uv instanceof tf.Tensor)) t.dispose();
  }
}

/** The maps of {@link gaussianHeatmaps} for `t [J, 2]` or `[B, J, 2]` (checked, not disposed here). */
function heatmapsOf(
  t: tf.Tensor,
  p: { height: number; width: number; sx: number; sy: number; amplitude: number },
  visible: HeatmapOptions['visible'],
  name: string,
): tf.Tensor {
  const { height, width, sx, sy, amplitude } = p;
  return tf.tidy(() => {
    const batched = t.rank === 3;
    const u3 = tf.cast(batched ? t : tf.expandDims(t, 0), 'float32') as tf.Tensor3D;
    const [b, j] = u3.shape;
    const xs = tf.reshape(tf.range(0, width, 1, 'float32'), [1, 1, width, 1]);
    const ys = tf.reshape(tf.range(0, height, 1, 'float32'), [1, height, 1, 1]);
    const ux = tf.reshape(channel(u3, 0), [b, 1, 1, j]);
    const uy = tf.reshape(channel(u3, 1), [b, 1, 1, j]);
    const gx = tf.exp(tf.div(tf.square(tf.sub(xs, ux)), -2 * sx * sx)); // [B, 1, W, J]
    const gy = tf.exp(tf.div(tf.square(tf.sub(ys, uy)), -2 * sy * sy)); // [B, H, 1, J]
    let maps = tf.mul(tf.mul(gy, gx), amplitude);
    if (visible !== undefined) maps = tf.mul(maps, visibleMask(name, visible, b, j, batched));
    return batched ? maps : tf.squeeze(maps, [0]);
  });
}

/**
 * {@link gaussianHeatmaps} computed in plain JS into a `Float32Array` (row-major `[B, H, W, J]`), for
 * data pipelines that assemble batches themselves.
 *
 * **Shapes**: `uv [B][J][2]` or `[J][2]` → `Float32Array` of `B·H·W·J` (B = 1 for unbatched input). A
 * coordinate that is not finite is a `PhalanxConfigError` naming it (its map would be NaN). `visible` (an
 * array or a tensor, read here) must be exactly `[B][J]` (`[J]`) of 0/1 or booleans: another entry is a
 * `PhalanxConfigError` naming it. Maps of more than 2²⁸ values (`B·H·W·J`, or one map's `H·W`) and a
 * `sigma` that is neither a number nor a pair `[σx, σy]` are a `PhalanxConfigError`, before anything is
 * allocated.
 * @example
 * const data = gaussianHeatmapsArray([[[10, 20]]], { height: 64, width: 64 }); // length 64·64
 */
export function gaussianHeatmapsArray(uv: number[][] | number[][][], options: HeatmapOptions): Float32Array {
  const name = 'gaussianHeatmapsArray';
  const { height, width, sx, sy, amplitude } = heatmapParams(name, options);
  const { batch, batched } = batchArray(name, 'uv', uv, 2);
  const j = batch[0].length;
  checkHeatmapSize(name, MAPS, [batch.length, height, width, j]);
  const vis = options.visible === undefined ? undefined : hostVisible(name, options.visible, batch.length, j, batched);
  const out = new Float32Array(batch.length * height * width * j);
  const gx = new Float64Array(width * j);
  const gy = new Float64Array(height * j);
  batch.forEach((hand, b) => {
    for (let k = 0; k < j; k++) {
      const [u, v] = hand[k];
      for (let x = 0; x < width; x++) gx[x * j + k] = Math.exp(-((x - u) ** 2) / (2 * sx * sx));
      for (let y = 0; y < height; y++) gy[y * j + k] = Math.exp(-((y - v) ** 2) / (2 * sy * sy));
    }
    const base = b * height * width * j;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const o = base + (y * width + x) * j;
        for (let k = 0; k < j; k++) {
          const m = vis && !vis[b * j + k] ? 0 : 1;
          out[o + k] = m * amplitude * gy[y * j + k] * gx[x * j + k];
        }
      }
    }
  });
  return out;
}
