/**
 * The whole EHPE network (Ma et al., "EHPE: A Segmented Architecture for Enhanced Hand Pose
 * Estimation"): backbone → TW-stage → initial 21-joint layout → joint feature sampling → PG-stage
 * (SPI graph branch ∥ FEM transformer branch → fusion → output head).
 */
import * as tfl from '@tensorflow/tfjs-layers';
import {
  checkInteger,
  checkOneOf,
  dualBranchFusion,
  dynamicEdgeGAT,
  jointFeatureSampler,
  PhalanxConfigError,
  resizeBilinear,
  type GATAttention,
} from '@phalanx/layers';
import {
  addAll,
  relu,
  resnetBackbone,
  resolveResNet,
  torchBatchNorm,
  torchConv2d,
  torchLinear,
  torchName,
  type ResNetOptions,
} from '@phalanx/blocks';
import { fem, resolveFemConfig } from './fem';
import { checkJointList, init21Layout, TIP_WRIST_JOINTS, type InitialLayoutOptions } from './init21';
import { resolveTwStageConfig, twStage, type TwStageConfig } from './tw-stage';

type SymbolicTensor = tfl.SymbolicTensor;

const COMPONENT = 'createEhpe';

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
  /** Model name. Default `'ehpe'`. */
  name?: string;
}

/** The configuration with every default filled in. */
export interface ResolvedEhpeConfig {
  /** Input side S in pixels. */
  imageSize: number;
  /** Backbone options as given (default `{depth: 50}`). */
  backbone: Omit<ResNetOptions, 'name'>;
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
  /** Form of the fusion's visual-branch weight ω_E. */
  fusionVisualWeight: 'vector' | 'matrix';
  /** Side of the feature map the joint features are sampled from. */
  featureSampleSize: number;
  /** Options of the initial 21-joint layout (`undefined` fields take the release's defaults). */
  layout: InitialLayoutOptions;
  /** The TW-stage configuration derived from this one (backbone channels, feature size, name `tw`). */
  tw: TwStageConfig;
  /** Model name. */
  name: string;
}

/** Fills in the defaults of an {@link EhpeConfig} and validates it. */
export function resolveEhpeConfig(config: EhpeConfig = {}): ResolvedEhpeConfig {
  const backbone = resolveResNet({ ...(config.backbone ?? { depth: 50 }), name: 'backbone' }, COMPONENT);
  const imageSize = checkInteger(COMPONENT, 'imageSize', config.imageSize ?? 256, 1);
  if (imageSize % backbone.outputStride !== 0) {
    throw new PhalanxConfigError(
      COMPONENT,
      'imageSize',
      `a multiple of the backbone's stride ${backbone.outputStride}`,
      imageSize,
    );
  }
  const tipWristJoints = checkJointList(COMPONENT, 'tipWristJoints', config.tipWristJoints ?? [...TIP_WRIST_JOINTS]);
  const heatmapSize = config.heatmapSize ?? 64;
  const nodeDim = checkInteger(COMPONENT, 'nodeDim', config.nodeDim ?? 512, 1);
  const gatHeads = checkInteger(COMPONENT, 'gatHeads', config.gatHeads ?? 8, 1);
  if (nodeDim % gatHeads !== 0)
    throw new PhalanxConfigError(COMPONENT, 'gatHeads', `a divisor of nodeDim = ${nodeDim}`, gatHeads);
  const tw: TwStageConfig = {
    backboneChannels: backbone.outChannels,
    featureSize: imageSize / backbone.outputStride,
    hourglassChannels: config.hourglassChannels,
    hourglassDepth: config.hourglassDepth,
    hourglassStacks: config.hourglassStacks,
    tipWristJoints,
    heatmapSize,
    refineChannels: config.refineChannels,
    refineBlocks: config.refineBlocks,
    refinePools: config.refinePools,
    refineBatchNorm: config.refineBatchNorm,
    depthBins: config.depthBins,
    beta: config.beta,
    name: 'tw',
  };
  resolveTwStageConfig(tw, COMPONENT);
  const c: ResolvedEhpeConfig = {
    imageSize,
    backbone: config.backbone ?? { depth: 50 },
    tipWristJoints,
    heatmapSize,
    nodeDim,
    gatHeads,
    gatAttention: checkOneOf(COMPONENT, 'gatAttention', config.gatAttention ?? 'additive', [
      'additive',
      'dotProduct',
    ] as const),
    femLayers: config.femLayers ?? 2,
    femHeads: config.femHeads ?? 8,
    femMlpRatio: config.femMlpRatio ?? 4,
    dropout: config.dropout ?? 0.1,
    fusionVisualWeight: checkOneOf(COMPONENT, 'fusionVisualWeight', config.fusionVisualWeight ?? 'vector', [
      'vector',
      'matrix',
    ] as const),
    featureSampleSize: checkInteger(COMPONENT, 'featureSampleSize', config.featureSampleSize ?? heatmapSize, 2),
    layout: {
      fingerRatios: config.fingerRatios,
      thumbRatios: config.thumbRatios,
      lateralOffsets: config.lateralOffsets,
    },
    tw,
    name: config.name ?? 'ehpe',
  };
  resolveFemConfig(
    { dim: nodeDim, layers: c.femLayers, heads: c.femHeads, mlpRatio: c.femMlpRatio, dropout: c.dropout },
    COMPONENT,
  );
  init21Layout({ tipWristJoints, ...c.layout }); // validates the layout options
  return c;
}

