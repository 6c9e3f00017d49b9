/**
 * The pieces of the Learnable Groups training job, separate from the command line so that the test
 * can use them: model sizes, targets and loss, the trainer with the paper's parameter groups, and the
 * held-out evaluation (2D EPE in pixels; 3D EPE and AUC after lifting with the ground-truth root depth
 * and hand scale, the paper's RHD protocol).
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { batches, disposeBatch, type HandBatch } from '@phalanx/data';
import { stepTemperature } from '@phalanx/layers';
import { createLearnableGroups, type LearnableGroupsConfig } from '@phalanx/learnable-groups';
import { xyzL1Loss } from '@phalanx/losses';
import { KeypointEvaluator, uvdToXyz, xyzToUvd, type KeypointMeasures } from '@phalanx/pose';
import { Trainer, type ProgressDisplayOptions, type TrainerCallbacks } from '@phalanx/train';

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
  lr: { selector: number; fusion: number; rest: number };
  /** Temperature schedule: τ drops by 0.1 every `temperatureEvery` steps from 5 (paper: 1000). */
  temperatureEvery: number;
  /** Weight λ of the depth term of the L1 loss. */
  zWeight: number;
  /** Seed of the training data stream (the held-out set uses another seed). */
  dataSeed: number;
}

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

/** Builds the model of a job (with a seeded selector so that runs are reproducible). */
export function buildModel(config: JobConfig): tfl.LayersModel {
  return createLearnableGroups({ numGroups: 3, fusion: true, numJoints: 21, seed: 17, ...config.model });
}

/**
 * The trainer with the paper's recipe: Adam, one parameter group per learning rate — the selector
 * `meta_S` (1e-1), the NDDR fusion `nddr_layer0` (1e-2), the rest (1e-4) — temperature annealing
 * 5 → −0.1 every `temperatureEvery` steps, and `xyzL1Loss` on {@link targetsOf}.
 */
export function buildTrainer(
  model: tfl.LayersModel,
  config: JobConfig,
  options: { progress?: ProgressDisplayOptions | false; callbacks?: TrainerCallbacks[] } = {},
): Trainer<HandBatch> {
  return new Trainer<HandBatch>({
    model,
    inputs: (b) => b.images,
    disposeBatch,
    loss: (outputs, batch) => {
      const target = targetsOf(batch);
      return xyzL1Loss(target, predictionOf(outputs), { zWeight: config.zWeight });
    },
    parameterGroups: [
      { name: 'selector', match: /^meta_S\//, lr: config.lr.selector },
      { name: 'fusion', match: /^nddr_layer0\//, lr: config.lr.fusion },
      { name: 'rest', lr: config.lr.rest },
    ],
    temperature: stepTemperature({ initial: 5, decrement: 0.1, every: config.temperatureEvery, minimum: 0.1 }),
    progress: options.progress,
    callbacks: options.callbacks,
  });
}

/** Training batches of the synthetic hands at the model's input size, starting at `batchesSeen`. */
export function trainingData(config: JobConfig) {
  const size = config.model.inputSize ?? 256;
  return ({ batchesSeen }: { batchesSeen: number }) =>
    batches({ seed: config.dataSeed, size, start: batchesSeen * config.batchSize, batchSize: config.batchSize });
}

/** A held-out set: `count` synthetic hands of another seed, as batches kept in memory. */
export async function heldOutSet(size: number, count: number, batchSize: number, seed = 90210): Promise<HandBatch[]> {
  const out: HandBatch[] = [];
  for await (const b of batches({ seed, size, count, batchSize })) out.push(b);
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
