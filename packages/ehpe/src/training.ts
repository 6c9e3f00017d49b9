/**
 * EHPE's two-stage training as recipes for `Trainer` of `@phalanx/train`: the TW-stage (backbone and
 * TW-stage on heatmaps, 2.5D coordinates and an L1 weight penalty), then the PG-stage with the TW-stage
 * frozen (positions and edge stability). A recipe is a plain object — the model to train, the loss,
 * the inputs, the parameter groups and the layers to freeze — spread into `new Trainer({...recipe})`,
 * so this package stays free of Node-only code.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { checkInteger, checkOptions, checkPositive, checkPositiveFloat32, PhalanxConfigError } from '@phalanx/errors';
import { checkTensor } from '@phalanx/layers';
import { JOINT_CLASSES, type JointClass } from '@phalanx/pose';
import { ehpeModelKind, ehpeOutputIndex, ehpeRecordOf } from './config';
import { checkJointList } from './init21';
import { lossWeight } from './loss-weights';
import { PG_STAGE_LOSS_KEYS, pickOptions, TW_STAGE_LOSS_KEYS } from './option-keys';
import {
  pgStageLoss,
  twStageLoss,
  type LossWithParts,
  type PgStageLossOptions,
  type TwStageLossOptions,
} from './training-losses';
import {
  pgStageTargets,
  resolveTwStageTargetOptions,
  twStageTargets,
  type DepthBinning,
  type EhpeKeypoints,
} from './training-targets';

/** A batch the recipes train on (a `HandBatch` of `@phalanx/data` is one). */
export interface EhpeBatch extends EhpeKeypoints {
  /** `[B, S, S, 3]` input images. */
  images: tf.Tensor;
}

/** A learning rate: a number or a schedule `step → lr` (e.g. `stepLr` of `@phalanx/train`). */
export type LearningRate = number | ((step: number) => number);

/** The parameter group of a {@link StageRecipe}: structurally a `ParameterGroupConfig` of `@phalanx/train`. */
export interface StageParameterGroup {
  /** Group name: `'tw'` or `'pg'`. */
  name: string;
  /** The stage's learning rate or schedule. */
  lr: LearningRate;
  /** Clip the group's gradients to this global norm. Optional. */
  clipNorm?: number;
}

/**
 * What `new Trainer({...recipe})` of `@phalanx/train` needs: structurally a `TrainerConfig`, without
 * importing the (Node-only) trainer here.
 */
export interface StageRecipe<B extends EhpeBatch = EhpeBatch> {
  /** The model the trainer steps: for the TW-stage a view of backbone + TW-stage that shares the full model's layers. */
  model: tfl.LayersModel;
  /** The stage's objective, with named parts for the logs. */
  loss: (outputs: tf.Tensor[], batch: B, context: { step: number }) => LossWithParts;
  /** The model inputs of a batch. */
  inputs: (batch: B) => tf.Tensor | tf.Tensor[];
  /** Samples in a batch. */
  batchSize: (batch: B) => number;
  /** One Adam group `'tw'` or `'pg'` with the stage's learning rate. */
  parameterGroups: StageParameterGroup[];
  /** Layers frozen for the stage (none for the TW-stage; backbone and TW-stage for the PG-stage). */
  freeze: RegExp[];
}

/** Layers of the backbone and the TW-stage in {@link createEhpe} (`backbone.*`, `tw.*`): frozen in stage 2. */
export const TW_STAGE_LAYERS = /^(backbone|tw)(\.|$)/;

/** Layers of the backbone (`backbone.*`). */
export const BACKBONE_LAYERS = /^backbone(\.|$)/;

const CLASS_LETTERS: Record<string, JointClass> = { W: 'WRIST', M: 'MCP', P: 'PIP', D: 'DIP', T: 'TIP' };