/** Options of {@link spiBlock}. */
export interface SpiBlockOptions {
  /** Node width D of input and output. Required. */
  dim: number;
  /** Heads K per graph-attention layer (units per head D/K). Default 8. */
  heads?: number;
  /** Attention score. Default `'additive'`. */
  attention?: GATAttention;
  /** Dropout on the attention weights, training only. Default 0. */
  attentionDropout?: number;
  /** Module path (`pg.spi`). Required. */
  name: string;
}

/**
 * Structural Prior based Inference (EHPE §3.3.2): two {@link @phalanx/layers!DynamicEdgeGAT} layers on
 * the hand skeleton, the first over 1-hop, the second over 2-hop neighbourhoods (Eq. 8–9, heads concatenated),
 * each with the cross-layer skip of Eq. 10: `h⁽ˡ⁺¹⁾ = ReLU(GAT_l(h⁽ˡ⁾) + W_skip⁽ˡ⁾ h⁽⁰⁾)`.
 * Layers `<name>.gat.0`, `.gat.1`, `<name>.skip.0`, `.skip.1` (linear, no bias).
 *
 * **Shapes**: `[B, 21, D]` → `output [B, 21, D]`, `attention` two `[B, K, 21, 21]` (for the edge loss).
 *
 * @example
 * const nodes = tfl.input({ shape: [21, 512] });
 * const { output, attention } = spiBlock(nodes, { dim: 512, heads: 8, name: 'pg.spi' });
 */
export function spiBlock(
  h0: SymbolicTensor,
  options: SpiBlockOptions,
): {
  /** `[B, 21, D]`: the node features after both layers. */
  output: SymbolicTensor;
  /** The two layers' attention α, each `[B, K, 21, 21]` (for the edge loss). */
  attention: SymbolicTensor[];
} {
  const { dim, heads = 8, attention = 'additive', attentionDropout = 0, name } = options;
  let h = h0;
  const alphas: SymbolicTensor[] = [];
  for (let l = 0; l < 2; l++) {
    const [g, alpha] = dynamicEdgeGAT({
      units: dim / heads,
      heads,
      hops: (l + 1) as 1 | 2,
      attention,
      attentionDropout,
      concatHeads: true,
      returnAttention: true,
      name: torchName(name, 'gat', l),
    }).apply(h) as SymbolicTensor[];
    const skip = torchLinear(h0, { units: dim, useBias: false, name: torchName(name, 'skip', l) });
    h = relu(addAll([g, skip], torchName(name, 'add', l)), torchName(name, 'relu', l));
    alphas.push(alpha);
  }
  return { output: h, attention: alphas };
}

