/**
 * The pieces of the Learnable Groups training job, separate from the command line so that the test
 * can use them: model sizes, targets and loss, the trainer with the paper's parameter groups, and the
 * held-out evaluation (2D EPE in pixels; 3D EPE and AUC after lifting with the ground-truth root depth
 * and hand scale, the paper's RHD protocol).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { batches, disposeBatch, type HandBatch, type SyntheticHandOptions } from '@phalanx/data';
import { stepTemperature } from '@phalanx/layers';
import { createLearnableGroups, type LearnableGroupsConfig } from '@phalanx/learnable-groups';
import { heatmapMSE, xyzL1Loss } from '@phalanx/losses';
import { gaussianHeatmaps, KeypointEvaluator, uvdToXyz, xyzToUvd, type KeypointMeasures } from '@phalanx/pose';
import {
  seedInitialWeights,
  Trainer,
  type GradientReducer,
  type ProgressDisplayOptions,
  type TrainerCallbacks,
} from '@phalanx/train';
import { createSingleBranch } from './single-branch';
import { AdamWOptimizer, groupLr, setBatchNormMomentum, sigmaAt, type LrScheduleConfig } from './recipe';

/** uv targets and predictions are divided by this (the heatmap stride: uv in heatmap pixels). */
export const UV_UNIT = 4;

/** The paper's model size (256 px, planes [32, 32], 256 hourglass features) and the small demo size. */
export const MODEL_SIZES = {
  full: { inputSize: 256, planes: [32, 32], hourglassFeatures: 256, stemChannels: [64, 128], neckChannels: 128 },
  small: { inputSize: 64, planes: [16, 16], hourglassFeatures: 64, stemChannels: [32, 64], neckChannels: 64 },
  tiny: { inputSize: 64, planes: [8, 8], hourglassFeatures: 16, stemChannels: [8, 16], neckChannels: 16 },
} satisfies Record<string, LearnableGroupsConfig>;

/** The learning rates of the paper (Adam): selector 1e-1, fusion 1e-2, everything else 1e-4. */
export const PAPER_LEARNING_RATES = { selector: 1e-1, fusion: 1e-2, rest: 1e-4 };

/** Everything the job needs to know. */
export interface JobConfig {
  /** Model configuration (`createLearnableGroups`). */
  model: LearnableGroupsConfig;
  /** Optimizer steps. */
  steps: number;
  /** Batch size. */
  batchSize: number;
  /** Learning rates per parameter group. */
  lr: { selector: number; fusion: number; rest: number; beta?: number };
  /** Temperature schedule: τ drops by 0.1 every `temperatureEvery` steps from 5 (paper: 1000). */
  temperatureEvery: number;
  /** Weight λ of the depth term of the L1 loss. */
  zWeight: number;
  /** Seed of the training data stream (the held-out set uses another seed). */
  dataSeed: number;
  /**
   * Seed of the initial weights ({@link buildSeededModel}): the same seed and flags start from the same
   * weights, so a run repeats. Absent: tfjs's unseeded initialisation (a new start every run).
   */
  initSeed?: number;
  /**
   * Weight of the auxiliary 2D heatmap loss on the backbone's heatmaps `h₀` (`backbone.tmpOut.0`):
   * `heatmapMSE` against Gaussian targets (peak 1, σ = `heatmapSigma` heatmap pixels) at the ground-truth
   * joints. 0: off (only `xyzL1Loss`). Optional, default 0.
   */
  heatmapWeight?: number;
  /**
   * The loss of the backbone heatmaps `h₀`: `'mse'` (`heatmapMSE` against peak-1 Gaussians, the paper's
   * 2D initialisation) or `'ce'` (the cross-entropy of `softmax(h₀)` per joint against the normalised
   * Gaussian, as the branches' scoremap loss). Default `'mse'`.
   */
  heatmapLoss?: 'mse' | 'ce';
  /** σ of the Gaussian heatmap targets in heatmap pixels. Optional, default 1. */
  heatmapSigma?: number;
  /**
   * Weight of the auxiliary loss on the branches' soft-argmax distributions `p_j = softmax(β_j·h_j)`
   * (`b_htmaps_conv.g` → `b_get_uv.g`): cross-entropy against the normalised Gaussian at the
   * ground-truth joint (σ = `heatmapSigma`), visible joints only. 0: off. Optional, default 0.
   */
  scoremapWeight?: number;
  /** Initial per-joint β of the soft-argmax layers `b_get_uv.j` (the model's default: 1). Optional. */
  initialBeta?: number;
  /** Shape of the learning-rate schedule of every group (warm-up, cosine decay). Default: constant rates. */
  lrSchedule?: LrScheduleConfig;
  /** Decoupled weight decay λ of the convolution kernels (AdamW); 0 or absent: plain Adam. */
  weightDecay?: number;
  /** σ of the 2D targets at the last step: σ follows a cosine from `heatmapSigma` to this. Default: constant σ. */
  heatmapSigmaFinal?: number;
  /** Keras-style momentum of every batch-norm layer (the release's: 0.9 = PyTorch's 0.1). Optional. */
  batchNormMomentum?: number;
  /**
   * Decay of an exponential moving average of the trainable weights (the Trainer's `ema`, with its
   * warm-up), used for evaluation, checkpoints keep both. Absent: no average.
   */
  emaDecay?: number;
  /** Options of the synthetic renderer for the training data (and, in the harness, the held-out set). */
  synthetic?: Pick<SyntheticHandOptions, 'handExtent' | 'maxTilt'>;
}