/**
 * The joints of a segmented variant of the paper's Table 4, written as the paper writes the TW-stage's
 * share: letters `W` (wrist), `M` (MCP), `P` (PIP), `D` (DIP), `T` (TIP) joined by `+`, e.g. `'W+T'`
 * (EHPE, the default) → `[0, 4, 8, 12, 16, 20]`, `'W+T+D'` → `[0, 3, 4, 7, 8, …]`, `'T'` → the tips.
 * The thumb's CMC/MCP/IP count as its MCP/PIP/DIP (as `JOINT_CLASSES` of `@phalanx/pose`).
 *
 * @example
 * variantJoints('W+T+D'); // [0, 3, 4, 7, 8, 11, 12, 15, 16, 19, 20]
 */
export function variantJoints(variant: string): number[] {
  const letters = typeof variant === 'string' ? variant.toUpperCase().split('+') : [];
  const classes = letters.map((l) => CLASS_LETTERS[l.trim()]);
  if (classes.length === 0 || classes.some((c) => c === undefined) || new Set(classes).size !== classes.length) {
    throw new PhalanxConfigError(
      'variantJoints',
      'variant',
      "distinct letters W, M, P, D, T joined by '+' (e.g. 'W+T')",
      variant,
    );
  }
  return JOINT_CLASSES.flatMap((c, j) => (classes.includes(c) ? [j] : []));
}

/** One row of EHPE's Table 4: which joint classes each stage predicts, and the paper's PA-MPJPE. */
export interface Table4Variant {
  /** Joint classes of the TW-stage: W wrist, T tips, D DIP, P PIP, M MCP, joined by `+`. */
  tw: string;
  /** Joint classes left to the PG-stage. */
  pg: string;
  /** The paper's PA-MPJPE (mm) for the variant on FreiHAND. */
  paMpjpe: number;
}

/** The TW-stage shares of the paper's Table 4, best (EHPE's `W+T`) last, with their PA-MPJPE on FreiHAND (mm). */
export const TABLE4_VARIANTS: readonly Table4Variant[] = Object.freeze([
  { tw: 'W+T+D', pg: 'P+M', paMpjpe: 5.8 },
  { tw: 'W+T+D+P', pg: 'M', paMpjpe: 6.2 },
  { tw: 'T+D', pg: 'W+P+M', paMpjpe: 6.2 },
  { tw: 'T+D+P', pg: 'W+M', paMpjpe: 6.5 },
  { tw: 'T', pg: 'W+D+P+M', paMpjpe: 5.9 },
  { tw: 'W', pg: 'T+D+P+M', paMpjpe: 7.2 },
  { tw: 'W+D+P+M', pg: 'T', paMpjpe: 6.4 },
  { tw: 'W+T', pg: 'D+P+M', paMpjpe: 5.6 },
]);

/** What the recipes read from a `createEhpe` model. */
export interface EhpeModelInfo {
  /** Input side S_in. */
  imageSize: number;
  /** Heatmap side S_hm. */
  heatmapSize: number;
  /** Depth bins D. */
  depthBins: number;
  /** The joints the TW-stage predicts. */
  tipWristJoints: number[];
}

function layerConfig(model: tfl.LayersModel, name: string): Record<string, unknown> | null {
  const layer = model.layers.find((l) => l.name === name);
  return layer ? (layer.getConfig() as Record<string, unknown>) : null;
}

/**
 * What a `createEhpe` model saved before models carried their configuration says in its layers
 * (`tw.soft_argmax`, `init21`) and shapes; `null` when it is not such a model.
 */
function infoFromLayers(model: tfl.LayersModel): EhpeModelInfo | null {
  const soft = layerConfig(model, 'tw.soft_argmax');
  const init = layerConfig(model, 'init21');
  if (!soft || !init || model.outputs.length !== 5) return null;
  return {
    imageSize: model.inputs[0].shape[1] as number,
    heatmapSize: model.outputs[0].shape[1] as number,
    depthBins: soft.depthBins as number,
    tipWristJoints: checkJointList('ehpeModelInfo', 'tipWristJoints', init.tipWristJoints),
  };
}