/**
 * Builds the EHPE network as a functional `tf.LayersModel`:
 *
 * 1. `backbone`: ResNet (torchvision names, stride 32) → `F [B, h, w, C]`;
 * 2. `tw`: the TW-stage ({@link twStage}) → heatmaps, volume, `(x, y, z)` of the `tipWristJoints` in
 *    heatmap pixels and depth bins;
 * 3. `init21`: x, y scaled to input pixels (`(S_in − 1)/(S_hm − 1)`), then the 21-joint layout
 *    ({@link Init21Layout}; the release's `init_21_from_tw` for wrist + tips);
 * 4. `img_token_proj`: 1×1 conv (no bias) → BN → ReLU on F → image tokens `[B, h·w, nodeDim]`; the same
 *    map, resized to `featureSampleSize`, is sampled at the layout's x, y
 *    ({@link @phalanx/layers!JointFeatureSampler});
 * 5. PG-stage: `pg.node_proj` (linear on `[x, y, z, features]`), SPI ({@link spiBlock}) and FEM
 *    ({@link fem}) on the projected nodes, {@link @phalanx/layers!DualBranchFusion} (`pg`, Eq. 11),
 *    `pg.out_head` (linear to 3).
 *
 * **Shapes**: input `[B, S, S, 3]` (normalised RGB as the backbone expects). Outputs, in order:
 * `twHeatmaps [B, S_hm, S_hm, n]`, `twCoords [B, n, 3]` (heatmap pixels, bins), `joints [B, 21, 3]`
 * (the PG-stage's prediction, in the units of its training target), `attention1 [B, K, 21, 21]`,
 * `attention2 [B, K, 21, 21]` (1-hop and 2-hop graph attention, for the edge-stability loss).
 *
 * @example
 * const model = createEhpe({ imageSize: 256 }); // ResNet-50, the release's sizes
 * const [heatmaps, tw, joints] = model.predict(tf.zeros([1, 256, 256, 3])) as tf.Tensor[];
 */
export function createEhpe(config: EhpeConfig = {}): tfl.LayersModel {
  const c = resolveEhpeConfig(config);
  const tw = resolveTwStageConfig(c.tw, COMPONENT);
  const image = tfl.input({ shape: [c.imageSize, c.imageSize, 3], name: 'image' });
  const features = resnetBackbone(image, { ...c.backbone, name: 'backbone' });
  const out = twStage(features, tw, 'tw');

  const xyScale = (c.imageSize - 1) / (c.heatmapSize - 1);
  const init = init21Layout({ tipWristJoints: c.tipWristJoints, xyScale, ...c.layout, name: 'init21' }).apply(
    out.coords25d,
  ) as SymbolicTensor; // [B, 21, 3]: input pixels, bins

  const pg = pgStageOnLayout(features, init, c, tw.featureSize, 'init21');
  return tfl.model({
    inputs: image,
    outputs: [out.heatmaps2d, out.coords25d, pg.joints, ...pg.attention],
    name: c.name,
  });
}

/**
 * The PG-stage's inputs and the PG-stage itself, from backbone features and a 21-joint layout: image
 * tokens (`img_token_proj`, 1×1 conv + BN + ReLU, flattened), joint features sampled at the layout's x, y
 * (rescaled to the `featureSampleSize` map, `img_feat_up` + `sample`), node features `[layout, sampled]`
 * (`node_feat`), then {@link pgStage} under `pg`. Shared by {@link createEhpe} (layout = `init21`) and
 * `createPgOnly` (layout = an input); `layoutName` prefixes the weightless layers that split the layout.
 *
 * **Shapes**: `features [B, h, h, C]` (h = `featureSize`), `layout [B, 21, 3]` (input pixels, bins) →
 * `joints [B, 21, 3]`, `attention` two `[B, K, 21, 21]`.
 */
export function pgStageOnLayout(
  features: SymbolicTensor,
  layout: SymbolicTensor,
  c: ResolvedEhpeConfig,
  featureSize: number,
  layoutName: string,
): ReturnType<typeof pgStage> {
  let img = torchConv2d(features, { filters: c.nodeDim, kernelSize: 1, useBias: false, name: 'img_token_proj.0' });
  img = relu(torchBatchNorm(img, 'img_token_proj.1'), 'img_token_proj.2');
  const tokens = tfl.layers
    .reshape({ targetShape: [featureSize * featureSize, c.nodeDim], name: 'img_tokens' })
    .apply(img) as SymbolicTensor;

  // Sampling positions: x, y of the layout in the pixels of the resized feature map.
  const s = c.featureSampleSize;
  const asImage = tfl.layers
    .reshape({ targetShape: [21, 3, 1], name: `${layoutName}.split` })
    .apply(layout) as SymbolicTensor;
  const xyCrop = tfl.layers
    .cropping2D({
      cropping: [
        [0, 0],
        [0, 1],
      ],
      name: `${layoutName}.xy_crop`,
    })
    .apply(asImage) as SymbolicTensor;
  const xy = tfl.layers.reshape({ targetShape: [21, 2], name: `${layoutName}.xy` }).apply(xyCrop) as SymbolicTensor;
  const points = tfl.layers
    .rescaling({ scale: (s - 1) / (c.imageSize - 1), offset: 0, name: 'sample_points' })
    .apply(xy) as SymbolicTensor;
  const map = resizeBilinear({ height: s, width: s, name: 'img_feat_up' }).apply(img) as SymbolicTensor;
  const sampled = jointFeatureSampler({ name: 'sample' }).apply([map, points]) as SymbolicTensor; // [B, 21, D]

  const nodes = tfl.layers.concatenate({ axis: -1, name: 'node_feat' }).apply([layout, sampled]) as SymbolicTensor;
  return pgStage(nodes, tokens, c, 'pg');
}

