/**
 * EHPE's configuration, resolved once: every default filled in, every option validated with a named
 * error (no object is built and nothing is run to validate), and kept with the model it built, so that
 * the training recipes and `ehpeModelInfo` read it instead of reconstructing it from layer names.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { checkIntegerIn, checkOneOf, checkOptions, checkOptionsObject, PhalanxConfigError } from '@phalanx/errors';
import { checkNoiseSeed, deriveNoiseSeed, type GATAttention } from '@phalanx/layers';
import { MODEL_LIMITS, resolveResNet, type ResNetOptions, type ResolvedResNet } from '@phalanx/blocks';
import { TIP_AND_WRIST_JOINTS } from '@phalanx/skeleton';
import { resolveFemConfig, type ResolvedFemConfig } from './fem';
import {
  checkJointList,
  resolveInitialLayoutOptions,
  type InitialLayoutOptions,
  type ResolvedInitialLayoutOptions,
} from './init21';
import { TW_STAGE_SHARED_KEYS } from './option-keys';
import { resolveTwStageConfig, type ResolvedTwStageConfig, type TwStageConfig } from './tw-stage';

const COMPONENT = 'createEhpe';

/**
 * Index of the FEM's seed among those derived from {@link EhpeConfig.dropoutSeed}; the SPI's is 0
 * (`pgStage`).
 */
const FEM_DROPOUT_SITE = 1;

/** Configuration of {@link createEhpe}. Defaults are the release's `configs/default.yaml`. */
export interface EhpeConfig
  extends Omit<TwStageConfig, 'backboneChannels' | 'featureSize' | 'tipWristJoints' | 'name'>, InitialLayoutOptions {
  /** Input size (square RGB images `[B, S, S, 3]`), a multiple of the backbone's output stride. Default 256. */
  imageSize?: number;
  /**
   * Backbone: a torchvision ResNet (`{depth: 18 | 34 | 50 | 101 | 152}`) or a custom one
   * (`{block, layers, widths, stemChannels}`; a tiny one for tests). Default `{depth: 50}`.
   */
  backbone?: Omit<ResNetOptions, 'name'>;
  /**
   * The joints the TW-stage predicts (increasing FreiHAND indices). Default `[0, 4, 8, 12, 16, 20]`
   * (wrist + tips, "W+T"); other lists give the paper's Table 4 variants, e.g. `[0, 3, 4, 7, 8, …]`
   * for W+T+D. The PG-stage always outputs all 21 joints.
   */
  tipWristJoints?: number[];
  /** PG-stage node width (`node_dim`). Default 512. */
  nodeDim?: number;
  /** Heads K of each graph-attention layer; must divide `nodeDim` (units per head = nodeDim / K). Default 8. */
  gatHeads?: number;
  /** Score of the graph attention: `'additive'` (EHPE Eq. 9, default) or `'dotProduct'` (the release's). */
  gatAttention?: GATAttention;
  /** FEM blocks (self- and cross-attention each). Default 2. */
  femLayers?: number;
  /** FEM heads; must divide `nodeDim`. Default 8. */
  femHeads?: number;
  /** FEM MLP ratio. Default 4. */
  femMlpRatio?: number;
  /** Dropout of FEM and of the graph attention weights, training only. Default 0.1. */
  dropout?: number;
  /**
   * Seed of every dropout mask (an integer): each dropout site — the two graph-attention layers, then
   * the FEM's attention and MLP dropouts, block by block — gets its own seed derived from this one in
   * that order ({@link @phalanx/layers!deriveNoiseSeed}) and draws a reproducible stream of masks, so
   * two trainings with the same seed (and weights, data) are identical, and `Trainer` checkpoints resume
   * the streams exactly. Absent or `null` (default): unseeded masks, the model as before.
   */
  dropoutSeed?: number | null;
  /**
   * Form of the visual-branch weight ω_E of the fusion (Eq. 11, {@link @phalanx/layers!DualBranchFusion}):
   * `'vector'` `[J, 1]` (the paper's, default) or `'matrix'` `[J, J]`.
   */
  fusionVisualWeight?: 'vector' | 'matrix';
  /**
   * Size of the map the joint features are sampled from: the projected backbone features are resized
   * (half-pixel bilinear) to this size and read at the layout's positions (align-corners bilinear).
   * The release resizes to the input size (`imageSize`) — exact but costly (B·S²·nodeDim floats);
   * the default, `heatmapSize`, differs from it only by the interpolation of an interpolation.
   */
  featureSampleSize?: number;
  /**
   * What `pg.out_head` predicts: `'absolute'` (the release's, default) — the joints themselves,
   * `joints = out_head(fused)`, with the layout only among the node features; `'residual'` (not in the
   * release) — a correction of the layout the PG-stage starts from, `joints = layout + out_head(fused)`
   * (layer `pg.refine`), so that the stage refines the initial joints as the paper describes it and starts
   * where the TW-stage's layout is. Same weights either way.
   */
  pgOutput?: 'absolute' | 'residual';
  /** Model name, a string. Default `'ehpe'`. */
  name?: string;
}