/**
 * Input size, heatmap size, depth bins and TW joints of a {@link createEhpe} model, read from the
 * resolved configuration the model carries ({@link ehpeRecordOf}; kept through save and load). A model
 * saved before models carried their configuration is read from its `tw.soft_argmax` and `init21`
 * layers instead. Throws a named error for other models.
 *
 * @example
 * ehpeModelInfo(createEhpe({ imageSize: 128, heatmapSize: 32 })); // {imageSize: 128, heatmapSize: 32, depthBins: 8, tipWristJoints: [0, 4, …]}
 */
export function ehpeModelInfo(model: tfl.LayersModel): EhpeModelInfo {
  const record = ehpeRecordOf(model);
  const legacy = record === null && model?.layers ? infoFromLayers(model) : null;
  if (legacy) return legacy;
  if (record === null || record.kind !== 'ehpe') {
    throw new PhalanxConfigError(
      'ehpeModelInfo',
      'model',
      'a model built by createEhpe (one that carries its resolved configuration)',
      model?.name,
    );
  }
  const c = record.config;
  return {
    imageSize: c.imageSize,
    heatmapSize: c.heatmapSize,
    depthBins: c.tw.depthBins,
    tipWristJoints: [...c.tipWristJoints],
  };
}

/**
 * The part of a {@link createEhpe} model that stage 1 trains: image → `[twHeatmaps, twCoords]`
 * (backbone and TW-stage), sharing the full model's layers — training it trains them, and the PG-stage
 * is neither run nor penalised.
 *
 * @example
 * const model = createEhpe({ imageSize: 128, backbone: { depth: 18 }, heatmapSize: 32 });
 * const tw = twStageModel(model); // tw.trainableWeights: backbone.* and tw.* only
 */
export function twStageModel(model: tfl.LayersModel): tfl.LayersModel {
  const outputs = twStageOutputs(model); // checks the model first: `model.inputs` of null was a TypeError
  return tfl.model({ inputs: model.inputs, outputs, name: `${model.name}_tw` });
}

/** The outputs {@link twStageModel} trains: `twHeatmaps`, `twCoords` of a validated EHPE model. */
function twStageOutputs(model: tfl.LayersModel): tfl.SymbolicTensor[] {
  ehpeModelInfo(model);
  return [ehpeOutputIndex(model, 'twHeatmaps'), ehpeOutputIndex(model, 'twCoords')].map((i) => model.outputs[i]);
}

/** {@link twStageModel} with the TW-stage's volume logits `[B, S, S, n·D]` (layer `tw.to_25d`) as a third output. */
function twStageModelWithVolume(model: tfl.LayersModel): tfl.LayersModel {
  const volume = model.getLayer('tw.to_25d').output as tfl.SymbolicTensor;
  const outputs = [...twStageOutputs(model), volume];
  return tfl.model({ inputs: model.inputs, outputs, name: `${model.name}_tw_volume` });
}

/** β of the TW-stage's soft-argmax (layer `tw.soft_argmax`). */
function softArgmaxBeta(model: tfl.LayersModel): number {
  const beta = model.getLayer('tw.soft_argmax').getConfig().beta;
  return typeof beta === 'number' ? beta : 1;
}

/**
 * The recipe's `clipNorm` as a parameter-group entry: absent when not given, else checked (a finite
 * number > 0). A 0 or NaN was falsy and silently meant no clipping.
 */
function clipNormOf(name: string, clipNorm: number | undefined): { clipNorm?: number } {
  return clipNorm === undefined ? {} : { clipNorm: checkPositive(name, 'clipNorm', clipNorm) };
}

