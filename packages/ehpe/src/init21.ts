/**
 * The initial 21-joint layout that the PG-stage starts from: the joints the TW-stage predicted, and the
 * others placed along each finger's wrist→tip line (the EHPE release's `init_21_from_tw`).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayerArgs } from '@tensorflow/tfjs-layers/dist/engine/topology';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types';
import { checkFloat32, checkOptions, PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { checkLayerArgs, type OwnArgsKeys } from '@phalanx/layers';
import { FINGER_CHAINS, NUM_JOINTS, TIP_AND_WRIST_JOINTS } from '@phalanx/skeleton';

const COMPONENT = 'Init21Layout';

/** The release's `Init21Config` defaults. */
export const INIT21_DEFAULTS = Object.freeze({
  /** Positions of MCP, PIP, DIP on the wrist→tip line of the index … pinky fingers. */
  fingerRatios: [0.28, 0.62, 0.85] as [number, number, number],
  /** The same for the thumb (CMC/MCP/IP slots). */
  thumbRatios: [0.35, 0.68, 0.88] as [number, number, number],
  /** x offset (input pixels) added to every joint of the thumb … pinky, tips included. */
  lateralOffsets: [10, 6, 0, -6, -10] as [number, number, number, number, number],
});

/** Options of {@link initialLayoutMatrix}. */
export interface InitialLayoutOptions {
  /** See {@link INIT21_DEFAULTS}. */
  fingerRatios?: [number, number, number];
  /** See {@link INIT21_DEFAULTS}. */
  thumbRatios?: [number, number, number];
  /** See {@link INIT21_DEFAULTS}. */
  lateralOffsets?: [number, number, number, number, number];
}

/** The keys of {@link InitialLayoutOptions}: any other key of the layout helpers' options is a named error. */
const LAYOUT_KEYS = { fingerRatios: true, thumbRatios: true, lateralOffsets: true } satisfies Record<
  keyof InitialLayoutOptions,
  true
>;

/** The keys of {@link initialLayout}'s options. */
const INITIAL_LAYOUT_KEYS = { ...LAYOUT_KEYS, xyScale: true } satisfies Record<
  keyof (InitialLayoutOptions & { xyScale?: number }),
  true
>;

/** Checks a list of predicted joints: distinct integers in [0, 20], in increasing order. */
export function checkJointList(component: string, argument: string, joints: unknown): number[] {
  const ok =
    Array.isArray(joints) &&
    joints.length >= 1 &&
    joints.every((j, k) => Number.isInteger(j) && j >= 0 && j < NUM_JOINTS && (k === 0 || j > joints[k - 1]));
  if (!ok) {
    throw new PhalanxConfigError(
      component,
      argument,
      `a non-empty increasing list of joint indices in [0, ${NUM_JOINTS - 1}]`,
      joints,
    );
  }
  return [...(joints as number[])];
}

function checkNumbers(component: string, name: string, v: unknown, n: number): number[] {
  if (!Array.isArray(v) || v.length !== n) throw new PhalanxConfigError(component, name, `a list of ${n} numbers`, v);
  // Float32: the layout is a float32 tensor, so 1e39 became an infinite joint.
  return v.map((x) => checkFloat32(component, name, x));
}

/** {@link InitialLayoutOptions} with every default filled in. */
export type ResolvedInitialLayoutOptions = Required<InitialLayoutOptions>;

/**
 * Fills in the release's defaults ({@link INIT21_DEFAULTS}) and checks the lists: `fingerRatios` and
 * `thumbRatios` 3 finite numbers representable in float32, `lateralOffsets` 5; a named
 * `PhalanxConfigError` otherwise.
 *
 * @example
 * resolveInitialLayoutOptions({ lateralOffsets: [8, 4, 0, -4, -8] }).fingerRatios; // [0.28, 0.62, 0.85]
 */
export function resolveInitialLayoutOptions(
  options: InitialLayoutOptions = {},
  component = COMPONENT,
): ResolvedInitialLayoutOptions {
  return {
    fingerRatios: checkNumbers(component, 'fingerRatios', options.fingerRatios ?? INIT21_DEFAULTS.fingerRatios, 3) as [
      number,
      number,
      number,
    ],
    thumbRatios: checkNumbers(component, 'thumbRatios', options.thumbRatios ?? INIT21_DEFAULTS.thumbRatios, 3) as [
      number,
      number,
      number,
    ],
    lateralOffsets: checkNumbers(
      component,
      'lateralOffsets',
      options.lateralOffsets ?? INIT21_DEFAULTS.lateralOffsets,
      5,
    ) as [number, number, number, number, number],
  };
}