/**
 * The PG-stage (EHPE §3.3) on node features and image tokens, with the release's names under `name`
 * (`pg`): `node_proj` (linear D+3 → D), SPI ({@link spiBlock}, `spi`) and FEM ({@link fem}, `fem`) on
 * the projected nodes, {@link @phalanx/layers!DualBranchFusion} (named `name`: `omega_g`, `omega_e`,
 * Eq. 11) and `out_head` (linear D → 3).
 *
 * **Shapes**: `nodes [B, 21, 3 + D]` (x, y, z of the layout and the sampled features), `imageTokens
 * [B, T, D]` → `joints [B, 21, 3]`, `attention` two `[B, K, 21, 21]`.
 *
 * @example
 * const nodes = tfl.input({ shape: [21, 512] });
 * const tokens = tfl.input({ shape: [64, 512] });
 * const { joints, attention } = pgStage(nodes, tokens, resolveEhpeConfig(), 'pg');
 */
export function pgStage(
  nodes: SymbolicTensor,
  imageTokens: SymbolicTensor,
  c: ResolvedEhpeConfig,
  name = 'pg',
): {
  /** `[B, 21, 3]`: the PG-stage's joints, in the units of its training target. */
  joints: SymbolicTensor;
  /** The SPI layers' attention α, two `[B, K, 21, 21]`. */
  attention: SymbolicTensor[];
} {
  const x = torchLinear(nodes, { units: c.nodeDim, name: torchName(name, 'node_proj') });
  const spi = spiBlock(x, {
    dim: c.nodeDim,
    heads: c.gatHeads,
    attention: c.gatAttention,
    attentionDropout: c.dropout,
    name: torchName(name, 'spi'),
  });
  const femCfg = resolveFemConfig({
    dim: c.nodeDim,
    layers: c.femLayers,
    heads: c.femHeads,
    mlpRatio: c.femMlpRatio,
    dropout: c.dropout,
    numImageTokens: imageTokens.shape[1] as number,
  });
  const femOut = fem(x, imageTokens, femCfg, torchName(name, 'fem'));
  const fused = dualBranchFusion({ numJoints: 21, visualWeight: c.fusionVisualWeight, name }).apply([
    spi.output,
    femOut,
  ]) as SymbolicTensor;
  return { joints: torchLinear(fused, { units: 3, name: torchName(name, 'out_head') }), attention: spi.attention };
}

/**
 * The PG-stage alone as a model (for benchmarks, or to train it on cached TW-stage outputs), from
 * `[nodes [B, 21, 3 + nodeDim], imageTokens [B, numImageTokens, nodeDim]]` to `[joints [B, 21, 3],
 * attention1, attention2]`; layer names as in {@link createEhpe} (`pg.*`), so weights transfer by name.
 *
 * @example
 * const pg = createPgStage({ nodeDim: 512 }, 64);
 * const [joints] = pg.predict([tf.zeros([1, 21, 515]), tf.zeros([1, 64, 512])]) as tf.Tensor[];
 */
export function createPgStage(config: EhpeConfig = {}, numImageTokens = 64): tfl.LayersModel {
  const c = resolveEhpeConfig(config);
  checkInteger('createPgStage', 'numImageTokens', numImageTokens, 1);
  const nodes = tfl.input({ shape: [21, 3 + c.nodeDim], name: 'nodes' });
  const tokens = tfl.input({ shape: [numImageTokens, c.nodeDim], name: 'image_tokens' });
  const pg = pgStage(nodes, tokens, c, 'pg');
  return tfl.model({ inputs: [nodes, tokens], outputs: [pg.joints, ...pg.attention], name: `${c.name}_pg_stage` });
}