/** Options of {@link twStageRecipe}. */
export interface TwStageRecipeOptions
  extends Omit<TwStageLossOptions, 'weights' | 'depthBins' | 'beta'>, Omit<DepthBinning, 'depthBins'> {
  /** Adam learning rate (number or schedule). Default 1e-3 (the release's InterHand2.6M value; FreiHAND: 5e-3). */
  lr?: LearningRate;
  /** σ of the heatmap targets (heatmap pixels). Default 2. */
  sigma?: number;
  /** Heatmap target scale: `'gaussian'` (Eq. 1's density, default) or `'peak'` (peak 1). See {@link twStageTargets}. */
  heatmapNormalize?: 'gaussian' | 'peak';
  /** Weights of the L1 penalty: `'all'` trainable weights of backbone + TW-stage (the release's, default) or `'kernels'` (weight matrices only, Eq. 5's W_k). */
  l1Weights?: 'all' | 'kernels';
  /** Clip the gradients to this global norm. Default: none. */
  clipNorm?: number;
}

/** The keys of {@link TwStageRecipeOptions}: any other key is a named error. */
const TW_RECIPE_KEYS = {
  heatmapWeight: true,
  distanceWeight: true,
  l1Weight: true,
  distance: true,
  scoremapWeight: true,
  depthMarginalWeight: true,
  depthRange: true,
  rootJoint: true,
  lr: true,
  sigma: true,
  heatmapNormalize: true,
  l1Weights: true,
  clipNorm: true,
} satisfies Record<keyof TwStageRecipeOptions, true>;

/**
 * Stage 1 of EHPE's training (paper §3.2, release `train/train_tw.py`): the backbone and the TW-stage
 * learn the TW joints' heatmaps and 2.5D coordinates with {@link twStageLoss}
 * (`3·heatmapMSE + 1e-2·squaredDistance + 1e-10·Σ|W|`) on {@link twStageTargets}; the PG-stage is not
 * run. Adam, one group `'tw'`. With `scoremapWeight > 0` or `depthMarginalWeight > 0` the trained view
 * also outputs the volume `[B, S, S, n·D]` and the loss adds `scoremapWeight · volumeScoremapCrossEntropy`
 * (part `scoremap`) and `depthMarginalWeight · volumeDepthCrossEntropy` (part `depthMarginal`); neither is
 * in the paper. Every option is checked when the recipe is made (a key that is not an option included),
 * with a `PhalanxConfigError`.
 *
 * @example
 * import { batches } from '@phalanx/data';
 * import { createEhpe, twStageRecipe } from '@phalanx/ehpe';
 * import { Trainer } from '@phalanx/train';
 * const model = createEhpe({ imageSize: 128, backbone: { depth: 18 }, heatmapSize: 32 });
 * const trainer = new Trainer({ ...twStageRecipe(model), progress: false });
 * await trainer.fit({ data: () => batches({ seed: 1, size: 128, batchSize: 8 }), steps: 500 });
 */