/**
 * The layout as a linear map: `init[j] = Σ_k A[j][k] · tw[k] + offset[j]`, where `tw [n, 3]` are the
 * predicted joints `joints` (increasing indices) and the result has 21 joints.
 *
 * Each finger is the chain wrist (t = 0), MCP, PIP, DIP (t = the ratios), TIP (t = 1). A predicted joint
 * keeps its position. A joint that was not predicted is interpolated linearly in t between the nearest
 * known chain joints below and above it — the wrist counts as known at t = 0 — or, with nothing known
 * above it, extrapolated from the two nearest known joints below (placed at the wrist when only the
 * wrist is known). When the wrist itself is not predicted, it is the mean of the predicted joints.
 * Every finger joint (predicted or not) gets its finger's lateral offset added to x. For the default
 * set `[0, 4, 8, 12, 16, 20]` this is exactly the release's `init_21_from_tw`: MCP/PIP/DIP at
 * `wrist + r·(tip − wrist)`, tips kept, x shifted per finger.
 *
 * **Shapes**: returns `matrix [21][n]` and `offset [21][3]`. Options that are not an object of
 * {@link InitialLayoutOptions}' keys, and ratios that put two known joints a missing joint is placed from
 * at the same position t (a division by zero: NaN joints), are `PhalanxConfigError`s of `component`.
 *
 * @param component - the name in errors; default `'Init21Layout'`.
 *
 * @example
 * const { matrix, offset } = initialLayoutMatrix([0, 4, 8, 12, 16, 20]); // matrix[2] = [0.32, 0.68, 0, 0, 0, 0]
 */
export function initialLayoutMatrix(
  joints: readonly number[],
  options: InitialLayoutOptions = {},
  component = COMPONENT,
): {
  /** `[21][n]`: weight of each predicted joint in each of the 21 output joints. */
  matrix: number[][];
  /** `[21][3]`: constant added to each output joint (the lateral x offsets). */
  offset: number[][];
} {
  const list = checkJointList(component, 'tipWristJoints', joints);
  const expected = 'an options object {fingerRatios?, thumbRatios?, lateralOffsets?}';
  checkOptions(component, 'options', options, LAYOUT_KEYS, expected);
  const layout = resolveInitialLayoutOptions(options, component);
  const { fingerRatios: finger, thumbRatios: thumb, lateralOffsets: lateral } = layout;
  const n = list.length;
  const unit = (k: number) => Array.from({ length: n }, (_, i) => (i === k ? 1 : 0));
  const combine = (a: number[], wa: number, b: number[], wb: number) => a.map((v, i) => wa * v + wb * b[i]);
  const rows: number[][] = new Array(NUM_JOINTS);
  const position = new Map(list.map((j, k) => [j, k]));
  rows[0] = position.has(0) ? unit(position.get(0) as number) : new Array(n).fill(1 / n);
  const offset = Array.from({ length: NUM_JOINTS }, () => [0, 0, 0]);
  for (let f = 0; f < FINGER_CHAINS.length; f++) {
    const r = f === 0 ? thumb : finger;
    const chain = [0, ...FINGER_CHAINS[f]];
    const t = [0, r[0], r[1], r[2], 1];
    const known = chain.map((j, c) => c === 0 || position.has(j));
    // t[b] − t[a] of two known joints a missing one is placed from: 0 made its row (and the joints) NaN.
    const span = (a: number, b: number) => {
      if (t[b] !== t[a]) return t[b] - t[a];
      const expected = `positions that tell apart the two known joints a missing joint is placed from (t = ${t[a]} twice: joints ${chain[a]} and ${chain[b]})`;
      throw new PhalanxConfigError(component, f === 0 ? 'thumbRatios' : 'fingerRatios', expected, r);
    };
    for (let c = 1; c < 5; c++) {
      const j = chain[c];
      offset[j][0] = lateral[f];
      if (position.has(j)) {
        rows[j] = unit(position.get(j) as number);
        continue;
      }
      const below = [0, 1, 2, 3].filter((a) => a < c && known[a]);
      const above = [1, 2, 3, 4].filter((a) => a > c && known[a]);
      const rowOf = (a: number) => (a === 0 ? rows[0] : unit(position.get(chain[a]) as number));
      const lo = below[below.length - 1];
      if (above.length > 0) {
        const hi = above[0];
        const lambda = (t[c] - t[lo]) / span(lo, hi);
        rows[j] = combine(rowOf(lo), 1 - lambda, rowOf(hi), lambda);
      } else if (below.length >= 2) {
        const lo2 = below[below.length - 2];
        const lambda = (t[c] - t[lo2]) / span(lo2, lo);
        rows[j] = combine(rowOf(lo2), 1 - lambda, rowOf(lo), lambda);
      } else {
        rows[j] = rowOf(0);
      }
    }
  }
  return { matrix: rows, offset };
}

