/**
 * What limits the 3D accuracy of a trained EHPE: the 2D positions or the depths. Each variant swaps one
 * part of the model's 2.5D joints (x, y in input pixels; z in depth bins) for the ground truth's, lifts it
 * to 3D with the ground-truth wrist depth as the evaluation does, and measures PA-MPJPE and MPJPE:
 * - `model`: the model's joints as they are;
 * - `trueDepth`: the model's x, y with the true depths;
 * - `true2d`: the true x, y with the model's depths;
 * - `binnedTruth`: the true joints through the depth bins (relative depths clamped to ±R/2) — the floor
 *   the 2.5D output itself sets.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { HandBatch } from '@phalanx/data';
import { ehpeModelInfo, joints25dToXyz, pgStageTargets } from '@phalanx/ehpe';
import { mpjpe, paMpjpe } from '@phalanx/pose';

/** The variants of {@link depthLimits}, by name. */
export const LIMIT_VARIANTS = ['model', 'trueDepth', 'true2d', 'binnedTruth'] as const;

/** One of {@link LIMIT_VARIANTS}. */
export type LimitVariant = (typeof LIMIT_VARIANTS)[number];

/** The measures of one variant (mm). */
export interface LimitMeasures {
  paMpjpe: number;
  mpjpe: number;
}

/** The result of {@link depthLimits}. */
export interface DepthLimits {
  /** PA-MPJPE and MPJPE of each variant. */
  variants: Record<LimitVariant, LimitMeasures>;
  /** Mean absolute error of the model's relative depths (mm), over all joints of every sample. */
  depthErrorMm: number;
  /** The same for the depths of `meanLayout` (the mean hand), if given: the error of knowing no depth. */
  meanHandDepthErrorMm: number | null;
  /** PA-MPJPE and MPJPE of `meanLayout` lifted as the model's joints are, if given: the baseline of the targets. */
  meanHand: LimitMeasures | null;
  /** Mean 2D error of the model's joints (input pixels). */
  epe2dPx: number;
  /** Held-out samples. */
  samples: number;
}

/**
 * Measures {@link LIMIT_VARIANTS} of the full model `model` (its 21 joints, `model.outputs[2]`) on `set`,
 * with the depth binning of the run (`depthRange` mm over the model's depth bins), and the depth error of
 * the layout `meanLayout` (x, y px, z bins) if given.
 *
 * **Shapes**: each batch `images [B, S, S, 3]`, `uv [B, 21, 2]`, `xyz [B, 21, 3]` (mm), `K [B, 3, 3]`;
 * `meanLayout [21, 3]`.
 *
 * @example
 * // const limits = await depthLimits(model, await heldOutSet(96, 128, 16), 200);
 * // limits.variants.trueDepth.paMpjpe; // the PA-MPJPE the model's 2D positions allow
 */
export async function depthLimits(
  model: tfl.LayersModel,
  set: HandBatch[],
  depthRange: number,
  meanLayout?: tf.Tensor2D,
): Promise<DepthLimits> {
  const { depthBins } = ehpeModelInfo(model);
  const binning = { depthBins, depthRange };
  const gt: number[][][] = [];
  const lifted: Record<LimitVariant, number[][][]> = { model: [], trueDepth: [], true2d: [], binnedTruth: [] };
  const meanHand: number[][][] = [];
  let depthError = 0;
  let meanDepthError = 0;
  let pixelError = 0;
  let joints = 0;
  for (const b of set) {
    const r = tf.tidy(() => {
      const predicted = (model.predict(b.images) as tf.Tensor[])[2];
      const truth = pgStageTargets(b, binning);
      const xy = (t: tf.Tensor) => tf.slice(t, [0, 0, 0], [-1, -1, 2]);
      const z = (t: tf.Tensor) => tf.slice(t, [0, 0, 2], [-1, -1, 1]);
      const lift = (t: tf.Tensor) => joints25dToXyz(t, b.xyz, b.K, binning);
      return {
        model: lift(predicted),
        trueDepth: lift(tf.concat([xy(predicted), z(truth)], 2)),
        true2d: lift(tf.concat([xy(truth), z(predicted)], 2)),
        binnedTruth: lift(truth),
        depthError: tf.sum(tf.abs(tf.sub(z(predicted), z(truth)))),
        pixelError: tf.sum(tf.sqrt(tf.sum(tf.square(tf.sub(xy(predicted), xy(truth))), 2))),
        meanDepthError: meanLayout ? tf.sum(tf.abs(tf.sub(z(tf.expandDims(meanLayout, 0)), z(truth)))) : tf.scalar(0),
        meanHand: meanLayout ? lift(tf.tile(tf.expandDims(meanLayout, 0), [b.uv.shape[0], 1, 1])) : tf.zeros([0]),
      };
    });
    gt.push(...((await b.xyz.array()) as number[][][]));
    for (const v of LIMIT_VARIANTS) lifted[v].push(...((await r[v].array()) as number[][][]));
    if (meanLayout) meanHand.push(...((await r.meanHand.array()) as number[][][]));
    depthError += (await r.depthError.data())[0];
    pixelError += (await r.pixelError.data())[0];
    meanDepthError += (await r.meanDepthError.data())[0];
    joints += b.uv.shape[0] * 21;
    tf.dispose(Object.values(r));
  }
  const measure = (pred: number[][][]): LimitMeasures => ({ paMpjpe: paMpjpe(gt, pred), mpjpe: mpjpe(gt, pred) });
  const variants = Object.fromEntries(LIMIT_VARIANTS.map((v) => [v, measure(lifted[v])])) as Record<
    LimitVariant,
    LimitMeasures
  >;
  const toMm = (sumBins: number) => ((sumBins / joints) * depthRange) / (depthBins - 1);
  return {
    variants,
    depthErrorMm: toMm(depthError),
    meanHandDepthErrorMm: meanLayout ? toMm(meanDepthError) : null,
    meanHand: meanLayout ? measure(meanHand) : null,
    epe2dPx: pixelError / joints,
    samples: gt.length,
  };
}