export function twStageRecipe<B extends EhpeBatch = EhpeBatch>(
  model: tfl.LayersModel,
  options: TwStageRecipeOptions = {},
): StageRecipe<B> {
  const name = 'twStageRecipe';
  // A misspelt option (`lR`) was ignored and its default used.
  checkOptions(name, 'options', options, TW_RECIPE_KEYS, 'an options object {lr?, sigma?, …, clipNorm?}');
  const info = ehpeModelInfo(model);
  // Every weight is checked here, before any step (the loss would only name a bad one at the first).
  for (const key of ['heatmapWeight', 'distanceWeight', 'l1Weight'] as const) lossWeight(name, key, options[key], 0);
  const scoremapWeight = lossWeight(name, 'scoremapWeight', options.scoremapWeight, 0);
  const depthMarginalWeight = lossWeight(name, 'depthMarginalWeight', options.depthMarginalWeight, 0);
  const withVolume = scoremapWeight > 0 || depthMarginalWeight > 0;
  const sub = withVolume ? twStageModelWithVolume(model) : twStageModel(model);
  const beta = withVolume ? softArgmaxBeta(model) : 1;
  const which = options.l1Weights ?? 'all';
  if (which !== 'all' && which !== 'kernels') {
    throw new PhalanxConfigError(name, 'l1Weights', "'all' or 'kernels'", which);
  }
  const weights = sub.trainableWeights.filter((w) => which === 'all' || /\/kernel$/.test(w.originalName));
  const targetOptions = {
    tipWristJoints: info.tipWristJoints,
    inputSize: info.imageSize,
    heatmapSize: info.heatmapSize,
    depthBins: info.depthBins,
    depthRange: options.depthRange,
    rootJoint: options.rootJoint,
    sigma: options.sigma,
    heatmapNormalize: options.heatmapNormalize,
  };
  resolveTwStageTargetOptions(targetOptions); // validates the options, before any step
  const lossOptions = pickOptions(options, TW_STAGE_LOSS_KEYS); // the loss refuses the recipe's own keys
  return {
    model: sub,
    inputs: (b) => b.images,
    batchSize: (b) => b.images.shape[0],
    loss: ([heatmaps, coords25d, volume], batch) =>
      twStageLoss(
        twStageTargets(batch, targetOptions),
        { heatmaps, coords25d, volume },
        { ...lossOptions, weights, depthBins: info.depthBins, beta },
      ),
    parameterGroups: [{ name: 'tw', lr: options.lr ?? 1e-3, ...clipNormOf(name, options.clipNorm) }],
    freeze: [],
  };
}

/** Options of {@link pgStageRecipe}. */
export interface PgStageRecipeOptions extends PgStageLossOptions, DepthBinning {
  /** Adam learning rate (number or schedule). Default 1e-4 (the release's; it divides it by 10 at epochs 15 and 20). */
  lr?: LearningRate;
  /**
   * For a {@link createPgOnly} model: the constant initial layout `[21, 3]` (x, y input pixels, z bins)
   * fed with every batch. Required for such models, ignored for `createEhpe` models.
   */
  layout?: tf.Tensor;
  /**
   * Depth bins of the targets. Default: the model's (`depthBins` of the configuration it was built
   * with); for a `createEhpe` model always the model's.
   */
  depthBins?: number;
  /** Layers to freeze. Default {@link TW_STAGE_LAYERS} (backbone and TW-stage; for a PG-only model, the backbone). */
  freeze?: RegExp[];
  /** Clip the gradients to this global norm. Default: none. */
  clipNorm?: number;
}

/** The keys of {@link PgStageRecipeOptions}: any other key is a named error. */
const PG_RECIPE_KEYS = {
  ...PG_STAGE_LOSS_KEYS,
  depthBins: true,
  depthRange: true,
  rootJoint: true,
  lr: true,
  layout: true,
  freeze: true,
  clipNorm: true,
} satisfies Record<keyof PgStageRecipeOptions, true>;

/**
 * Checks {@link pgStageRecipe}'s options as `pgStageLoss` and `pgStageTargets` would at the first step
 * (errors name `pgStageRecipe`), so that a recipe that cannot train is refused when it is made.
 */
function checkPgStageRecipeOptions(name: string, options: PgStageRecipeOptions): void {
  checkOptions(name, 'options', options, PG_RECIPE_KEYS, 'an options object {lr?, layout?, …, clipNorm?}');
  for (const key of ['positionWeight', 'edgeWeight', 'depthWeight'] as const) lossWeight(name, key, options[key], 0);
  const reduction = options.edgeReduction ?? 'mean';
  if (reduction !== 'sum' && reduction !== 'mean') {
    throw new PhalanxConfigError(name, 'edgeReduction', "'sum' or 'mean'", reduction);
  }
  const position = options.position ?? 'squared';
  if (position !== 'squared' && position !== 'euclidean') {
    throw new PhalanxConfigError(name, 'position', "'squared' or 'euclidean'", position);
  }
  if (options.depthBins !== undefined) checkInteger(name, 'depthBins', options.depthBins, 2);
  checkPositiveFloat32(name, 'depthRange', options.depthRange ?? 200);
  checkInteger(name, 'rootJoint', options.rootJoint ?? 0, 0);
}