/** The keys of an {@link EhpeConfig}: any other key is a named error. */
const CONFIG_KEYS = {
  imageSize: true,
  backbone: true,
  tipWristJoints: true,
  ...TW_STAGE_SHARED_KEYS,
  fingerRatios: true,
  thumbRatios: true,
  lateralOffsets: true,
  nodeDim: true,
  gatHeads: true,
  gatAttention: true,
  femLayers: true,
  femHeads: true,
  femMlpRatio: true,
  dropout: true,
  dropoutSeed: true,
  fusionVisualWeight: true,
  featureSampleSize: true,
  pgOutput: true,
  name: true,
} satisfies Record<keyof EhpeConfig, true>;

/** The configuration with every default filled in and validated (see {@link resolveEhpeConfig}). */
export interface ResolvedEhpeConfig {
  /** Input side S in pixels. */
  imageSize: number;
  /** The resolved ResNet backbone (module path `backbone`). */
  backbone: ResolvedResNet;
  /** The joints the TW-stage predicts. */
  tipWristJoints: number[];
  /** Side of the TW-stage heatmaps in pixels. */
  heatmapSize: number;
  /** PG-stage node width D. */
  nodeDim: number;
  /** Heads K of each graph-attention layer (divides `nodeDim`). */
  gatHeads: number;
  /** Score of the graph attention. */
  gatAttention: GATAttention;
  /** Number of FEM blocks. */
  femLayers: number;
  /** Heads of the FEM attention (divides `nodeDim`). */
  femHeads: number;
  /** Hidden width of the FEM MLP as a multiple of `nodeDim`. */
  femMlpRatio: number;
  /** Dropout rate of FEM and of the graph attention weights (training only). */
  dropout: number;
  /**
   * Seed of the dropout masks (`null`: unseeded). The SPI derives its seed as `deriveNoiseSeed(dropoutSeed, 0)`,
   * the FEM as `deriveNoiseSeed(dropoutSeed, 1)` (in `fem.dropoutSeed`).
   */
  dropoutSeed: number | null;
  /** Form of the fusion's visual-branch weight ω_E. */
  fusionVisualWeight: 'vector' | 'matrix';
  /** Side of the feature map the joint features are sampled from. */
  featureSampleSize: number;
  /** What the PG-stage's head predicts: the joints, or a correction of the layout. */
  pgOutput: 'absolute' | 'residual';
  /** The initial 21-joint layout's ratios and offsets. */
  layout: ResolvedInitialLayoutOptions;
  /** The resolved TW-stage (backbone channels, feature size, joints, name `tw`). */
  tw: ResolvedTwStageConfig;
  /** The resolved FEM (width `nodeDim`, `featureSize²` image tokens). */
  fem: ResolvedFemConfig;
  /** Model name. */
  name: string;
}

/** `name` if it is a string (a model name); a named error otherwise. */
function checkName(name: unknown): string {
  if (typeof name !== 'string') throw new PhalanxConfigError(COMPONENT, 'name', 'a string', name);
  return name;
}

function checkBackbone(backbone: unknown): Omit<ResNetOptions, 'name'> {
  if (backbone === undefined) return { depth: 50 };
  const expected = "an options object such as { depth: 18 } or { block: 'basic', layers: [2, 2, 2, 2] }";
  const options = checkOptionsObject(COMPONENT, 'backbone', backbone, expected) as ResNetOptions;
  if (Object.hasOwn(options, 'name')) {
    // It was silently replaced by 'backbone', the prefix the importers and the recipes rely on.
    const absent = "absent (the backbone's layers are always named backbone.*)";
    throw new PhalanxConfigError(COMPONENT, 'backbone.name', absent, options.name);
  }
  return options;
}

/**
 * Fills in the defaults of an {@link EhpeConfig} and validates every option, lists included
 * (`backbone` must be an options object, `tipWristJoints` increasing joint indices, the layout ratios and
 * offsets lists of 3 and 5 finite numbers, no key that is not an option, …), each with a named
 * `PhalanxConfigError`. The TW-stage,
 * the FEM and the backbone are resolved here, once.
 *
 * @example
 * const c = resolveEhpeConfig({ imageSize: 128, backbone: { depth: 18 } }); // c.tw.featureSize = 4
 */