/**
 * Functional core of {@link Init21Layout}: `init = A · (tw ⊙ (s, s, 1)) + offset` with `A`, `offset` of
 * {@link initialLayoutMatrix} and s = `xyScale` (heatmap → input pixels).
 *
 * **Shapes**: `tw [B, n, 3]` → `[B, 21, 3]`.
 *
 * Throws `PhalanxShapeError` for a `tw` that is not such a tensor and `PhalanxConfigError` for options that
 * are not an object of these keys, or a non-finite `xyScale`.
 */
export function initialLayout(
  tw: tf.Tensor,
  joints: readonly number[],
  options: InitialLayoutOptions & { xyScale?: number } = {},
): tf.Tensor3D {
  const expected = 'an options object {fingerRatios?, thumbRatios?, lateralOffsets?, xyScale?}';
  checkOptions('initialLayout', 'options', options, INITIAL_LAYOUT_KEYS, expected);
  const { xyScale, ...layout } = options;
  const s = checkFloat32('initialLayout', 'xyScale', xyScale ?? 1); // NaN made every joint NaN
  const { matrix, offset } = initialLayoutMatrix(joints, layout);
  const n = matrix[0].length;
  if (!(tw instanceof tf.Tensor) || tw.rank !== 3 || tw.shape[1] !== n || tw.shape[2] !== 3) {
    throw new PhalanxShapeError(
      'initialLayout',
      'tw',
      `a [B, ${n}, 3] tensor`,
      tw instanceof tf.Tensor ? tw.shape : tw,
    );
  }
  return tf.tidy(() => {
    const [b] = tw.shape;
    const scaled = s === 1 ? tw : tf.mul(tw, tf.tensor1d([s, s, 1]));
    // [B, n, 3] → [n, B·3], one matmul with A [21, n], back to [B, 21, 3].
    const flat = tf.reshape(tf.transpose(scaled, [1, 0, 2]), [n, b * 3]);
    const mixed = tf.transpose(tf.reshape(tf.matMul(tf.tensor2d(matrix), flat), [NUM_JOINTS, b, 3]), [1, 0, 2]);
    return tf.add(mixed, tf.tensor2d(offset)) as tf.Tensor3D;
  });
}

/**
 * The release's `init_21_from_tw(wrist, tips, Init21Config())`: the 21-joint layout from the wrist and
 * the five tips (x, y in input pixels, z in depth bins). MCP, PIP, DIP of each finger sit at
 * `wrist + r·(tip − wrist)` (ratios 0.28/0.62/0.85, thumb 0.35/0.68/0.88), and every joint of finger f
 * — its tip included — is shifted in x by `(10, 6, 0, −6, −10)[f]` pixels.
 *
 * **Shapes**: `wrist [B, 3]`, `tips [B, 5, 3]` (thumb … pinky) → `[B, 21, 3]` (FreiHAND order).
 *
 * @example
 * const tips = tf.tensor3d([[[90, 60, 3], [110, 40, 3], [128, 35, 3], [146, 42, 3], [165, 60, 3]]]); // [1, 5, 3]
 * const init = init21FromTipsAndWrist(tf.tensor2d([[128, 200, 3.5]]), tips); // [1, 21, 3]
 */
export function init21FromTipsAndWrist(
  wrist: tf.Tensor,
  tips: tf.Tensor,
  options: InitialLayoutOptions = {},
): tf.Tensor3D {
  const shapeOf = (t: unknown) => (t instanceof tf.Tensor ? t.shape : t);
  if (!(wrist instanceof tf.Tensor) || wrist.rank !== 2 || wrist.shape[1] !== 3) {
    throw new PhalanxShapeError('init21FromTipsAndWrist', 'wrist', 'a [B, 3] tensor', shapeOf(wrist));
  }
  const B = wrist.shape[0];
  if (
    !(tips instanceof tf.Tensor) ||
    tips.rank !== 3 ||
    tips.shape[0] !== B ||
    tips.shape[1] !== 5 ||
    tips.shape[2] !== 3
  ) {
    throw new PhalanxShapeError('init21FromTipsAndWrist', 'tips', `a [B = ${B}, 5, 3] tensor`, shapeOf(tips));
  }
  return tf.tidy(() => initialLayout(tf.concat([tf.expandDims(wrist, 1), tips], 1), TIP_AND_WRIST_JOINTS, options));
}

/** Configuration of {@link Init21Layout}. */
export interface Init21LayoutArgs extends LayerArgs, InitialLayoutOptions {
  /** The joints the TW-stage predicts, increasing indices in [0, 20]. Default `[0, 4, 8, 12, 16, 20]`. */
  tipWristJoints?: number[];
  /** Factor applied to x and y first (heatmap pixels → input pixels: `(S_in − 1)/(S_hm − 1)`). Default 1. */
  xyScale?: number;
}

/**
 * The keys of {@link Init21LayoutArgs} beyond tfjs's `LayerArgs`: the constructor accepts these, `getConfig()`
 * writes them.
 */