/**
 * Stage 2 of EHPE's training (paper §3.3, release `train/train_pg.py`): with backbone and TW-stage
 * frozen (weights and batch-norm statistics), the rest — `img_token_proj` and the PG-stage — learns all
 * 21 joints ({@link pgStageTargets}: input pixels and depth bins) with {@link pgStageLoss}
 * (`2e-2·squaredDistance + 2e-1·edgeStability`). Adam, one group `'pg'`. Also trains a
 * {@link createPgOnly} model (the "PG-stage only" ablation) when `layout` is given. The options — keys, loss
 * weights and kinds, depth binning — are checked when the recipe is made, with a `PhalanxConfigError`.
 *
 * @example
 * import { batches } from '@phalanx/data';
 * import { createEhpe, pgStageRecipe } from '@phalanx/ehpe';
 * import { Trainer } from '@phalanx/train';
 * const model = createEhpe({ imageSize: 128, backbone: { depth: 18 }, heatmapSize: 32 }); // TW-stage trained
 * const data = () => batches({ seed: 1, size: 128, batchSize: 8 });
 * const trainer = new Trainer({ ...pgStageRecipe(model, { lr: 1e-4 }), progress: false });
 * await trainer.fit({ data, steps: 1000 }); // backbone.* and tw.* stay bitwise unchanged
 */
export function pgStageRecipe<B extends EhpeBatch = EhpeBatch>(
  model: tfl.LayersModel,
  options: PgStageRecipeOptions = {},
): StageRecipe<B> {
  const name = 'pgStageRecipe';
  checkPgStageRecipeOptions(name, options);
  const kind = ehpeModelKind(model)?.kind;
  let depthBins: number;
  let inputs: (b: B) => tf.Tensor | tf.Tensor[];
  if (kind === 'pg-only') {
    const layout = options.layout;
    if (!(layout instanceof tf.Tensor) || layout.rank !== 2 || layout.shape[0] !== 21 || layout.shape[1] !== 3) {
      throw new PhalanxConfigError(name, 'layout', 'a tensor [21, 3] for a PG-only model', layout?.shape ?? layout);
    }
    checkTensor(name, 'layout', layout); // a disposed layout failed only at the first step, in tf.tile
    depthBins = options.depthBins ?? ehpeRecordOf(model)?.config.tw.depthBins ?? 8;
    inputs = (b) => [b.images, tf.tile(tf.expandDims(layout, 0), [b.images.shape[0], 1, 1])];
  } else if (kind === 'ehpe') {
    depthBins = ehpeModelInfo(model).depthBins;
    inputs = (b) => b.images;
  } else {
    throw new PhalanxConfigError(name, 'model', 'a createEhpe or createPgOnly model', model?.name);
  }
  const joints = ehpeOutputIndex(model, 'joints');
  const attention = [ehpeOutputIndex(model, 'attention1'), ehpeOutputIndex(model, 'attention2')];
  const binning = { depthBins, depthRange: options.depthRange, rootJoint: options.rootJoint };
  const lossOptions = pickOptions(options, PG_STAGE_LOSS_KEYS); // the loss refuses the recipe's own keys
  return {
    model,
    inputs,
    batchSize: (b) => b.images.shape[0],
    loss: (outputs, batch) =>
      pgStageLoss(
        pgStageTargets(batch, binning),
        outputs[joints],
        attention.map((i) => outputs[i]),
        lossOptions,
      ),
    parameterGroups: [{ name: 'pg', lr: options.lr ?? 1e-4, ...clipNormOf(name, options.clipNorm) }],
    freeze: options.freeze ?? [TW_STAGE_LAYERS],
  };
}