/** Name of the backbone's heatmap layer (`Net_HG`'s `tmpOut.0`, the `htmap0` that feeds `backbone_conv`). */
export const BACKBONE_HEATMAP_LAYER = 'backbone.tmpOut.0';

/**
 * Training targets of a batch: `(u/4, v/4, d)` — uv in heatmap pixels (input pixels / 4) and
 * `d = (z − z_root) / s`, the depth relative to the middle-finger MCP divided by the length of the
 * middle MCP–PIP bone (the release's `xyz_norm` with `root_id` = middle MCP and `BL = 'small'`),
 * which is what the network's depth output predicts.
 *
 * **Shapes**: `batch.uv [B, 21, 2]`, `batch.xyz [B, 21, 3]`, `batch.K [B, 3, 3]` → `[B, 21, 3]`.
 */
export function targetsOf(batch: HandBatch): tf.Tensor3D {
  return tf.tidy(() => {
    const { uvd } = xyzToUvd(batch.xyz, batch.K);
    const d = tf.slice(uvd, [0, 0, 2], [-1, -1, 1]);
    return tf.concat([tf.div(batch.uv, UV_UNIT), d], 2) as tf.Tensor3D;
  });
}

/** The model outputs `[uv, depth]` as `[B, 21, 3]` in the units of {@link targetsOf}. */
export function predictionOf(outputs: tf.Tensor[]): tf.Tensor3D {
  return tf.tidy(() => tf.concat([tf.div(outputs[0], UV_UNIT), tf.expandDims(outputs[1], 2)], 2) as tf.Tensor3D);
}

/**
 * Builds the model of a job (with a seeded selector so that runs are reproducible); `numGroups: 1` is
 * the paper's no-groups baseline ({@link createSingleBranch}).
 */
export function buildModel(config: JobConfig): tfl.LayersModel {
  return withRecipeOverrides(createModel(config), config);
}

function createModel(config: JobConfig): tfl.LayersModel {
  return config.model.numGroups === 1
    ? createSingleBranch({ ...config.model, numJoints: 21 })
    : createLearnableGroups({ numGroups: 3, fusion: true, numJoints: 21, seed: 17, ...config.model });
}