const ARGS_KEYS = {
  tipWristJoints: true,
  xyScale: true,
  fingerRatios: true,
  thumbRatios: true,
  lateralOffsets: true,
} satisfies OwnArgsKeys<Init21LayoutArgs>;

/**
 * The initial 21-joint layout as a layer ({@link initialLayout}; for the default joints the release's
 * `init_21_from_tw` after its heatmap → input pixel scaling):
 *
 * `init[b] = A · (tw[b] ⊙ (s, s, 1)) + offset`
 *
 * with `A [21, n]`, `offset [21, 3]` of {@link initialLayoutMatrix} and s = `xyScale`. Linear, so
 * gradients flow to the TW-stage coordinates. No weights.
 *
 * **Shapes**: `[B, n, 3]` (n = number of `tipWristJoints`; x, y, z) → `[B, 21, 3]`.
 *
 * @example
 * const layout = init21Layout({ xyScale: 255 / 63 });
 * const twCoords = tf.randomUniform([2, 6, 3], 0, 63); // wrist + 5 tips in heatmap pixels, depth bins
 * const init = layout.apply(twCoords) as tf.Tensor; // [2, 21, 3] in input pixels and depth bins
 */
export class Init21Layout extends tfl.layers.Layer {
  /** Name under which the class is registered for serialisation. */
  static className = 'Init21Layout';
  /** The n joints the input rows hold (increasing FreiHAND indices). Default `[0, 4, 8, 12, 16, 20]`. */
  readonly tipWristJoints: number[];
  /** Factor s applied to the input x and y (heatmap → input pixels); z is left as is. Default 1. */
  readonly xyScale: number;
  /** Positions t of MCP, PIP, DIP on the wrist→tip line of the index … pinky fingers. Default `[0.28, 0.62, 0.85]`. */
  readonly fingerRatios: [number, number, number];
  /** The same for the thumb (CMC, MCP, IP slots). Default `[0.35, 0.68, 0.88]`. */
  readonly thumbRatios: [number, number, number];
  /** x offset in input pixels added to every joint of the thumb … pinky. Default `[10, 6, 0, −6, −10]`. */
  readonly lateralOffsets: [number, number, number, number, number];

  /**
   * @param args - checked before tfjs-layers reads them: an `args` that is not an object, or that has a key
   *   that is not one of {@link Init21LayoutArgs} (its own or tfjs's `LayerArgs`: `name`, `trainable`, …), is
   *   a `PhalanxConfigError`.
   */
  constructor(args: Init21LayoutArgs = {}) {
    super(checkLayerArgs(COMPONENT, args, ARGS_KEYS));
    this.tipWristJoints = checkJointList(COMPONENT, 'tipWristJoints', args.tipWristJoints ?? [...TIP_AND_WRIST_JOINTS]);
    this.xyScale = checkFloat32(COMPONENT, 'xyScale', args.xyScale ?? 1);
    const layout = resolveInitialLayoutOptions(args);
    initialLayoutMatrix(this.tipWristJoints, layout); // ratios that would give NaN joints are refused here
    this.fingerRatios = layout.fingerRatios;
    this.thumbRatios = layout.thumbRatios;
    this.lateralOffsets = layout.lateralOffsets;
  }

  private checkShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    const n = this.tipWristJoints.length;
    if (shape.length !== 3 || shape[1] !== n || shape[2] !== 3) {
      throw new PhalanxShapeError(COMPONENT, 'input shape', `[B, ${n}, 3] (one row per tipWristJoints entry)`, shape);
    }
    return shape;
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    this.checkShape(inputShape);
    this.built = true;
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    return [this.checkShape(inputShape)[0], NUM_JOINTS, 3];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    void kwargs;
    const { xyScale, fingerRatios, thumbRatios, lateralOffsets } = this;
    const options = { xyScale, fingerRatios, thumbRatios, lateralOffsets };
    return tf.tidy(() => initialLayout(Array.isArray(inputs) ? inputs[0] : inputs, this.tipWristJoints, options));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      tipWristJoints: this.tipWristJoints,
      xyScale: this.xyScale,
      fingerRatios: this.fingerRatios,
      thumbRatios: this.thumbRatios,
      lateralOffsets: this.lateralOffsets,
      ...super.getConfig(),
    };
  }
}
tf.serialization.registerClass(Init21Layout);

/**
 * Creates an {@link Init21Layout} layer.
 *
 * @example
 * const twCoords = tfl.input({ shape: [6, 3] }); // the TW-stage's [B, 6, 3]
 * const init = init21Layout({ tipWristJoints: [0, 4, 8, 12, 16, 20], xyScale: 255 / 63 }).apply(twCoords);
 */
export function init21Layout(args: Init21LayoutArgs = {}): Init21Layout {
  return new Init21Layout(args);
}