export function resolveEhpeConfig(config: EhpeConfig = {}): ResolvedEhpeConfig {
  checkOptions(COMPONENT, 'config', config, CONFIG_KEYS, 'an options object');
  const backbone = resolveResNet({ ...checkBackbone(config.backbone), name: 'backbone' }, COMPONENT, 'backbone');
  const imageSize = checkIntegerIn(COMPONENT, 'imageSize', config.imageSize ?? 256, 1, MODEL_LIMITS.imageSize);
  if (imageSize % backbone.outputStride !== 0) {
    throw new PhalanxConfigError(
      COMPONENT,
      'imageSize',
      `a multiple of the backbone's stride ${backbone.outputStride}`,
      imageSize,
    );
  }
  const tipWristJoints = checkJointList(
    COMPONENT,
    'tipWristJoints',
    config.tipWristJoints ?? [...TIP_AND_WRIST_JOINTS],
  );
  const nodeDim = checkIntegerIn(COMPONENT, 'nodeDim', config.nodeDim ?? 512, 1, MODEL_LIMITS.channels);
  const gatHeads = checkIntegerIn(COMPONENT, 'gatHeads', config.gatHeads ?? 8, 1, nodeDim);
  if (nodeDim % gatHeads !== 0)
    throw new PhalanxConfigError(COMPONENT, 'gatHeads', `a divisor of nodeDim = ${nodeDim}`, gatHeads);
  const featureSize = imageSize / backbone.outputStride;
  const dropoutSeed = checkNoiseSeed(COMPONENT, 'dropoutSeed', config.dropoutSeed);
  const tw = resolveTwStageConfig(
    {
      backboneChannels: backbone.outChannels,
      featureSize,
      hourglassChannels: config.hourglassChannels,
      hourglassDepth: config.hourglassDepth,
      hourglassStacks: config.hourglassStacks,
      tipWristJoints,
      heatmapSize: config.heatmapSize,
      refineChannels: config.refineChannels,
      refineBlocks: config.refineBlocks,
      refinePools: config.refinePools,
      refineBatchNorm: config.refineBatchNorm,
      depthBins: config.depthBins,
      beta: config.beta,
      name: 'tw',
    },
    COMPONENT,
  );
  const fem = resolveFemConfig(
    {
      dim: nodeDim,
      layers: config.femLayers,
      heads: config.femHeads,
      mlpRatio: config.femMlpRatio,
      dropout: config.dropout,
      dropoutSeed: dropoutSeed === null ? null : deriveNoiseSeed(dropoutSeed, FEM_DROPOUT_SITE),
      numImageTokens: featureSize * featureSize,
      name: 'fem',
    },
    COMPONENT,
  );
  return {
    imageSize,
    backbone,
    tipWristJoints,
    heatmapSize: tw.heatmapSize,
    nodeDim,
    gatHeads,
    gatAttention: checkOneOf(COMPONENT, 'gatAttention', config.gatAttention ?? 'additive', [
      'additive',
      'dotProduct',
    ] as const),
    femLayers: fem.layers,
    femHeads: fem.heads,
    femMlpRatio: fem.mlpRatio,
    dropout: fem.dropout,
    dropoutSeed,
    fusionVisualWeight: checkOneOf(COMPONENT, 'fusionVisualWeight', config.fusionVisualWeight ?? 'vector', [
      'vector',
      'matrix',
    ] as const),
    featureSampleSize: checkIntegerIn(
      COMPONENT,
      'featureSampleSize',
      config.featureSampleSize ?? tw.heatmapSize,
      2,
      MODEL_LIMITS.imageSize,
    ),
    pgOutput: checkOneOf(COMPONENT, 'pgOutput', config.pgOutput ?? 'absolute', ['absolute', 'residual'] as const),
    layout: resolveInitialLayoutOptions(config, COMPONENT),
    tw,
    fem,
    name: checkName(config.name ?? 'ehpe'),
  };
}

/** The outputs of {@link createEhpe}, in order. */
export const EHPE_OUTPUTS = Object.freeze(['twHeatmaps', 'twCoords', 'joints', 'attention1', 'attention2'] as const);

/** The outputs of `createPgOnly` and {@link createPgStage}, in order. */
export const PG_OUTPUTS = Object.freeze(['joints', 'attention1', 'attention2'] as const);

/** The name of an output of an EHPE model (see {@link EHPE_OUTPUTS}). */
export type EhpeOutputName = (typeof EHPE_OUTPUTS)[number];