/** The recipe's changes to a freshly built model: batch-norm momentum, initial soft-argmax β. */
function withRecipeOverrides(model: tfl.LayersModel, config: JobConfig): tfl.LayersModel {
  if (config.batchNormMomentum !== undefined) setBatchNormMomentum(model, config.batchNormMomentum);
  if (config.initialBeta !== undefined) {
    for (const layer of model.layers.filter((l) => /^b_get_uv\.\d+$/.test(l.name))) {
      layer.setWeights(layer.getWeights().map((w) => tf.fill(w.shape, config.initialBeta as number)));
    }
  }
  return model;
}

/**
 * {@link buildModel} with reproducible initial weights: every random initializer seeded from
 * `config.initSeed` (`seedInitialWeights`), so that two runs of the same command start, and end, alike.
 */
export async function buildSeededModel(config: JobConfig): Promise<tfl.LayersModel> {
  const model = createModel(config);
  if (config.initSeed !== undefined) await seedInitialWeights(model, config.initSeed);
  return withRecipeOverrides(model, config);
}

/**
 * The model applied in training when the auxiliary heatmap loss is on: the same layers, with the
 * backbone's heatmaps `h₀` as a third output (`[uv, depth, h₀ [B, S/4, S/4, 21]]`). The inference
 * model and its checkpoint stay the official network.
 */
export function trainingModelOf(model: tfl.LayersModel, branches = 0): tfl.LayersModel {
  const extra = [BACKBONE_HEATMAP_LAYER];
  for (let g = 0; g < branches; g++) extra.push(`b_htmaps_conv.${g}.2`);
  return tfl.model({
    inputs: model.inputs,
    outputs: [...model.outputs, ...extra.map((n) => model.getLayer(n).output as tfl.SymbolicTensor)],
    name: `${model.name}_training`,
  });
}

/**
 * Cross-entropy between the soft-argmax distribution `softmax(β_j·h_j)` over the H×W map and the
 * target distribution `q_j` (Gaussian normalised to sum 1), mean over the visible joints.
 *
 * **Shapes**: `logits [B, H, W, J]`, `beta [J]`, `target [B, H, W, J]` (peak maps; zero for invisible joints).
 */
export function scoremapCrossEntropy(logits: tf.Tensor, beta: tf.Tensor, target: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const [b, h, w, j] = logits.shape;
    const flat = (x: tf.Tensor) => tf.transpose(tf.reshape(x, [b, h * w, j]), [0, 2, 1]); // [B, J, HW]
    const logp = tf.logSoftmax(tf.mul(flat(logits), tf.reshape(beta, [1, j, 1])));
    const t = flat(target);
    const mass = tf.sum(t, 2, true);
    const q = tf.div(t, tf.maximum(mass, 1e-6));
    const visible = tf.cast(tf.greater(tf.squeeze(mass, [2]), 1e-6), 'float32'); // [B, J]
    const ce = tf.neg(tf.sum(tf.mul(q, logp), 2)); // [B, J]
    return tf.div(tf.sum(tf.mul(ce, visible)), tf.maximum(tf.sum(visible), 1)) as tf.Scalar;
  });
}

/**
 * Gaussian heatmap targets of a batch on the heatmap grid (`[B, S/4, S/4, 21]`, peak 1, invisible
 * joints all zero): joint (u, v) in input pixels sits at (u/4, v/4) — the grid the soft-argmax uses.
 */
export function heatmapTargetsOf(batch: HandBatch, sigma: number): tf.Tensor4D {
  return tf.tidy(() => {
    const h = batch.images.shape[1] / UV_UNIT;
    return gaussianHeatmaps(tf.div(batch.uv, UV_UNIT), {
      height: h,
      width: h,
      sigma,
      normalize: 'peak',
      visible: batch.visible,
    }) as tf.Tensor4D;
  });
}

/**
 * The trainer with the paper's recipe: Adam, one parameter group per learning rate — the selector
 * `meta_S` (1e-1), the NDDR fusion `nddr_layer0` (1e-2), the rest (1e-4) — temperature annealing
 * 5 → −0.1 every `temperatureEvery` steps, and `xyzL1Loss` on {@link targetsOf}.
 */
export function buildTrainer(
  model: tfl.LayersModel,
  config: JobConfig,
  options: {
    progress?: ProgressDisplayOptions | false;
    callbacks?: TrainerCallbacks[];
    /** A data-parallel replica's gradient exchange (`--replicas`). */
    reduceGradients?: GradientReducer;
    /** Samples a batch counts for (`--replicas`: the global batch a shard is part of). Default: its size. */
    batchSize?: (batch: HandBatch) => number;
  } = {},
): Trainer<HandBatch> {
  const heatmapWeight = config.heatmapWeight ?? 0;
  const scoremapWeight = config.scoremapWeight ?? 0;
  const sigma0 = config.heatmapSigma ?? 1;
  const aux = heatmapWeight > 0 || scoremapWeight > 0;
  const branches = scoremapWeight > 0 ? (config.model.numGroups ?? 3) : 0;
  const decay = config.weightDecay ?? 0;
  const optimizerFactory = decay > 0 ? (lr: number) => new AdamWOptimizer(lr, decay) : undefined;
  const betas = Array.from({ length: branches }, (_, g) => model.getLayer(`b_get_uv.${g}`).weights[0]);
  return new Trainer<HandBatch>({
    model,
    trainingModel: aux ? trainingModelOf(model, branches) : undefined,
    inputs: (b) => b.images,
    disposeBatch,
    loss: (outputs, batch, { step }) => {
      const target = targetsOf(batch);
      const xyz = xyzL1Loss(target, predictionOf(outputs), { zWeight: config.zWeight });
      if (!aux) return xyz;
      const maps = heatmapTargetsOf(batch, sigmaAt(sigma0, config.heatmapSigmaFinal, step, config.steps));
      const heatmap =
        config.heatmapLoss === 'ce'
          ? scoremapCrossEntropy(outputs[2], tf.ones([maps.shape[3]]), maps)
          : heatmapMSE(maps, outputs[2]);
      const parts: Record<string, tf.Scalar> = { xyz, heatmap };
      let total = tf.add(xyz, tf.mul(heatmap, heatmapWeight)) as tf.Scalar;
      if (scoremapWeight > 0) {
        const ce = tf.addN(betas.map((b, g) => scoremapCrossEntropy(outputs[3 + g], b.read(), maps))) as tf.Scalar;
        parts.scoremap = tf.div(ce, branches) as tf.Scalar;
        total = tf.add(total, tf.mul(parts.scoremap, scoremapWeight)) as tf.Scalar;
      }
      return { total, parts };
    },
    parameterGroups: [
      { name: 'selector', match: /^meta_S\//, lr: config.lr.selector },
      { name: 'fusion', match: /^nddr_layer0\//, lr: groupLr(config.lr.fusion, config.lrSchedule, config.steps) },
      ...(config.lr.beta === undefined
        ? []
        : [{ name: 'beta', match: /^b_get_uv\.\d+\//, lr: groupLr(config.lr.beta, config.lrSchedule, config.steps) }]),
      { name: 'rest', lr: groupLr(config.lr.rest, config.lrSchedule, config.steps), optimizerFactory },
    ],
    temperature: stepTemperature({ initial: 5, decrement: 0.1, every: config.temperatureEvery, minimum: 0.1 }),
    progress: options.progress,
    callbacks: options.callbacks,
    reduceGradients: options.reduceGradients,
    ...(config.emaDecay === undefined ? {} : { ema: { decay: config.emaDecay } }),
    batchSize: options.batchSize,
  });
}

/** Training batches of the synthetic hands at the model's input size, starting at `batchesSeen`. */
export function trainingData(config: JobConfig) {
  const size = config.model.inputSize ?? 256;
  return ({ batchesSeen }: { batchesSeen: number }) =>
    batches({
      ...config.synthetic,
      seed: config.dataSeed,
      size,
      start: batchesSeen * config.batchSize,
      batchSize: config.batchSize,
    });
}

/** A held-out set: `count` synthetic hands of another seed, as batches kept in memory. */
export async function heldOutSet(
  size: number,
  count: number,
  batchSize: number,
  seed = 90210,
  synthetic: JobConfig['synthetic'] = {},
): Promise<HandBatch[]> {
  const out: HandBatch[] = [];
  for await (const b of batches({ ...synthetic, seed, size, count, batchSize })) out.push(b);
  return out;
}

/** Held-out results. */
export interface Evaluation {
  /** 2D measures in input pixels (thresholds 0–`maxPx`). */
  measures2d: KeypointMeasures;
  /** 3D measures in mm (thresholds 0–50 mm, 20 steps: `auc20to50` is the paper's 20–50 mm AUC). */
  measures3d: KeypointMeasures;
  /** Predicted uv `[N][21][2]` (input pixels), for drawing. */
  uv: number[][][];
}

/**
 * The held-out measures a training run logs at each evaluation (`fit`'s `evaluate`): mean 2D EPE (px),
 * mean 3D EPE (mm) and the 20–50 mm AUC of {@link evaluate}.
 */
export async function heldOutMetrics(model: tfl.LayersModel, set: HandBatch[]): Promise<Record<string, number>> {
  const e = await evaluate(model, set);
  return { epe2dPx: e.measures2d.epeMean, epe3dMm: e.measures3d.epeMean, auc20to50: e.measures3d.auc20to50 ?? NaN };
}

/**
 * Evaluates the model (inference mode, hard selector) on held-out batches: 2D EPE in input pixels and
 * — after lifting the predicted `(u, v, d)` to 3D with the ground-truth root depth and hand scale
 * (`uvdToXyz`, the release's `P2W`) — 3D EPE in mm and the AUC of the PCK over 0–50 mm (and 20–50 mm).
 * Only visible joints count, as in the official `EvalUtil`.
 */
export async function evaluate(model: tfl.LayersModel, set: HandBatch[]): Promise<Evaluation> {
  const ev2 = new KeypointEvaluator({ numJoints: 21 });
  const ev3 = new KeypointEvaluator({ numJoints: 21 });
  const allUv: number[][][] = [];
  let size = 0;
  for (const b of set) {
    size = b.images.shape[1];
    const [uv, xyz, visible, gtXyz] = tf.tidy(() => {
      const [uvPred, depth] = model.predict(b.images) as tf.Tensor[];
      const { rootDepth, scale } = xyzToUvd(b.xyz, b.K);
      const uvd = tf.concat([uvPred, tf.expandDims(depth, 2)], 2);
      return [uvPred, uvdToXyz(uvd, b.K, { rootDepth, scale }), b.visible, b.xyz];
    });
    const uvArr = (await uv.array()) as number[][][];
    ev2.feed(b.uv, uv, visible);
    ev3.feed(gtXyz, xyz, visible);
    allUv.push(...uvArr);
    tf.dispose([uv, xyz]);
  }
  return {
    measures2d: ev2.measures({ min: 0, max: Math.max(8, size / 4), steps: 20 }),
    measures3d: ev3.measures({ min: 0, max: 50, steps: 20, units: 'mm' }),
    uv: allUv,
  };
}

/** A one-line summary of an {@link Evaluation}. */
export function summary(e: Evaluation): string {
  return (
    `2D EPE ${e.measures2d.epeMean.toFixed(2)} px (median ${e.measures2d.epeMedian.toFixed(2)}), ` +
    `3D EPE ${e.measures3d.epeMean.toFixed(1)} mm (median ${e.measures3d.epeMedian.toFixed(1)}), ` +
    `AUC 0–50 mm ${e.measures3d.auc.toFixed(3)}, AUC 20–50 mm ${(e.measures3d.auc20to50 ?? Number.NaN).toFixed(3)}`
  );
}