/** What an EHPE model carries: which builder made it, its resolved configuration, the names of its outputs. */
export interface EhpeModelRecord {
  /** `'ehpe'` ({@link createEhpe}), `'pg-only'` (`createPgOnly`) or `'pg-stage'` ({@link createPgStage}). */
  kind: 'ehpe' | 'pg-only' | 'pg-stage';
  /** The resolved configuration the model was built from. */
  config: ResolvedEhpeConfig;
  /** The model's outputs by name, in order. */
  outputs: readonly EhpeOutputName[];
}

const METADATA_KEY = 'phalanx.ehpe';

/**
 * Stores `record` in the model's user-defined metadata (key `phalanx.ehpe`, beside any other
 * entries), which `model.save` writes and `tf.loadLayersModel` restores, so a reloaded model still
 * knows its configuration.
 *
 * @example
 * const config = resolveEhpeConfig({ imageSize: 128, backbone: { depth: 18 }, heatmapSize: 32 });
 * const model = createEhpe(config); // createEhpe attaches it already; a hand-built variant would:
 * attachEhpeRecord(model, { kind: 'ehpe', config, outputs: EHPE_OUTPUTS });
 */
export function attachEhpeRecord(model: tfl.LayersModel, record: EhpeModelRecord): void {
  const current = (model.getUserDefinedMetadata() ?? {}) as Record<string, unknown>;
  model.setUserDefinedMetadata({ ...current, [METADATA_KEY]: JSON.parse(JSON.stringify(record)) as unknown });
}

/**
 * The record a model of this package carries (see {@link attachEhpeRecord}), or `null` for any other
 * model.
 *
 * @example
 * ehpeRecordOf(createEhpe({ imageSize: 128 }))?.config.tw.featureSize; // 4
 */
export function ehpeRecordOf(model: tfl.LayersModel): EhpeModelRecord | null {
  const metadata = model?.getUserDefinedMetadata?.() as Record<string, unknown> | undefined;
  const record = metadata?.[METADATA_KEY] as EhpeModelRecord | undefined;
  const ok =
    record !== undefined &&
    ['ehpe', 'pg-only', 'pg-stage'].includes(record.kind) &&
    typeof record.config === 'object' &&
    Array.isArray(record.outputs) &&
    record.outputs.length === model.outputs.length;
  return ok ? record : null;
}

function hasLayer(model: tfl.LayersModel, name: string): boolean {
  return model.layers.some((l) => l.name === name);
}

/**
 * Which builder made `model` and the names of its outputs: from the record it carries
 * ({@link ehpeRecordOf}) or — for a model saved before models carried one — from its structure
 * (`createEhpe`: layers `tw.soft_argmax` and `init21`, five outputs; `createPgOnly`: inputs image and
 * layout, three outputs, a `pg.out_head` layer). `null` for any other model.
 *
 * @example
 * ehpeModelKind(createEhpe({ imageSize: 128, backbone: { depth: 18 }, heatmapSize: 32 }))?.kind; // 'ehpe'
 */
export function ehpeModelKind(model: tfl.LayersModel): Pick<EhpeModelRecord, 'kind' | 'outputs'> | null {
  const record = ehpeRecordOf(model);
  if (record) return { kind: record.kind, outputs: record.outputs };
  if (!model?.layers) return null;
  if (model.outputs.length === 5 && hasLayer(model, 'tw.soft_argmax') && hasLayer(model, 'init21')) {
    return { kind: 'ehpe', outputs: EHPE_OUTPUTS };
  }
  if (model.inputs.length === 2 && model.outputs.length === 3 && hasLayer(model, 'pg.out_head')) {
    return { kind: 'pg-only', outputs: PG_OUTPUTS };
  }
  return null;
}

/**
 * The position of the output `name` among the outputs of an EHPE model.
 *
 * @throws PhalanxConfigError when the model is not one of this package's or has no such output.
 * @example
 * const model = createEhpe({ imageSize: 128, backbone: { depth: 18 }, heatmapSize: 32 });
 * const outputs = model.predict(tf.zeros([1, 128, 128, 3])) as tf.Tensor[];
 * const joints = outputs[ehpeOutputIndex(model, 'joints')]; // index 2: [1, 21, 3]
 */
export function ehpeOutputIndex(model: tfl.LayersModel, name: EhpeOutputName): number {
  const index = ehpeModelKind(model)?.outputs.indexOf(name) ?? -1;
  if (index < 0) {
    throw new PhalanxConfigError('ehpeOutputIndex', 'model', `an EHPE model with an output '${name}'`, model?.name);
  }
  return index;
}
